"""The Meta-World MT10 task names and one fixed English instruction per task.

The sentences are the task descriptions of LeRobot's Meta-World configuration (``TASK_DESCRIPTIONS`` in
``src/lerobot/envs/metaworld_config.json`` of huggingface/lerobot), so a policy trained on LeRobot's Meta-World data
reads the same words here.
"""

from __future__ import annotations

import string

MT10_TASKS: tuple[str, ...] = (
    "reach-v3",
    "push-v3",
    "pick-place-v3",
    "door-open-v3",
    "drawer-open-v3",
    "drawer-close-v3",
    "button-press-topdown-v3",
    "peg-insert-side-v3",
    "window-open-v3",
    "window-close-v3",
)
"""The ten tasks of Meta-World's MT10 benchmark, in Meta-World's own order."""

INSTRUCTIONS: dict[str, str] = {
    "reach-v3": "Reach a goal position",
    "push-v3": "Push the puck to a goal",
    "pick-place-v3": "Pick and place a puck to a goal",
    "door-open-v3": "Open a door with a revolving joint",
    "drawer-open-v3": "Open a drawer",
    "drawer-close-v3": "Push and close a drawer",
    "button-press-topdown-v3": "Press a button from the top",
    "peg-insert-side-v3": "Insert a peg sideways",
    "window-open-v3": "Push and open a window",
    "window-close-v3": "Push and close a window",
}
"""The instruction of each MT10 task (the ``"instruction"`` entry of ``obs_mode="dict"`` observations)."""

INSTRUCTION_CHARSET: str = string.ascii_letters + string.digits + " .,'-"
"""Characters an instruction may hold (the charset of the ``gymnasium.spaces.Text`` instruction space)."""

INSTRUCTION_MAX_LENGTH = 128
"""Longest instruction the ``Text`` space admits."""


def check_task(task: str) -> str:
    """Validate a Meta-World task name.

    Args:
        task: A task name such as ``"reach-v3"``.

    Returns:
        The task name.

    Raises:
        ValueError: If ``task`` is not one of :data:`MT10_TASKS`; the message lists them.
    """
    if task not in INSTRUCTIONS:
        raise ValueError(f"Unknown Meta-World task {task!r}; expected one of the MT10 tasks: {', '.join(MT10_TASKS)}.")
    return task


def instruction(task: str) -> str:
    """The fixed English instruction of ``task``.

    Raises:
        ValueError: If ``task`` is not one of :data:`MT10_TASKS`.
    """
    return INSTRUCTIONS[check_task(task)]
