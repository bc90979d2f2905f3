"""Exact save and restore of a ground-truth env's physics state.

Envs that define their own ``get_physics_state()`` / ``set_physics_state(state)`` methods on ``env.unwrapped`` (and
optionally ``physics_state_size()``), such as the PyBullet :class:`neural_gym.envs.bullet.KukaReachEnv`, are dispatched to those
methods; everything below describes the MuJoCo path.

For MuJoCo envs the state is MuJoCo's ``mjSTATE_INTEGRATION`` vector (time, qpos, qvel, act, solver warm start, ctrl,
applied forces, mocap, user data, ...): everything ``mj_step`` reads. Restoring it and replaying the same actions
reproduces the same observations bit for bit (same MuJoCo build). The vector layout depends on the model and the
MuJoCo version.

Example:
    >>> from neural_gym.envs import get_task
    >>> env = get_task("Hopper").make()
    >>> _ = env.reset(seed=0)
    >>> action = env.action_space.sample()
    >>> state = get_physics_state(env)
    >>> obs1, *_ = env.step(action)
    >>> set_physics_state(env, state)
    >>> obs2, *_ = env.step(action)   # obs2 == obs1 exactly
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION
"""The ``mjtState`` signature recorded and restored by this module."""


def _own_state_methods(env: gym.Env) -> Any | None:
    """``env.unwrapped`` when it defines ``get_physics_state`` and ``set_physics_state`` itself, else ``None``."""
    unwrapped = env.unwrapped
    if callable(getattr(unwrapped, "get_physics_state", None)) and callable(
        getattr(unwrapped, "set_physics_state", None)
    ):
        return unwrapped
    return None


def _model_data(env: gym.Env) -> tuple[Any, Any]:
    """Return ``(model, data)`` of the MuJoCo env under any wrappers."""
    unwrapped = env.unwrapped
    model = getattr(unwrapped, "model", None)
    data = getattr(unwrapped, "data", None)
    if not isinstance(model, mujoco.MjModel) or not isinstance(data, mujoco.MjData):
        raise TypeError(
            f"Expected a MuJoCo gymnasium env (with .unwrapped.model/.data) or an env whose .unwrapped defines "
            f"get_physics_state()/set_physics_state(state), got {type(unwrapped).__name__}."
        )
    return model, data


def physics_state_size(env: gym.Env) -> int:
    """Length of the physics-state vector of ``env``.

    Args:
        env: A gymnasium MuJoCo env, or an env with its own state methods (wrapped or not).

    Returns:
        ``mj_stateSize(model, mjSTATE_INTEGRATION)`` for MuJoCo; else ``unwrapped.physics_state_size()`` where
        defined, or the length of the current state.
    """
    own = _own_state_methods(env)
    if own is not None:
        size = getattr(own, "physics_state_size", None)
        return int(size()) if callable(size) else int(np.asarray(own.get_physics_state()).size)
    model, _ = _model_data(env)
    return int(mujoco.mj_stateSize(model, STATE_SPEC))


def get_physics_state(env: gym.Env) -> np.ndarray:
    """Copy the full integration state of ``env``.

    Args:
        env: A gymnasium MuJoCo env, or an env with its own state methods (wrapped or not).

    Returns:
        A new float64 vector of length :func:`physics_state_size`.
    """
    own = _own_state_methods(env)
    if own is not None:
        return np.array(own.get_physics_state(), dtype=np.float64)
    model, data = _model_data(env)
    state = np.empty(mujoco.mj_stateSize(model, STATE_SPEC), dtype=np.float64)
    mujoco.mj_getState(model, data, state, STATE_SPEC)
    return state


def set_physics_state(env: gym.Env, state: np.ndarray) -> None:
    """Restore a state from :func:`get_physics_state` and recompute derived quantities (``mj_forward``).

    Envs with their own state methods get ``unwrapped.set_physics_state(state)``, which validates the state itself.

    Args:
        env: A gymnasium MuJoCo env of the same model the state came from, or an env with its own state methods.
        state: The state vector.

    Raises:
        ValueError: If ``state`` is not a finite vector of the expected size.
    """
    own = _own_state_methods(env)
    if own is not None:
        own.set_physics_state(state)
        return
    model, data = _model_data(env)
    expected = int(mujoco.mj_stateSize(model, STATE_SPEC))
    state = np.asarray(state, dtype=np.float64)
    if state.shape != (expected,):
        raise ValueError(
            f"Physics state must be a vector of size {expected} (mjSTATE_INTEGRATION for this model and "
            f"MuJoCo {mujoco.__version__}), got shape {state.shape}."
        )
    if not np.all(np.isfinite(state)):
        raise ValueError(f"Physics state of size {expected} contains non-finite values.")
    mujoco.mj_setState(model, data, np.ascontiguousarray(state), STATE_SPEC)
    mujoco.mj_forward(model, data)
