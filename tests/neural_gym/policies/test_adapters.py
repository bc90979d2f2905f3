"""Adapters: callables (batched and per row), SB3 models, random and expert policies, and the clear errors a bad policy
or a wrong observation gets."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from neural_gym.envs.tabletop import TabletopEnv, TabletopExpert
from neural_gym.policies import (
    CallablePolicy,
    ExpertPolicy,
    Policy,
    PolicyError,
    RandomPolicy,
    RowResettable,
    SB3Policy,
    obs_row,
    stack_observations,
)

BOX = spaces.Box(-1.0, 1.0, (2,), np.float32)


def dict_batch(b: int = 2, with_instruction: bool = True) -> dict:
    obs = {
        "pixels": np.zeros((b, 8, 8, 3), np.uint8),
        "state": np.arange(b * 3, dtype=np.float64).reshape(b, 3),
    }
    if with_instruction:
        obs["instruction"] = [f"push the block {i}" for i in range(b)]
    return obs


def test_callable_batched_and_per_row_agree():
    def per_row(obs):
        return np.stack([obs["state"][:2], -obs["state"][:2]])  # (H=2, A=2)

    def batched(obs):
        s = obs["state"][:, :2]
        return np.stack([s, -s], axis=1)

    a = CallablePolicy(per_row, BOX, chunk_size=2, batched=False)
    b = CallablePolicy(batched, BOX, chunk_size=2)
    obs = dict_batch(3)
    assert isinstance(a, Policy)
    out = a.act(obs)
    assert out.shape == (3, 2, 2) and out.dtype == np.float32
    np.testing.assert_array_equal(out, b.act(obs))
    np.testing.assert_array_equal(out[1, 1], -obs["state"][1, :2])


def test_per_row_callable_sees_one_unbatched_observation():
    seen = []

    def fn(obs):
        seen.append(obs)
        return np.zeros(2)

    CallablePolicy(fn, 2, batched=False).act(dict_batch(2))
    assert seen[1]["instruction"] == "push the block 1"
    assert seen[1]["pixels"].shape == (8, 8, 3)
    np.testing.assert_array_equal(seen[1]["state"], [3.0, 4.0, 5.0])


@pytest.mark.parametrize(
    ("out", "match"),
    [
        (np.zeros((2, 3, 2)), r"shape \(2, 3, 2\); expected \(2, 1, 2\)"),
        (np.zeros((2, 1, 5)), r"expected \(2, 1, 2\)"),
        (np.full((2, 2), np.nan), "NaN"),
        (np.array([["a", "b"], ["c", "d"]]), "dtype"),
    ],
)
def test_bad_chunks_are_named(out, match):
    policy = CallablePolicy(lambda obs: out, BOX, name="my vla")
    with pytest.raises(PolicyError, match=match) as err:
        policy.act(np.zeros((2, 3)))
    assert "my vla" in str(err.value)


def test_language_policy_needs_an_instruction():
    policy = CallablePolicy(lambda obs: np.zeros((2, 2)), BOX, needs_instruction=True)
    policy.act(dict_batch(2))
    with pytest.raises(PolicyError, match="needs obs\\['instruction'\\]"):
        policy.act(dict_batch(2, with_instruction=False))
    with pytest.raises(PolicyError, match="needs obs\\['instruction'\\]"):
        policy.act(np.zeros((2, 3)))


def test_state_size_refuses_another_tasks_observations():
    policy = CallablePolicy(lambda obs: np.zeros((2, 2)), BOX, state_size=4)
    with pytest.raises(PolicyError, match="size 4.*another task"):
        policy.act(np.zeros((2, 3)))


def test_random_policy_is_seeded_bounded_and_private():
    box = spaces.Box(np.array([-1.0, 0.0], np.float32), np.array([1.0, 5.0], np.float32), dtype=np.float32)
    state = np.random.get_state()
    a = RandomPolicy(box, seed=3, chunk_size=4).act(np.zeros((5, 1)))
    b = RandomPolicy(box, seed=3, chunk_size=4).act(np.zeros((5, 1)))
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # global RNG untouched
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5, 4, 2)
    assert (a >= box.low).all() and (a <= box.high).all()
    p = RandomPolicy(box, seed=3)
    first = p.act(np.zeros((1, 1)))
    p.reset(seed=3)
    np.testing.assert_array_equal(p.act(np.zeros((1, 1))), first)
    with pytest.raises(ValueError, match="bounded"):
        RandomPolicy(spaces.Box(-np.inf, np.inf, (2,)))


def test_expert_policy_matches_one_tabletop_expert_per_row():
    envs = [TabletopEnv(task="push", obs_mode="dict") for _ in range(2)]
    obs = [env.reset(seed=i)[0] for i, env in enumerate(envs)]
    references = [TabletopExpert("push") for _ in envs]
    policy = ExpertPolicy("push")
    assert isinstance(policy, RowResettable)
    for _ in range(15):
        chunk = policy.act(stack_observations(obs))
        assert chunk.shape == (2, 1, 4)
        for i, env in enumerate(envs):
            np.testing.assert_array_equal(chunk[i, 0], references[i](obs[i]))
            obs[i] = env.step(chunk[i, 0])[0]
    for env in envs:
        env.close()


def test_expert_reset_restarts_the_experts():
    env = TabletopEnv(task="pick_place")
    obs, _ = env.reset(seed=0)
    policy = ExpertPolicy("pick_place")
    for _ in range(20):  # into the carry phase: gripper closed, where a fresh expert would open it
        obs = env.step(policy.act(obs[None])[0, 0])[0]
    fresh = ExpertPolicy("pick_place").act(obs[None])
    assert policy.act(obs[None])[0, 0, 3] == 1.0 and fresh[0, 0, 3] == -1.0
    policy.reset()
    np.testing.assert_array_equal(policy.act(obs[None]), fresh)
    env.close()


def test_expert_reset_rows_restarts_only_those_rows():
    calls = []

    class Counting:
        def __init__(self):
            self.n = 0
            calls.append(self)

        def __call__(self, obs):
            self.n += 1
            return np.array([float(self.n)], np.float32)

    policy = ExpertPolicy("InvertedPendulum")
    policy._make = Counting  # a stateful stand-in whose output counts its calls since it was made
    obs = np.zeros((3, 4))
    policy.act(obs)
    policy.act(obs)
    policy.reset_rows(np.array([False, True, False]))
    np.testing.assert_array_equal(policy.act(obs)[:, 0, 0], [3.0, 1.0, 3.0])
    policy.reset()
    np.testing.assert_array_equal(policy.act(obs)[:, 0, 0], [1.0, 1.0, 1.0])


def test_expert_noise_is_seeded_clipped_and_reseedable():
    obs = np.zeros((4, 54))
    a = ExpertPolicy("reach", action_noise=0.5, seed=1)
    b = ExpertPolicy("reach", action_noise=0.5, seed=1)
    clean = ExpertPolicy("reach").act(obs)
    first = a.act(obs)
    np.testing.assert_array_equal(first, b.act(obs))
    assert not np.array_equal(first, clean)
    assert np.abs(first).max() <= 1.0
    a.reset(seed=1)
    np.testing.assert_array_equal(a.act(obs), first)


def test_expert_refuses_unknown_tasks_and_other_observations():
    with pytest.raises(ValueError, match="no scripted expert"):
        ExpertPolicy("HalfCheetah")
    with pytest.raises(PolicyError, match="size 54"):
        ExpertPolicy("push").act(np.zeros((1, 4)))


def test_expert_policy_on_inverted_pendulum_balances():
    env = gym.make("InvertedPendulum-v5")
    obs, _ = env.reset(seed=0)
    policy = ExpertPolicy("InvertedPendulum")
    for t in range(200):
        obs, _, terminated, truncated, _ = env.step(policy.act(obs[None])[0, 0])
        assert not terminated, f"fell at step {t}"
    env.close()


def test_vector_env_observations_batch_directly():
    vec = gym.vector.SyncVectorEnv([lambda: TabletopEnv(task="reach", obs_mode="dict")] * 2)
    obs, _ = vec.reset(seed=0)
    policy = CallablePolicy(lambda o: np.zeros(4), vec.single_action_space, batched=False, needs_instruction=True)
    assert policy.act(obs).shape == (2, 1, 4)
    assert obs_row(obs, 1)["instruction"] == obs["instruction"][1]
    vec.close()


def sb3_model(obs_space: spaces.Space):
    from stable_baselines3 import PPO

    class Env(gym.Env):
        observation_space = obs_space
        action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return self.observation_space.sample(), {}

        def step(self, action):
            return self.observation_space.sample(), 0.0, False, False, {}

    policy = "MultiInputPolicy" if isinstance(obs_space, spaces.Dict) else "MlpPolicy"
    return PPO(policy, Env(), n_steps=8, batch_size=8, seed=0, device="cpu")


def test_sb3_box_model_reads_the_state_of_dict_observations():
    model = sb3_model(spaces.Box(-10, 10, (3,), np.float64))
    policy = SB3Policy(model)
    obs = dict_batch(2)
    chunk = policy.act(obs)
    expected, _ = model.predict(obs["state"], deterministic=True)
    np.testing.assert_array_equal(chunk[:, 0], expected)
    np.testing.assert_array_equal(policy.act(obs["state"]), chunk)
    with pytest.raises(PolicyError, match=r"shape \(3,\).*another task"):
        policy.act(np.zeros((2, 5)))


def test_sb3_dict_model_gets_only_its_keys():
    model = sb3_model(spaces.Dict({"state": spaces.Box(-10, 10, (3,), np.float64)}))
    seen = []
    predict = model.predict

    def spy(obs, deterministic=True):
        seen.append(obs)
        return predict(obs, deterministic=deterministic)

    model.predict = spy
    policy = SB3Policy(model)
    assert policy.act(dict_batch(2)).shape == (2, 1, 2)
    assert list(seen[0]) == ["state"]
    with pytest.raises(PolicyError, match=r"needs obs keys \['state'\]"):
        policy.act({"pixels": np.zeros((2, 8, 8, 3), np.uint8)})


def test_not_a_policy_is_refused_at_construction():
    with pytest.raises(TypeError, match="callable"):
        CallablePolicy(3, BOX)
    with pytest.raises(TypeError, match="predict"):
        SB3Policy(object())
    with pytest.raises(ValueError, match="chunk_size"):
        CallablePolicy(lambda o: o, BOX, chunk_size=0)


def test_sb3_image_model_takes_channel_last_frames():
    space = spaces.Dict(
        {"pixels": spaces.Box(0, 255, (36, 36, 3), np.uint8), "state": spaces.Box(-10, 10, (3,), np.float64)}
    )
    model = sb3_model(space)  # SB3 stores the frames channel first: (3, 36, 36)
    assert model.observation_space["pixels"].shape == (3, 36, 36)
    policy = SB3Policy(model)
    rng = np.random.default_rng(0)
    obs = {
        "pixels": rng.integers(0, 256, (2, 36, 36, 3), dtype=np.uint8),
        "state": rng.normal(size=(2, 3)),
        "instruction": ["a", "b"],
    }
    chunk = policy.act(obs)
    transposed = {"pixels": obs["pixels"].transpose(0, 3, 1, 2), "state": obs["state"]}
    np.testing.assert_array_equal(chunk[:, 0], model.predict(transposed, deterministic=True)[0])
    with pytest.raises(PolicyError, match=r"obs\['pixels'\] of shape \(3, 36, 36\)"):
        policy.act({**obs, "pixels": obs["pixels"][:, :32, :32]})
