"""Paired evaluation in a pixel dream: the real burn-in context starts both worlds, the dream's own frames reach the
policy, every judge gives a verdict on the same episodes and is measured on the real frames, bad combinations."""

from __future__ import annotations

import numpy as np
import pytest

from neural_gym.evaluate import JUDGES, PolicyEvaluation, evaluate_policies
from neural_gym.evaluate.harness import BURN_IN_ACTION
from neural_gym.evaluate.judges import train_frame_judge

from .pixel_fixtures import SIZE, real_pixel_episodes, untrained_video_model
from .test_harness import Recorder


@pytest.fixture(scope="module")
def judge(one_torch_thread):
    return train_frame_judge(real_pixel_episodes(6), "TabletopReach", steps=20, batch_size=8, progress=False)


@pytest.fixture(scope="module")
def video():
    return untrained_video_model()


@pytest.fixture(scope="module")
def run(judge, video, one_torch_thread) -> tuple[PolicyEvaluation, Recorder]:
    from neural_gym.policies.vla.evaluate import reference_policy

    random = Recorder(reference_policy("random", "reach", seed=0))
    result = evaluate_policies(
        {"random": random, "expert": "expert"},
        "TabletopReach",
        episodes=2,
        checkpoint=video,
        frame_judge=judge,
        judge="probe",
        image_size=SIZE,
        max_episode_steps=12,
        progress=False,
        record_episodes=1,
    )
    return result, random


def test_the_default_judge_is_the_frame_judges_better_verdict(judge, video) -> None:
    result = evaluate_policies(
        {"r": "random"},
        "TabletopReach",
        episodes=1,
        checkpoint=video,
        frame_judge=judge,
        image_size=SIZE,
        max_episode_steps=6,
        progress=False,
    )
    held = judge.info["heldout"]["episodes"]
    better = max(("probe", "classifier"), key=lambda k: (held[k]["balanced_accuracy"], k == "probe"))
    assert result.judge_kind == judge.best_kind == better


def test_both_worlds_start_after_the_same_real_burn_in(run, video) -> None:
    from neural_gym.envs.tabletop import TabletopEnv

    result, random = run
    k = video.context_length
    assert result.burn_in == k - 1 and result.judge_kind == "probe"
    env = TabletopEnv(task="reach", obs_mode="dict", image_size=SIZE, max_episode_steps=12)
    for i in range(2):
        obs, _ = env.reset(seed=result.seed + i)
        reset_state = obs["state"].copy()
        for _ in range(k - 1):
            obs, *_ = env.step(np.array(BURN_IN_ACTION))
        # the burn-in holds the gripper still with the fingers open: the policies' proprioception is the reset's
        # (the objects only settle on the table by micrometres)
        np.testing.assert_allclose(obs["state"][:8], reset_state[:8], atol=1e-6)
        np.testing.assert_allclose(obs["state"], reset_state, atol=1e-3)
        # the first batch each world showed the policy: MuJoCo's, then the dream's (its step-0 frame is the real one)
        np.testing.assert_array_equal(random.seen[0]["pixels"][i], obs["pixels"])
        np.testing.assert_array_equal(random.seen[-_dream_batches(result, random)]["pixels"][i], obs["pixels"])
    env.close()
    assert all(p.step0_identical for p in result.policies.values())
    # both worlds run the episode proper for the same number of steps at most
    for p in result.policies.values():
        assert p.real_lengths.max() <= 12 - result.burn_in and p.dream_lengths.max() <= 12 - result.burn_in


def _dream_batches(result: PolicyEvaluation, policy: Recorder) -> int:
    """How many batches the one-action-chunk random policy was shown in the dream (one per step until all end)."""
    assert policy.chunk_size == 1
    return int(result.policies["random"].dream_lengths.max())


def test_every_judge_gives_a_verdict_and_is_measured_on_real_frames(run) -> None:
    result, _ = run
    report = result.report(n_boot=50)
    assert set(report["judges"]) == {"probe", "classifier", "heads"}
    assert report["judges"]["probe"]["primary"] and report["judge"] == JUDGES["probe"]
    for name, p in result.policies.items():
        np.testing.assert_array_equal(p.dream_success, p.judge_verdicts["probe"])
        assert set(p.judge_on_real) == {"probe", "classifier"}
        for v in (*p.judge_verdicts.values(), *p.judge_on_real.values()):
            assert v.shape == (2,) and v.dtype == bool
        assert not (p.judge_verdicts["heads"] & p.inconclusive).any(), name
    acc = report["judges"]["probe"]["accuracy_on_real_episodes"]
    said = np.concatenate([p.judge_on_real["probe"] for p in result.policies.values()])
    truth = np.concatenate([p.real_success for p in result.policies.values()])
    assert acc["n"] == 4 and acc["correct"] == int((said == truth).sum())
    assert "heads" in report["judges"] and "accuracy_on_real_episodes" not in report["judges"]["heads"]
    assert report["frame_judge"]["steps"] == 20
    assert len(result.policies["random"].dream_frames[0]) == result.policies["random"].dream_lengths[0] + 1


def test_the_dream_shows_the_policy_its_own_frames_and_probed_states(run) -> None:
    result, random = run
    dream_batches = random.seen[-_dream_batches(result, random) :]
    frames = result.policies["random"].dream_frames[0]
    for t, batch in enumerate(dream_batches[: len(frames)]):
        np.testing.assert_array_equal(batch["pixels"][0], frames[t])
        assert batch["state"].shape == (2, 54) and np.isfinite(batch["state"]).all()


def test_judges_that_do_not_fit_the_dream(judge, video) -> None:
    with pytest.raises(ValueError, match="judge 'rule' cannot judge a pixel world model"):
        evaluate_policies(
            {"r": "random"},
            "TabletopReach",
            episodes=1,
            checkpoint=video,
            frame_judge=judge,
            image_size=SIZE,
            judge="rule",
            progress=False,
        )
    with pytest.raises(ValueError, match="judge 'probe' cannot judge a state world model"):
        evaluate_policies({"r": "random"}, "TabletopReach", episodes=1, judge="probe", progress=False)
    with pytest.raises(ValueError, match="frame_judge is for pixel dreams"):
        evaluate_policies({"r": "random"}, "TabletopReach", episodes=1, frame_judge=judge, progress=False)
    with pytest.raises(ValueError, match="makes frames of shape"):
        evaluate_policies(
            {"r": "random"}, "TabletopReach", episodes=1, checkpoint=video, frame_judge=judge, progress=False
        )


def test_the_report_of_a_pixel_evaluation(run, tmp_path) -> None:
    import json

    from neural_gym.evaluate import write_evaluation_report

    result, _ = run
    out = write_evaluation_report(result, tmp_path / "report", n_boot=20)
    payload = json.loads((out / "evaluation.json").read_text())
    assert payload["judge_accuracy"]["frame_judge"] is True
    said = np.concatenate([p.judge_on_real["probe"] for p in result.policies.values()])
    assert payload["judge_accuracy"]["overall"]["true_positive"] + payload["judge_accuracy"]["overall"][
        "false_positive"
    ] == int(said.sum())
    md = (out / "report.md").read_text()
    assert "Every judge on the same dream episodes" in md and "the model's own" in md
    assert (out / "videos").is_dir() and (out / "report.html").stat().st_size > 0
