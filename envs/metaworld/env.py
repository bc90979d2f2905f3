"""Meta-World MT10 tasks as Gymnasium envs with ``state``, ``pixels`` and ``dict`` (frame, state, instruction)
observations, Meta-World's dense reward, ``info["is_success"]`` and exact physics save and restore.

Goals are observed (Meta-World's multi-task setting: the last 3 entries of the 39-dim state are the goal), and every
reset draws a new object and goal placement from the env's own seeded generator (``reset(seed=...)``), never from
NumPy's global one.

Frames are rendered with ``mujoco.Renderer`` (headless: ``MUJOCO_GL=egl``), without shadows and reflections, from
the model's ``corner`` camera by default (turned upright: Meta-World's corner cameras render upside down), which shows
the gripper, the object and the goal in a 64x64 frame. A frame is a pure function of the physics state:
``mj_forward`` runs before each render (keeping the solver's warm start, so rendering never changes the trajectory),
and after :meth:`MetaWorldEnv.set_physics_state` :meth:`MetaWorldEnv.render_frame` returns exactly the frame the env
returned at that step.

Example:
    >>> from neural_gym.envs.metaworld import make
    >>> env = make("reach-v3", obs_mode="dict")
    >>> obs, info = env.reset(seed=0)
    >>> obs["pixels"].shape, obs["state"].shape, obs["instruction"]
    ((64, 64, 3), (39,), 'Reach a goal position')
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces
from metaworld.env_dict import ALL_V3_ENVIRONMENTS

from neural_gym.envs.metaworld.instructions import (
    INSTRUCTION_CHARSET,
    INSTRUCTION_MAX_LENGTH,
    check_task,
    instruction,
)
from neural_gym.envs.metaworld.physics import StateLayout, forward_keep_warmstart
from neural_gym.envs.observations import PIXELS_KEY, STATE_KEY, ImageSize, check_obs_mode, image_hw

INSTRUCTION_KEY = "instruction"
"""Key of the instruction in dict observations."""

DEFAULT_CAMERA = "corner"
"""Default camera for small frames."""

MAX_EPISODE_STEPS = 500
"""Meta-World's time limit (``max_path_length``): the step that reaches it is truncated."""

_UPSIDE_DOWN_CAMERAS = frozenset({"corner", "corner2", "corner3", "corner4"})
"""Cameras whose frames Meta-World's model renders upside down (turned by 180 degrees here)."""


class MetaWorldEnv(gym.Env):
    """One Meta-World MT10 task as a Gymnasium env.

    Args:
        task: An MT10 task name, e.g. ``"reach-v3"`` (see :data:`~neural_gym.envs.metaworld.MT10_TASKS`).
        obs_mode: ``"state"`` (Meta-World's 39-dim vector), ``"pixels"`` (``uint8 (H, W, 3)`` frames) or ``"dict"``
            (``{"pixels", "state", "instruction"}``, the instruction a ``gymnasium.spaces.Text``).
        image_size: Frame size of the pixel modes and of :meth:`render` (one int or ``(height, width)``).
        camera: Name of a camera of the Sawyer model (``corner``, ``corner2``, ``corner3``, ``corner4``,
            ``topview``, ``behindGripper``, ``gripperPOV``).
        render_mode: ``None`` or ``"rgb_array"``; the pixel modes always render (``"rgb_array"``), like the
            project's other pixel envs, so ``neural_gym.envs.render_frame`` works on them.

    Raises:
        ValueError: For an unknown task, observation mode, camera or render mode, or a bad image size.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 80}

    def __init__(
        self,
        task: str = "reach-v3",
        obs_mode: str = "state",
        image_size: ImageSize = 64,
        camera: str = DEFAULT_CAMERA,
        render_mode: str | None = None,
    ) -> None:
        self.task = check_task(task)
        self.obs_mode = check_obs_mode(obs_mode)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}.")
        self.render_mode = "rgb_array" if self.obs_mode != "state" else render_mode
        self.image_size = image_hw(image_size)
        height, width = self.image_size
        self.instruction = instruction(task)
        self.camera = camera
        inner = ALL_V3_ENVIRONMENTS[task](render_mode=None, width=width, height=height)
        cameras = [inner.model.camera(i).name for i in range(inner.model.ncam)]
        if camera not in cameras:
            inner.close()
            raise ValueError(f"Unknown camera {camera!r} for Meta-World; expected one of {cameras}.")
        self._camera_id = mujoco.mj_name2id(inner.model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        self._renderer: mujoco.Renderer | None = None  # made on the first frame: state-only use needs no GL
        # Meta-World's multi-task setting: the goal is observed; resets draw from the env's seeded generator.
        inner._partially_observable = False
        del inner.sawyer_observation_space  # a cached property: recomputed with the goal's bounds
        inner._set_task_called = True
        inner._freeze_rand_vec = False
        inner.seeded_rand_vec = True
        self._inner = inner

        self.action_space = spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        state_space = inner.sawyer_observation_space
        pixel_space = spaces.Box(0, 255, shape=(height, width, 3), dtype=np.uint8)
        if self.obs_mode == "state":
            self.observation_space: spaces.Space = state_space
        elif self.obs_mode == "pixels":
            self.observation_space = pixel_space
        else:
            self.observation_space = spaces.Dict(
                {
                    PIXELS_KEY: pixel_space,
                    STATE_KEY: state_space,
                    INSTRUCTION_KEY: spaces.Text(
                        max_length=INSTRUCTION_MAX_LENGTH, min_length=1, charset=INSTRUCTION_CHARSET
                    ),
                }
            )

        # One reset and one step on a throwaway generator make every attribute a step reads, so the state layout
        # covers them; the user's reset() starts afresh.
        inner.np_random = np.random.default_rng(0)
        inner.reset()
        inner.step(np.zeros(4, dtype=np.float32))
        self._layout = StateLayout(inner, optional={"_last_stable_obs": state_space.shape})
        self._needs_reset = True

    # ------------------------------------------------------------------ gymnasium API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Start an episode with a new object and goal placement drawn from the env's generator.

        Args:
            seed: Seeds the env's generator (and with it the placements of this and later episodes).
            options: Unused.

        Returns:
            ``(observation, info)``; ``info["is_success"]`` is ``False``.
        """
        super().reset(seed=seed)
        self._inner.np_random = self.np_random
        state, _ = self._inner.reset()
        self._needs_reset = False
        return self._observation(state), {"is_success": False}

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Advance one step (5 MuJoCo sub-steps): ``action = [dx, dy, dz, gripper]`` in ``[-1, 1]``.

        Returns:
            ``(observation, reward, terminated, truncated, info)``: Meta-World's dense reward (0 to 10), never
            terminated, truncated at step :data:`MAX_EPISODE_STEPS`; ``info`` holds Meta-World's own entries plus
            ``is_success`` (``bool(info["success"])``).

        Raises:
            ValueError: If the action is not 4 finite numbers.
            RuntimeError: If the env needs a reset (none yet, or the last episode was truncated).
        """
        action = np.asarray(action, dtype=np.float32)
        if action.shape != (4,) or not np.all(np.isfinite(action)):
            raise ValueError(f"Meta-World actions must be 4 finite numbers, got shape {action.shape}: {action!r}.")
        if self._needs_reset:
            raise RuntimeError("Call reset() before step() (and after an episode was truncated).")
        state, reward, terminated, truncated, info = self._inner.step(action)
        info = dict(info)
        info["is_success"] = bool(info.get("success", False))
        if terminated or truncated:
            self._needs_reset = True
        return self._observation(state), float(reward), bool(terminated), bool(truncated), info

    def render(self) -> np.ndarray | None:
        """The frame of the current physics state (``uint8 (H, W, 3)``) when ``render_mode="rgb_array"``."""
        if self.render_mode != "rgb_array":
            gym.logger.warn("render() needs render_mode='rgb_array'; returning None.")
            return None
        return self.render_frame()

    def close(self) -> None:
        """Free the renderer and the MuJoCo model."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._inner.close()

    # ------------------------------------------------------------------ frames, state

    def render_frame(self) -> np.ndarray:
        """The frame of the current physics state from the env's camera, whatever the render mode."""
        inner = self._inner
        forward_keep_warmstart(inner.model, inner.data)
        if self._renderer is None:
            height, width = self.image_size
            self._renderer = mujoco.Renderer(inner.model, height=height, width=width)
        renderer = self._renderer
        renderer.update_scene(inner.data, camera=self._camera_id)
        # Shadows and reflections: a 4096-pixel shadow map costs ~6x the frame rate under software GL and barely
        # shows in a 64x64 frame.
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        frame = renderer.render()
        if self.camera in _UPSIDE_DOWN_CAMERAS:
            frame = frame[::-1, ::-1]
        return np.ascontiguousarray(frame, dtype=np.uint8)

    def physics_state_size(self) -> int:
        """Length of the vector :meth:`get_physics_state` returns (fixed per task and MuJoCo build)."""
        return self._layout.size

    def get_physics_state(self) -> np.ndarray:
        """Everything the next step and render read, as one float64 vector (see :mod:`neural_gym.envs.metaworld.physics`).

        Raises:
            RuntimeError: If the task holds state the layout does not cover (it could not be restored exactly).
        """
        return self._layout.get(self._inner)

    def set_physics_state(self, state: np.ndarray) -> None:
        """Restore a vector from :meth:`get_physics_state` of an env of the same task (any instance).

        Replaying the same actions from it gives the same observations, rewards and infos bit for bit, and
        :meth:`render_frame` the same frame.

        Raises:
            ValueError: If ``state`` is not a finite vector of length :meth:`physics_state_size`.
        """
        self._layout.set(self._inner, state)
        self._needs_reset = self._inner.curr_path_length >= MAX_EPISODE_STEPS

    def _observation(self, state: np.ndarray) -> Any:
        state = np.asarray(state, dtype=np.float64)
        if self.obs_mode == "state":
            return state
        frame = self.render_frame()
        if self.obs_mode == "pixels":
            return frame
        return {PIXELS_KEY: frame, STATE_KEY: state, INSTRUCTION_KEY: self.instruction}
