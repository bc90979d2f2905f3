"""Observation modes of the ground-truth tasks: the state vector, rendered pixels, or both in a dict.

``"state"`` is the task's own observation vector. ``"pixels"`` replaces it with an RGB frame of the current physics
state, ``Box(0, 255, (H, W, 3), uint8)``. ``"dict"`` keeps the state beside the frame, ``Dict({"pixels": ...,
"state": ...})``, so evaluation can compare against the true state while a model reads the frame.

Frames are rendered headless with gymnasium's MuJoCo renderer. ``import envs`` sets ``MUJOCO_GL=egl`` when no display
is attached and ``MUJOCO_GL`` is unset (set ``MUJOCO_GL=osmesa`` or ``glfw`` yourself to choose another backend).

The observation wrapper is gymnasium's own :class:`~gymnasium.wrappers.AddRenderObservation`. Under it,
:class:`RenderCurrentState` runs ``mj_forward`` before each render: after ``mj_step`` MuJoCo's body positions still
describe the start of the last physics sub-step, so without it a frame would lag the physics state by one sub-step. With
it a frame is a pure function of the physics state: ``set_physics_state(env, s)`` then :func:`render_frame` gives
exactly the frame the env returned in the step that led to ``s``. ``mj_forward`` only recomputes derived quantities;
the trajectory of the simulation is unchanged bit for bit.

Cameras (``camera`` argument of :meth:`neural_gym.envs.tasks.TaskSpec.make`):

* ``None``: the task's default camera for small frames (:attr:`neural_gym.envs.tasks.TaskSpec.camera`).
* a ``dict``: a free camera given as gymnasium MuJoCo v5's ``default_camera_config``, i.e. attributes of
  ``mujoco.MjvCamera`` (``distance``, ``azimuth``, ``elevation``, ``lookat``, ...). A free camera does not follow the
  robot.
* a ``str``: the name of a camera in the model's XML (e.g. ``"track"``, which follows the torso of HalfCheetah, Hopper
  and Walker2d).
* an ``int``: a camera id in the model (``-1`` is the free camera with the env's own default configuration).

Example:
    >>> from neural_gym.envs import get_task, render_frame, set_physics_state
    >>> env = get_task("Reacher").make(obs_mode="dict", image_size=64)
    >>> obs, _ = env.reset(seed=0)
    >>> obs["pixels"].shape, obs["pixels"].dtype, obs["state"].shape
    ((64, 64, 3), dtype('uint8'), (10,))
    >>> frame = render_frame(env)   # the frame of the current physics state, equal to obs["pixels"]
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv
from gymnasium.wrappers import AddRenderObservation

ObsMode = Literal["state", "pixels", "dict"]
"""Observation mode of a ground-truth env."""

OBS_MODES: tuple[str, ...] = get_args(ObsMode)
"""The accepted observation modes, ``("state", "pixels", "dict")``."""

PIXELS_KEY = "pixels"
"""Key of the frame in dict observations (and in pixel datasets)."""

STATE_KEY = "state"
"""Key of the state vector in dict observations (and in pixel datasets)."""

DEFAULT_IMAGE_SIZE = 64
"""Default frame height and width in pixels."""

Camera = Mapping[str, Any] | str | int
"""A camera: a ``default_camera_config`` dict (free camera), a camera name, or a camera id (see the module doc)."""

ImageSize = int | tuple[int, int]
"""Frame size: one int for square frames, or ``(height, width)``."""

_CAMERA_ATTRIBUTES = frozenset(name for name in dir(mujoco.MjvCamera()) if not name.startswith("_"))
"""Attributes of ``mujoco.MjvCamera`` that a camera dict may set."""

_RENDER_KWARGS = ("width", "height", "camera_id", "camera_name", "default_camera_config")
"""``gymnasium.make`` kwargs that ``image_size`` and ``camera`` own in the pixel modes."""


def check_obs_mode(obs_mode: str) -> ObsMode:
    """Validate an observation mode.

    Args:
        obs_mode: ``"state"``, ``"pixels"`` or ``"dict"``.

    Returns:
        The mode.

    Raises:
        ValueError: If it is none of :data:`OBS_MODES`.
    """
    if not isinstance(obs_mode, str) or obs_mode not in OBS_MODES:
        raise ValueError(f"Unknown obs_mode {obs_mode!r}; expected one of {', '.join(map(repr, OBS_MODES))}.")
    return obs_mode  # type: ignore[return-value]


def image_hw(image_size: ImageSize) -> tuple[int, int]:
    """Normalize an image size to ``(height, width)``.

    Args:
        image_size: A positive int (square frames) or a ``(height, width)`` pair of positive ints.

    Returns:
        ``(height, width)``.

    Raises:
        ValueError: If ``image_size`` is neither, or not positive.
    """

    def is_size(value: object) -> bool:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) > 0

    if is_size(image_size):
        return int(image_size), int(image_size)  # type: ignore[arg-type]
    if (
        isinstance(image_size, Sequence)
        and not isinstance(image_size, str)
        and len(image_size) == 2
        and all(is_size(v) for v in image_size)
    ):
        return int(image_size[0]), int(image_size[1])
    raise ValueError(
        f"image_size must be a positive int (square frames) or a (height, width) pair of positive ints, "
        f"got {image_size!r}."
    )


def pixel_space(image_size: ImageSize = DEFAULT_IMAGE_SIZE) -> spaces.Box:
    """The space of one RGB frame, ``Box(0, 255, (H, W, 3), uint8)``.

    Args:
        image_size: See :func:`image_hw`.

    Returns:
        The frame space.
    """
    height, width = image_hw(image_size)
    return spaces.Box(0, 255, shape=(height, width, 3), dtype=np.uint8)


def dict_space(state_space: spaces.Space, image_size: ImageSize = DEFAULT_IMAGE_SIZE) -> spaces.Dict:
    """The space of dict observations, ``Dict({"pixels": pixel_space(image_size), "state": state_space})``.

    Args:
        state_space: The task's state observation space.
        image_size: See :func:`image_hw`.

    Returns:
        The dict space.
    """
    return spaces.Dict({PIXELS_KEY: pixel_space(image_size), STATE_KEY: state_space})


def camera_kwargs(camera: Camera | None) -> dict[str, Any]:
    """The ``gymnasium.make`` kwargs of gymnasium's MuJoCo envs that select ``camera``.

    Args:
        camera: ``None`` (no kwargs: the env's own default), a ``default_camera_config`` dict, a camera name, or a
            camera id. NumPy arrays in a dict become lists, so the env spec stays JSON-serializable (Minari stores it).

    Returns:
        ``{}``, ``{"default_camera_config": {...}}``, ``{"camera_name": name}`` or ``{"camera_id": id}``.

    Raises:
        TypeError: If ``camera`` is none of these types.
        ValueError: If a camera name is empty.
    """
    if camera is None:
        return {}
    if isinstance(camera, Mapping):
        config = {
            str(key): np.asarray(value).tolist() if isinstance(value, np.ndarray | list | tuple) else value
            for key, value in camera.items()
        }
        return {"default_camera_config": config}
    if isinstance(camera, str):
        if not camera:
            raise ValueError("camera name must not be empty.")
        return {"camera_name": camera}
    if isinstance(camera, numbers.Integral) and not isinstance(camera, bool):
        return {"camera_id": int(camera)}
    raise TypeError(
        f"camera must be None, a default_camera_config dict, a camera name (str) or a camera id (int), got "
        f"{type(camera).__name__}: {camera!r}."
    )


def _check_mujoco_camera(env: MujocoEnv, camera: Camera) -> None:
    """Refuse a camera that gymnasium would silently replace by its default free camera, or fail on late."""
    model = env.model
    names = [model.camera(i).name for i in range(model.ncam)]
    if isinstance(camera, Mapping):
        unknown = sorted(set(camera) - _CAMERA_ATTRIBUTES)
        if unknown:
            raise ValueError(
                f"Unknown camera config keys {unknown}; a camera dict sets attributes of mujoco.MjvCamera: "
                f"{sorted(_CAMERA_ATTRIBUTES)}."
            )
    elif isinstance(camera, str):
        if camera not in names:
            raise ValueError(f"Model has no camera named {camera!r}; its cameras: {names or 'none'}.")
    elif not -1 <= int(camera) < model.ncam:
        raise ValueError(f"Camera id {camera} out of range: use -1 (free camera) or 0..{model.ncam - 1} ({names}).")


def forward_kinematics(env: gym.Env) -> None:
    """Recompute MuJoCo's derived quantities (``mj_forward``) so that a render shows the current ``qpos``.

    A no-op for envs that are not gymnasium MuJoCo envs. The simulation's future is unchanged by this call.

    Args:
        env: A gymnasium env (any wrapping).
    """
    unwrapped = env.unwrapped
    if isinstance(unwrapped, MujocoEnv):
        mujoco.mj_forward(unwrapped.model, unwrapped.data)


class RenderCurrentState(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Renders the current physics state: runs ``mj_forward`` before every ``render()``.

    Why a wrapper of our own: gymnasium's MuJoCo envs render right after ``mj_step``, whose body positions describe
    the start of the last sub-step, so frames would lag the state by one sub-step and differ from a render of the
    restored state. This wrapper sits under :class:`~gymnasium.wrappers.AddRenderObservation` so that observed
    frames are a function of the physics state alone (see the module doc). Its ``metadata["render_modes"]`` is
    ``["rgb_array"]``, the only mode a pixel observation env supports (so ``check_env`` tries no other).

    Args:
        env: An env with ``render_mode="rgb_array"``.

    Raises:
        ValueError: If ``env.render_mode`` is not ``"rgb_array"``.
    """

    def __init__(self, env: gym.Env) -> None:
        if env.render_mode != "rgb_array":
            raise ValueError(f"RenderCurrentState needs render_mode='rgb_array', got {env.render_mode!r}.")
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        self.metadata = {**env.metadata, "render_modes": ["rgb_array"]}

    def render(self) -> Any:
        """Update the derived physics quantities, then render (in this env's own GL context)."""
        forward_kinematics(self.env)
        make_gl_context_current(self.env)
        frame = self.env.render()
        # gymnasium flips MuJoCo's image with a negative-stride view; torch (and so SB3) refuses those arrays.
        return np.ascontiguousarray(frame) if isinstance(frame, np.ndarray) else frame

    def close(self) -> None:
        """Free the renderer's GL objects under its own context, then close the env (see :func:`release_gl`)."""
        release_gl(self.env)
        super().close()


def _offscreen_viewer(env: gym.Env) -> Any:
    return getattr(getattr(env.unwrapped, "mujoco_renderer", None), "viewer", None)


def make_gl_context_current(env: gym.Env) -> None:
    """Make the GL context of a MuJoCo env's offscreen renderer current (no-op for other envs or before a render).

    Why: gymnasium's offscreen viewer makes its EGL context current only when it is created, so with several pixel
    envs in one process (a dataset collection, a ground-truth env for Dream start states, a drift renderer) a render
    can draw into another env's context and return black frames.
    """
    viewer = _offscreen_viewer(env)
    if viewer is not None and hasattr(viewer, "make_context_current"):
        viewer.make_context_current()


def release_gl(env: gym.Env) -> None:
    """Free a MuJoCo env's ``MjrContext`` under its own GL context before the env is closed.

    Why: gymnasium's ``close()`` frees the GL context but leaves the ``MjrContext`` to the garbage collector, whose
    destructor then deletes GL objects of whatever context is current at that moment (another live env's).
    """
    viewer = _offscreen_viewer(env)
    if viewer is not None and hasattr(viewer, "make_context_current") and hasattr(viewer, "con"):
        viewer.make_context_current()
        viewer.con.free()


def make_observation_env(
    env_id: str,
    render_mode: str | None = None,
    *,
    obs_mode: str = "state",
    image_size: ImageSize = DEFAULT_IMAGE_SIZE,
    camera: Camera | None = None,
    **kwargs: Any,
) -> gym.Env:
    """Make a gymnasium env in one observation mode.

    ``"state"``: ``gymnasium.make(env_id, render_mode=render_mode, **kwargs)`` as always (``image_size`` is ignored;
    ``camera``, when given, selects the camera of ``render()``). ``"pixels"`` / ``"dict"``: the env is made with
    ``render_mode="rgb_array"``, ``width``/``height`` from ``image_size`` and the camera, then wrapped in
    :class:`RenderCurrentState` and gymnasium's :class:`~gymnasium.wrappers.AddRenderObservation` (``render_only`` for
    pixels; keys ``"pixels"`` and ``"state"`` for dict). ``env.render()`` of such an env returns the same frame as the
    observation.

    Args:
        env_id: Gymnasium id.
        render_mode: ``None`` or ``"rgb_array"`` in the pixel modes (both give ``"rgb_array"``); anything gymnasium
            accepts in ``"state"`` mode.
        obs_mode: ``"state"``, ``"pixels"`` or ``"dict"``.
        image_size: Frame size, an int or ``(height, width)``.
        camera: ``None`` (the env's default), a ``default_camera_config`` dict, a camera name, or a camera id.
        **kwargs: Passed on to ``gymnasium.make``; in the pixel modes they must not set ``width``, ``height`` or a
            camera (use ``image_size`` and ``camera``).

    Returns:
        The env.

    Raises:
        ValueError: For an unknown ``obs_mode``, a bad ``image_size``, another ``render_mode`` in a pixel mode,
            render kwargs that clash with ``image_size``/``camera``, or a camera the MuJoCo model does not have.
        TypeError: For a ``camera`` of the wrong type.
    """
    mode = check_obs_mode(obs_mode)
    height, width = image_hw(image_size)
    cam_kwargs = camera_kwargs(camera)
    if mode == "state":
        clash = sorted(set(cam_kwargs) & set(kwargs))
        if clash:
            raise ValueError(f"Pass the camera either as camera= or as {clash}, not both.")
        env = gym.make(env_id, render_mode=render_mode, **cam_kwargs, **kwargs)
        _check_camera_or_close(env, camera)
        return env

    if render_mode not in (None, "rgb_array"):
        raise ValueError(
            f"obs_mode={mode!r} renders frames with render_mode='rgb_array'; got render_mode={render_mode!r}. Pass "
            "render_mode=None or 'rgb_array' (env.render() then returns the observed frame), or use obs_mode='state' "
            "for other render modes."
        )
    clash = sorted(k for k in _RENDER_KWARGS if k in kwargs)
    if clash:
        raise ValueError(
            f"obs_mode={mode!r} sets the frame size and camera itself: pass image_size= and camera= instead of {clash}."
        )
    env = gym.make(env_id, render_mode="rgb_array", width=width, height=height, **cam_kwargs, **kwargs)
    _check_camera_or_close(env, camera)
    env = RenderCurrentState(env)
    return AddRenderObservation(env, render_only=mode == "pixels", render_key=PIXELS_KEY, obs_key=STATE_KEY)


def _check_camera_or_close(env: gym.Env, camera: Camera | None) -> None:
    """Validate ``camera`` against the MuJoCo model of ``env``; close ``env`` before raising."""
    if camera is None or not isinstance(env.unwrapped, MujocoEnv):
        return
    try:
        _check_mujoco_camera(env.unwrapped, camera)
    except ValueError:
        env.close()
        raise


def state_space(env: gym.Env) -> spaces.Space:
    """The state observation space of an env in any observation mode (that of its unwrapped env).

    Args:
        env: A ground-truth env, wrapped or not.

    Returns:
        ``env.unwrapped.observation_space``.
    """
    return env.unwrapped.observation_space


def render_frame(env: gym.Env) -> np.ndarray:
    """Render the current physics state of an env, e.g. after :func:`neural_gym.envs.physics.set_physics_state`.

    For an env made with ``obs_mode="pixels"`` or ``"dict"`` the frame equals, bit for bit, the one the env returned
    as its observation in the step that led to this physics state (same size and camera). It runs ``mj_forward`` and
    renders through the unwrapped env, so it also works before ``reset`` of the wrappers.

    Args:
        env: An env made with ``render_mode="rgb_array"`` (every pixel/dict env is).

    Returns:
        A new C-contiguous uint8 array ``(H, W, 3)``.

    Raises:
        ValueError: If the env does not render RGB frames.
    """
    unwrapped = env.unwrapped
    if unwrapped.render_mode != "rgb_array":
        raise ValueError(
            f"render_frame needs an env that renders RGB frames: make it with obs_mode='pixels' or 'dict' (or "
            f"render_mode='rgb_array'); this one has render_mode={unwrapped.render_mode!r}."
        )
    forward_kinematics(unwrapped)
    make_gl_context_current(unwrapped)
    frame = unwrapped.render()
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[-1] != 3:
        shape = getattr(frame, "shape", None)
        raise ValueError(f"Expected an (H, W, 3) RGB frame from render(), got {type(frame).__name__} of shape {shape}.")
    return np.ascontiguousarray(frame, dtype=np.uint8)


__all__ = [
    "DEFAULT_IMAGE_SIZE",
    "OBS_MODES",
    "PIXELS_KEY",
    "STATE_KEY",
    "Camera",
    "ImageSize",
    "ObsMode",
    "RenderCurrentState",
    "camera_kwargs",
    "check_obs_mode",
    "dict_space",
    "forward_kinematics",
    "image_hw",
    "make_observation_env",
    "pixel_space",
    "render_frame",
    "state_space",
]
