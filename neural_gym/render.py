"""Draw predicted observations through the ground-truth task's own MuJoCo scene."""

from __future__ import annotations

import numpy as np

from neural_gym.envs import TaskSpec


class ObsRenderer:
    """Renders state observations of a task as RGB frames with gymnasium's MuJoCo renderer.

    Observations that leave out the root's x position (HalfCheetah, Hopper, Walker2d) get it by integrating the
    observed x velocity, so a running robot moves through the scene as it would in ground truth.

    Args:
        task: the task whose scene draws the observations.
        width: frame width in pixels.
        height: frame height in pixels.
    """

    def __init__(self, task: TaskSpec, width: int = 480, height: int = 480) -> None:
        self.task = task
        self.env = task.make(render_mode="rgb_array", width=width, height=height)
        self.env.reset(seed=0)
        self.dt = float(self.env.unwrapped.dt)
        self.x_position = 0.0

    def reset(self, x_position: float = 0.0) -> None:
        """Start a new episode at root position ``x_position``."""
        self.x_position = x_position

    def render(self, obs: np.ndarray, advance: bool = True) -> np.ndarray:
        """``[H, W, 3]`` uint8 frame of ``obs``; ``advance`` integrates the root x velocity over one step first."""
        if advance and self.task.x_velocity_index is not None:
            self.x_position += float(obs[self.task.x_velocity_index]) * self.dt
        self.task.set_state_from_obs(self.env, np.asarray(obs, dtype=np.float64), x_position=self.x_position)
        frame = self.env.render()
        assert frame is not None
        return np.asarray(frame)

    def close(self) -> None:
        """Free the renderer."""
        self.env.close()
