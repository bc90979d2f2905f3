"""``TabletopEnv``: language-conditioned MuJoCo tabletop manipulation (reach, push, pick and place).

Every env runs one task family (``task="reach" | "push" | "pick_place"``). Each reset draws, from ``self.np_random``
only, an instruction (phrasing x object x goal, restricted to ``split``, see
:mod:`neural_gym.envs.tabletop.instructions`) and a layout: object positions, goal-region positions and a small offset
of the gripper's start.

* **Action** ``Box(-1, 1, (4,), float32)``: ``[dx, dy, dz, grip]``. ``clip(a[:3]) * max_displacement`` (0.02 m) moves
  the mocap target of the gripper (clipped to :data:`~.model.WORKSPACE_LOW`-:data:`~.model.WORKSPACE_HIGH`); ``grip``
  sets both finger position targets to ``0.04 * (1 - grip) / 2`` per finger (``-1`` open, ``+1`` closed).
  Then ``frame_skip`` (20) physics steps of 2 ms: an env step is 0.04 s.
* **Observation** by ``obs_mode``: ``"state"``, the float64 vector of :mod:`neural_gym.envs.tabletop.rules` (54);
  ``"pixels"``, a uint8 ``(H, W, 3)`` frame from the MJCF camera ``overhead``; ``"dict"``, ``{"pixels", "state",
  "instruction"}`` with the instruction a ``gymnasium.spaces.Text``. ``info["instruction"]`` has it in every mode.
* **Reward** the family's shaped rule (negative distances) of :mod:`~neural_gym.envs.tabletop.rules`, computed from
  the state observation; ``terminated`` when the family's exact success rule holds (``info["is_success"]``);
  ``truncated`` after ``max_episode_steps`` (:data:`MAX_EPISODE_STEPS`: 100 reach, 150 push and pick_place).
* **Frames** come from this env's own ``mujoco.Renderer`` (freed by :meth:`TabletopEnv.close`), after ``mj_forward``,
  so a frame is a pure function of the physics state: a restored state renders the identical frame.

Physics state (:meth:`TabletopEnv.get_physics_state`, the vector :mod:`neural_gym.envs.physics` dispatches to): MuJoCo's
``mjSTATE_INTEGRATION`` vector (qpos, qvel, act, warm start, ctrl, mocap positions and quaternions of the gripper
target and of the goal regions, ...) followed by :data:`EXTRA_STATE_FIELDS`: ``family, template, object, goal,
elapsed_steps, lifted``. Restoring it reproduces observations, rewards, instruction, time limit and frames bit for bit.

Example:
    >>> from neural_gym.envs.tabletop import TabletopEnv, TabletopExpert
    >>> env = TabletopEnv(task="pick_place", obs_mode="dict")
    >>> obs, info = env.reset(seed=0)
    >>> obs["instruction"], obs["pixels"].shape
    ('...', (64, 64, 3))
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from neural_gym.envs.observations import PIXELS_KEY, STATE_KEY, check_obs_mode, image_hw
from neural_gym.envs.tabletop import instructions as ins
from neural_gym.envs.tabletop import rules
from neural_gym.envs.tabletop.model import (
    CAMERA,
    FINGER_MAX,
    FRAME_SKIP,
    GOAL_Z,
    GOALS,
    GRIPPER_HOME,
    OBJECT_HALF_HEIGHT,
    OBJECTS,
    TABLETOP_XML,
    WORKSPACE_HIGH,
    WORKSPACE_LOW,
)

INSTRUCTION_KEY = "instruction"
"""Key of the instruction in dict observations."""
MAX_EPISODE_STEPS: dict[str, int] = {"reach": 100, "push": 150, "pick_place": 150}
"""Default time limit of each family (env steps of 0.04 s)."""
MAX_DISPLACEMENT = 0.02
"""Mocap displacement (m) per env step commanded by an action component of ±1."""
EXTRA_STATE_FIELDS: tuple[str, ...] = ("family", "template", "object", "goal", "elapsed_steps", "lifted")
"""Entries after MuJoCo's integration state in the physics-state vector (indices as floats; goal ``-1`` for reach)."""
STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION

OBJECT_XY_HIGH = 0.15
"""Objects start with ``|x|, |y| <= 0.15`` (m)."""
GOAL_XY_HIGH = 0.17
"""Goal regions are centred with ``|x|, |y| <= 0.17`` (m)."""
MIN_OBJECT_SPACING = 0.08
"""Minimum distance between object centres at reset (m)."""
MIN_GOAL_SPACING = 0.12
"""Minimum distance between goal centres at reset (the regions never overlap)."""
MIN_OBJECT_GOAL_SPACING = 0.08
"""No object starts within this distance of any goal centre (m)."""
MIN_TARGET_TRAVEL = 0.12
"""The instructed object starts at least this far from its goal (push, pick_place)."""
PATH_CLEARANCE = 0.07
"""Push: other objects start at least this far from the segment from behind the object to its goal."""
GRIPPER_START_NOISE = 0.03
"""Reset offsets the gripper's xy uniformly within ``±0.03`` m of :data:`~.model.GRIPPER_HOME`."""


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    t = float(np.clip(np.dot(p - a, ab) / max(float(np.dot(ab, ab)), 1e-12), 0.0, 1.0))
    return float(np.linalg.norm(p - (a + t * ab)))


class TabletopEnv(gym.Env):
    """Language-conditioned tabletop manipulation with a mocap two-finger gripper (see the module doc).

    Args:
        task: ``"reach"``, ``"push"`` or ``"pick_place"``.
        split: ``"train"`` (default: held-out combinations excluded), ``"heldout"`` or ``"all"``.
        obs_mode: ``"state"``, ``"pixels"`` or ``"dict"``.
        render_mode: ``None`` or ``"rgb_array"`` (pixel modes always render ``"rgb_array"``).
        image_size: Frame size of observations and ``render()``: an int or ``(height, width)``.
        max_episode_steps: Time limit; ``None`` for the family's default.
        max_displacement: Mocap displacement per step at action ±1 (m).
        camera: Camera of frames: ``None`` for :data:`~.model.CAMERA` (``"overhead"``), a camera name or id of the
            MJCF, or ``-1`` for MuJoCo's free camera.

    Raises:
        ValueError: For an unknown task, split, obs mode, render mode or camera, or a bad size or time limit.
        TypeError: For a camera that is not a name or an id.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(
        self,
        task: str = "push",
        split: str = "train",
        obs_mode: str = "state",
        render_mode: str | None = None,
        image_size: int | tuple[int, int] = 64,
        max_episode_steps: int | None = None,
        max_displacement: float = MAX_DISPLACEMENT,
        camera: str | int | None = None,
    ) -> None:
        ins.combinations(task, split)  # validates both
        self.obs_mode = check_obs_mode(obs_mode)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}.")
        if self.obs_mode != "state":
            render_mode = "rgb_array"
        self.task = task
        self.split = split
        self.family = ins.FAMILIES.index(task)
        self.render_mode = render_mode
        self.height, self.width = image_hw(image_size)
        self.max_episode_steps = int(MAX_EPISODE_STEPS[task] if max_episode_steps is None else max_episode_steps)
        if self.max_episode_steps < 1 or not max_displacement > 0:
            raise ValueError(
                f"max_episode_steps must be >= 1 and max_displacement > 0, got {max_episode_steps}, {max_displacement}."
            )
        self.max_displacement = float(max_displacement)
        self._reward_fn = rules.REWARD_FNS[task]
        self._success_fn = rules.SUCCESS_FNS[task]

        self.model = mujoco.MjModel.from_xml_string(TABLETOP_XML)
        self.data = mujoco.MjData(self.model)
        self.camera = self._check_camera(CAMERA if camera is None else camera)
        self.frame_skip = FRAME_SKIP
        self._mj_state_size = int(mujoco.mj_stateSize(self.model, STATE_SPEC))
        model = self.model
        self._gripper_qpos = int(model.jnt_qposadr[model.joint("gripper").id])
        self._gripper_qvel = int(model.jnt_dofadr[model.joint("gripper").id])
        self._finger_qpos = [int(model.jnt_qposadr[model.joint(f"finger_{s}").id]) for s in "lr"]
        self._finger_qvel = [int(model.jnt_dofadr[model.joint(f"finger_{s}").id]) for s in "lr"]
        self._obj_qpos = [int(model.jnt_qposadr[model.joint(f"obj{i}").id]) for i in range(len(OBJECTS))]
        self._obj_qvel = [int(model.jnt_dofadr[model.joint(f"obj{i}").id]) for i in range(len(OBJECTS))]
        self._mocap = int(model.body_mocapid[model.body("mocap").id])
        self._goal_mocap = [int(model.body_mocapid[model.body(f"goal{j}").id]) for j in range(len(GOALS))]

        self._template = 0
        self._object = 0
        self._goal = -1 if task == "reach" else 0
        self._elapsed = 0
        self._lifted = False
        self._renderer: mujoco.Renderer | None = None
        self._closed = False

        self.action_space = spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        state_space = spaces.Box(-np.inf, np.inf, shape=(rules.OBS_SIZE,), dtype=np.float64)
        pixel_space = spaces.Box(0, 255, shape=(self.height, self.width, 3), dtype=np.uint8)
        if self.obs_mode == "state":
            self.observation_space: spaces.Space = state_space
        elif self.obs_mode == "pixels":
            self.observation_space = pixel_space
        else:
            text = spaces.Text(max_length=ins.MAX_INSTRUCTION_LENGTH, charset=ins.INSTRUCTION_CHARSET)
            self.observation_space = spaces.Dict(
                {PIXELS_KEY: pixel_space, STATE_KEY: state_space, INSTRUCTION_KEY: text}
            )
        mujoco.mj_forward(self.model, self.data)

    # ------------------------------------------------------------------------------------------------ gymnasium API

    @property
    def dt(self) -> float:
        """Simulated seconds per env step (0.04)."""
        return float(self.model.opt.timestep) * self.frame_skip

    @property
    def instruction(self) -> str:
        """The current episode's instruction."""
        return ins.instruction_text(self.family, self._template, self._object, self._goal)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Draw an instruction of ``split`` and a layout (all from ``self.np_random``).

        Args:
            seed: Seeds ``self.np_random``.
            options: Unused.

        Returns:
            The observation and the info dict (``is_success``, ``instruction``, ``object``, ``goal``, ...).
        """
        super().reset(seed=seed)
        self._require_open()
        rng = self.np_random
        self._template, self._object, self._goal = ins.sample_combination(rng, self.task, self.split)
        objects, goals = self._sample_layout(rng)
        model, data = self.model, self.data
        mujoco.mj_resetData(model, data)
        start = GRIPPER_HOME.copy()
        start[:2] += rng.uniform(-GRIPPER_START_NOISE, GRIPPER_START_NOISE, size=2)
        data.qpos[self._gripper_qpos : self._gripper_qpos + 7] = [*start, 1.0, 0.0, 0.0, 0.0]
        data.mocap_pos[self._mocap] = start
        data.mocap_quat[self._mocap] = [1.0, 0.0, 0.0, 0.0]
        for q in self._finger_qpos:
            data.qpos[q] = FINGER_MAX
        data.ctrl[:] = FINGER_MAX
        for i, adr in enumerate(self._obj_qpos):
            data.qpos[adr : adr + 7] = [objects[i, 0], objects[i, 1], OBJECT_HALF_HEIGHT[i], 1.0, 0.0, 0.0, 0.0]
        for j, m in enumerate(self._goal_mocap):
            data.mocap_pos[m] = [goals[j, 0], goals[j, 1], GOAL_Z]
        self._elapsed = 0
        self._lifted = False
        mujoco.mj_forward(model, data)
        state = self._state_obs()
        return self._observation(state), self._info(state, state)

    def step(self, action: np.ndarray) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Move the gripper target, set the fingers, advance 20 physics steps.

        Raises:
            ValueError: If the action is not a finite numeric array of shape ``(4,)``.
        """
        self._require_open()
        action = np.asarray(action)
        if action.shape != (4,) or not np.issubdtype(action.dtype, np.number) or not np.all(np.isfinite(action)):
            raise ValueError(f"Tabletop action must be a finite numeric array of shape (4,), got {action!r}.")
        a = np.clip(action.astype(np.float64), -1.0, 1.0)
        data = self.data
        before = self._state_obs()
        data.mocap_pos[self._mocap] = np.clip(
            data.mocap_pos[self._mocap] + a[:3] * self.max_displacement, WORKSPACE_LOW, WORKSPACE_HIGH
        )
        data.ctrl[:] = FINGER_MAX * (1.0 - a[3]) / 2.0
        mujoco.mj_step(self.model, data, nstep=self.frame_skip)
        self._elapsed += 1
        adr = self._obj_qpos[self._object]
        if data.qpos[adr + 2] - OBJECT_HALF_HEIGHT[self._object] > rules.LIFT_HEIGHT:
            self._lifted = True
        state = self._state_obs()
        reward = float(self._reward_fn(before, a, state))
        info = self._info(before, state)
        terminated = bool(info["is_success"])
        truncated = self._elapsed >= self.max_episode_steps
        return self._observation(state), reward, terminated, truncated, info

    def state_observation(self) -> np.ndarray:
        """The state observation of the current physics state (whatever ``obs_mode`` is), a new float64 vector."""
        return self._state_obs()

    def render(self) -> np.ndarray | None:
        """The frame ``(H, W, 3)`` uint8 of the current physics state from camera ``overhead`` (``None`` without a
        render mode)."""
        if self.render_mode is None:
            gym.logger.warn('TabletopEnv.render() was called without a render mode; use render_mode="rgb_array".')
            return None
        return self._render_frame()

    def close(self) -> None:
        """Free this env's renderer (safe to call twice)."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._closed = True

    # ------------------------------------------------------------------------------------------------ physics state

    def physics_state_size(self) -> int:
        """Length of the physics-state vector (MuJoCo's integration state + 6)."""
        return self._mj_state_size + len(EXTRA_STATE_FIELDS)

    def get_physics_state(self) -> np.ndarray:
        """Copy the full state: MuJoCo's ``mjSTATE_INTEGRATION`` vector + :data:`EXTRA_STATE_FIELDS` (float64)."""
        mj = np.empty(self._mj_state_size, dtype=np.float64)
        mujoco.mj_getState(self.model, self.data, mj, STATE_SPEC)
        extra = [self.family, self._template, self._object, self._goal, self._elapsed, float(self._lifted)]
        return np.concatenate([mj, np.asarray(extra, dtype=np.float64)])

    def set_physics_state(self, state: np.ndarray) -> None:
        """Restore a state from :meth:`get_physics_state` (then ``mj_forward``).

        Raises:
            ValueError: If ``state`` has the wrong size, is not finite, belongs to another family, or holds invalid
                instruction indices.
        """
        state = np.asarray(state, dtype=np.float64)
        size = self.physics_state_size()
        if state.shape != (size,):
            raise ValueError(f"Tabletop physics state must be a vector of size {size}, got shape {state.shape}.")
        if not np.all(np.isfinite(state)):
            raise ValueError(f"Tabletop physics state of size {size} contains non-finite values.")
        extra = state[self._mj_state_size :]
        if not np.all(extra == np.round(extra)):
            raise ValueError(f"Tabletop physics state: {EXTRA_STATE_FIELDS} must be integers, got {extra}.")
        family, template, obj, goal, elapsed, lifted = (int(v) for v in extra)
        if family != self.family:
            raise ValueError(
                f"Tabletop physics state is of family {ins.FAMILIES[family] if 0 <= family < 3 else family!r}, "
                f"this env runs {self.task!r}."
            )
        n_goals = len(GOALS)
        valid_goal = goal == -1 if self.task == "reach" else 0 <= goal < n_goals
        if not (0 <= template < len(ins.TEMPLATES[self.task]) and 0 <= obj < len(OBJECTS) and valid_goal):
            raise ValueError(f"Tabletop physics state holds invalid instruction indices {extra[:4]}.")
        if elapsed < 0 or lifted not in (0, 1):
            raise ValueError(f"Tabletop physics state holds invalid elapsed_steps/lifted {extra[4:]}.")
        mujoco.mj_setState(self.model, self.data, np.ascontiguousarray(state[: self._mj_state_size]), STATE_SPEC)
        self._template, self._object, self._goal = template, obj, goal
        self._elapsed, self._lifted = elapsed, bool(lifted)
        mujoco.mj_forward(self.model, self.data)

    def physics_state_from_obs(self, obs: np.ndarray) -> np.ndarray:
        """A physics state (for :meth:`set_physics_state`) whose state observation is ``obs``, for rendering a predicted
        observation (:meth:`neural_gym.envs.tasks.TaskSpec.set_state_from_obs`). This env is not changed.

        Taken from ``obs``: the grasp point's position and linear velocity, the finger joints (half the pad gap and
        half its velocity each), the objects' poses (quaternions normalized; identity where zero) and linear
        velocities, the goal regions' positions, the instructed object and goal (the largest one-hot entry; goal
        ``-1`` for reach) and the ``lifted`` flag (``obs[53] > 0.5``). What the 54 entries lack is set as follows:
        angular velocities of the gripper and the objects are zero, the gripper is upright (identity quaternion) and
        its mocap target sits at the grasp point, the finger commands hold the fingers where they are, the solver's
        warm start, applied forces and time are zero, the instruction's phrasing is this env's current one, and
        ``elapsed_steps`` is 0. So ``state_observation()`` after restoring it equals ``obs`` whenever ``obs`` is
        consistent (unit quaternions, exact one-hots, finger gap within its range).

        Args:
            obs: One state observation of shape ``(54,)``.

        Returns:
            The physics-state vector (length :meth:`physics_state_size`).

        Raises:
            ValueError: If ``obs`` has the wrong shape or is not finite.
        """
        obs = np.asarray(obs, dtype=np.float64)
        if obs.shape != (rules.OBS_SIZE,) or not np.all(np.isfinite(obs)):
            raise ValueError(
                f"Expected one finite tabletop state observation of shape ({rules.OBS_SIZE},), got {obs!r}."
            )
        model = self.model
        data = mujoco.MjData(model)
        mujoco.mj_resetData(model, data)
        g, gv = self._gripper_qpos, self._gripper_qvel
        data.qpos[g : g + 7] = [*obs[rules.GRIPPER_SLICE], 1.0, 0.0, 0.0, 0.0]
        data.qvel[gv : gv + 3] = obs[rules.GRIPPER_VEL_SLICE]
        data.mocap_pos[self._mocap] = obs[rules.GRIPPER_SLICE]
        data.mocap_quat[self._mocap] = [1.0, 0.0, 0.0, 0.0]
        finger = float(np.clip(obs[rules.OPENING_INDEX] / 2.0, 0.0, FINGER_MAX))
        for q, v in zip(self._finger_qpos, self._finger_qvel, strict=True):
            data.qpos[q] = finger
            data.qvel[v] = obs[rules.OPENING_VEL_INDEX] / 2.0
        data.ctrl[:] = finger
        start, vstart = rules.OBJECT_POSE_SLICE.start, rules.OBJECT_VEL_SLICE.start
        for i, (adr, vadr) in enumerate(zip(self._obj_qpos, self._obj_qvel, strict=True)):
            pose = obs[start + 7 * i : start + 7 * i + 7]
            quat = pose[3:]
            norm = float(np.linalg.norm(quat))
            data.qpos[adr : adr + 7] = [*pose[:3], *(quat / norm if norm > 0 else [1.0, 0.0, 0.0, 0.0])]
            data.qvel[vadr : vadr + 3] = obs[vstart + 3 * i : vstart + 3 * i + 3]
        data.mocap_pos[self._goal_mocap] = obs[rules.GOAL_SLICE].reshape(len(GOALS), 3)
        mj = np.empty(self._mj_state_size, dtype=np.float64)
        mujoco.mj_getState(model, data, mj, STATE_SPEC)
        obj = int(np.argmax(obs[rules.TARGET_OBJECT_SLICE]))
        goal = -1 if self.task == "reach" else int(np.argmax(obs[rules.TARGET_GOAL_SLICE]))
        lifted = float(obs[rules.LIFTED_INDEX] > 0.5)
        extra = [self.family, self._template, obj, goal, 0, lifted]
        return np.concatenate([mj, np.asarray(extra, dtype=np.float64)])

    # ----------------------------------------------------------------------------------------------------- helpers

    def _check_camera(self, camera: str | int) -> str | int:
        """``camera`` if the MJCF has it (a name, an id, or ``-1`` for the free camera)."""
        names = [self.model.camera(i).name for i in range(self.model.ncam)]
        if isinstance(camera, str):
            if camera not in names:
                raise ValueError(f"Unknown camera {camera!r}; the tabletop scene has {names} (or -1, the free camera).")
            return camera
        if isinstance(camera, int | np.integer) and not isinstance(camera, bool):
            if not -1 <= int(camera) < self.model.ncam:
                raise ValueError(f"Camera id {camera} out of range: use -1 (free camera) or 0..{self.model.ncam - 1}.")
            return int(camera)
        raise TypeError(f"camera must be a camera name or id of the tabletop scene, got {type(camera).__name__}.")

    def _require_open(self) -> None:
        if self._closed:
            raise RuntimeError("This TabletopEnv is closed; make a new one.")

    def _sample_layout(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Object xy ``(3, 2)`` and goal xy ``(3, 2)`` satisfying the spacing rules (rejection sampling)."""
        n_obj, n_goal = len(OBJECTS), len(GOALS)
        for _ in range(10_000):
            objects = rng.uniform(-OBJECT_XY_HIGH, OBJECT_XY_HIGH, size=(n_obj, 2))
            goals = rng.uniform(-GOAL_XY_HIGH, GOAL_XY_HIGH, size=(n_goal, 2))
            if self._layout_ok(objects, goals):
                return objects, goals
        raise RuntimeError("Could not draw a tabletop layout.")  # pragma: no cover - never seen

    def _layout_ok(self, objects: np.ndarray, goals: np.ndarray) -> bool:
        def pairwise_ok(points: np.ndarray, spacing: float) -> bool:
            d = np.linalg.norm(points[:, None] - points[None], axis=-1)
            return bool(np.all(d[np.triu_indices(len(points), 1)] >= spacing))

        if not pairwise_ok(objects, MIN_OBJECT_SPACING) or not pairwise_ok(goals, MIN_GOAL_SPACING):
            return False
        if np.any(np.linalg.norm(objects[:, None] - goals[None], axis=-1) < MIN_OBJECT_GOAL_SPACING):
            return False
        if self._goal < 0:
            return True
        obj, goal = objects[self._object], goals[self._goal]
        travel = float(np.linalg.norm(goal - obj))
        if travel < MIN_TARGET_TRAVEL:
            return False
        behind = obj - (goal - obj) / travel * 0.07
        if self.task == "push" or self.task == "pick_place":
            for i in range(len(objects)):
                if i != self._object and _segment_distance(objects[i], behind, goal) < PATH_CLEARANCE:
                    return False
        return True

    def _state_obs(self) -> np.ndarray:
        data = self.data
        obs = np.zeros(rules.OBS_SIZE, dtype=np.float64)
        g, gv = self._gripper_qpos, self._gripper_qvel
        obs[rules.GRIPPER_SLICE] = data.qpos[g : g + 3]
        obs[rules.OPENING_INDEX] = data.qpos[self._finger_qpos[0]] + data.qpos[self._finger_qpos[1]]
        obs[rules.GRIPPER_VEL_SLICE] = data.qvel[gv : gv + 3]
        obs[rules.OPENING_VEL_INDEX] = data.qvel[self._finger_qvel[0]] + data.qvel[self._finger_qvel[1]]
        start = rules.OBJECT_POSE_SLICE.start
        vstart = rules.OBJECT_VEL_SLICE.start
        for i, (adr, vadr) in enumerate(zip(self._obj_qpos, self._obj_qvel, strict=True)):
            obs[start + 7 * i : start + 7 * i + 7] = data.qpos[adr : adr + 7]
            obs[vstart + 3 * i : vstart + 3 * i + 3] = data.qvel[vadr : vadr + 3]
        obs[rules.GOAL_SLICE] = data.mocap_pos[self._goal_mocap].ravel()
        obs[rules.TARGET_OBJECT_SLICE.start + self._object] = 1.0
        if self._goal >= 0:
            obs[rules.TARGET_GOAL_SLICE.start + self._goal] = 1.0
        obs[rules.LIFTED_INDEX] = float(self._lifted)
        return obs

    def _observation(self, state: np.ndarray) -> Any:
        if self.obs_mode == "state":
            return state
        frame = self._render_frame()
        if self.obs_mode == "pixels":
            return frame
        return {PIXELS_KEY: frame, STATE_KEY: state, INSTRUCTION_KEY: self.instruction}

    def _info(self, before: np.ndarray, state: np.ndarray) -> dict[str, Any]:
        success = bool(self._success_fn(before, np.zeros(4), state))
        return {
            "is_success": success,
            "instruction": self.instruction,
            "task": self.task,
            "object": OBJECTS[self._object],
            "goal": GOALS[self._goal] if self._goal >= 0 else None,
            "combination": (self._template, self._object, self._goal),
            "elapsed_steps": self._elapsed,
        }

    def _render_frame(self) -> np.ndarray:
        self._require_open()
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, height=self.height, width=self.width)
        mujoco.mj_forward(self.model, self.data)
        self._renderer.update_scene(self.data, camera=self.camera)
        return np.ascontiguousarray(self._renderer.render(), dtype=np.uint8)
