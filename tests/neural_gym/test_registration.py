"""Every registered dream env works out of the box on its shipped checkpoint and passes both env checkers."""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import neural_gym
from neural_gym.envs import TASKS, task_names


def test_every_task_is_registered():
    assert sorted(neural_gym.ENV_IDS) == sorted(f"neural_gym/{t}-v0" for t in task_names())
    assert gym.spec("neural_gym/KukaReach-v0").max_episode_steps == 150  # registered without importing pybullet
    spec = gym.spec("neural_gym/HalfCheetah-v0")
    assert spec.vector_entry_point is not None and spec.max_episode_steps == 1000


@pytest.mark.parametrize("env_id", sorted(f"neural_gym/{t}-v0" for t in TASKS))
def test_env_checkers(env_id):
    env = gym.make(env_id)
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped, warn=True)
    env.close()


def test_checkpoint_of_another_task_is_refused():
    with pytest.raises(ValueError, match="HalfCheetah"):
        gym.make("neural_gym/Hopper-v0", checkpoint="zoo:HalfCheetah")
