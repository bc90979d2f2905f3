"""The scripted experts really are experts, and reach collection through policy="expert"."""

from __future__ import annotations

import numpy as np
import pytest

from neural_gym.envs import collect, expert, get_task, load_transitions


def test_inverted_pendulum_expert_balances_for_the_whole_episode():
    env = get_task("InvertedPendulum").make()
    act = expert("InvertedPendulum")
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        for _ in range(1000):
            obs, _, terminated, truncated, _ = env.step(act(obs))
            assert not terminated
            if truncated:
                break
        assert truncated  # reached the time limit


def test_task_without_expert_is_refused():
    with pytest.raises(ValueError, match="no scripted expert.*InvertedPendulum"):
        expert("HalfCheetah")


def test_collect_with_noisy_expert(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    dataset_id = collect("InvertedPendulum", 600, policy="expert", action_noise=0.6, seed=0, progress=False)
    assert dataset_id == "neural_gym/InvertedPendulum/expert-v0"
    data = load_transitions(dataset_id)
    assert len(data) == 600
    # heavy noise: episodes end by falling now and then, yet last far longer than a random policy's (~7 steps)
    lengths = np.bincount(data.episode_ids)
    assert data.terminations.any() and lengths.max() > 50
