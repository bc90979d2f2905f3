"""Exact, batched reward rule of :class:`neural_gym.envs.bullet.kuka_reach.KukaReachEnv`.

Same conventions as :mod:`neural_gym.envs.rewards`: a pure function of ``(obs, action, next_obs)`` with shapes ``(B, 20)``,
``(B, 7)``, ``(B, 20)`` (any leading batch shape, including none) that accepts NumPy arrays or torch tensors and returns
``(B,)`` in the array type and dtype of ``next_obs``. The env computes its reward by calling this very function on the
observation it returns, so the rule is exact by construction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# The array helpers are shared with the MuJoCo rules so that both treat NumPy/torch inputs and dtypes alike.
from neural_gym.envs.rewards import Array, _is_tensor, _norm, _sum_squares

KUKA_N_JOINTS = 7
"""Joints of the KUKA iiwa arm (all revolute)."""
KUKA_OBS_SIZE = 2 * KUKA_N_JOINTS + 6
"""Length of the observation ``[q (7), q_dot (7), end effector (3), target (3)]``."""
KUKA_EE_SLICE = slice(14, 17)
"""End-effector position ``(x, y, z)`` in the observation ``[q (7), q_dot (7), ee (3), target (3)]``."""
KUKA_TARGET_SLICE = slice(17, 20)
"""Target position ``(x, y, z)`` in the observation."""
KUKA_REACH_CONTROL_WEIGHT = 0.01
"""Weight of the control cost ``||clip(action, -1, 1)||²``."""
KUKA_SUCCESS_DISTANCE = 0.05
"""Success: the end effector within this distance of the target (metres)."""


def _clipped_action(action: Any, like: Any) -> Any:
    """``action`` clipped to ``[-1, 1]``, in the array type and (floating) dtype of ``like``."""
    if _is_tensor(like):
        import torch

        dtype = like.dtype if like.is_floating_point() else torch.float64
        return torch.as_tensor(action, device=like.device).to(dtype).clamp(-1.0, 1.0)
    dtype = like.dtype if np.issubdtype(like.dtype, np.floating) else np.float64
    return np.clip(np.asarray(action, dtype=dtype), -1.0, 1.0)


def kuka_reach_reward(obs: Array, action: Array, next_obs: Array) -> Array:
    """KukaReach-v0: ``-||ee - target|| - 0.01 ||clip(action, -1, 1)||²``, both positions from ``next_obs``.

    Exact: the env rewards after the step from the end-effector and target positions that the returned observation
    holds, and clips the action to the action space exactly as the env does before commanding the motors. The action
    is cast to the dtype of ``next_obs`` first (float64 in the env), so a float32 action costs the same as its float64
    copy and NumPy and torch agree to rounding.

    Args:
        obs: Observations before the step, ``(B, 20)`` (unused).
        action: Actions as passed to ``env.step``, ``(B, 7)``.
        next_obs: Observations after the step, ``(B, 20)``.

    Returns:
        Float ``(B,)``.
    """
    del obs
    action = _clipped_action(action, next_obs)
    distance = _norm(next_obs[..., KUKA_EE_SLICE] - next_obs[..., KUKA_TARGET_SLICE])
    return -distance - _sum_squares(action) * KUKA_REACH_CONTROL_WEIGHT


def kuka_reach_success(obs: Array, action: Array, next_obs: Array) -> Array:
    """KukaReach-v0's ``info["is_success"]``: the end effector within 5 cm of the target in ``next_obs``, ``(B,)`` bool."""
    del obs, action
    return _norm(next_obs[..., KUKA_EE_SLICE] - next_obs[..., KUKA_TARGET_SLICE]) < KUKA_SUCCESS_DISTANCE
