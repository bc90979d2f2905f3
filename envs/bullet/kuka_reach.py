"""KUKA iiwa reaching task on its own headless PyBullet client, with exact physics-state save and restore.

The arm (``kuka_iiwa/model.urdf`` from ``pybullet_data``, fixed base at the origin) must bring its end effector to a
random target in front of it. Every env owns one ``BulletClient(pybullet.DIRECT)``, so any number of envs coexist in
one process without touching pybullet's global connection. Frames come from the CPU TinyRenderer (no OpenGL).

Determinism (PyBullet 3.2.7, measured): the scene has no contacts (PyBullet leaves self-collision off unless asked, and
the floor is visual only), so the future depends only on the joint positions and velocities, the target and the
actions. Setting those with ``resetJointState(q, q_dot)`` and replaying the same actions reproduces the observations bit
for bit, in the same client or in a fresh one that had been stepped elsewhere, also while joints press against their
limits. ``saveState``/``restoreState`` is exact too but lives inside one client and cannot be turned into a vector,
so the physics state here is the plain vector ``[q (7), q_dot (7), target (3)]``. A scene with contacts might not
replay exactly this way (Bullet keeps contact manifolds between steps, which ``resetJointState`` does not clear); that
is why the floor does not collide.

Example:
    >>> import gymnasium as gym
    >>> import neural_gym.envs.bullet  # registers KukaReach-v0
    >>> env = gym.make("KukaReach-v0", render_mode="rgb_array")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, env.render().shape
    ((20,), (64, 64, 3))
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
import pybullet
import pybullet_data
from gymnasium import spaces
from pybullet_utils.bullet_client import BulletClient

from neural_gym.envs.bullet.rewards import (
    KUKA_EE_SLICE,
    KUKA_N_JOINTS,
    KUKA_OBS_SIZE,
    KUKA_SUCCESS_DISTANCE,
    KUKA_TARGET_SLICE,
    kuka_reach_reward,
)

KUKA_URDF = "kuka_iiwa/model.urdf"
"""The arm, from ``pybullet_data``."""
EE_LINK = 6
"""Index of ``lbr_iiwa_link_7``; the end effector is the origin of its URDF link frame (the flange joint)."""
HOME_Q = np.array([0.0, 0.4, 0.0, -1.6, 0.0, 1.0, 0.0])
"""Nominal joint positions at reset (end effector near ``(0.54, 0, 0.50)``)."""
RESET_NOISE = 0.1
"""Reset draws joint positions uniformly within ``HOME_Q ± RESET_NOISE`` (velocities zero)."""
TARGET_LOW = np.array([0.3, -0.3, 0.2])
"""Lower corner of the box the target is drawn from (world frame, metres)."""
TARGET_HIGH = np.array([0.7, 0.3, 0.7])
"""Upper corner of the target box; every point of it is reachable."""
SUCCESS_DISTANCE = KUKA_SUCCESS_DISTANCE
"""``info["is_success"]`` when the end effector is within this distance of the target (metres)."""
TARGET_RADIUS = SUCCESS_DISTANCE
"""Radius of the (visual-only, green) target sphere: the end effector inside it counts as success."""
PHYSICS_STATE_SIZE = 2 * KUKA_N_JOINTS + 3
"""Length of the physics-state vector ``[q (7), q_dot (7), target (3)]``."""

DEFAULT_CAMERA_CONFIG: dict[str, Any] = {
    "distance": 1.3,
    "yaw": 135.0,
    "pitch": -35.0,
    "target": (0.3, 0.0, 0.45),
    "fov": 50.0,
    "near": 0.05,
    "far": 5.0,
}
"""Camera of :meth:`KukaReachEnv.render`: orbit ``distance`` (m), ``yaw``/``pitch`` (degrees) around ``target``
(x, y, z), vertical ``fov`` (degrees), clipping planes ``near``/``far`` (m). Shows the arm in profile and the whole
target box; at reset the arm hides the target in about 4% of episodes (seeds 0-99: 4 of 100)."""


class KukaReachEnv(gym.Env[np.ndarray, np.ndarray]):
    """Move a 7-DoF KUKA iiwa's end effector to a random target (PyBullet, headless).

    * **Action** ``Box(-1, 1, (7,), float32)``: joint velocity targets as fractions of ``max_joint_velocity``
      (rad/s). Each step clips the action to ``[-1, 1]``, commands PyBullet's velocity motors (``VELOCITY_CONTROL``,
      torque limited by the URDF's 300 N·m) and advances ``frame_skip`` physics steps of ``time_step`` seconds
      (defaults: 10 × 1/240 s, so a step is 1/24 s and a 150-step episode 6.25 s). Zero action holds the arm still.
    * **Observation** ``Box(-inf, inf, (20,), float64)``: ``[q (7), q_dot (7), end effector (3), target (3)]``,
      joint angles in rad, velocities in rad/s, positions in metres in the world frame (base at the origin).
    * **Reward** :func:`neural_gym.envs.bullet.rewards.kuka_reach_reward`: ``-||ee - target|| - 0.01 ||clip(a)||²`` after the
      step; exact from ``(obs, action, next_obs)``.
    * **Episode** never terminates; the registered id ``KukaReach-v0`` truncates after 150 steps.
      ``info["distance"]`` and ``info["is_success"]`` (distance < 5 cm) come with every reset and step.
    * **Reset** draws joint angles uniformly in ``HOME_Q ± 0.1`` rad (zero velocity) and the target uniformly in the
      box ``TARGET_LOW``-``TARGET_HIGH``, all from ``self.np_random``.

    Args:
        render_mode: ``None`` or ``"rgb_array"`` (TinyRenderer frames of shape ``(height, width, 3)``, uint8).
        width: Frame width in pixels.
        height: Frame height in pixels.
        default_camera_config: Overrides of :data:`DEFAULT_CAMERA_CONFIG` (keys ``distance``, ``yaw``, ``pitch``,
            ``target``, ``fov``, ``near``, ``far``).
        frame_skip: Physics steps per env step.
        time_step: Physics time step in seconds.
        max_joint_velocity: Joint velocity (rad/s) commanded by an action of ±1.

    Raises:
        ValueError: On an unknown render mode, non-positive sizes or steps, or unknown camera keys.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 24}

    def __init__(
        self,
        render_mode: str | None = None,
        width: int = 64,
        height: int = 64,
        default_camera_config: dict[str, Any] | None = None,
        frame_skip: int = 10,
        time_step: float = 1.0 / 240.0,
        max_joint_velocity: float = 1.5,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}."
            )
        if int(width) <= 0 or int(height) <= 0:
            raise ValueError(f"width and height must be positive, got width={width}, height={height}.")
        if int(frame_skip) < 1 or not time_step > 0 or not max_joint_velocity > 0:
            raise ValueError(
                f"frame_skip must be >= 1 and time_step, max_joint_velocity > 0; got frame_skip={frame_skip}, "
                f"time_step={time_step}, max_joint_velocity={max_joint_velocity}."
            )
        camera = dict(DEFAULT_CAMERA_CONFIG)
        unknown = set(default_camera_config or {}) - set(camera)
        if unknown:
            raise ValueError(
                f"Unknown default_camera_config keys {sorted(unknown)}; known keys: {sorted(DEFAULT_CAMERA_CONFIG)}."
            )
        camera.update(default_camera_config or {})

        self.render_mode = render_mode
        self.width = int(width)
        self.height = int(height)
        self.camera_config = camera
        self.frame_skip = int(frame_skip)
        self.time_step = float(time_step)
        self.max_joint_velocity = float(max_joint_velocity)
        self.metadata = {**self.metadata, "render_fps": max(1, round(1.0 / (self.time_step * self.frame_skip)))}

        self.action_space = spaces.Box(-1.0, 1.0, shape=(KUKA_N_JOINTS,), dtype=np.float32)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(KUKA_OBS_SIZE,), dtype=np.float64)

        client = BulletClient(connection_mode=pybullet.DIRECT)
        self._client: BulletClient | None = client
        client.setAdditionalSearchPath(pybullet_data.getDataPath())
        client.setGravity(0.0, 0.0, -9.81)
        client.setTimeStep(self.time_step)
        # The floor is for the eye only: without contacts the joint state alone determines the future (module doc).
        floor = client.loadURDF("plane.urdf")
        client.setCollisionFilterGroupMask(floor, -1, 0, 0)
        self._robot = client.loadURDF(KUKA_URDF, useFixedBase=True)
        self._joints = list(range(KUKA_N_JOINTS))
        self._max_forces = [float(client.getJointInfo(self._robot, j)[10]) for j in self._joints]
        marker = client.createVisualShape(pybullet.GEOM_SPHERE, radius=TARGET_RADIUS, rgbaColor=[0.1, 0.9, 0.1, 1.0])
        self._target_body = client.createMultiBody(baseMass=0.0, baseVisualShapeIndex=marker)
        self._target = np.zeros(3)

        self._view = client.computeViewMatrixFromYawPitchRoll(
            cameraTargetPosition=[float(x) for x in camera["target"]],
            distance=float(camera["distance"]),
            yaw=float(camera["yaw"]),
            pitch=float(camera["pitch"]),
            roll=0.0,
            upAxisIndex=2,
        )
        self._projection = client.computeProjectionMatrixFOV(
            fov=float(camera["fov"]),
            aspect=self.width / self.height,
            nearVal=float(camera["near"]),
            farVal=float(camera["far"]),
        )
        self._write_state(HOME_Q, np.zeros(KUKA_N_JOINTS), (TARGET_LOW + TARGET_HIGH) / 2)

    # ------------------------------------------------------------------------------------------------ gymnasium API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Draw a new start (joint angles near ``HOME_Q``, zero velocity) and target.

        Args:
            seed: Seeds ``self.np_random`` (the only source of randomness).
            options: Unused.

        Returns:
            The observation and ``{"distance", "is_success"}``.
        """
        super().reset(seed=seed)
        q = HOME_Q + self.np_random.uniform(-RESET_NOISE, RESET_NOISE, size=KUKA_N_JOINTS)
        target = self.np_random.uniform(TARGET_LOW, TARGET_HIGH)
        self._write_state(q, np.zeros(KUKA_N_JOINTS), target)
        obs = self._get_obs()
        return obs, self._info(obs)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        """Command joint velocities ``clip(action, -1, 1) * max_joint_velocity`` for ``frame_skip`` physics steps.

        Args:
            action: Shape ``(7,)``, finite. Values outside ``[-1, 1]`` are clipped (the reward's control cost too).

        Returns:
            ``(obs, reward, terminated=False, truncated=False, info)``.

        Raises:
            ValueError: If the action has the wrong shape or is not finite.
        """
        client = self._require_client()
        action = np.asarray(action)
        if action.shape != self.action_space.shape or not np.issubdtype(action.dtype, np.number):
            raise ValueError(
                f"KukaReach action must be a numeric array of shape {self.action_space.shape} in {self.action_space}, "
                f"got shape {action.shape} and dtype {action.dtype}."
            )
        if not np.all(np.isfinite(action)):
            raise ValueError(f"KukaReach action must be finite (space {self.action_space}), got {action}.")
        velocities = np.clip(action.astype(np.float64), -1.0, 1.0) * self.max_joint_velocity
        obs_before = self._get_obs()
        client.setJointMotorControlArray(
            self._robot,
            self._joints,
            pybullet.VELOCITY_CONTROL,
            targetVelocities=velocities.tolist(),
            forces=self._max_forces,
        )
        for _ in range(self.frame_skip):
            client.stepSimulation()
        obs = self._get_obs()
        reward = float(kuka_reach_reward(obs_before, action, obs))
        return obs, reward, False, False, self._info(obs)

    def render(self) -> np.ndarray | None:
        """A TinyRenderer frame ``(height, width, 3)`` uint8 of the current scene (``None`` without a render mode)."""
        if self.render_mode is None:
            gym.logger.warn(
                'KukaReachEnv.render() was called without a render mode; make it with render_mode="rgb_array".'
            )
            return None
        client = self._require_client()
        _, _, rgba, _, _ = client.getCameraImage(
            self.width,
            self.height,
            viewMatrix=self._view,
            projectionMatrix=self._projection,
            renderer=pybullet.ER_TINY_RENDERER,
            flags=pybullet.ER_NO_SEGMENTATION_MASK,
        )
        return np.asarray(rgba, dtype=np.uint8).reshape(self.height, self.width, 4)[:, :, :3].copy()

    def close(self) -> None:
        """Disconnect this env's PyBullet client (safe to call twice)."""
        if self._client is not None:
            self._client.disconnect()
            self._client = None

    # ------------------------------------------------------------------------------------------------ physics state

    @property
    def dt(self) -> float:
        """Simulated seconds per env step (``frame_skip * time_step``), as gymnasium's MuJoCo envs report it."""
        return self.frame_skip * self.time_step

    def get_physics_state(self) -> np.ndarray:
        """Copy the full physics state: ``[q (7), q_dot (7), target (3)]`` as a new float64 vector.

        Restoring it with :meth:`set_physics_state` and replaying the same actions reproduces observations and
        rewards bit for bit (see the module doc for why that holds in PyBullet).
        """
        client = self._require_client()
        joint_states = client.getJointStates(self._robot, self._joints)
        q = [s[0] for s in joint_states]
        q_dot = [s[1] for s in joint_states]
        return np.concatenate([q, q_dot, self._target]).astype(np.float64)

    def set_physics_state(self, state: np.ndarray) -> None:
        """Restore a state from :meth:`get_physics_state` (joints with ``resetJointState``, and the target).

        Args:
            state: Vector of length 17.

        Raises:
            ValueError: If ``state`` is not a finite vector of length 17.
        """
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (PHYSICS_STATE_SIZE,):
            raise ValueError(
                f"KukaReach physics state must be a vector of size {PHYSICS_STATE_SIZE} "
                f"([q (7), q_dot (7), target (3)]), got shape {state.shape}."
            )
        if not np.all(np.isfinite(state)):
            raise ValueError(f"KukaReach physics state of size {PHYSICS_STATE_SIZE} contains non-finite values.")
        n = KUKA_N_JOINTS
        self._write_state(state[:n], state[n : 2 * n], state[2 * n :])

    def physics_state_size(self) -> int:
        """Length of the physics-state vector (17)."""
        return PHYSICS_STATE_SIZE

    @staticmethod
    def physics_state_from_obs(obs: np.ndarray) -> np.ndarray:
        """The physics state that an observation describes (``[obs[0:14], obs[17:20]]``; the observation is complete).

        Useful to render a predicted observation: ``env.set_physics_state(env.physics_state_from_obs(obs))``.

        Args:
            obs: One observation, shape ``(20,)``.

        Raises:
            ValueError: If ``obs`` does not have shape ``(20,)``.
        """
        obs = np.asarray(obs, dtype=np.float64)
        if obs.shape != (KUKA_OBS_SIZE,):
            raise ValueError(f"KukaReach observation must have shape ({KUKA_OBS_SIZE},), got {obs.shape}.")
        return np.concatenate([obs[: 2 * KUKA_N_JOINTS], obs[KUKA_TARGET_SLICE]])

    # ----------------------------------------------------------------------------------------------------- helpers

    def _require_client(self) -> BulletClient:
        if self._client is None:
            raise RuntimeError("This KukaReachEnv is closed; make a new one.")
        return self._client

    def _write_state(self, q: np.ndarray, q_dot: np.ndarray, target: np.ndarray) -> None:
        """Set joint positions/velocities and move the target marker."""
        client = self._require_client()
        for j in self._joints:
            client.resetJointState(self._robot, j, targetValue=float(q[j]), targetVelocity=float(q_dot[j]))
        self._target = np.array(target, dtype=np.float64)
        client.resetBasePositionAndOrientation(self._target_body, self._target.tolist(), [0.0, 0.0, 0.0, 1.0])

    def _get_obs(self) -> np.ndarray:
        client = self._require_client()
        joint_states = client.getJointStates(self._robot, self._joints)
        ee = client.getLinkState(self._robot, EE_LINK, computeForwardKinematics=True)[4]
        obs = np.empty(KUKA_OBS_SIZE, dtype=np.float64)
        obs[:KUKA_N_JOINTS] = [s[0] for s in joint_states]
        obs[KUKA_N_JOINTS : 2 * KUKA_N_JOINTS] = [s[1] for s in joint_states]
        obs[KUKA_EE_SLICE] = ee
        obs[KUKA_TARGET_SLICE] = self._target
        return obs

    def _info(self, obs: np.ndarray) -> dict[str, Any]:
        distance = float(np.linalg.norm(obs[KUKA_EE_SLICE] - obs[KUKA_TARGET_SLICE]))
        return {"distance": distance, "is_success": distance < SUCCESS_DISTANCE}
