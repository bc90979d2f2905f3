"""The ``video`` family inside the Dream envs: 64x64 frames, seeded dreams, SB3 ``CnnPolicy``, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from neural_gym import DreamEnv, DreamVectorEnv
from neural_gym.envs import get_task
from neural_gym.world_models import VideoModel, load_checkpoint, save_checkpoint
from neural_gym.world_models.video import preset


@pytest.fixture(scope="module")
def reacher_video(tmp_path_factory) -> VideoModel:
    """An untrained debug-size 64x64 model with real start contexts and a calibration, saved and loaded back."""
    spec = get_task("Reacher")
    env = spec.make(obs_mode="pixels")
    low, high = env.action_space.low, env.action_space.high
    config = preset("debug", image_size=64)
    k = config.context_frames
    model = VideoModel(
        task=spec.name,
        task_env_id=spec.env_id,
        obs_shape=(64, 64, 3),
        action_dim=2,
        action_low=low.tolist(),
        action_high=high.tolist(),
        config=config,
        seed=0,
    )
    rng = np.random.default_rng(0)
    frames, actions = [], []
    for seed in range(3):
        o, _ = env.reset(seed=seed)
        obs, acts = [o], []
        for _ in range(k - 1):
            a = rng.uniform(low, high)
            o, *_ = env.step(a)
            obs.append(o)
            acts.append(a)
        frames.append(np.stack(obs))
        actions.append(np.stack(acts))
    env.close()
    model.set_start_contexts(np.stack(frames), np.stack(actions).astype(np.float32))
    model.spec.calibration.thresholds = {m: 1e9 for m in ("ensemble_std", "pairwise_max", "member_dev")}
    path = save_checkpoint(model, tmp_path_factory.mktemp("video") / "reacher-video.safetensors")
    return load_checkpoint(path, task="Reacher", device="cpu")


def test_video_dream_is_a_pixel_env(reacher_video):
    env = DreamEnv("Reacher", reacher_video, start="dataset", render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    np.testing.assert_array_equal(env.render(), obs)
    assert np.isfinite(reward) and np.isfinite(info["uncertainty"])
    sb3_check_env(env, warn=True)
    with pytest.raises(ValueError, match=r"expected an action of shape \(2,\)"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="uint8"):
        env.reset(options={"obs": np.zeros((4, 64, 64, 3), np.float64), "actions": np.zeros((3, 2))})


def test_video_dreams_repeat_under_a_seed(reacher_video):
    def roll(seed: int) -> np.ndarray:
        venv = DreamVectorEnv("Reacher", reacher_video, num_envs=2, start="env")
        obs, _ = venv.reset(seed=seed)
        out = [obs]
        for a in np.linspace(-1, 1, 3):
            obs, *_ = venv.step(np.full((2, 2), a))
            out.append(obs)
        return np.stack(out)

    np.testing.assert_array_equal(roll(3), roll(3))
    assert not np.array_equal(roll(3)[0], roll(4)[0])  # other seed, other ground-truth start contexts


def test_sb3_ppo_cnn_policy_trains_on_the_video_dream(reacher_video):
    torch.manual_seed(0)  # test-only: SB3 seeds itself too
    venv = DreamVectorEnv("Reacher", reacher_video, num_envs=2, max_episode_steps=6, start="dataset").to_sb3()
    agent = PPO("CnnPolicy", venv, n_steps=8, batch_size=16, n_epochs=1, seed=0, device="cpu", verbose=0)
    agent.learn(16)
    action, _ = agent.predict(venv.reset(), deterministic=True)
    assert action.shape == (2, 2) and np.isfinite(action).all()
