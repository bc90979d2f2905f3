"""Scripted experts of the tabletop families: small state machines on the state observation.

:class:`TabletopExpert` reads the grasp point, pad gap, instructed object and instructed goal from the state
observation (:mod:`neural_gym.envs.tabletop.rules`), so it works on ``obs`` in ``"state"`` mode, on ``obs["state"]`` in
``"dict"`` mode, and in ``"pixels"`` mode on ``env.unwrapped.state_observation()``. It drives the gripper with a
proportional step toward a waypoint (one full action moves the mocap 2 cm).

* ``"reach"``: open, move over the object at the current height, descend onto it.
* ``"push"``: close the fingers, go above a point behind the object (on the far side from the goal), descend to the
  table, push along the object-to-goal line (re-aimed every step; the expert lifts and re-approaches when the object
  slips sideways).
* ``"pick_place"``: approach above, descend with open fingers, grip, lift, carry over the goal, lower, release, back
  off; it starts over when the object drops.

Call :meth:`TabletopExpert.reset` at every episode start (the expert also resets itself when the instructed object,
the instructed goal or the goal regions' positions in the observation change, i.e. on a new episode's layout).

Example:
    >>> from neural_gym.envs.tabletop import TabletopEnv, TabletopExpert
    >>> env, expert = TabletopEnv(task="pick_place"), TabletopExpert("pick_place")
    >>> obs, _ = env.reset(seed=0)
    >>> expert.reset()
    >>> obs, reward, terminated, truncated, info = env.step(expert(obs))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from neural_gym.envs.observations import STATE_KEY
from neural_gym.envs.tabletop import rules
from neural_gym.envs.tabletop.env import MAX_DISPLACEMENT
from neural_gym.envs.tabletop.instructions import FAMILIES
from neural_gym.envs.tabletop.model import GRIPPER_Z_MIN, OBJECT_HALF_HEIGHT, OBJECT_HALF_WIDTH

TRAVEL_Z = 0.10
"""Height (m) of the grasp point while carrying or moving above the scene."""
GRASP_STEPS = 5
"""Steps the pick expert holds still while the fingers close."""
PUSH_HEIGHT = GRIPPER_Z_MIN + 0.002
"""Grasp-point height while pushing (the closed pads reach down to 5 mm above the table)."""
PUSHER_HALF = 0.012
"""Half extent (m) of the closed pads along the push direction, roughly."""


class TabletopExpert:
    """``obs -> action`` scripted policy of one tabletop family.

    Args:
        task: ``"reach"``, ``"push"`` or ``"pick_place"`` (the env's ``task``).
        action_noise: Standard deviation of Gaussian noise added to every action (then clipped to ``[-1, 1]``).
        seed: Seed of the noise generator.
        max_displacement: The env's ``max_displacement`` (m per unit action).
        gain: Fraction of the waypoint error commanded per step.
    """

    def __init__(
        self,
        task: str,
        action_noise: float = 0.0,
        seed: int | None = None,
        max_displacement: float = MAX_DISPLACEMENT,
        gain: float = 0.8,
    ) -> None:
        if task not in FAMILIES:
            raise ValueError(f"Unknown task family {task!r}; expected one of {FAMILIES}.")
        if action_noise < 0:
            raise ValueError(f"action_noise must be >= 0, got {action_noise}.")
        self.task = task
        self.action_noise = float(action_noise)
        self.max_displacement = float(max_displacement)
        self.gain = float(gain)
        self._rng = np.random.default_rng(seed)
        self._key: tuple[int, int, bytes] | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the phase of the previous episode."""
        self.phase = "approach"
        self._counter = 0
        self._key = None

    def __call__(self, obs: Any) -> np.ndarray:
        """The action (float32 ``(4,)`` in ``[-1, 1]``) for a state observation or a dict observation."""
        if isinstance(obs, Mapping):
            obs = obs[STATE_KEY]
        obs = np.asarray(obs, dtype=np.float64)
        if obs.shape != (rules.OBS_SIZE,):
            raise ValueError(
                f"TabletopExpert needs the state observation of shape ({rules.OBS_SIZE},) (or a dict observation); "
                f"got shape {obs.shape}. In pixels mode pass env.unwrapped.state_observation()."
            )
        obj = int(np.argmax(obs[rules.TARGET_OBJECT_SLICE]))
        # The goal regions stay put within an episode and are redrawn at every reset: a new layout is a new episode.
        key = (obj, int(np.argmax(obs[rules.TARGET_GOAL_SLICE])), obs[rules.GOAL_SLICE].tobytes())
        if key != self._key:
            self.reset()
            self._key = key
        action = {"reach": self._reach, "push": self._push, "pick_place": self._pick_place}[self.task](obs, obj)
        if self.action_noise > 0:
            action = action + self._rng.normal(0.0, self.action_noise, size=4)
        return np.clip(action, -1.0, 1.0).astype(np.float32)

    # ----------------------------------------------------------------------------------------------------- helpers

    def _move(self, grip_pos: np.ndarray, target: np.ndarray, grip: float) -> np.ndarray:
        delta = self.gain * (target - grip_pos) / self.max_displacement
        return np.array([*np.clip(delta, -1.0, 1.0), grip])

    def _reach(self, obs: np.ndarray, obj: int) -> np.ndarray:
        gripper = obs[rules.GRIPPER_SLICE]
        target = rules.target_object_position(obs)
        if np.linalg.norm(gripper[:2] - target[:2]) > 0.01 and gripper[2] > target[2] + 0.03:
            waypoint = np.array([target[0], target[1], gripper[2]])
        else:
            waypoint = np.array([target[0], target[1], max(target[2] + 0.01, GRIPPER_Z_MIN)])
        return self._move(gripper, waypoint, -1.0)

    def _push(self, obs: np.ndarray, obj: int) -> np.ndarray:
        gripper = obs[rules.GRIPPER_SLICE]
        o = rules.target_object_position(obs)[:2]
        g = rules.target_goal_position(obs)[:2]
        to_goal = g - o
        distance = float(np.linalg.norm(to_goal))
        d = to_goal / max(distance, 1e-9)
        contact = OBJECT_HALF_WIDTH[obj] * np.sqrt(2.0) + PUSHER_HALF
        behind = o - d * (contact + 0.02)
        rel = gripper[:2] - o
        lateral = float(abs(rel[0] * d[1] - rel[1] * d[0]))
        along = float(rel @ d)
        if self.phase == "push" and (lateral > 0.02 or along > -OBJECT_HALF_WIDTH[obj]):
            self.phase = "approach"  # slipped off the line: lift and come from behind again
        if self.phase == "approach":
            if gripper[2] < TRAVEL_Z - 0.04 and np.linalg.norm(gripper[:2] - behind) > 0.015:
                return self._move(gripper, np.array([gripper[0], gripper[1], TRAVEL_Z]), 1.0)
            if np.linalg.norm(gripper[:2] - behind) > 0.01:
                return self._move(gripper, np.array([*behind, max(gripper[2], TRAVEL_Z - 0.03)]), 1.0)
            self.phase = "descend"
        if self.phase == "descend":
            if gripper[2] > PUSH_HEIGHT + 0.005:
                return self._move(gripper, np.array([*behind, PUSH_HEIGHT]), 1.0)
            self.phase = "push"
        # push: aim the pads at the point behind the object's centre on the goal line, a little beyond
        advance = min(0.015, 0.5 * distance + 0.004)
        waypoint = o - d * (contact - 0.004) + d * advance
        return self._move(gripper, np.array([*waypoint, PUSH_HEIGHT]), 1.0)

    def _pick_place(self, obs: np.ndarray, obj: int) -> np.ndarray:
        gripper = obs[rules.GRIPPER_SLICE]
        opening = obs[rules.OPENING_INDEX]
        o = rules.target_object_position(obs)
        g = rules.target_goal_position(obs)
        grasp_z = max(GRIPPER_Z_MIN, o[2] - 0.002)
        held = np.linalg.norm(gripper - o) < 0.03 and opening < 2 * OBJECT_HALF_WIDTH[obj] + 0.012
        if self.phase in ("lift", "carry", "lower") and not held:
            self.phase = "approach"  # dropped it
        if self.phase == "approach":
            if np.linalg.norm(gripper[:2] - o[:2]) > 0.008 or opening < 0.07:
                z = TRAVEL_Z if np.linalg.norm(gripper[:2] - o[:2]) > 0.02 else gripper[2]
                return self._move(gripper, np.array([o[0], o[1], z]), -1.0)
            self.phase = "descend"
        if self.phase == "descend":
            if np.linalg.norm(gripper[:2] - o[:2]) > 0.015:
                self.phase = "approach"
                return self._move(gripper, np.array([o[0], o[1], TRAVEL_Z]), -1.0)
            if gripper[2] > grasp_z + 0.004:
                return self._move(gripper, np.array([o[0], o[1], grasp_z]), -1.0)
            self.phase, self._counter = "grasp", 0
        if self.phase == "grasp":
            self._counter += 1
            if self._counter <= GRASP_STEPS:
                return self._move(gripper, np.array([o[0], o[1], grasp_z]), 1.0)
            self.phase = "lift"
        if self.phase == "lift":
            if gripper[2] < TRAVEL_Z - 0.01:
                return self._move(gripper, np.array([gripper[0], gripper[1], TRAVEL_Z]), 1.0)
            self.phase = "carry"
        if self.phase == "carry":
            if np.linalg.norm(o[:2] - g[:2]) > 0.006:
                waypoint = gripper + np.array([g[0] - o[0], g[1] - o[1], TRAVEL_Z - gripper[2]])
                return self._move(gripper, waypoint, 1.0)
            self.phase = "lower"
        if self.phase == "lower":
            if o[2] - OBJECT_HALF_HEIGHT[obj] > 0.004 and gripper[2] > GRIPPER_Z_MIN + 0.003:
                waypoint = gripper + np.array([g[0] - o[0], g[1] - o[1], -0.05])
                return self._move(gripper, waypoint, 1.0)
            self.phase = "release"
        if self.phase == "release":
            if opening < rules.RELEASE_OPENING + 0.005:
                return np.array([0.0, 0.0, 0.0, -1.0])
            self.phase = "retreat"
        return self._move(gripper, np.array([gripper[0], gripper[1], TRAVEL_Z]), -1.0)


def expert_success_rate(
    task: str, episodes: int = 40, *, action_noise: float = 0.0, split: str = "train", seed: int = 0
) -> float:
    """Fraction of ``episodes`` seeded episodes (seeds ``seed, seed + 1, ...``) that :class:`TabletopExpert` solves.

    Example (the measurement of the report, about 2 s per family):
        python -c "from neural_gym.envs.tabletop.expert import expert_success_rate as r; print(r('push', 50))"
    """
    from neural_gym.envs.tabletop.env import TabletopEnv

    env = TabletopEnv(task, split=split)
    expert = TabletopExpert(task, action_noise=action_noise, seed=seed)
    successes = 0
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        expert.reset()
        terminated = truncated = False
        info: dict[str, Any] = {}
        while not (terminated or truncated):
            obs, _, terminated, truncated, info = env.step(expert(obs))
        successes += bool(info["is_success"])
    env.close()
    return successes / episodes
