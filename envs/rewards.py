"""Exact, batched reward and termination rules of the gymnasium MuJoCo ``*-v5`` tasks.

Every function here is pure and takes ``(obs, action, next_obs)`` with shapes ``(B, O)``, ``(B, A)``, ``(B, O)``
(any leading batch shape works, including none) and returns ``(B,)``. The same function accepts NumPy arrays or torch
tensors; the result has the type of ``next_obs`` (float rewards in its dtype, bool terminations). Nothing here imports
torch unless a tensor is passed in.

The rules are read from ``gymnasium/envs/mujoco/*_v5.py`` with the default constructor weights. A rule appears here
only when it is an exact function of the observation vectors; the others (HalfCheetah, Hopper and Walker2d rewards,
whose forward term is a finite difference of the root ``x`` position that the observation excludes) have no reward
function and :data:`neural_gym.envs.tasks.TASKS` marks them ``None``.

Notes on exactness:
    * Reacher and Pusher compute their reward *after* ``do_simulation`` from the same body positions that the
      returned observation holds, so rewarding from ``next_obs`` is exact. The control cost uses the action as passed
      to ``env.step`` (MuJoCo clamps ``ctrl`` internally, the reward does not), so pass the unclipped action.
    * Hopper's health check reads the *unclipped* ``qvel`` while the observation clips it to ``[-10, 10]``; the
      termination rule below is exact except when some ``|qvel| >= 100`` (the clipped value can never reach the
      ``(-100, 100)`` bound, so that part of the check is lost).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Union

import numpy as np

if TYPE_CHECKING:
    import torch

Array = Union[np.ndarray, "torch.Tensor"]
"""A NumPy array or a torch tensor."""

RewardFn = Callable[[Array, Array, Array], Array]
"""A batched reward rule ``reward(obs, action, next_obs) -> (B,)``; the result has the array type of ``next_obs``."""

TerminationFn = Callable[[Array, Array, Array], Array]
"""A batched termination rule ``terminated(obs, action, next_obs) -> (B,)`` of dtype bool."""


# ----------------------------------------------------------------------------------------------------------- helpers


def _is_tensor(x: Any) -> bool:
    """True if ``x`` is a torch tensor (without importing torch when nobody else has)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _norm(x: Any) -> Any:
    """Euclidean norm over the last axis."""
    if _is_tensor(x):
        return x.norm(dim=-1)
    return np.linalg.norm(x, axis=-1)


def _sum_squares(x: Any) -> Any:
    """Sum of squares over the last axis."""
    return (x * x).sum(-1)


def _all_finite(x: Any) -> Any:
    """Whether every entry along the last axis is finite."""
    if _is_tensor(x):
        return x.isfinite().all(dim=-1)
    return np.isfinite(x).all(axis=-1)


def _abs(x: Any) -> Any:
    """Elementwise absolute value."""
    return x.abs() if _is_tensor(x) else np.abs(x)


def _all(x: Any) -> Any:
    """Logical all over the last axis."""
    if _is_tensor(x):
        return x.all(dim=-1)
    return np.all(x, axis=-1)


def _zeros_bool(like: Any) -> Any:
    """All-False bool array with the batch shape of ``like``."""
    if _is_tensor(like):
        import torch

        return torch.zeros(like.shape[:-1], dtype=torch.bool, device=like.device)
    return np.zeros(np.shape(like)[:-1], dtype=bool)


def _as_float(mask: Any, like: Any) -> Any:
    """Cast a bool mask to the floating dtype of ``like`` (float64 for NumPy integer input)."""
    if _is_tensor(mask):
        return mask.to(like.dtype) if like.is_floating_point() else mask.double()
    dtype = like.dtype if np.issubdtype(like.dtype, np.floating) else np.float64
    return np.asarray(mask, dtype=dtype)


def _as_like(action: Any, like: Any) -> Any:
    """Convert ``action`` to the array type of ``like``.

    A floating action keeps its dtype, so a float32 action's control cost is summed in float32 exactly as gymnasium
    does; the sum is promoted when added to the distance terms.
    """
    if _is_tensor(like):
        import torch

        action = torch.as_tensor(action, device=like.device)
        return action if action.is_floating_point() else action.to(like.dtype)
    return np.asarray(action)


# ---------------------------------------------------------------------------------------------- InvertedPendulum-v5


def inverted_pendulum_termination(obs: Array, action: Array, next_obs: Array) -> Array:
    """InvertedPendulum-v5: terminated when ``next_obs`` is not finite or the pole angle ``|next_obs[1]| > 0.2``.

    Exact. Observations are ``[cart x, pole angle, cart velocity, pole angular velocity]``.

    Args:
        obs: Observations before the step, ``(B, 4)`` (unused).
        action: Actions, ``(B, 1)`` (unused).
        next_obs: Observations after the step, ``(B, 4)``.

    Returns:
        Bool ``(B,)``.
    """
    del obs, action
    return ~_all_finite(next_obs) | (_abs(next_obs[..., 1]) > 0.2)


def inverted_pendulum_reward(obs: Array, action: Array, next_obs: Array) -> Array:
    """InvertedPendulum-v5: reward ``1`` while the pole is up, ``0`` on the terminating step.

    Exact (v5 fixed v4's bug of paying the survival reward on the terminating step too).

    Args:
        obs: Observations before the step, ``(B, 4)`` (unused).
        action: Actions, ``(B, 1)`` (unused).
        next_obs: Observations after the step, ``(B, 4)``.

    Returns:
        Float ``(B,)`` in the dtype of ``next_obs``.
    """
    terminated = inverted_pendulum_termination(obs, action, next_obs)
    return _as_float(~terminated, next_obs)


# ------------------------------------------------------------------------------------------------------- Reacher-v5

REACHER_DIST_WEIGHT = 1.0
"""Reacher-v5 default ``reward_dist_weight``."""
REACHER_CONTROL_WEIGHT = 1.0
"""Reacher-v5 default ``reward_control_weight`` (the v5 code default is 1, although its docs table says 0.1)."""


def reacher_reward(obs: Array, action: Array, next_obs: Array) -> Array:
    """Reacher-v5: ``-||fingertip - target|| - ||action||²``.

    Exact: v5 rewards after the step from the fingertip-to-target vector, whose ``x, y`` parts are the last two
    entries of the observation; its ``z`` part is always 0 (fingertip and target both sit at ``z = 0.01``).

    Args:
        obs: Observations before the step, ``(B, 10)`` (unused).
        action: Actions as passed to ``env.step``, ``(B, 2)``.
        next_obs: Observations after the step, ``(B, 10)``.

    Returns:
        Float ``(B,)``.
    """
    del obs
    action = _as_like(action, next_obs)
    reward_dist = -_norm(next_obs[..., -2:]) * REACHER_DIST_WEIGHT
    reward_ctrl = -_sum_squares(action) * REACHER_CONTROL_WEIGHT
    return reward_dist + reward_ctrl


def never_terminates(obs: Array, action: Array, next_obs: Array) -> Array:
    """Termination rule of tasks that never terminate (Reacher, Pusher, HalfCheetah): all False.

    Exact for the ground truth, which never sets ``terminated``. Non-finite ``next_obs`` also reads as terminated so a
    learned model that diverges ends its episode instead of returning NaN.

    Args:
        obs: Observations before the step (unused).
        action: Actions (unused).
        next_obs: Observations after the step, ``(B, O)``.

    Returns:
        Bool ``(B,)``.
    """
    del obs, action
    return _zeros_bool(next_obs) | ~_all_finite(next_obs)


# -------------------------------------------------------------------------------------------------------- Pusher-v5

PUSHER_NEAR_WEIGHT = 0.5
"""Pusher-v5 default ``reward_near_weight``."""
PUSHER_DIST_WEIGHT = 1.0
"""Pusher-v5 default ``reward_dist_weight``."""
PUSHER_CONTROL_WEIGHT = 0.1
"""Pusher-v5 default ``reward_control_weight``."""


def pusher_reward(obs: Array, action: Array, next_obs: Array) -> Array:
    """Pusher-v5: ``-0.5 ||object - tips_arm|| - ||object - goal|| - 0.1 ||action||²``.

    Exact: v5 computes the reward after ``do_simulation`` from the body positions that the returned observation
    holds (``tips_arm = next_obs[14:17]``, ``object = next_obs[17:20]``, ``goal = next_obs[20:23]``).

    Args:
        obs: Observations before the step, ``(B, 23)`` (unused).
        action: Actions as passed to ``env.step``, ``(B, 7)``.
        next_obs: Observations after the step, ``(B, 23)``.

    Returns:
        Float ``(B,)``.
    """
    del obs
    action = _as_like(action, next_obs)
    tips_arm = next_obs[..., 14:17]
    obj = next_obs[..., 17:20]
    goal = next_obs[..., 20:23]
    reward_near = -_norm(obj - tips_arm) * PUSHER_NEAR_WEIGHT
    reward_dist = -_norm(obj - goal) * PUSHER_DIST_WEIGHT
    reward_ctrl = -_sum_squares(action) * PUSHER_CONTROL_WEIGHT
    return reward_dist + reward_ctrl + reward_near


# -------------------------------------------------------------------------------------------------------- Hopper-v5

HOPPER_HEALTHY_STATE_RANGE = (-100.0, 100.0)
"""Hopper-v5 default ``healthy_state_range`` (open interval)."""
HOPPER_HEALTHY_Z_RANGE = (0.7, float("inf"))
"""Hopper-v5 default ``healthy_z_range`` (open interval)."""
HOPPER_HEALTHY_ANGLE_RANGE = (-0.2, 0.2)
"""Hopper-v5 default ``healthy_angle_range`` (open interval)."""


def hopper_termination(obs: Array, action: Array, next_obs: Array) -> Array:
    """Hopper-v5: terminated unless ``0.7 < z``, ``-0.2 < angle < 0.2`` and every ``next_obs[1:]`` in ``(-100, 100)``.

    ``z = next_obs[0]`` (root height), ``angle = next_obs[1]`` (torso pitch); all inequalities strict as in gymnasium.
    Exact except when some ``|qvel| >= 100``: gymnasium checks the unclipped velocities while the observation clips
    them to ``[-10, 10]``. Also True where ``next_obs`` is not finite.

    Args:
        obs: Observations before the step, ``(B, 11)`` (unused).
        action: Actions, ``(B, 3)`` (unused).
        next_obs: Observations after the step, ``(B, 11)``.

    Returns:
        Bool ``(B,)``.
    """
    del obs, action
    lo, hi = HOPPER_HEALTHY_STATE_RANGE
    state = next_obs[..., 1:]
    healthy_state = _all((lo < state) & (state < hi))
    z, angle = next_obs[..., 0], next_obs[..., 1]
    healthy_z = (HOPPER_HEALTHY_Z_RANGE[0] < z) & (z < HOPPER_HEALTHY_Z_RANGE[1])
    healthy_angle = (HOPPER_HEALTHY_ANGLE_RANGE[0] < angle) & (angle < HOPPER_HEALTHY_ANGLE_RANGE[1])
    healthy = healthy_state & healthy_z & healthy_angle & _all_finite(next_obs)
    return ~healthy


# ------------------------------------------------------------------------------------------------------ Walker2d-v5

WALKER_HEALTHY_Z_RANGE = (0.8, 2.0)
"""Walker2d-v5 default ``healthy_z_range`` (open interval)."""
WALKER_HEALTHY_ANGLE_RANGE = (-1.0, 1.0)
"""Walker2d-v5 default ``healthy_angle_range`` (open interval)."""


def walker2d_termination(obs: Array, action: Array, next_obs: Array) -> Array:
    """Walker2d-v5: terminated unless ``0.8 < z < 2.0`` and ``-1 < angle < 1``.

    ``z = next_obs[0]`` (torso height), ``angle = next_obs[1]`` (torso pitch); strict inequalities as in gymnasium.
    Exact. Also True where ``next_obs`` is not finite.

    Args:
        obs: Observations before the step, ``(B, 17)`` (unused).
        action: Actions, ``(B, 6)`` (unused).
        next_obs: Observations after the step, ``(B, 17)``.

    Returns:
        Bool ``(B,)``.
    """
    del obs, action
    z, angle = next_obs[..., 0], next_obs[..., 1]
    healthy_z = (WALKER_HEALTHY_Z_RANGE[0] < z) & (z < WALKER_HEALTHY_Z_RANGE[1])
    healthy_angle = (WALKER_HEALTHY_ANGLE_RANGE[0] < angle) & (angle < WALKER_HEALTHY_ANGLE_RANGE[1])
    return ~(healthy_z & healthy_angle & _all_finite(next_obs))
