"""Scripted expert of ``KukaReach-v0``: a damped least-squares Cartesian controller computed from the observation.

Each call reads ``q``, the end effector and the target from the observation, asks PyBullet (on the expert's own
``DIRECT`` client, never the env's) for the end effector's linear Jacobian at ``q``, and commands the joint velocities
that move the end effector straight at the target with speed ``gain * distance`` (capped), plus a null-space pull
toward the home posture so the redundant arm stays away from its joint limits.

Example:
    >>> import gymnasium as gym
    >>> from neural_gym.envs.bullet import KukaReachExpert
    >>> env = gym.make("KukaReach-v0")
    >>> act = KukaReachExpert()
    >>> obs, _ = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = env.step(act(obs))
"""

from __future__ import annotations

import numpy as np
import pybullet
import pybullet_data
from pybullet_utils.bullet_client import BulletClient

from neural_gym.envs.bullet.kuka_reach import EE_LINK, HOME_Q, KUKA_URDF
from neural_gym.envs.bullet.rewards import KUKA_EE_SLICE, KUKA_N_JOINTS, KUKA_OBS_SIZE, KUKA_TARGET_SLICE


class KukaReachExpert:
    """``obs -> action`` policy that reaches the target of a :class:`~neural_gym.envs.bullet.kuka_reach.KukaReachEnv`.

    Args:
        max_joint_velocity: The env's ``max_joint_velocity`` (rad/s per unit action).
        gain: Proportional gain from position error (m) to end-effector speed (m/s).
        max_speed: Cap on the commanded end-effector speed (m/s).
        damping: Damping ``λ`` of the least-squares inverse ``Jᵀ (J Jᵀ + λ² I)⁻¹``.
        posture_gain: Gain of the null-space pull toward ``HOME_Q`` (1/s).
    """

    def __init__(
        self,
        max_joint_velocity: float = 1.5,
        gain: float = 5.0,
        max_speed: float = 0.6,
        damping: float = 0.05,
        posture_gain: float = 1.0,
    ) -> None:
        self.max_joint_velocity = float(max_joint_velocity)
        self.gain = float(gain)
        self.max_speed = float(max_speed)
        self.damping = float(damping)
        self.posture_gain = float(posture_gain)
        client = BulletClient(connection_mode=pybullet.DIRECT)
        self._client: BulletClient | None = client
        client.setAdditionalSearchPath(pybullet_data.getDataPath())
        self._robot = client.loadURDF(KUKA_URDF, useFixedBase=True)
        # calculateJacobian takes the point in the link's centre-of-mass frame; the end effector is the link frame's
        # origin, i.e. the inverse of the link's inertial offset.
        inertial = client.getLinkState(self._robot, EE_LINK)
        self._ee_in_com = list(client.invertTransform(inertial[2], inertial[3])[0])

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """The action (float32, shape ``(7,)``, in ``[-1, 1]``) for one observation of shape ``(20,)``."""
        obs = np.asarray(obs, dtype=np.float64)
        if obs.shape != (KUKA_OBS_SIZE,):
            raise ValueError(f"KukaReachExpert expects one observation of shape (20,), got shape {obs.shape}.")
        q = obs[:KUKA_N_JOINTS]
        error = obs[KUKA_TARGET_SLICE] - obs[KUKA_EE_SLICE]
        velocity = self.gain * error
        speed = float(np.linalg.norm(velocity))
        if speed > self.max_speed:
            velocity *= self.max_speed / speed

        jacobian = self._linear_jacobian(q)  # (3, 7)
        inverse = jacobian.T @ np.linalg.inv(jacobian @ jacobian.T + self.damping**2 * np.eye(3))  # (7, 3)
        null_space = np.eye(KUKA_N_JOINTS) - inverse @ jacobian
        q_dot = inverse @ velocity + null_space @ (self.posture_gain * (HOME_Q - q))
        return np.clip(q_dot / self.max_joint_velocity, -1.0, 1.0).astype(np.float32)

    def close(self) -> None:
        """Disconnect the expert's PyBullet client (safe to call twice)."""
        if self._client is not None:
            self._client.disconnect()
            self._client = None

    def _linear_jacobian(self, q: np.ndarray) -> np.ndarray:
        """Linear Jacobian ``(3, 7)`` of the end effector at joint positions ``q``."""
        client = self._client
        if client is None:
            raise RuntimeError("This KukaReachExpert is closed; make a new one.")
        for j in range(KUKA_N_JOINTS):
            client.resetJointState(self._robot, j, float(q[j]))
        zeros = [0.0] * KUKA_N_JOINTS
        linear, _ = client.calculateJacobian(self._robot, EE_LINK, self._ee_in_com, q.tolist(), zeros, zeros)
        return np.asarray(linear, dtype=np.float64)
