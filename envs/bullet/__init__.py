"""PyBullet ground truth: the ``KukaReach-v0`` task (an optional extra: ``pip install "neural-gym[bullet]"``).

Importing this package registers the gymnasium id ``KukaReach-v0`` and defines :data:`KUKA_REACH`, its
:class:`~neural_gym.envs.tasks.TaskSpec`. Without PyBullet installed the import fails with an ``ImportError`` saying how to
install it.

Example:
    >>> import gymnasium as gym
    >>> from neural_gym.envs.bullet import KUKA_REACH
    >>> env = KUKA_REACH.make(render_mode="rgb_array", width=64, height=64)
    >>> obs, info = env.reset(seed=0)
"""

from __future__ import annotations

import contextlib
import os
import sys

try:
    # pybullet's import writes a "pybullet build time: ..." banner from C (to fd 1 or 2, depending on the build) in
    # the middle of whatever the program prints: both descriptors go to /dev/null while it loads.
    for _stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            _stream.flush()
    _saved_fds, _devnull = (os.dup(1), os.dup(2)), os.open(os.devnull, os.O_WRONLY)
    os.dup2(_devnull, 1)
    os.dup2(_devnull, 2)
    try:
        import pybullet  # noqa: F401
    finally:
        with contextlib.suppress(OSError, AttributeError):  # C's buffered output goes to /dev/null too
            import ctypes

            ctypes.CDLL(None).fflush(None)
        os.dup2(_saved_fds[0], 1)
        os.dup2(_saved_fds[1], 2)
        for _fd in (*_saved_fds, _devnull):
            os.close(_fd)
        del _stream, _saved_fds, _devnull, _fd
    import pybullet_data  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised only where the extra is missing
    raise ImportError(
        'neural_gym.envs.bullet needs PyBullet, an optional extra: pip install "neural-gym[bullet]" (or pip install pybullet).'
    ) from error

from gymnasium.envs.registration import register, registry

from neural_gym.envs.bullet.expert import KukaReachExpert
from neural_gym.envs.bullet.kuka_reach import KukaReachEnv
from neural_gym.envs.bullet.rewards import kuka_reach_reward, kuka_reach_success
from neural_gym.envs.rewards import never_terminates
from neural_gym.envs.tasks import TaskSpec

KUKA_REACH_ID = "KukaReach-v0"
"""Gymnasium id of :class:`KukaReachEnv`."""
KUKA_REACH_MAX_EPISODE_STEPS = 150
"""Time limit of ``KukaReach-v0`` (6.25 s of simulated time)."""

if KUKA_REACH_ID not in registry:
    register(
        id=KUKA_REACH_ID,
        entry_point="neural_gym.envs.bullet.kuka_reach:KukaReachEnv",
        max_episode_steps=KUKA_REACH_MAX_EPISODE_STEPS,
    )

KUKA_REACH = TaskSpec(
    name="KukaReach",
    env_id=KUKA_REACH_ID,
    max_episode_steps=KUKA_REACH_MAX_EPISODE_STEPS,
    reward_fn=kuka_reach_reward,
    termination_fn=never_terminates,
    success_fn=kuka_reach_success,
    description=(
        "Bring a 7-DoF KUKA iiwa's end effector (PyBullet, joint velocity actions) to a random target "
        "(150-step episodes). Obs [q, q_dot, end effector, target]; reward -distance - 0.01 |clip(a)|^2, never "
        "terminates, success within 5 cm. Reward and termination are exact."
    ),
)
"""The PyBullet reaching task."""

__all__ = [
    "KUKA_REACH",
    "KUKA_REACH_ID",
    "KUKA_REACH_MAX_EPISODE_STEPS",
    "KukaReachEnv",
    "KukaReachExpert",
    "kuka_reach_reward",
]
