"""The ``latent`` family inside the Dream envs: burn-in starts, frame observations, checkers, SB3 CnnPolicy, seeds."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from neural_gym import DreamEnv, DreamVectorEnv
from neural_gym.envs import get_task
from neural_gym.world_models import LatentModel, load_checkpoint, save_checkpoint
from neural_gym.world_models.latent import preset


def _latent(task: str, obs_kind: str, tmp_path, image_size: int = 64) -> LatentModel:
    """An untrained debug-preset model with a calibration and real start contexts, saved and loaded back."""
    spec = get_task(task)
    env = spec.make(obs_mode="pixels", image_size=image_size) if obs_kind == "pixels" else spec.make()
    low, high = env.unwrapped.action_space.low, env.unwrapped.action_space.high
    config = preset("debug", obs_kind=obs_kind, image_size=image_size)
    k = config.burn_in
    obs_shape = env.observation_space.shape
    model = LatentModel(
        task=spec.name,
        task_env_id=spec.env_id,
        obs_shape=obs_shape,
        action_dim=len(low),
        action_low=low.tolist(),
        action_high=high.tolist(),
        config=config,
        seed=0,
    )
    # The decoder's last layer starts at zero (an untrained model decodes the mean); give it weights so that what the
    # env serves depends on the latent state.
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.decoder.parameters():
            if not p.any():
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
    rng = np.random.default_rng(0)
    contexts, actions = [], []
    for seed in range(4):
        o, _ = env.reset(seed=seed)
        obs, acts = [o], []
        for _ in range(k - 1):
            a = rng.uniform(low, high)
            o, *_ = env.step(a)
            obs.append(o)
            acts.append(a)
        contexts.append(np.stack(obs))
        actions.append(np.stack(acts))
    env.close()
    model.set_normalization(np.concatenate(contexts))
    model.set_start_contexts(np.stack(contexts), np.stack(actions).astype(np.float32))
    model.spec.calibration.thresholds = {"latent_std": 1e9, "ensemble_std": 1e9, "pairwise_max": 1e9}
    path = save_checkpoint(model, tmp_path / f"{task}-{obs_kind}.safetensors")
    return load_checkpoint(path, task=task, device="cpu")


@pytest.fixture(scope="module")
def reacher_state(tmp_path_factory) -> LatentModel:
    return _latent("Reacher", "vector", tmp_path_factory.mktemp("latent"))


@pytest.fixture(scope="module")
def reacher_pixels(tmp_path_factory) -> LatentModel:
    return _latent("Reacher", "pixels", tmp_path_factory.mktemp("latent"))


@pytest.mark.parametrize("start", ["env", "dataset"])
def test_state_latent_env_passes_checkers(reacher_state, start):
    env = DreamEnv("Reacher", reacher_state, start=start)
    assert env.observation_space == get_task("Reacher").make().observation_space
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(env, warn=True)


def test_pixel_latent_env_serves_frames_and_passes_checkers(reacher_pixels):
    env = DreamEnv("Reacher", reacher_pixels, render_mode="rgb_array")
    assert env.observation_space == gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.uint8 and obs.shape == (64, 64, 3)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert obs.dtype == np.uint8 and np.isfinite(reward) and {"uncertainty", "model_error"} <= set(info)
    np.testing.assert_array_equal(env.render(), obs)  # render() = the decoded frame
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(env, warn=True)
    with pytest.raises(ValueError, match="known reward rule reads state"):
        DreamEnv("Reacher", reacher_pixels, reward="known")


def test_burn_in_context_is_required_and_checked(reacher_pixels):
    k = reacher_pixels.context_length
    assert k > 1
    env = DreamEnv("Reacher", reacher_pixels, start="dataset")
    frames = np.zeros((k, 64, 64, 3), dtype=np.uint8)
    actions = np.zeros((k - 1, 2))
    obs, _ = env.reset(options={"obs": frames, "actions": actions})
    np.testing.assert_array_equal(obs, frames[-1])
    with pytest.raises(ValueError, match="actions taken between"):
        env.reset(options={"obs": frames})
    with pytest.raises(ValueError, match=r"shape .*got shape \(1, 3, 32, 32, 3\)"):
        env.reset(options={"obs": np.zeros((k, 32, 32, 3), np.uint8), "actions": actions})
    with pytest.raises(ValueError, match="uint8"):
        env.reset(options={"obs": frames.astype(np.float32), "actions": actions})
    with pytest.raises(ValueError, match="without 'obs'"):
        env.reset(options={"actions": actions})


def _rollout(env: DreamVectorEnv, seed: int, steps: int = 6) -> np.ndarray:
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(1)
    out = [obs]
    for _ in range(steps):
        obs, *_ = env.step(rng.uniform(-1, 1, size=(env.num_envs, 2)))
        out.append(obs)
    return np.stack(out)


def test_seeded_dreams_repeat_and_differ_across_seeds(reacher_state):
    a = _rollout(DreamVectorEnv("Reacher", reacher_state, num_envs=3), seed=5)
    b = _rollout(DreamVectorEnv("Reacher", reacher_state, num_envs=3), seed=5)
    c = _rollout(DreamVectorEnv("Reacher", reacher_state, num_envs=3), seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_partial_reset_leaves_the_other_envs_alone(reacher_state):
    a = DreamVectorEnv("Reacher", reacher_state, num_envs=3)
    b = DreamVectorEnv("Reacher", reacher_state, num_envs=3)
    a.reset(seed=0)
    b.reset(seed=0)
    a.engine.reset(np.array([True, False, False]), np.random.default_rng(3))  # what an autoreset of env 0 does
    actions = np.full((3, 2), 0.5)
    for _ in range(3):
        obs_a, *_ = a.step(actions)
        obs_b, *_ = b.step(actions)
        np.testing.assert_array_equal(obs_a[1:], obs_b[1:])
    assert not np.array_equal(obs_a[0], obs_b[0])
    env = DreamVectorEnv("Reacher", reacher_state, num_envs=3, max_episode_steps=2, autoreset_mode="SameStep")
    env.reset(seed=0)
    env.step(actions)
    obs, reward, terminated, truncated, info = env.step(actions)
    assert truncated.all() and info["_final_obs"].all() and np.isfinite(obs).all()


def test_sb3_ppo_cnn_policy_trains_on_pixel_latent_dream(reacher_pixels):
    torch.manual_seed(0)  # test-only: SB3 itself seeds through set_random_seed
    venv = DreamVectorEnv("Reacher", reacher_pixels, num_envs=2, max_episode_steps=8).to_sb3()
    agent = PPO("CnnPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, seed=0, device="cpu", verbose=0)
    agent.learn(32)
    obs = venv.reset()
    action, _ = agent.predict(obs, deterministic=True)
    assert action.shape == (2, 2) and np.isfinite(action).all()


def test_paired_episodes_with_a_burn_in_pixel_model(reacher_pixels):
    from neural_gym.evaluate import paired_episodes

    k = reacher_pixels.context_length
    out = paired_episodes("Reacher", "random", checkpoint=reacher_pixels, episodes=2, seed=0, progress=False)
    assert (out.real_lengths == 50 - (k - 1)).all() and (out.dream_lengths <= 50 - (k - 1)).all()
    assert np.isfinite(out.real_returns).all() and np.isfinite(out.dream_returns).all()
