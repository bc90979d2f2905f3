"""Shared fixtures of the ``envs`` tests: a throw-away Minari root and short ground-truth rollouts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from neural_gym.envs import get_physics_state, get_task


@pytest.fixture
def minari_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point MINARI_DATASETS_PATH at a fresh temporary folder."""
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


@dataclass
class Rollout:
    """Flat arrays of a random rollout (episodes restart with new seeds when they end)."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    terminations: np.ndarray
    physics_states: np.ndarray


def random_rollout(task_name: str, n_steps: int, seed: int = 0) -> Rollout:
    """Run uniform random actions (float32, as the action space's dtype) in the real env."""
    task = get_task(task_name)
    env = task.make()
    rng = np.random.default_rng(seed)
    space = env.action_space
    obs, _ = env.reset(seed=seed)
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("o", "a", "r", "n", "t", "s")}
    for i in range(n_steps):
        state = get_physics_state(env)
        action = rng.uniform(space.low, space.high).astype(space.dtype)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        for key, value in zip("oarnts", (obs, action, reward, next_obs, terminated, state), strict=True):
            rows[key].append(np.asarray(value))
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset(seed=seed + i + 1)
    env.close()
    return Rollout(*(np.stack(rows[k]) for k in "oarnts"))
