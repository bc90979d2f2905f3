"""Registry of the ground-truth tasks: gymnasium MuJoCo ``*-v5`` environments, the tabletop suite
(:mod:`neural_gym.envs.tabletop`), and their known rules.

Example:
    >>> from neural_gym.envs import get_task
    >>> task = get_task("neural_gym/HalfCheetah-v0")
    >>> task.env_id, task.max_episode_steps, task.reward_fn is None
    ('HalfCheetah-v5', 1000, True)
    >>> env = task.make()
    >>> pixel_env = task.make(obs_mode="pixels", image_size=64)   # 64x64 uint8 frames from the task's camera
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

from neural_gym.envs import rewards, tabletop
from neural_gym.envs.observations import (
    DEFAULT_IMAGE_SIZE,
    STATE_KEY,
    Camera,
    ImageSize,
    check_obs_mode,
    image_hw,
    make_observation_env,
    state_space,
)
from neural_gym.envs.rewards import RewardFn, TerminationFn

StateFromObs = Callable[[mujoco.MjModel, np.ndarray, float], tuple[np.ndarray, np.ndarray]]
"""Maps ``(model, obs, x_position)`` to the ``(qpos, qvel)`` that the observation describes."""


@dataclass(frozen=True)
class TaskSpec:
    """One ground-truth task: which gymnasium env it is and which of its rules are known exactly.

    Attributes:
        name: Short name, e.g. ``"HalfCheetah"``.
        env_id: Gymnasium id, e.g. ``"HalfCheetah-v5"``.
        max_episode_steps: Time limit from the gymnasium registry.
        reward_fn: Exact batched ``reward(obs, action, next_obs) -> (B,)`` (NumPy or torch), or ``None`` where the
            reward is not a function of the observations (see :mod:`neural_gym.envs.rewards`).
        termination_fn: Exact batched ``terminated(obs, action, next_obs) -> (B,)`` bool, or ``None``.
        description: One paragraph for people.
        x_velocity_index: Index of the root's ``x`` velocity in the observation for tasks whose observation excludes
            the root ``x`` position (HalfCheetah, Hopper, Walker2d), so a renderer can integrate ``x``; else ``None``.
        state_from_obs: ``(model, obs, x_position) -> (qpos, qvel)`` used by :meth:`set_state_from_obs`; ``None`` where
            an observation does not determine the scene.
        success_fn: Exact batched ``success(obs, action, next_obs) -> (B,)`` bool where the task defines success
            (``info["is_success"]`` of the ground truth and of the Dream envs), else ``None``.
        camera: Default camera of the pixel observation modes, chosen so that the moving parts fill small (64x64)
            frames: a ``default_camera_config`` dict (free camera), a camera name of the model, or ``None`` for the
            env's own default (see :mod:`neural_gym.envs.observations`).
        renders_itself: ``True`` for envs that implement the observation modes themselves (the tabletop suite):
            :meth:`make` passes ``obs_mode``, ``image_size`` and ``camera`` to ``gymnasium.make`` instead of wrapping
            the env with :func:`~neural_gym.envs.observations.make_observation_env` (which is for gymnasium's MuJoCo
            envs). Such an env's dict observations may hold more than ``{"pixels", "state"}`` (the tabletop's
            ``"instruction"``).
        episode_constant_dims: Indices of observation dims that the task's rules keep exactly constant within an
            episode (the tabletop suite's goal-region centres and instructed object/goal one-hots, see
            :data:`neural_gym.envs.tabletop.rules.EPISODE_CONSTANT_DIMS`); the Dream envs hold them at their
            episode-start values for state models instead of letting the model's predictions drift. Empty (the
            default) for tasks with no such dims.
    """

    name: str
    env_id: str
    max_episode_steps: int
    reward_fn: RewardFn | None
    termination_fn: TerminationFn | None
    description: str
    x_velocity_index: int | None = None
    state_from_obs: StateFromObs | None = field(default=None, repr=False, compare=False)
    camera: Camera | None = field(default=None, compare=False)
    success_fn: TerminationFn | None = field(default=None, repr=False, compare=False)
    renders_itself: bool = field(default=False, compare=False)
    episode_constant_dims: tuple[int, ...] = field(default=(), compare=False)

    def make(
        self,
        render_mode: str | None = None,
        *,
        obs_mode: str = "state",
        image_size: ImageSize = DEFAULT_IMAGE_SIZE,
        camera: Camera | None = None,
        **kwargs: Any,
    ) -> gym.Env:
        """Create the ground-truth env in one observation mode.

        ``obs_mode="state"`` (default) is ``gymnasium.make(env_id, render_mode=..., **kwargs)``, the task's own
        observation vector; ``image_size`` is ignored there and ``camera`` only picks the camera of ``render()`` when
        given. ``"pixels"``: observations are RGB frames of the current physics state, ``Box(0, 255, (H, W, 3),
        uint8)``. ``"dict"``: ``Dict({"pixels": <frame Box>, "state": <state Box>})``. The pixel modes render headless
        (``import envs`` sets ``MUJOCO_GL=egl`` when there is no display and ``MUJOCO_GL`` is unset); see
        :mod:`neural_gym.envs.observations` for the wrappers and :func:`neural_gym.envs.observations.render_frame` for frames of restored
        states.

        Args:
            render_mode: Gymnasium render mode. In the pixel modes only ``None`` or ``"rgb_array"`` (the env renders
                ``"rgb_array"`` frames either way).
            obs_mode: ``"state"``, ``"pixels"`` or ``"dict"``.
            image_size: Frame size in the pixel modes: an int (square) or ``(height, width)``; default 64.
            camera: ``None`` for the task's default camera (:attr:`camera`), a ``default_camera_config`` dict of
                gymnasium's MuJoCo v5 envs (a free camera), a camera name or a camera id of the model.
            **kwargs: Passed on to ``gymnasium.make`` (in the pixel modes not ``width``, ``height`` or camera kwargs).

        Returns:
            The wrapped gymnasium env (with its ``TimeLimit``).

        Raises:
            ValueError: For an unknown ``obs_mode`` (the message lists the accepted ones), a bad ``image_size``, a
                ``render_mode`` other than ``None``/``"rgb_array"`` in a pixel mode, or an unknown camera.
            TypeError: For a ``camera`` of the wrong type.
        """
        if self.renders_itself:
            return self._make_self_rendering(render_mode, obs_mode, image_size, camera, kwargs)
        if obs_mode != "state" and camera is None:
            camera = self.camera
        return make_observation_env(
            self.env_id, render_mode, obs_mode=obs_mode, image_size=image_size, camera=camera, **kwargs
        )

    def _make_self_rendering(
        self,
        render_mode: str | None,
        obs_mode: str,
        image_size: ImageSize,
        camera: Camera | None,
        kwargs: dict[str, Any],
    ) -> gym.Env:
        """:meth:`make` for an env that renders itself (:attr:`renders_itself`).

        ``width`` / ``height`` kwargs (what callers pass the MuJoCo tasks for ``render()``'s frame size) become
        ``image_size`` in ``"state"`` mode; the pixel modes take ``image_size`` only.
        """
        mode = check_obs_mode(obs_mode)
        height, width = image_hw(image_size)
        if "width" in kwargs or "height" in kwargs:
            if mode != "state":
                raise ValueError(
                    f"obs_mode={mode!r} sets the frame size itself: pass image_size= instead of width=/height=."
                )
            width = int(kwargs.pop("width", width))
            height = int(kwargs.pop("height", height))
            height, width = image_hw((height, width))
        camera = self.camera if camera is None else camera
        if camera is not None:
            kwargs["camera"] = camera
        return gym.make(self.env_id, render_mode=render_mode, obs_mode=mode, image_size=(height, width), **kwargs)

    def set_state_from_obs(self, env: gym.Env, obs: np.ndarray, x_position: float = 0.0) -> None:
        """Put the scene of ``env`` into the state that one observation vector describes.

        Meant for rendering a *predicted* observation. MuJoCo tasks: it sets ``qpos``/``qvel`` with
        ``env.unwrapped.set_state`` (which runs ``mj_forward``). Tasks whose env has ``physics_state_from_obs`` (the
        PyBullet ``KukaReach``, the tabletop suite) get ``set_physics_state`` of it. Whatever the observation lacks is
        filled in: the root ``x`` position from ``x_position`` (HalfCheetah, Hopper, Walker2d), zero object/goal
        velocities (Pusher, Reacher target), zero angular velocities and the rest documented in
        :meth:`neural_gym.envs.tabletop.TabletopEnv.physics_state_from_obs` (tabletop).

        Afterwards ``env.unwrapped._get_obs()`` equals ``obs`` whenever ``obs`` is kinematically consistent. Note that
        the observations that ``step`` returns for Reacher and Pusher are not quite: MuJoCo's ``mj_step`` computes body
        positions before it integrates, so their fingertip/object/goal positions lag ``qpos`` by one physics
        sub-step (order 1e-3 for Pusher). Pusher's object and goal positions here come from those body positions, its
        arm from the joint angles. Hopper and Walker2d velocities are clipped to ``[-10, 10]`` in the observation.

        Args:
            env: An env of this task in any observation mode (its ``unwrapped`` must be the task's own env).
            obs: One state observation, shape of the unwrapped env's ``observation_space``.
            x_position: Root ``x`` position for tasks whose observation excludes it; ignored otherwise.

        Raises:
            ValueError: If ``obs`` has the wrong shape or is not finite, or the task cannot be set from observations.
            TypeError: If ``env`` is not a gymnasium MuJoCo env (for MuJoCo tasks).
        """
        unwrapped = env.unwrapped
        from_obs = getattr(unwrapped, "physics_state_from_obs", None)
        if self.state_from_obs is None and from_obs is None:
            raise ValueError(f"Task {self.name} has no rule to set its state from an observation.")
        obs = np.asarray(obs, dtype=np.float64)
        space = state_space(env)  # the state vector also in the pixel and dict modes of the MuJoCo tasks
        if isinstance(space, gym.spaces.Dict) and STATE_KEY in space.spaces:  # envs that render themselves
            space = space[STATE_KEY]
        elif self.renders_itself and not isinstance(space, gym.spaces.Box):  # their pixel mode: the state stays hidden
            space = gym.spaces.Box(-np.inf, np.inf, shape=np.shape(unwrapped.state_observation()))
        expected = space.shape
        if obs.shape != expected:
            raise ValueError(f"{self.name}: expected one observation of shape {expected}, got shape {obs.shape}.")
        if not np.all(np.isfinite(obs)):
            raise ValueError(f"{self.name}: observation is not finite: {obs}")
        if self.state_from_obs is None:  # the env maps its own observations to physics states (KukaReach, tabletop)
            unwrapped.set_physics_state(from_obs(obs))
            return
        if not isinstance(unwrapped, MujocoEnv):
            raise TypeError(f"Expected a gymnasium MuJoCo env of {self.env_id}, got {type(unwrapped).__name__}.")
        qpos, qvel = self.state_from_obs(unwrapped.model, obs, float(x_position))
        unwrapped.set_state(qpos, qvel)


# ------------------------------------------------------------------------------------- observation -> (qpos, qvel)


def _qpos_qvel_obs(model: mujoco.MjModel, obs: np.ndarray, x_position: float) -> tuple[np.ndarray, np.ndarray]:
    """InvertedPendulum: ``obs = [qpos, qvel]``."""
    del x_position
    return obs[: model.nq].copy(), obs[model.nq : model.nq + model.nv].copy()


def _x_excluded_obs(model: mujoco.MjModel, obs: np.ndarray, x_position: float) -> tuple[np.ndarray, np.ndarray]:
    """HalfCheetah, Hopper, Walker2d: ``obs = [qpos[1:], qvel]``; the root x comes from ``x_position``."""
    qpos = np.concatenate([[x_position], obs[: model.nq - 1]])
    qvel = obs[model.nq - 1 : model.nq - 1 + model.nv].copy()
    return qpos, qvel


def _reacher_obs(model: mujoco.MjModel, obs: np.ndarray, x_position: float) -> tuple[np.ndarray, np.ndarray]:
    """Reacher: ``obs = [cos q, sin q, target qpos, qdot, fingertip - target (x, y)]``."""
    del x_position
    qpos = np.zeros(model.nq)
    qvel = np.zeros(model.nv)
    qpos[:2] = np.arctan2(obs[2:4], obs[0:2])
    qpos[2:] = obs[4 : 4 + model.nq - 2]
    qvel[:2] = obs[4 + model.nq - 2 : 6 + model.nq - 2]
    return qpos, qvel


def _slide_qpos_from_position(model: mujoco.MjModel, body_name: str, position: np.ndarray, qpos: np.ndarray) -> None:
    """Write the slide-joint coordinates of ``body_name`` that put its frame at ``position`` (world coordinates).

    The body's reference frame position and the joints' world axes come from forward kinematics of the model at
    ``qpos0`` (nothing hard-coded); each slide coordinate is ``qpos0 + axis · (position - reference)``.
    """
    data = mujoco.MjData(model)
    data.qpos[:] = model.qpos0
    mujoco.mj_kinematics(model, data)
    body = model.body(body_name)
    reference = data.xpos[body.id]
    for j in range(int(body.jntadr[0]), int(body.jntadr[0] + body.jntnum[0])):
        if model.jnt_type[j] != mujoco.mjtJoint.mjJNT_SLIDE:
            raise ValueError(f"Body {body_name!r} has a non-slide joint {model.joint(j).name!r}.")
        adr = model.jnt_qposadr[j]
        qpos[adr] = model.qpos0[adr] + float(np.dot(data.xaxis[j], position - reference))


def _pusher_obs(model: mujoco.MjModel, obs: np.ndarray, x_position: float) -> tuple[np.ndarray, np.ndarray]:
    """Pusher: ``obs = [arm qpos (7), arm qvel (7), tips_arm, object, goal]`` (body positions, world frame)."""
    del x_position
    qpos = model.qpos0.copy()
    qvel = np.zeros(model.nv)
    qpos[:7] = obs[0:7]
    qvel[:7] = obs[7:14]
    _slide_qpos_from_position(model, "object", obs[17:20], qpos)
    _slide_qpos_from_position(model, "goal", obs[20:23], qpos)
    return qpos, qvel


# ---------------------------------------------------------------------------------------------------------- registry


def _max_steps(env_id: str) -> int:
    """Time limit of ``env_id`` in the gymnasium registry."""
    steps = gym.spec(env_id).max_episode_steps
    if steps is None:
        raise ValueError(f"{env_id} has no max_episode_steps in the gymnasium registry.")
    return int(steps)


def _task(
    name: str,
    reward_fn: RewardFn | None,
    termination_fn: TerminationFn | None,
    description: str,
    state_from_obs: StateFromObs,
    camera: Camera | None,
    x_velocity_index: int | None = None,
) -> TaskSpec:
    env_id = f"{name}-v5"
    return TaskSpec(
        name=name,
        env_id=env_id,
        max_episode_steps=_max_steps(env_id),
        reward_fn=reward_fn,
        termination_fn=termination_fn,
        description=description,
        x_velocity_index=x_velocity_index,
        state_from_obs=state_from_obs,
        camera=camera,
    )


_TABLETOP_DESCRIPTIONS = {
    "reach": "Move a mocap two-finger gripper to the object a language instruction names (100-step episodes).",
    "push": "Push the instructed object onto the instructed goal region of the table (150-step episodes).",
    "pick_place": "Pick up the instructed object and put it down, released and at rest, on the instructed goal region "
    "(150-step episodes).",
}


def _tabletop_task(name: str, family: str) -> TaskSpec:
    """A tabletop family (:mod:`neural_gym.envs.tabletop`) as a task: success ends the episode, as in its ``step``."""
    return TaskSpec(
        name=name,
        env_id=tabletop.env_id(family),
        max_episode_steps=tabletop.MAX_EPISODE_STEPS[family],
        reward_fn=tabletop.REWARD_FNS[family],
        termination_fn=tabletop.TERMINATION_FNS[family],
        success_fn=tabletop.SUCCESS_FNS[family],
        description=_TABLETOP_DESCRIPTIONS[family]
        + " Obs: the 54-dim state (gripper, objects, goal regions, instructed object/goal one-hots, lifted flag); the "
        "instruction is in info, and in obs_mode='dict'. Shaped reward (negative distances) and success are exact; "
        "success terminates.",
        camera=tabletop.CAMERA,
        renders_itself=True,
        episode_constant_dims=tabletop.EPISODE_CONSTANT_DIMS,
    )


# Default cameras of the pixel modes, checked by eye at 64x64. Free cameras (dicts) for the tasks that stay in place;
# the model's "track" camera (follows the torso's centre of mass, side view) for the runners.
_INVERTED_PENDULUM_CAMERA: dict[str, Any] = {
    # Side view of the whole rail (cart range [-1, 1] plus the cart's half length) with the 0.6 m pole.
    "distance": 3.4,
    "lookat": [0.0, 0.0, 0.3],
    "elevation": 0.0,
    "azimuth": 90.0,
}
_REACHER_CAMERA: dict[str, Any] = {
    # Top down on the arm's reach (0.21 m) and the target (within 0.2 m of the centre); the arena walls are cropped.
    # The target is a 9 mm sphere, about 2.5 pixels wide at 64x64.
    "distance": 0.56,
    "lookat": [0.0, 0.0, 0.0],
    "elevation": -90.0,
    "azimuth": 90.0,
}
_PUSHER_CAMERA: dict[str, Any] = {
    # Top down on the arm (shoulder included), the object (white) and the goal (red).
    "distance": 1.9,
    "lookat": [0.35, -0.35, -0.3],
    "elevation": -90.0,
    "azimuth": 90.0,
}
_TRACK_CAMERA = "track"


TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in (
        _task(
            "InvertedPendulum",
            rewards.inverted_pendulum_reward,
            rewards.inverted_pendulum_termination,
            "Balance a pole on a cart. Obs [x, angle, x_dot, angle_dot]; reward 1 per upright step; ends when "
            "|angle| > 0.2. Reward and termination are exact functions of the observation.",
            _qpos_qvel_obs,
            _INVERTED_PENDULUM_CAMERA,
        ),
        _task(
            "Reacher",
            rewards.reacher_reward,
            rewards.never_terminates,
            "Move a two-link arm's fingertip to a random target (50-step episodes). Reward -distance - |a|^2, "
            "never terminates. Reward and termination are exact.",
            _reacher_obs,
            _REACHER_CAMERA,
        ),
        _task(
            "HalfCheetah",
            None,
            rewards.never_terminates,
            "Run a planar cheetah forward. Never terminates (exact). The reward's forward velocity is a finite "
            "difference of the root x position, which the observation excludes, so no exact reward rule.",
            _x_excluded_obs,
            _TRACK_CAMERA,
            x_velocity_index=8,  # obs = [qpos[1:] (8), qvel]; qvel[0] is the root x velocity
        ),
        _task(
            "Hopper",
            None,
            rewards.hopper_termination,
            "Hop a one-legged robot forward. Termination is exact from the observation (except when |qvel| > 100, "
            "which the clipped observation hides). No exact reward rule: its forward term is the mean x velocity over the "
            "frame skip (a finite difference of x), which the observed end-of-step velocity only approximates.",
            _x_excluded_obs,
            _TRACK_CAMERA,
            x_velocity_index=5,  # obs = [qpos[1:] (5), qvel]; qvel[0] is the root x velocity
        ),
        _task(
            "Pusher",
            rewards.pusher_reward,
            rewards.never_terminates,
            "Push a cylinder to a goal with a 7-DoF arm (100-step episodes). Reward -0.5 d(tip, object) "
            "- d(object, goal) - 0.1 |a|^2, never terminates. Reward and termination are exact.",
            _pusher_obs,
            _PUSHER_CAMERA,
        ),
        _task(
            "Walker2d",
            None,
            rewards.walker2d_termination,
            "Walk a planar biped forward. Termination (0.8 < z < 2, |angle| < 1) is exact; the reward's forward "
            "term (mean x velocity over the frame skip) is not in the observation, so no exact reward rule.",
            _x_excluded_obs,
            _TRACK_CAMERA,
            x_velocity_index=8,  # obs = [qpos[1:] (8), qvel]; qvel[0] is the root x velocity
        ),
        *(_tabletop_task(name, family) for name, family in tabletop.TASK_FAMILIES.items()),
    )
}
"""The ground-truth tasks by short name: the gymnasium MuJoCo ``*-v5`` tasks, then the tabletop suite."""


@dataclass(frozen=True)
class OptionalTask:
    """A task whose ground truth needs an optional extra; :func:`get_task` imports it on first use.

    Attributes:
        module: module that defines the :class:`TaskSpec` (imported on first use).
        attribute: name of the :class:`TaskSpec` in that module.
        extra: the ``pip install "neural-gym[<extra>]"`` extra that provides it.
        max_episode_steps: time limit (known without importing the extra, for env registration).
    """

    module: str
    attribute: str
    extra: str
    max_episode_steps: int


#: Tasks behind optional extras, by short name: PyBullet's KUKA reach (``pip install "neural-gym[bullet]"``).
#: They are not in :data:`TASKS` (which holds what is always installed); :func:`get_task` finds them by name.
OPTIONAL_TASKS: dict[str, OptionalTask] = {
    "KukaReach": OptionalTask("neural_gym.envs.bullet", "KUKA_REACH", "bullet", 150),
}


def task_names() -> list[str]:
    """Every task name: the MuJoCo tasks, then those behind optional extras (whether installed or not)."""
    return list(TASKS) + list(OPTIONAL_TASKS)


def _load_optional(short: str) -> TaskSpec | None:
    """The optional task named ``short`` (any case), imported on first use; ImportError says how to install it."""
    for name, opt in OPTIONAL_TASKS.items():
        if name.lower() == short.lower():
            import importlib

            return getattr(importlib.import_module(opt.module), opt.attribute)
    return None


_ID_RE = re.compile(r"^(?:(?P<namespace>[\w.-]+)/)?(?P<name>[\w.]+?)(?:-v(?P<version>\d+))?$")


def get_task(name: str) -> TaskSpec:
    """Look up a task by short name, gymnasium id or ``neural_gym`` dream-env id (case-insensitive).

    ``"HalfCheetah"``, ``"halfcheetah"``, ``"HalfCheetah-v5"`` and ``"neural_gym/HalfCheetah-v0"`` (any version in the
    ``neural_gym`` namespace) all name the same task. A gymnasium id with another version (``"HalfCheetah-v4"``) is
    refused rather than silently mapped to v5.

    Args:
        name: The task name or id.

    Returns:
        The :class:`TaskSpec`.

    Raises:
        ValueError: If no task matches; the message lists the known tasks.
        ImportError: For a task behind an optional extra that is not installed (the message says what to install).
    """
    known = ", ".join(task_names())
    match = _ID_RE.match(name.strip())
    if match is not None:
        namespace, short, version = match.group("namespace", "name", "version")
        by_lower = {key.lower(): task for key, task in TASKS.items()}
        task = by_lower.get(short.lower()) or _load_optional(short)
        if task is not None:
            if namespace is not None and namespace.lower() == "neural_gym":
                return task
            if namespace is None and (version is None or f"{task.name}-v{version}" == task.env_id):
                return task
            if namespace is None:
                raise ValueError(f"Unknown task {name!r}: this project uses {task.env_id}. Known tasks: {known}.")
    raise ValueError(f"Unknown task {name!r}. Known tasks: {known} (also as '<Task>-v5' or 'neural_gym/<Task>-v0').")
