"""The paired dream-vs-MuJoCo policy evaluation: identical start states in both worlds (state, instruction, step-0
frame), a small end-to-end run of three policies with every report figure, inconclusive dream episodes, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neural_gym.evaluate import DREAM_JUDGE, PolicyEvaluation, evaluate_policies
from neural_gym.policies import PolicyError
from neural_gym.policies.vla.evaluate import reference_policy

VLA = "zoo:reach-regression-300demos-3000steps"


class Recorder:
    """Wraps a policy and keeps every observation batch it is shown."""

    def __init__(self, policy) -> None:
        self.policy = policy
        self.chunk_size = policy.chunk_size
        self.seen: list[dict] = []
        self.seeds: list[int | None] = []

    def reset(self, seed: int | None = None) -> None:
        self.seeds.append(seed)
        self.policy.reset(seed=seed)

    def act(self, obs):
        self.seen.append({k: (list(v) if k == "instruction" else np.array(v, copy=True)) for k, v in obs.items()})
        return self.policy.act(obs)


class WrongSize:
    """Returns 3-dim actions for a 4-dim task."""

    chunk_size = 2

    def reset(self, seed: int | None = None) -> None:
        pass

    def act(self, obs):
        return np.zeros((len(obs["instruction"]), 2, 3), dtype=np.float32)


@pytest.fixture(scope="module")
def three() -> tuple[PolicyEvaluation, Recorder]:
    expert = Recorder(reference_policy("expert", "reach"))
    result = evaluate_policies(
        {"expert": expert, "random": "random", "vla": VLA}, "TabletopReach", episodes=3, seed=1000, progress=False
    )
    return result, expert


def test_paired_start_states_are_identical_in_both_worlds(three) -> None:
    from neural_gym.envs.tabletop import TabletopEnv

    result, expert = three
    # The expert was queried first in MuJoCo (real step 0), then in the dream (dream step 0).
    real0 = expert.seen[0]
    dream0 = next(s for s in expert.seen[1:] if np.array_equal(s["state"], real0["state"]))
    assert np.array_equal(dream0["pixels"], real0["pixels"])
    assert dream0["instruction"] == real0["instruction"]
    assert dream0["state"].dtype == real0["state"].dtype == np.float64
    # ... and they are the ground truth's seeded resets (episode i: seed + i).
    for i in range(3):
        env = TabletopEnv(task="reach", obs_mode="dict")
        obs, _ = env.reset(seed=1000 + i)
        env.close()
        assert np.array_equal(real0["state"][i], obs["state"])
        assert np.array_equal(real0["pixels"][i], obs["pixels"])
        assert real0["instruction"][i] == obs["instruction"] == result.instructions[i]
    assert all(p.step0_identical for p in result.policies.values())
    # The same policy seed before each world's run.
    assert expert.seeds == [1000, 1000]


def test_dream_frames_are_the_scene_drawing_the_predicted_state(three) -> None:
    """After step 0 the dream's frames follow its own predicted states, not MuJoCo's."""
    from neural_gym.envs.tabletop import TabletopEnv

    _, expert = three
    real0 = expert.seen[0]
    start = next(k for k, s in enumerate(expert.seen[1:], 1) if np.array_equal(s["state"], real0["state"]))
    later = expert.seen[start + 1]
    env = TabletopEnv(task="reach", obs_mode="dict")
    env.reset(seed=1000)
    env.set_physics_state(env.physics_state_from_obs(later["state"][0]))
    assert np.array_equal(env.render(), later["pixels"][0])
    env.close()


def test_three_policies_end_to_end_report(three) -> None:
    result, _ = three
    assert result.names == ["expert", "random", "vla"]
    assert result.judge == DREAM_JUDGE == "task rule on predicted state"
    expert, random = result.policies["expert"], result.policies["random"]
    assert expert.real_success.all() and not random.real_success.any()
    for p in result.policies.values():
        for arr in (p.real_success, p.dream_success, p.inconclusive, p.real_lengths, p.dream_lengths):
            assert arr.shape == (3,)
        assert ((p.real_lengths >= 1) & (p.real_lengths <= result.max_episode_steps)).all()
        assert not (p.dream_success & p.inconclusive).any()
    # The random policy never succeeds: its episodes run to the time limit in MuJoCo.
    assert (random.real_lengths == result.max_episode_steps).all()

    report = result.report(n_boot=50)
    json.dumps(report, allow_nan=False)  # JSON-able, NaN written as null
    figures = report["agreement"]["all_episodes"]["figures"]
    for key in ("pearson", "spearman", "kendall", "mae", "mmrv", "mean_gap", "agreement", "kappa"):
        assert key in figures
        assert set(figures[key]) == {"value", "interval_over_episodes", "interval_over_policies", "note"}
    assert report["agreement"]["policies"] == 3 and report["agreement"]["episodes"] == 9
    for name, p in report["per_policy"].items():
        run = result.policies[name]
        assert p["real"]["rate"] == pytest.approx(run.real_success.mean())
        assert p["dream"]["rate"] == pytest.approx(run.dream_success.mean())
        assert p["real"]["ci_low"] <= p["real"]["rate"] <= p["real"]["ci_high"]
        assert p["dream"]["ci_low"] <= p["dream"]["rate"] <= p["dream"]["ci_high"]
        assert p["inconclusive"] == int(run.inconclusive.sum())
    speed = report["speed"]
    assert speed["episodes"] == 9
    assert speed["dream_episodes_per_s"] > 0 and speed["mujoco_episodes_per_s"] > 0
    assert report["step0_identical"] is True
    full = result.to_dict(n_boot=20)
    assert full["episodes_detail"]["random"]["real_success"] == [False] * 3
    json.dumps(full, allow_nan=False)


def test_uncertainty_cuts_are_inconclusive_not_failures() -> None:
    result = evaluate_policies({"random": "random"}, episodes=3, seed=1000, uncertainty_threshold=1e-9, progress=False)
    run = result.policies["random"]
    assert run.inconclusive.all()
    assert not run.dream_success.any()
    assert (run.dream_lengths == 1).all()  # cut on the first step
    assert run.dream_end == ["uncertainty"] * 3
    report = result.report(n_boot=20)
    assert report["agreement"]["inconclusive"]["episodes"] == 3
    assert report["per_policy"]["random"]["inconclusive_share"] == 1.0
    assert report["per_policy"]["random"]["dream_conclusive"]["rate"] is None
    # Conclusive-only figures leave them out; they are not counted as dream failures there.
    assert report["agreement"]["conclusive_only"]["per_policy"][0]["episodes"] == 0


def test_dream_restarts_ended_envs_and_keeps_stepping_the_others() -> None:
    """Episodes ending at different steps (expert successes, random time limits) in one dream batch."""
    mixed = {"expert-or-random": _MixedPolicy()}
    result = evaluate_policies(mixed, episodes=2, seed=1000, progress=False)
    run = result.policies["expert-or-random"]
    assert run.real_success[0] and not run.real_success[1]
    assert run.real_lengths[1] == result.max_episode_steps
    assert run.dream_end[0] == "success"
    # Row 1 kept stepping after row 0 ended (the dream restarts ended envs only to keep the batch going).
    assert run.dream_lengths[1] > run.dream_lengths[0]


class _MixedPolicy:
    """Row 0 follows the expert, row 1 stands still."""

    chunk_size = 1

    def __init__(self) -> None:
        self.expert = reference_policy("expert", "reach")

    def reset(self, seed: int | None = None) -> None:
        self.expert.reset(seed=seed)

    def act(self, obs):
        chunk = self.expert.act(obs)
        chunk[1:] = 0.0
        return chunk


# ---------------------------------------------------------------------------------------------------------- bad input
def test_wrong_action_size_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="'bad' returned actions of size"):
        evaluate_policies({"bad": WrongSize()}, episodes=1, progress=False)
    from gymnasium import spaces

    from neural_gym.policies.adapters import RandomPolicy

    six = RandomPolicy(spaces.Box(-1.0, 1.0, shape=(6,), dtype=np.float32), seed=0)  # another task's action space
    with pytest.raises(PolicyError, match="takes 4"):
        evaluate_policies({"six": six}, episodes=1, progress=False)


def test_vla_on_a_task_without_instructions() -> None:
    with pytest.raises(ValueError, match=r"'Reacher' has no instructions"):
        evaluate_policies({"vla": VLA}, "Reacher", episodes=1, progress=False)
    with pytest.raises(ValueError, match=r"'Reacher' has no instructions"):
        evaluate_policies({"random": "random"}, "Reacher", episodes=1, progress=False)


@pytest.mark.parametrize("episodes", [0, -3, 1.5, True])
def test_episodes_below_one(episodes) -> None:
    with pytest.raises(ValueError, match="episodes"):
        evaluate_policies({"random": "random"}, episodes=episodes, progress=False)


def test_unknown_policy_names_and_values() -> None:
    with pytest.raises(ValueError, match="Unknown policy 'no-such-policy'"):
        evaluate_policies({"x": "no-such-policy"}, episodes=1, progress=False)
    with pytest.raises(ValueError, match="zoo"):
        evaluate_policies({"x": "zoo:no-such-checkpoint"}, episodes=1, progress=False)
    with pytest.raises(TypeError, match="'x' must be a Policy"):
        evaluate_policies({"x": 42}, episodes=1, progress=False)
    with pytest.raises(ValueError, match="non-empty"):
        evaluate_policies({}, episodes=1, progress=False)
    with pytest.raises(ValueError, match="non-empty strings"):
        evaluate_policies({"": "random"}, episodes=1, progress=False)


def test_unknown_task_split_and_chunk_setting() -> None:
    with pytest.raises(ValueError):
        evaluate_policies({"random": "random"}, "NoSuchTask", episodes=1, progress=False)
    with pytest.raises(ValueError):
        evaluate_policies({"random": "random"}, split="nope", episodes=1, progress=False)
    with pytest.raises(ValueError, match="n_action_steps"):
        evaluate_policies({"vla": VLA}, n_action_steps=999, episodes=1, progress=False)


def test_real_final_states_and_recorded_frames() -> None:
    from neural_gym.envs import get_task

    result = evaluate_policies(
        {"expert": "expert", "random": "random"}, episodes=3, max_episode_steps=25, record_episodes=2, progress=False
    )
    rule = get_task("TabletopReach").success_fn
    for run in result.policies.values():
        assert run.real_final_states.shape[0] == 3
        judged = rule(run.real_final_states, np.zeros((3, 4)), run.real_final_states)
        np.testing.assert_array_equal(judged, run.real_success)  # the state of the step that ended each episode
        assert len(run.real_frames) == len(run.dream_frames) == 2  # the first two episodes only
        for i in range(2):
            assert run.real_frames[i].shape == (run.real_lengths[i] + 1, 64, 64, 3)
            assert run.dream_frames[i].shape == (run.dream_lengths[i] + 1, 64, 64, 3)
            np.testing.assert_array_equal(run.real_frames[i][0], run.dream_frames[i][0])  # paired start
            assert not np.array_equal(run.real_frames[i][0], run.real_frames[i][-1])  # the arm moved
        assert run.to_dict()["recorded_episodes"] == 2
    assert result.policies["expert"].real_success.all()


def test_no_frames_kept_by_default(three) -> None:
    result, _ = three
    for run in result.policies.values():
        assert run.real_frames == [] and run.dream_frames == []
        assert run.real_final_states.shape[0] == 3


@pytest.mark.parametrize("record", [-1, 2, 1.5, True])
def test_record_episodes_out_of_range(record) -> None:
    with pytest.raises(ValueError, match="record_episodes"):
        evaluate_policies({"random": "random"}, episodes=1, record_episodes=record, progress=False)
