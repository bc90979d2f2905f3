"""Observation layout, exact success rules and shaped rewards of the tabletop families.

Same conventions as :mod:`neural_gym.envs.rewards`: pure functions of ``(obs, action, next_obs)`` with any leading
batch shape, NumPy arrays or torch tensors, returning ``(B,)`` in the array type of ``next_obs``. The env computes its
reward and ``info["is_success"]`` by calling these very functions on the state observation it returns, so they are
exact by construction (the observation holds everything they read, including the episode's target one-hots and the
``lifted`` flag).

State observation (float64, :data:`OBS_SIZE` = 54 entries):

============  =======  ================================================================================
slice          size     content
============  =======  ================================================================================
``0:3``        3        grasp point (gripper origin) position, world frame (m)
``3``          1        finger pad gap, ``q_finger_l + q_finger_r`` (m, 0 closed to 0.08 open)
``4:7``        3        grasp point linear velocity (m/s)
``7``          1        pad gap velocity (m/s)
``8:29``       3 x 7    object poses ``(x, y, z, qw, qx, qy, qz)`` in :data:`~.model.OBJECTS` order
``29:38``      3 x 3    object linear velocities (m/s)
``38:47``      3 x 3    goal-region centres in :data:`~.model.GOALS` order
``47:50``      3        one-hot of the instructed object
``50:53``      3        one-hot of the instructed goal (all zero for ``"reach"``)
``53``         1        ``1.0`` once the instructed object has been lifted :data:`LIFT_HEIGHT` above its rest
                        height in this episode, else ``0.0``
============  =======  ================================================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neural_gym.envs.rewards import Array, _all_finite, _is_tensor, _norm
from neural_gym.envs.tabletop.model import GOAL_HALF_SIZE, GOAL_IS_SQUARE, GOALS, OBJECT_HALF_HEIGHT, OBJECTS

N_OBJECTS = len(OBJECTS)
N_GOALS = len(GOALS)
GRIPPER_SLICE = slice(0, 3)
OPENING_INDEX = 3
GRIPPER_VEL_SLICE = slice(4, 7)
OPENING_VEL_INDEX = 7
OBJECT_POSE_SLICE = slice(8, 8 + 7 * N_OBJECTS)
OBJECT_VEL_SLICE = slice(OBJECT_POSE_SLICE.stop, OBJECT_POSE_SLICE.stop + 3 * N_OBJECTS)
GOAL_SLICE = slice(OBJECT_VEL_SLICE.stop, OBJECT_VEL_SLICE.stop + 3 * N_GOALS)
TARGET_OBJECT_SLICE = slice(GOAL_SLICE.stop, GOAL_SLICE.stop + N_OBJECTS)
TARGET_GOAL_SLICE = slice(TARGET_OBJECT_SLICE.stop, TARGET_OBJECT_SLICE.stop + N_GOALS)
LIFTED_INDEX = TARGET_GOAL_SLICE.stop
OBS_SIZE = LIFTED_INDEX + 1
"""Length of the state observation (54)."""
EPISODE_CONSTANT_DIMS: tuple[int, ...] = tuple(range(GOAL_SLICE.start, TARGET_GOAL_SLICE.stop))
"""Observation dims every family keeps constant within an episode by construction (38..52): the goal-region centres
(mocap bodies placed at reset and never moved) and the instructed object/goal one-hots (drawn at reset). The
``lifted`` flag is not among them (it rises during an episode), nor are object poses (the gripper can knock objects,
even in reach)."""

REACH_DISTANCE = 0.03
"""Reach success: the grasp point within this distance of the instructed object's centre (m)."""
ON_TABLE_TOLERANCE = 0.005
"""Push/pick_place success: the object's centre within this height of its resting height (m)."""
REST_SPEED = 0.05
"""Pick_place success: the object slower than this (m/s)."""
RELEASE_OPENING = 0.07
"""Pick_place success: the pad gap at least this wide (the gripper has let go; the widest object is 0.05 m)."""
LIFT_HEIGHT = 0.03
"""The ``lifted`` flag rises once the instructed object's centre is this far above its resting height (m)."""
GRIPPER_WEIGHT = 0.5
"""Weight of the gripper-to-object distance in the push and pick_place rewards."""


def _const(value: Any, like: Any) -> Any:
    """``value`` as an array of the type, device and floating dtype of ``like``."""
    if _is_tensor(like):
        import torch

        return torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return np.asarray(value, dtype=like.dtype)


def _select(stacked: Array, one_hot: Array) -> Array:
    """``sum_i one_hot[..., i] * stacked[..., i, :]``."""
    return (one_hot[..., :, None] * stacked).sum(-2)


def target_object_position(obs: Array) -> Array:
    """Centre ``(..., 3)`` of the instructed object."""
    poses = obs[..., OBJECT_POSE_SLICE].reshape(tuple(obs.shape[:-1]) + (N_OBJECTS, 7))
    return _select(poses[..., :3], obs[..., TARGET_OBJECT_SLICE])


def target_object_velocity(obs: Array) -> Array:
    """Linear velocity ``(..., 3)`` of the instructed object."""
    vel = obs[..., OBJECT_VEL_SLICE].reshape(tuple(obs.shape[:-1]) + (N_OBJECTS, 3))
    return _select(vel, obs[..., TARGET_OBJECT_SLICE])


def target_goal_position(obs: Array) -> Array:
    """Centre ``(..., 3)`` of the instructed goal region (zeros for reach)."""
    goals = obs[..., GOAL_SLICE].reshape(tuple(obs.shape[:-1]) + (N_GOALS, 3))
    return _select(goals, obs[..., TARGET_GOAL_SLICE])


def target_rest_height(obs: Array) -> Array:
    """Resting centre height ``(...,)`` of the instructed object."""
    return (obs[..., TARGET_OBJECT_SLICE] * _const(OBJECT_HALF_HEIGHT, obs)).sum(-1)


def in_target_goal(obs: Array) -> Array:
    """Whether the instructed object's centre lies over the instructed goal region (xy), ``(...,)`` bool."""
    delta = target_object_position(obs)[..., :2] - target_goal_position(obs)[..., :2]
    square = (obs[..., TARGET_GOAL_SLICE] * _const(GOAL_IS_SQUARE, obs)).sum(-1) > 0.5
    in_square = (abs(delta[..., 0]) < GOAL_HALF_SIZE) & (abs(delta[..., 1]) < GOAL_HALF_SIZE)
    in_circle = _norm(delta) < GOAL_HALF_SIZE
    has_goal = obs[..., TARGET_GOAL_SLICE].sum(-1) > 0.5
    return has_goal & ((square & in_square) | (~square & in_circle))


def on_table(obs: Array) -> Array:
    """Whether the instructed object rests at its table height (within :data:`ON_TABLE_TOLERANCE`), ``(...,)``."""
    return abs(target_object_position(obs)[..., 2] - target_rest_height(obs)) < ON_TABLE_TOLERANCE


def reach_success(obs: Array, action: Array, next_obs: Array) -> Array:
    """Reach: the grasp point within 3 cm of the instructed object's centre in ``next_obs``."""
    del obs, action
    return _norm(next_obs[..., GRIPPER_SLICE] - target_object_position(next_obs)) < REACH_DISTANCE


def push_success(obs: Array, action: Array, next_obs: Array) -> Array:
    """Push: the instructed object's centre over the instructed goal region and on the table."""
    del obs, action
    return in_target_goal(next_obs) & on_table(next_obs)


def pick_place_success(obs: Array, action: Array, next_obs: Array) -> Array:
    """Pick and place: lifted earlier in the episode, now over the goal region, on the table, at rest, released."""
    del obs, action
    resting = _norm(target_object_velocity(next_obs)) < REST_SPEED
    released = next_obs[..., OPENING_INDEX] >= RELEASE_OPENING
    lifted = next_obs[..., LIFTED_INDEX] > 0.5
    return lifted & in_target_goal(next_obs) & on_table(next_obs) & resting & released


def reach_reward(obs: Array, action: Array, next_obs: Array) -> Array:
    """Reach: ``-||grasp point - object||``."""
    del obs, action
    return -_norm(next_obs[..., GRIPPER_SLICE] - target_object_position(next_obs))


def push_reward(obs: Array, action: Array, next_obs: Array) -> Array:
    """Push: ``-||object_xy - goal_xy|| - 0.5 ||grasp point - object||``."""
    del obs, action
    obj = target_object_position(next_obs)
    goal = target_goal_position(next_obs)
    return -_norm(obj[..., :2] - goal[..., :2]) - GRIPPER_WEIGHT * _norm(next_obs[..., GRIPPER_SLICE] - obj)


def pick_place_reward(obs: Array, action: Array, next_obs: Array) -> Array:
    """Pick and place: ``-||object - (goal_xy, rest height)|| - 0.5 ||grasp point - object||``."""
    del obs, action
    obj = target_object_position(next_obs)
    goal = target_goal_position(next_obs)
    dz = obj[..., 2] - target_rest_height(next_obs)
    to_goal = _norm(obj[..., :2] - goal[..., :2]) ** 2 + dz**2
    return -(to_goal**0.5) - GRIPPER_WEIGHT * _norm(next_obs[..., GRIPPER_SLICE] - obj)


REWARD_FNS = {"reach": reach_reward, "push": push_reward, "pick_place": pick_place_reward}
"""Reward rule of each family."""
SUCCESS_FNS = {"reach": reach_success, "push": push_success, "pick_place": pick_place_success}
"""Success rule (``info["is_success"]``, and ``terminated``) of each family."""


def _termination(success_fn: Any) -> Any:
    def terminated(obs: Array, action: Array, next_obs: Array) -> Array:
        return success_fn(obs, action, next_obs) | ~_all_finite(next_obs)

    terminated.__name__ = success_fn.__name__.replace("_success", "_termination")
    terminated.__doc__ = (
        f"``{success_fn.__name__}``, or a non-finite ``next_obs`` (which the env never returns; every task's "
        "termination rule ends such steps)."
    )
    return terminated


TERMINATION_FNS = {family: _termination(fn) for family, fn in SUCCESS_FNS.items()}
"""Termination rule of each family (the ``terminated`` flag of ``TabletopEnv.step``): success ends the episode."""
