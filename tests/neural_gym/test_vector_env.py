"""DreamVectorEnv: batching, SAME_STEP autoreset, agreement with DreamEnv, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from neural_gym import DreamEnv, DreamVectorEnv


def test_shapes_and_metadata(pendulum_model):
    envs = DreamVectorEnv("InvertedPendulum", pendulum_model, num_envs=8)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, info = envs.reset(seed=0)
    assert obs.shape == (8, 4) and envs.observation_space.contains(obs)
    obs, rew, term, trunc, info = envs.step(envs.action_space.sample())
    assert obs.shape == (8, 4) and rew.shape == term.shape == trunc.shape == (8,)
    assert info["uncertainty"].shape == (8,) and info["_uncertainty"].all()


def test_same_step_autoreset(pendulum_model):
    envs = DreamVectorEnv("InvertedPendulum", pendulum_model, num_envs=4, max_episode_steps=2, uncertainty_threshold=1e9)
    envs.reset(seed=1)
    envs.step(np.zeros((4, 1)))
    before = envs.engine.obs.copy()
    obs, _, term, trunc, info = envs.step(np.zeros((4, 1)))
    done = term | trunc
    assert done.all() and info["_final_obs"].all()
    for i in range(4):
        assert info["final_obs"][i].shape == (4,)
        assert not np.array_equal(info["final_obs"][i], before[i])  # it is the post-step obs, not the pre-step one
        assert not np.array_equal(obs[i], info["final_obs"][i])  # the returned obs is already the next episode's
    assert info["final_info"]["_uncertainty"].all()
    assert (envs.engine.steps == 0).all()


def test_single_env_vector_matches_dream_env(pendulum_model):
    single = DreamEnv("InvertedPendulum", pendulum_model, uncertainty_threshold=1e9)
    vec = DreamVectorEnv("InvertedPendulum", pendulum_model, num_envs=1, uncertainty_threshold=1e9)
    o1, _ = single.reset(seed=7)
    o2, _ = vec.reset(seed=7)
    np.testing.assert_array_equal(o1, o2[0])
    rng = np.random.default_rng(0)
    for _ in range(5):
        a = rng.uniform(-1, 1, size=1)
        s = single.step(a)
        v = vec.step(a[None])
        np.testing.assert_allclose(s[0], v[0][0], rtol=1e-6)
        assert s[1] == pytest.approx(v[1][0])
        if s[2] or s[3]:
            break


def test_batched_step_equals_per_env_steps(pendulum_model):
    # One forward pass over N envs must give what N separate envs give from the same states and members.
    n = 5
    vec = DreamVectorEnv("InvertedPendulum", pendulum_model, num_envs=n, propagation="mean", uncertainty_threshold=1e9)
    starts = np.random.default_rng(0).normal(0, 0.05, size=(n, 4))
    vec.reset(seed=0, options={"obs": starts})
    acts = np.linspace(-1, 1, n)[:, None]
    batched = vec.step(acts)[0]
    for i in range(n):
        env = DreamEnv("InvertedPendulum", pendulum_model, propagation="mean", uncertainty_threshold=1e9)
        env.reset(seed=0, options={"obs": starts[i]})
        np.testing.assert_allclose(env.step(acts[i])[0], batched[i], rtol=1e-5, atol=1e-6)


def test_bad_actions(pendulum_model):
    envs = DreamVectorEnv("InvertedPendulum", pendulum_model, num_envs=3)
    with pytest.raises(RuntimeError, match="reset"):
        envs.step(np.zeros((3, 1)))
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=r"\(3, 1\)"):
        envs.step(np.zeros((2, 1)))
    bad = np.zeros((3, 1))
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        envs.step(bad)
    with pytest.raises(ValueError, match=r"shape \[3, 4\].*got shape \(2, 4\)"):
        envs.reset(options={"obs": np.zeros((2, 4))})


def test_make_vec_uses_the_native_vector_env():
    import gymnasium as gym

    import neural_gym  # noqa: F401

    envs = gym.make_vec("neural_gym/InvertedPendulum-v0", num_envs=16)
    assert isinstance(envs.unwrapped, DreamVectorEnv) and envs.num_envs == 16
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (16, 4)
    envs.close()
