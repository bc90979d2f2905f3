"""The ground truth of frame models: renders of restored physics states, and checks of held-out pixel episodes.

A pixel model's truth after a step is not a recorded frame but a render of the physics state ground truth reached
(:func:`render_ground_truth`): the same mechanism works for recorded actions (where the renders must equal the
recorded frames bit for bit, which is checked) and for a policy's actions (where no recording exists).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from neural_gym import envs
from neural_gym.envs import Episode, TaskSpec

from .rollout import GroundTruthRollout, StartState


def image_size(frame_shape: tuple[int, int, int]) -> int | tuple[int, int]:
    """The ``image_size`` argument of a pixel env (and of ``collect``) for frames of ``frame_shape``."""
    h, w = frame_shape[:2]
    return h if h == w else (h, w)


def episode_frames(ep: Episode) -> np.ndarray:
    """``[len(ep) + 1, h, w, 3]`` the episode's recorded frames.

    Raises:
        ValueError: the episode has no frames.
    """
    frames = getattr(ep, "frames", None)
    if frames is None:
        raise ValueError(f"episode {ep.id} has no frames")
    return np.asarray(frames)


def check_frame_episodes(
    episodes: Sequence[Episode], frame_shape: tuple[int, int, int], action_dim: int, dataset_id: str | None
) -> None:
    """Refuse held-out episodes a frame model cannot be compared on.

    Raises:
        ValueError: no episodes, episodes without frames, frames of another size, actions of another size.
    """
    where = dataset_id or "(collected)"
    if not episodes:
        raise ValueError(f"the held-out dataset {where} has no episodes")
    for ep in episodes:
        frames = getattr(ep, "frames", None)
        if frames is None:
            raise ValueError(
                f"held-out dataset {where} has no frames (episode {ep.id}); collect it with "
                "neural_gym.envs.collect(..., obs_mode='pixels', image_size=...)"
            )
        if tuple(frames.shape[1:]) != frame_shape or len(frames) != len(ep) + 1:
            raise ValueError(
                f"held-out dataset {where} has frames of shape {tuple(frames.shape)} in episode {ep.id}, but the model "
                f"predicts {frame_shape} frames (one per observation, {len(ep) + 1} expected)"
            )
        if ep.actions.shape[1] != action_dim:
            raise ValueError(
                f"held-out dataset {where} has actions of size {ep.actions.shape[1]}, the model reads {action_dim}: "
                "was it collected on another task?"
            )


class FrameRenderer:
    """A pixel env of a task that renders restored physics states (:func:`neural_gym.envs.render_frame`).

    Args:
        task: the ground-truth task.
        frame_shape: ``(H, W, 3)``.
        camera: camera (``None``: the task's default).
    """

    def __init__(self, task: TaskSpec, frame_shape: tuple[int, int, int], camera: Any = None) -> None:
        self.env = task.make(obs_mode="pixels", image_size=image_size(frame_shape), camera=camera)
        self.env.reset(seed=0)

    def render(self, physics_state: np.ndarray) -> np.ndarray:
        """Restore ``physics_state`` and render it: ``uint8 [H, W, 3]``."""
        envs.set_physics_state(self.env, physics_state)
        return envs.render_frame(self.env)

    def close(self) -> None:
        """Close the env (pixel envs free their GL objects under their own context, see ``neural_gym.envs.observations``)."""
        self.env.close()

    def __enter__(self) -> FrameRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def render_ground_truth(
    spec: TaskSpec,
    gt: GroundTruthRollout,
    episodes: Sequence[Episode],
    starts: Sequence[StartState],
    frame_shape: tuple[int, int, int],
    camera: Any,
    progress: bool,
) -> tuple[np.ndarray, int]:
    """Render every physics state of a ground-truth rollout.

    Returns:
        ``(frames [n, H + 1, h, w, 3] uint8, largest difference to the recorded frames over the valid steps)``; the
        difference is only meaningful with recorded actions (a policy's steps have no recording to differ from, and
        are compared with whatever the episode recorded there, so callers report it for recorded actions only).
    """
    n, T = gt.physics_states.shape[:2]
    frames = np.zeros((n, T, *frame_shape), dtype=np.uint8)
    diff = 0
    with FrameRenderer(spec, frame_shape, camera) as renderer:
        for i, s in enumerate(tqdm(starts, desc=f"render {spec.name}", unit="start", disable=not progress)):
            steps = int(gt.valid[i].sum())
            recorded = episode_frames(episodes[s.episode_index])
            for j in range(T):
                frames[i, j] = renderer.render(gt.physics_states[i, j])
                if j <= steps and s.t + j < len(recorded):
                    d = np.abs(frames[i, j].astype(np.int16) - recorded[s.t + j].astype(np.int16)).max()
                    diff = max(diff, int(d))
    return frames, diff


__all__ = [
    "FrameRenderer",
    "check_frame_episodes",
    "episode_frames",
    "image_size",
    "render_ground_truth",
]
