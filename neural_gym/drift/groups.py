"""Named groups of observation dimensions per task, so error curves read "positions" / "velocities" instead of d0..dN."""

from __future__ import annotations

#: Task name → group name → observation indices (gymnasium ``*-v5`` layouts).
DIM_GROUPS: dict[str, dict[str, list[int]]] = {
    "InvertedPendulum": {"positions (cart x, pole angle)": [0, 1], "velocities": [2, 3]},
    "Reacher": {
        "joint angles (cos, sin)": [0, 1, 2, 3],
        "target position": [4, 5],
        "joint velocities": [6, 7],
        "fingertip - target": [8, 9],
    },
    "HalfCheetah": {"positions and angles": list(range(0, 8)), "velocities": list(range(8, 17))},
    "Hopper": {"positions and angles": list(range(0, 5)), "velocities": list(range(5, 11))},
    "Walker2d": {"positions and angles": list(range(0, 8)), "velocities": list(range(8, 17))},
    "Pusher": {
        "arm joint angles": list(range(0, 7)),
        "arm joint velocities": list(range(7, 14)),
        "fingertip, object, goal positions": list(range(14, 23)),
    },
}


def dim_groups(task: str, obs_dim: int) -> dict[str, list[int]]:
    """The groups of ``task``, or one group ``"all"`` when the task is unknown or the layout does not fit ``obs_dim``.

    Args:
        task: short task name (``"Hopper"``).
        obs_dim: observation size of the model.
    """
    groups = DIM_GROUPS.get(task)
    if groups is None or sorted(i for g in groups.values() for i in g) != list(range(obs_dim)):
        return {"all": list(range(obs_dim))}
    return {k: list(v) for k, v in groups.items()}
