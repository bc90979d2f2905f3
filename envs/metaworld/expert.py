"""Scripted experts of the Meta-World tasks: Meta-World's own hand-written policies (``metaworld.policies``), with
optional Gaussian action noise, and the success rate they reach.

Example:
    >>> from neural_gym.envs.metaworld import MetaWorldExpert, make
    >>> env = make("reach-v3")
    >>> act = MetaWorldExpert("reach-v3", action_noise=0.1, seed=0)
    >>> obs, _ = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = env.step(act(obs))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from metaworld.policies import ENV_POLICY_MAP

from neural_gym.envs.metaworld.instructions import check_task
from neural_gym.envs.observations import STATE_KEY
from neural_gym.progress import progress_bar


class MetaWorldExpert:
    """``obs -> action`` policy: Meta-World's scripted policy of ``task``, plus Gaussian action noise.

    Args:
        task: An MT10 task name.
        action_noise: Standard deviation of the Gaussian noise added to each action component (the action range is
            ``[-1, 1]``, so this is in units of the half-range); the noisy action is clipped to the range.
        seed: Seed of the expert's own noise generator.

    Raises:
        ValueError: For an unknown task or a negative or non-finite ``action_noise``.
    """

    def __init__(self, task: str, action_noise: float = 0.0, seed: int | None = None) -> None:
        self.task = check_task(task)
        if not np.isfinite(action_noise) or action_noise < 0:
            raise ValueError(f"action_noise must be a finite number >= 0, got {action_noise!r}.")
        self.action_noise = float(action_noise)
        self._policy = ENV_POLICY_MAP[task]()
        self._rng = np.random.default_rng(seed)

    def __call__(self, obs: Any) -> np.ndarray:
        """The action for one observation: the 39-dim state, or a dict observation with a ``"state"`` entry.

        Raises:
            ValueError: If the observation holds no 39-dim state (e.g. a ``pixels`` observation).
        """
        state = obs[STATE_KEY] if isinstance(obs, Mapping) else obs
        # A copy: some of Meta-World's policies edit the observation they parse in place (door-open shifts the
        # door's x by -0.05), which would change the caller's observation.
        state = np.array(state, dtype=np.float64)
        if state.shape != (39,):
            raise ValueError(
                f"The Meta-World expert reads the 39-dim state (obs_mode 'state' or 'dict'), got shape {state.shape}."
            )
        action = np.asarray(self._policy.get_action(state), dtype=np.float64)
        if self.action_noise > 0:
            action = action + self._rng.normal(0.0, self.action_noise, size=action.shape)
        return np.clip(action, -1.0, 1.0).astype(np.float32)


def expert_success_rate(
    task: str, episodes: int = 20, seed: int = 0, action_noise: float = 0.0, show_progress: bool = True
) -> float:
    """Share of episodes in which the scripted expert succeeds (``info["is_success"]`` at any step of 500).

    Episode ``i`` resets with seed ``seed + i``; the expert's noise generator is seeded with ``seed``.

    Raises:
        ValueError: For an unknown task, ``episodes < 1`` or a bad ``action_noise``.
    """
    from neural_gym.envs.metaworld.env import MetaWorldEnv

    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}.")
    env = MetaWorldEnv(task)
    act = MetaWorldExpert(task, action_noise=action_noise, seed=seed)
    successes = 0
    try:
        for episode in progress_bar(range(episodes), desc=f"expert {task}", unit="episode", enabled=show_progress):
            obs, _ = env.reset(seed=seed + episode)
            while True:
                obs, _, terminated, truncated, info = env.step(act(obs))
                if info["is_success"]:
                    successes += 1
                    break
                if terminated or truncated:
                    break
    finally:
        env.close()
    return successes / episodes
