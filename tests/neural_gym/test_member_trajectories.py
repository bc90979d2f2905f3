"""The member-trajectory signal in Dream envs: every elite propagated on its own from the episode's start, their
spread as the cut-off signal (checked by hand against the model's own per-member steps), one state per env reset with
it, the followed member's observation unchanged, the checkers, a calibration that chooses it, and refusals."""

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
from neural_gym.cutoff import TRAJECTORY_SIGNAL, env_signals
from neural_gym.drift.records import TRAJECTORY_SIGNAL as RECORDED_SIGNAL
from neural_gym.member_trajectories import MemberTrajectories
from neural_gym.world_models import EnsembleModel
from neural_gym.world_models.calibration import (
    RolloutCalibration,
    RolloutRecords,
    conformal_risk_curve,
    threshold_from_risk_curve,
)
from neural_gym.world_models.uncertainty import ensemble_std

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py
BIG = 1e9  # a threshold nothing reaches


def _by_hand(model: EnsembleModel, start: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Spread after each step of every elite stepped on its own (``step(member=e)``) from ``start``, in σ units."""
    E = model.num_members
    state = torch.as_tensor(np.repeat(start[None], E, 0), dtype=torch.float32)  # (E, O): row e is elite e's
    ids = torch.arange(E)
    std = model.obs_std.double()
    out = []
    with torch.inference_mode():
        for a in actions:
            act = torch.as_tensor(np.repeat(np.clip(a, -3, 3)[None], E, 0), dtype=torch.float32)
            state = model.step(state, act, member=ids).state
            out.append(float(ensemble_std((state.double() / std)[:, None])[0]))
    return np.array(out)


def test_the_signal_is_the_spread_of_every_elites_own_trajectory(pendulum_model: EnsembleModel) -> None:
    assert TRAJECTORY_SIGNAL == RECORDED_SIGNAL  # the name the calibration records
    actions = np.random.default_rng(0).uniform(-0.5, 0.5, size=(15, 1))
    env = DreamEnv("InvertedPendulum", pendulum_model, uncertainty_signal=TRAJECTORY_SIGNAL, uncertainty_threshold=BIG)
    plain = DreamEnv("InvertedPendulum", pendulum_model, uncertainty_threshold=BIG)
    assert env.cutoff.signal == TRAJECTORY_SIGNAL and env.engine.trajectories is not None
    assert plain.engine.trajectories is None  # the default path carries nothing more
    obs, _ = env.reset(seed=4)
    obs_plain, _ = plain.reset(seed=4)
    np.testing.assert_array_equal(obs, obs_plain)
    values = []
    for a in actions:
        obs, reward, term, trunc, info = env.step(a)
        obs_plain, reward_plain, *_ = plain.step(a)
        np.testing.assert_array_equal(obs, obs_plain)  # the observation served is still the followed member's
        assert reward == reward_plain and not (term or trunc)
        values.append(info["uncertainty"])
    expected = _by_hand(pendulum_model, env.engine._episode_start[0], actions)
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-7)
    assert values[-1] > values[0] > 0  # the elites' trajectories drift apart


def test_one_trajectory_state_per_env_reset_with_it(pendulum_model: EnsembleModel) -> None:
    """Short time limits force autoresets: each env's spread restarts from its own new start, the others go on."""
    n, limit = 3, 4
    venv = DreamVectorEnv(
        "InvertedPendulum",
        pendulum_model,
        num_envs=n,
        max_episode_steps=limit,
        uncertainty_signal=TRAJECTORY_SIGNAL,
        uncertainty_threshold=BIG,
    )
    obs, _ = venv.reset(seed=[7, 8, 9])
    starts, taken = obs.copy(), [[] for _ in range(n)]
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(10):
        actions = rng.uniform(-1, 1, size=(n, 1))
        obs, _, term, trunc, info = venv.step(actions)
        for i in range(n):
            if not info["_uncertainty"][i]:  # NEXT_STEP autoreset: this step restarted env i
                starts[i], taken[i] = obs[i], []
                continue
            taken[i].append(actions[i])
            expected = _by_hand(pendulum_model, starts[i], np.array(taken[i]))[-1]
            assert info["uncertainty"][i] == pytest.approx(expected, rel=1e-5, abs=1e-7)
            checked += 1
    assert checked >= 20
    venv.close()


def test_the_signal_cuts_where_the_spread_first_exceeds(pendulum_model: EnsembleModel) -> None:
    actions = np.random.default_rng(2).uniform(-0.5, 0.5, size=(12, 1))
    env = DreamEnv("InvertedPendulum", pendulum_model, uncertainty_signal=TRAJECTORY_SIGNAL, uncertainty_threshold=BIG)
    env.reset(seed=5)
    spread = _by_hand(pendulum_model, env.engine._episode_start[0], actions)
    # the first step from the 4th on whose spread clearly tops every earlier one; the threshold halfway below it
    first = next(k for k in range(3, len(spread)) if spread[k] > 1.01 * spread[:k].max())
    threshold = float(spread[:first].max() + spread[first]) / 2
    cut = DreamEnv(
        "InvertedPendulum", pendulum_model, uncertainty_signal=TRAJECTORY_SIGNAL, uncertainty_threshold=threshold
    )
    cut.reset(seed=5)
    for step, a in enumerate(actions[: first + 1]):
        _, _, terminated, truncated, info = cut.step(a)
        assert not terminated and truncated == (step == first) and info["uncertainty_exceeded"] == (step == first)


def test_env_checkers_pass_with_the_member_trajectory_signal(pendulum_model: EnsembleModel) -> None:
    for kwargs in ({}, {"on_uncertain": "penalize", "penalty": 0.5}):
        env = gym.make(
            "neural_gym/InvertedPendulum-v0",
            checkpoint=pendulum_model,
            uncertainty_signal=TRAJECTORY_SIGNAL,
            uncertainty_threshold=1.0,
            **kwargs,
        )
        gym_check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env.unwrapped, warn=True)
        env.close()
    venv = DreamVectorEnv(
        "InvertedPendulum", pendulum_model, num_envs=2, uncertainty_signal=TRAJECTORY_SIGNAL, uncertainty_threshold=1.0
    ).to_sb3()
    venv.reset()
    _, _, _, infos = venv.step(np.zeros((2, 1)))
    assert all(np.isfinite(info["uncertainty"]) for info in infos)
    venv.close()


def test_a_rollout_calibration_on_member_trajectories_is_the_default_cutoff(pendulum_model: EnsembleModel) -> None:
    rng = np.random.default_rng(0)
    d = [np.cumsum(rng.lognormal(-3, 0.3, size=30)) for _ in range(40)]
    rec = RolloutRecords(error=[x * 20 for x in d], signals={TRAJECTORY_SIGNAL: d})
    t, r = conformal_risk_curve(rec, TRAJECTORY_SIGNAL, 1.0)
    threshold, _ = threshold_from_risk_curve(t, r, 40, 0.2)
    cal = RolloutCalibration(TRAJECTORY_SIGNAL, threshold, 0.2, 1.0, "nrmse", 40, t.tolist(), r.tolist(), scored_on={})
    model = copy.deepcopy(pendulum_model)
    model.spec = dataclasses.replace(model.spec, calibration=dataclasses.replace(model.spec.calibration, rollout=cal))
    env = DreamEnv("InvertedPendulum", model)
    assert (env.cutoff.signal, env.cutoff.source) == (TRAJECTORY_SIGNAL, "rollout calibration")
    assert env.engine.trajectories is not None
    assert DreamEnv("InvertedPendulum", model, uncertainty_risk=0.3).cutoff.signal == TRAJECTORY_SIGNAL
    # the one-step rule is still there on request, without the member states
    one = DreamEnv("InvertedPendulum", model, uncertainty_signal="disagreement")
    assert one.cutoff.source == "one-step calibration" and one.engine.trajectories is None


def test_other_families_and_models_without_a_std_are_refused(pendulum_model: EnsembleModel) -> None:
    assert TRAJECTORY_SIGNAL in env_signals("ensemble")
    assert TRAJECTORY_SIGNAL not in env_signals("latent") and TRAJECTORY_SIGNAL not in env_signals("video")
    other = copy.deepcopy(pendulum_model)
    other.spec = dataclasses.replace(other.spec, family="latent")
    with pytest.raises(ValueError, match="members carry their own state.*latent model"):
        MemberTrajectories(other, 2)
    with pytest.raises(ValueError, match="no calibrated threshold for uncertainty_signal='member_trajectories'"):
        DreamEnv("InvertedPendulum", pendulum_model, uncertainty_signal=TRAJECTORY_SIGNAL)
    with pytest.raises(RuntimeError, match="reset the envs"):
        MemberTrajectories(pendulum_model, 1).step(torch.zeros(1, 1))
