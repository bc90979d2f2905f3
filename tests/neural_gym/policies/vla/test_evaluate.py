"""Ground-truth evaluation in MuJoCo: seeded, batched, open-loop chunks; Wilson intervals; reference policies."""

from __future__ import annotations

import pytest

from neural_gym.policies.vla.evaluate import evaluate_in_mujoco, reference_policy


def test_expert_succeeds_and_random_does_not_on_short_runs() -> None:
    expert = evaluate_in_mujoco(reference_policy("expert", "reach"), "reach", 4, num_envs=2, progress=False)
    assert expert.successes == 4 and expert.mean_length < 40
    rand = evaluate_in_mujoco(reference_policy("random", "reach"), "reach", 3, max_episode_steps=10, progress=False)
    assert rand.episodes == 3 and rand.mean_length <= 10 and len(rand.per_episode) == 3


def test_evaluation_is_seeded(tiny_policies: dict) -> None:
    policy = tiny_policies["flow"]
    runs = [evaluate_in_mujoco(policy, "reach", 2, seed=3, max_episode_steps=12, progress=False) for _ in range(2)]
    assert runs[0].per_episode == runs[1].per_episode and runs[0].mean_length == runs[1].mean_length


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="episodes and num_envs"):
        evaluate_in_mujoco(reference_policy("random", "reach"), "reach", 0, progress=False)
    with pytest.raises(ValueError, match="Unknown reference"):
        reference_policy("oracle", "reach")
