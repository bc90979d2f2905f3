"""DreamVectorEnv: batching, autoreset modes, agreement with DreamEnv, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from neural_gym import DreamEnv, DreamVectorEnv


def test_shapes_and_metadata(pendulum_model):
    envs = DreamVectorEnv("InvertedPendulum", pendulum_model, num_envs=8)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP == envs.autoreset_mode  # gymnasium's default
    obs, info = envs.reset(seed=0)
    assert obs.shape == (8, 4) and envs.observation_space.contains(obs)
    obs, rew, term, trunc, info = envs.step(envs.action_space.sample())
    assert obs.shape == (8, 4) and rew.shape == term.shape == trunc.shape == (8,)
    assert info["uncertainty"].shape == (8,) and info["_uncertainty"].all()


def test_same_step_autoreset(pendulum_model):
    envs = DreamVectorEnv(
        "InvertedPendulum",
        pendulum_model,
        num_envs=4,
        max_episode_steps=2,
        uncertainty_threshold=1e9,
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
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


def _short(model, mode, n=3, steps=2):
    return DreamVectorEnv(
        "InvertedPendulum", model, num_envs=n, max_episode_steps=steps, uncertainty_threshold=1e9, autoreset_mode=mode
    )


def test_next_step_autoreset(pendulum_model):
    envs = _short(pendulum_model, AutoresetMode.NEXT_STEP)
    envs.reset(seed=1)
    envs.step(np.zeros((3, 1)))
    obs, reward, term, trunc, info = envs.step(np.zeros((3, 1)))
    assert (term | trunc).all() and "final_obs" not in info
    np.testing.assert_array_equal(obs, envs.engine.obs)  # the ended episodes' last observations
    ended_obs = obs.copy()
    obs, reward, term, trunc, info = envs.step(np.ones((3, 1)))  # actions ignored: every env restarts
    assert not (term | trunc).any() and (reward == 0).all()
    assert not info["_uncertainty"].any() and (envs.engine.steps == 0).all()
    assert not np.array_equal(obs, ended_obs)
    obs2, *_ = envs.step(np.zeros((3, 1)))  # and the new episodes then run
    assert (envs.engine.steps == 1).all() and not np.array_equal(obs2, obs)


def test_next_step_restarts_only_the_ended_envs(pendulum_model):
    envs = _short(pendulum_model, AutoresetMode.NEXT_STEP, n=2, steps=3)
    envs.reset(seed=0)
    envs.step(np.zeros((2, 1)))
    envs.engine.steps[1] = 0  # env 1 is two steps behind env 0
    envs.step(np.zeros((2, 1)))
    _, _, term, trunc, _ = envs.step(np.zeros((2, 1)))
    assert list(term | trunc) == [True, False]
    envs.step(np.zeros((2, 1)))
    assert list(envs.engine.steps) == [0, 3]


def test_disabled_autoreset_needs_a_masked_reset(pendulum_model):
    envs = _short(pendulum_model, AutoresetMode.DISABLED)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.DISABLED
    envs.reset(seed=2)
    envs.step(np.zeros((3, 1)))
    _, _, term, trunc, _ = envs.step(np.zeros((3, 1)))
    assert (term | trunc).all()
    with pytest.raises(RuntimeError, match="reset_mask"):
        envs.step(np.zeros((3, 1)))
    before = envs.engine.obs.copy()
    obs, _ = envs.reset(options={"reset_mask": np.array([True, False, True])})
    np.testing.assert_array_equal(obs[1], before[1])
    assert list(envs.engine.steps) == [0, 2, 0]
    with pytest.raises(RuntimeError, match=r"envs \[1\]"):
        envs.step(np.zeros((3, 1)))
    envs.reset(options={"reset_mask": np.array([False, True, False])})
    envs.step(np.zeros((3, 1)))
    with pytest.raises(ValueError, match="reset_mask"):
        envs.reset(options={"reset_mask": np.array([1, 0, 1])})


def test_autoreset_mode_from_make_vec_and_bad_modes():
    import gymnasium as gym

    import neural_gym  # noqa: F401

    for mode in AutoresetMode:
        envs = gym.make_vec("neural_gym/InvertedPendulum-v0", num_envs=2, autoreset_mode=mode)
        assert envs.metadata["autoreset_mode"] is mode and envs.unwrapped.autoreset_mode is mode
        envs.close()
    with pytest.raises(ValueError, match="autoreset_mode must be one of"):
        DreamVectorEnv("InvertedPendulum", num_envs=2, autoreset_mode="sometimes")


def test_reset_with_a_seed_list_seeds_each_env(pendulum_model):
    seeds = [3, 9, 4]
    vec = DreamVectorEnv("InvertedPendulum", pendulum_model, num_envs=3, uncertainty_threshold=1e9)
    obs, _ = vec.reset(seed=seeds)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(4, 3, 1))
    vec_traj = [obs] + [vec.step(a)[0] for a in actions]
    for i, seed in enumerate(seeds):
        single = DreamEnv("InvertedPendulum", pendulum_model, uncertainty_threshold=1e9)
        o, _ = single.reset(seed=seed)
        np.testing.assert_array_equal(o, vec_traj[0][i])
        for t, a in enumerate(actions):
            np.testing.assert_allclose(single.step(a[i])[0], vec_traj[t + 1][i], rtol=1e-5, atol=1e-6)
    # an int seed is seed + i per env, as gymnasium's vector envs do
    np.testing.assert_array_equal(vec.reset(seed=3)[0][1], DreamEnv("InvertedPendulum", pendulum_model).reset(seed=4)[0])
    with pytest.raises(ValueError, match="one seed per env"):
        vec.reset(seed=[1, 2])


def test_strings_complex_and_closed_envs_are_refused(pendulum_model):
    envs = DreamVectorEnv("InvertedPendulum", pendulum_model, num_envs=2)
    envs.reset(seed=0)
    for bad, kind in ((np.array([["0.5"], ["0.1"]]), "strings"), (np.full((2, 1), 0.5 + 1j), "complex")):
        with pytest.raises(ValueError, match=kind):
            envs.step(bad)
    single = DreamEnv("InvertedPendulum", pendulum_model)
    single.reset(seed=0)
    with pytest.raises(ValueError, match="strings"):
        single.step(np.array(["0.5"]))
    with pytest.raises(ValueError, match="complex"):
        single.step(np.array([0.5 + 0.5j]))
    with pytest.raises(ValueError, match="real numbers"):
        single.step("0.5")
    envs.close()
    single.close()
    with pytest.raises(RuntimeError, match="closed"):
        envs.step(np.zeros((2, 1)))
    with pytest.raises(RuntimeError, match="closed"):
        single.step(np.zeros(1))
