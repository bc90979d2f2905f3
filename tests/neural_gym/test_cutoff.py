"""The Dream env's cut-off: running signals with per-env state (reset with the env), uncertainty_risk through a
rollout calibration, defaults for checkpoints with and without one, and bad input."""

from __future__ import annotations

import copy
import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from neural_gym import DreamEnv, DreamVectorEnv
from neural_gym.cutoff import ENV_SIGNALS, RunningSignal, resolve_cutoff
from neural_gym.drift.records import ONE_STEP_SIGNALS, TRAJECTORY_SIGNAL
from neural_gym.world_models import EnsembleModel
from neural_gym.world_models.calibration import (
    RolloutCalibration,
    RolloutRecords,
    conformal_risk_curve,
    threshold_from_risk_curve,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py
BIG = 1e9  # a threshold nothing reaches: episodes run to their time limit


def _values(model: EnsembleModel, signal: str, steps: int, seed: int = 0) -> list[float]:
    """info["uncertainty"] over ``steps`` steps of a seeded action sequence, with ``signal`` and no cut-off."""
    env = DreamEnv("InvertedPendulum", model, uncertainty_signal=signal, uncertainty_threshold=BIG)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        *_, info = env.step(rng.uniform(-0.3, 0.3, size=1))
        out.append(info["uncertainty"])
    return out


def test_running_signals_are_running_forms_of_the_one_step_disagreement(pendulum_model: EnsembleModel) -> None:
    assert (*ONE_STEP_SIGNALS, TRAJECTORY_SIGNAL) == ENV_SIGNALS  # the Dream env computes what calibration records
    d = np.array(_values(pendulum_model, "disagreement", 12))
    assert (d > 0).all() and np.unique(d).size > 1
    np.testing.assert_allclose(_values(pendulum_model, "disagreement_max", 12), np.maximum.accumulate(d))
    np.testing.assert_allclose(_values(pendulum_model, "disagreement_sum", 12), np.cumsum(d))
    np.testing.assert_allclose(
        _values(pendulum_model, "disagreement_sum_per_sqrt_step", 12), np.cumsum(d) / np.sqrt(np.arange(1, 13))
    )


def test_running_signal_cuts_where_the_running_sum_first_exceeds(pendulum_model: EnsembleModel) -> None:
    d = np.array(_values(pendulum_model, "disagreement", 12))
    threshold = float(np.cumsum(d)[6] - 1e-9)  # crossed at step 7 (index 6)
    env = DreamEnv(
        "InvertedPendulum", pendulum_model, uncertainty_signal="disagreement_sum", uncertainty_threshold=threshold
    )
    assert env.cutoff.signal == "disagreement_sum" and env.cutoff.source == "uncertainty_threshold"
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for step in range(7):
        _, _, terminated, truncated, info = env.step(rng.uniform(-0.3, 0.3, size=1))
        assert not terminated
        assert truncated == (step == 6) and info["uncertainty_exceeded"] == (step == 6)
    # a new episode starts its sum afresh: its first value is the one-step value of its first step
    env.reset(seed=0)
    *_, info = env.step(np.random.default_rng(0).uniform(-0.3, 0.3, size=1))
    assert info["uncertainty"] == pytest.approx(d[0])


def test_vector_env_keeps_one_running_state_per_env(pendulum_model: EnsembleModel) -> None:
    """Every env's running sum restarts at its own autoreset (short time limits force them), the others continue."""
    kwargs = {"num_envs": 3, "max_episode_steps": 4, "uncertainty_threshold": BIG}
    one = DreamVectorEnv("InvertedPendulum", pendulum_model, uncertainty_signal="disagreement", **kwargs)
    run = DreamVectorEnv("InvertedPendulum", pendulum_model, uncertainty_signal="disagreement_sum", **kwargs)
    one.reset(seed=[1, 2, 3])
    run.reset(seed=[1, 2, 3])
    rng = np.random.default_rng(0)
    total, restarts = np.zeros(3), 0
    for _ in range(11):
        actions = rng.uniform(-3, 3, size=(3, 1))
        _, _, term_a, trunc_a, info_a = one.step(actions)
        _, _, term_b, trunc_b, info_b = run.step(actions)
        np.testing.assert_array_equal(term_a, term_b)
        np.testing.assert_array_equal(trunc_a, trunc_b)
        valid = info_a["_uncertainty"]  # NEXT_STEP: restarting envs report nothing this step
        restarts += int((~valid).sum())
        total = np.where(valid, total + info_a["uncertainty"], 0.0)
        np.testing.assert_allclose(info_b["uncertainty"][valid], total[valid])
    assert restarts >= 3


def test_running_signal_state() -> None:
    run = RunningSignal("disagreement_max", 3)
    assert run.update(np.array([1.0, 2.0, 0.5]), np.ones(3)).tolist() == [1.0, 2.0, 0.5]
    assert run.update(np.array([0.5, 3.0, np.inf]), np.full(3, 2)).tolist() == [1.0, 3.0, np.inf]
    run.reset(np.array([False, False, True]))
    assert run.update(np.array([0.0, 0.0, 0.25]), np.array([3, 3, 1])).tolist() == [1.0, 3.0, 0.25]
    per_sqrt = RunningSignal("disagreement_sum_per_sqrt_step", 1)
    per_sqrt.update(np.array([1.0]), np.array([1]))
    assert per_sqrt.update(np.array([3.0]), np.array([4])).tolist() == [2.0]
    spread = RunningSignal("member_trajectories", 2)  # the engine's member spread passes through unchanged
    assert spread.update(np.array([0.5, 2.0]), np.ones(2)).tolist() == [0.5, 2.0]
    assert spread.update(np.array([0.25, np.inf]), np.full(2, 2)).tolist() == [0.25, np.inf]
    with pytest.raises(ValueError, match="uncertainty_signal must be one of"):
        RunningSignal("member_spread", 1)


# --------------------------------------------------------------------------------------- rollout-calibrated checkpoints
def _calibrated(model: EnsembleModel, signal: str = "disagreement_sum") -> EnsembleModel:
    """A copy of ``model`` with a rollout calibration on synthetic records whose signal scale is the model's."""
    rng = np.random.default_rng(0)
    scale = float(np.mean(_values(model, "disagreement", 5)))
    d = [scale * rng.lognormal(0, 0.3, size=30) for _ in range(40)]
    rec = RolloutRecords(error=[np.abs(np.cumsum(x * rng.normal(size=30))) / scale / 3 for x in d],
                         signals={signal: [np.cumsum(x) for x in d]})  # fmt: skip
    t, r = conformal_risk_curve(rec, signal, 1.0)
    threshold, _ = threshold_from_risk_curve(t, r, 40, 0.2)
    cal = RolloutCalibration(
        signal, threshold, 0.2, 1.0, "nrmse", 40, t.tolist(), r.tolist(), scored_on={"task": "InvertedPendulum"}
    )
    out = copy.deepcopy(model)
    out.spec = dataclasses.replace(out.spec, calibration=dataclasses.replace(out.spec.calibration, rollout=cal))
    return out


@pytest.fixture(scope="module")
def calibrated(pendulum_model: EnsembleModel) -> EnsembleModel:
    return _calibrated(pendulum_model)


def test_rollout_calibration_is_the_default_cutoff(calibrated: EnsembleModel, pendulum_model: EnsembleModel) -> None:
    rollout = calibrated.spec.calibration.rollout
    env = DreamEnv("InvertedPendulum", calibrated)
    assert env.cutoff.signal == "disagreement_sum" and env.cutoff.threshold == rollout.threshold
    assert env.cutoff.source == "rollout calibration" and env.cutoff.risk == 0.2
    assert env.engine.rule.threshold == rollout.threshold
    env.reset(seed=0)
    *_, info = env.step(np.zeros(1))
    *_, info2 = env.step(np.zeros(1))
    assert info2["uncertainty"] > info["uncertainty"]  # info["uncertainty"] is the signal used: a running sum
    # the one-step rule and its threshold are still there on request
    one = DreamEnv("InvertedPendulum", calibrated, uncertainty_signal="disagreement")
    assert one.cutoff.threshold == pendulum_model.spec.calibration.threshold and one.cutoff.signal == "disagreement"


def test_uncertainty_risk_threshold_is_monotone_in_alpha(calibrated: EnsembleModel) -> None:
    rollout = calibrated.spec.calibration.rollout
    alphas = [0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.8]
    thresholds = []
    for alpha in alphas:
        env = DreamEnv("InvertedPendulum", calibrated, uncertainty_risk=alpha)
        assert env.cutoff.source == "uncertainty_risk" and env.cutoff.risk == alpha
        assert env.cutoff.threshold == rollout.threshold_for_risk(alpha)
        thresholds.append(env.cutoff.threshold)
    assert all(b >= a for a, b in zip(thresholds[:-1], thresholds[1:], strict=True))
    assert thresholds[-1] > thresholds[0]
    vec = gym.make_vec("neural_gym/InvertedPendulum-v0", num_envs=2, checkpoint=calibrated, uncertainty_risk=0.3)
    assert vec.unwrapped.cutoff.threshold == thresholds[alphas.index(0.3)]
    vec.close()


def test_env_checkers_pass_with_a_rollout_calibrated_checkpoint(calibrated: EnsembleModel) -> None:
    for kwargs in ({}, {"uncertainty_risk": 0.1}, {"uncertainty_risk": 0.5, "on_uncertain": "penalize"}):
        env = gym.make("neural_gym/InvertedPendulum-v0", checkpoint=calibrated, **kwargs)
        gym_check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env.unwrapped, warn=True)
        env.close()
    venv = DreamVectorEnv("InvertedPendulum", calibrated, num_envs=2, uncertainty_risk=0.1).to_sb3()
    venv.reset()
    _, _, _, infos = venv.step(np.zeros((2, 1)))
    assert all("uncertainty" in info for info in infos)
    venv.close()


def test_checkpoint_without_rollout_calibration_behaves_as_before(pendulum_model: EnsembleModel) -> None:
    env = DreamEnv("InvertedPendulum", pendulum_model)
    cut = env.cutoff
    assert (cut.signal, cut.source, cut.risk) == ("disagreement", "one-step calibration", None)
    assert cut.threshold == pendulum_model.spec.calibration.threshold == env.engine.rule.threshold
    # info["uncertainty"] is the model's own one-step disagreement of the followed member, step by step
    obs, _ = env.reset(seed=3)
    member = torch.as_tensor(env.engine.members.copy())
    state = torch.as_tensor(obs[None], dtype=torch.float32)
    for a in (0.5, -1.0, 2.0):
        *_, info = env.step(np.array([a]))
        with torch.inference_mode():
            pred = pendulum_model.step(state, torch.tensor([[a]], dtype=torch.float32), member=member)
        assert info["uncertainty"] == pytest.approx(float(pred.disagreement[0]), rel=1e-6)
        state = pred.state
    with pytest.raises(ValueError, match=r"calibrated on rollouts and this one is not.*neural-gym calibrate --task"):
        DreamEnv("InvertedPendulum", pendulum_model, uncertainty_risk=0.1)
    with pytest.raises(ValueError, match=r"no calibrated threshold for uncertainty_signal='disagreement_max'"):
        DreamEnv("InvertedPendulum", pendulum_model, uncertainty_signal="disagreement_max")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"uncertainty_risk": 0.1, "uncertainty_threshold": 1.0}, "not both"),
        ({"uncertainty_risk": 0.0}, r"uncertainty_risk must be a number in \(0, 1\)"),
        ({"uncertainty_risk": 1.0}, r"in \(0, 1\)"),
        ({"uncertainty_risk": True}, r"in \(0, 1\)"),
        ({"uncertainty_risk": "0.1"}, r"in \(0, 1\)"),
        ({"uncertainty_risk": 0.01}, r"below 1/\(n\+1\)"),
        ({"uncertainty_risk": 0.1, "uncertainty_signal": "disagreement"}, "has no conformal calibration"),
        ({"uncertainty_signal": "member_spread"}, "uncertainty_signal must be one of"),
        ({"uncertainty_signal": "member_trajectories"}, "no calibrated threshold for uncertainty_signal"),
        ({"uncertainty_threshold": float("nan")}, "positive finite"),
        ({"uncertainty_threshold": -1.0}, "positive finite"),
    ],
)
def test_bad_cutoff_arguments(calibrated: EnsembleModel, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DreamEnv("InvertedPendulum", calibrated, **kwargs)


def test_a_rollout_signal_the_env_cannot_compute_is_refused(pendulum_model: EnsembleModel) -> None:
    model = _calibrated(pendulum_model, signal="disagreement_ewma")
    with pytest.raises(ValueError, match="cannot compute"):
        resolve_cutoff(model.spec.calibration)
