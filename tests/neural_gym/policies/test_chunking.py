"""Chunk execution against hand-computed expectations: open loop, re-query every step, ACT temporal ensembling,
per-env resets, and the autoreset bookkeeping of a real Gymnasium vector env."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from neural_gym.policies import CallablePolicy, PolicyError
from neural_gym.policies.chunking import ChunkExecutor, autoreset_mode_of, ensemble_weights


def known_chunks(horizon: int, calls: list | None = None) -> CallablePolicy:
    """Chunks ``a[j] = 100 * t + 1000 * row + j`` for an observation ``[t, row]`` (A = 1)."""

    def fn(obs):
        if calls is not None:
            calls.append(obs.copy())
        base = 100 * obs[:, 0] + 1000 * obs[:, 1]
        return (base[:, None] + np.arange(horizon)[None, :])[:, :, None]

    return CallablePolicy(fn, 1, chunk_size=horizon)


def obs_at(t: int, rows: int = 1) -> np.ndarray:
    return np.stack([np.full(rows, t), np.arange(rows)], axis=1).astype(np.float64)


def run(executor: ChunkExecutor, steps: int, rows: int = 1) -> np.ndarray:
    return np.stack([executor.act(obs_at(t, rows))[:, 0] for t in range(steps)])


def test_open_loop_executes_n_actions_then_requeries():
    calls = []
    executor = ChunkExecutor(known_chunks(4, calls), 1, n_action_steps=3)
    assert executor.mode == "open_loop"
    np.testing.assert_array_equal(run(executor, 7)[:, 0], [0, 1, 2, 300, 301, 302, 600])
    assert [int(c[0, 0]) for c in calls] == [0, 3, 6]


def test_default_executes_the_whole_chunk():
    np.testing.assert_array_equal(run(ChunkExecutor(known_chunks(3), 1), 5)[:, 0], [0, 1, 2, 300, 301])


def test_every_step_takes_the_first_action_of_a_fresh_chunk():
    executor = ChunkExecutor(known_chunks(4), 1, n_action_steps=1)
    assert executor.mode == "every_step"
    np.testing.assert_array_equal(run(executor, 4)[:, 0], [0, 100, 200, 300])
    assert executor.queries == 4


def test_temporal_ensemble_weights_oldest_first():
    m = 0.5
    e1, e2 = math.exp(-m), math.exp(-2 * m)
    expected = [
        0.0,  # only the chunk of step 0
        (1 * 1 + e1 * 100) / (1 + e1),  # chunk 0's step 1 (oldest, weight 1), chunk 1's step 0
        (1 * 2 + e1 * 101 + e2 * 200) / (1 + e1 + e2),
        (1 * 102 + e1 * 201 + e2 * 300) / (1 + e1 + e2),  # chunk 0 has no prediction for step 3 (H = 3)
    ]
    executor = ChunkExecutor(known_chunks(3), 1, temporal_ensemble_coeff=m)
    assert executor.mode == "temporal_ensemble"
    np.testing.assert_allclose(run(executor, 4)[:, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(ensemble_weights(3, m), np.array([1, e1, e2]) / (1 + e1 + e2))


def test_temporal_ensemble_with_zero_coefficient_is_the_plain_mean():
    executor = ChunkExecutor(known_chunks(3), 1, temporal_ensemble_coeff=0.0)
    np.testing.assert_allclose(run(executor, 3)[:, 0], [0.0, 50.5, (2 + 101 + 200) / 3], rtol=1e-6)


def test_act_default_coefficient_favours_old_predictions_slightly():
    executor = ChunkExecutor(known_chunks(2), 1, temporal_ensemble_coeff=0.01)
    second = run(executor, 2)[1, 0]
    w = math.exp(-0.01)
    assert second == pytest.approx((1 + w * 100) / (1 + w), rel=1e-6)


def test_open_loop_reset_of_one_env_requeries_only_that_env():
    calls = []
    executor = ChunkExecutor(known_chunks(4, calls), 2, n_action_steps=3)
    got = []
    for t in range(6):
        if t == 2:
            executor.reset(np.array([False, True]))
        got.append(executor.act(obs_at(t, 2))[:, 0])
    got = np.array(got)
    np.testing.assert_array_equal(got[:, 0], [0, 1, 2, 300, 301, 302])  # env 0 carries on
    np.testing.assert_array_equal(got[:, 1], [1000, 1001, 1200, 1201, 1202, 1500])  # env 1 re-queried at t = 2
    assert [c.shape[0] for c in calls] == [2, 1, 1, 1]  # a sub-batch of the rows that need a chunk
    assert executor.queried_rows == 5


def test_query_all_asks_the_whole_batch_but_keeps_running_queues():
    calls = []
    executor = ChunkExecutor(known_chunks(4, calls), 2, n_action_steps=3, query="all")
    got = []
    for t in range(4):
        if t == 2:
            executor.reset(np.array([False, True]))
        got.append(executor.act(obs_at(t, 2))[:, 0])
    np.testing.assert_array_equal(np.array(got), [[0, 1000], [1, 1001], [2, 1200], [300, 1201]])
    assert all(c.shape[0] == 2 for c in calls)


def test_temporal_ensemble_reset_of_one_env_forgets_its_chunks():
    m = 0.5
    executor = ChunkExecutor(known_chunks(3), 2, temporal_ensemble_coeff=m)
    executor.act(obs_at(0, 2))
    executor.reset(np.array([True, False]))
    second = executor.act(obs_at(1, 2))[:, 0]
    e1 = math.exp(-m)
    assert second[0] == pytest.approx(100.0)  # only the new chunk
    assert second[1] == pytest.approx((1001 + e1 * 1100) / (1 + e1), rel=1e-6)


def test_reset_of_some_rows_reaches_a_row_resettable_policy():
    class Rows(CallablePolicy):
        def __init__(self):
            super().__init__(lambda o: np.zeros((len(o), 1)), 1)
            self.masks, self.seeds = [], []

        def reset(self, seed=None):
            self.seeds.append(seed)

        def reset_rows(self, mask):
            self.masks.append(mask.tolist())

    policy = Rows()
    executor = ChunkExecutor(policy, 3)
    executor.reset(np.array([True, False, True]))
    executor.reset(seed=7)
    assert policy.masks == [[True, False, True]] and policy.seeds == [7]


class Countdown(gym.Env):
    """obs = [step in episode, env index]; ends after ``length`` steps; records every action it executes."""

    observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float64)
    action_space = spaces.Box(-1e9, 1e9, (1,), np.float64)

    def __init__(self, index: int, length: int, log: list):
        self.index, self.length, self.log = index, length, log
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0, self.index]), {}

    def step(self, action):
        self.log.append((self.t, float(action[0])))
        self.t += 1
        return np.array([self.t, self.index], np.float64), 0.0, self.t >= self.length, False, {}


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_after_step_starts_each_new_episode_with_a_fresh_chunk(mode):
    logs = [[], []]
    lengths = [3, 5]
    vec = gym.vector.SyncVectorEnv(
        [lambda i=i: Countdown(i, lengths[i], logs[i]) for i in range(2)], autoreset_mode=mode
    )
    executor = ChunkExecutor(known_chunks(4), 2, n_action_steps=4)
    obs, _ = vec.reset(seed=0)
    for _ in range(12):
        obs, _, terminated, truncated, _ = vec.step(executor.act(obs).astype(np.float64))
        executor.after_step(terminated, truncated, mode)
    for i, log in enumerate(logs):
        # Every executed action is a[t] of a chunk queried at the episode's step t0 = 4 * (t // 4).
        expected = [100 * (4 * (t // 4)) + 1000 * i + t % 4 for t, _ in log]
        assert [a for _, a in log] == expected, f"env {i}"
        assert sum(t == 0 for t, _ in log) >= 2  # both envs ran several episodes
    vec.close()


def test_bad_settings_and_batches_are_refused():
    with pytest.raises(ValueError, match=r"n_action_steps must be in \[1, chunk_size = 4\]"):
        ChunkExecutor(known_chunks(4), 1, n_action_steps=5)
    with pytest.raises(ValueError, match="must be 1"):
        ChunkExecutor(known_chunks(4), 1, n_action_steps=2, temporal_ensemble_coeff=0.01)
    with pytest.raises(ValueError, match=">= 0"):
        ChunkExecutor(known_chunks(4), 1, temporal_ensemble_coeff=-1.0)
    with pytest.raises(TypeError, match="Policy"):
        ChunkExecutor(object(), 1)
    executor = ChunkExecutor(known_chunks(4), 2)
    with pytest.raises(PolicyError, match="made for 2 envs"):
        executor.act(obs_at(0, 3))
    with pytest.raises(ValueError, match="reset mask"):
        executor.reset(np.array([True]))
    with pytest.raises(ValueError, match="autoreset mode"):
        executor.after_step(np.zeros(2, bool), np.zeros(2, bool), "sometimes")


def test_autoreset_modes_by_name():
    assert autoreset_mode_of("same_step") is AutoresetMode.SAME_STEP
    assert autoreset_mode_of("NextStep") is AutoresetMode.NEXT_STEP
    assert autoreset_mode_of(AutoresetMode.DISABLED) is AutoresetMode.DISABLED
