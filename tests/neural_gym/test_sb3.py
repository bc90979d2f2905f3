"""stable-baselines3 trains directly on DreamVectorEnv."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3 import PPO, SAC

from neural_gym import DreamSB3VecEnv, DreamVectorEnv


@pytest.mark.parametrize("algo", [PPO, SAC])
def test_sb3_learns_on_dream(pendulum_model, algo):
    venv = DreamVectorEnv("InvertedPendulum", pendulum_model, num_envs=8).to_sb3()
    assert isinstance(venv, DreamSB3VecEnv)
    kwargs = {"n_steps": 32, "batch_size": 64} if algo is PPO else {"learning_starts": 64, "batch_size": 64}
    model = algo("MlpPolicy", venv, seed=0, device="cpu", **kwargs)
    model.learn(total_timesteps=512)
    action, _ = model.predict(np.zeros(4), deterministic=True)
    assert action.shape == (1,)


def test_sb3_info_conventions(pendulum_model):
    venv = DreamVectorEnv("InvertedPendulum", pendulum_model, num_envs=4, max_episode_steps=2, uncertainty_threshold=1e9)
    sb3 = venv.to_sb3()
    sb3.seed(0)
    sb3.reset()
    sb3.step(np.zeros((4, 1)))
    obs, rewards, dones, infos = sb3.step(np.zeros((4, 1)))
    assert dones.all() and rewards.dtype == np.float32
    for info in infos:
        assert info["terminal_observation"].shape == (4,)
        assert "TimeLimit.truncated" in info and "uncertainty" in info
