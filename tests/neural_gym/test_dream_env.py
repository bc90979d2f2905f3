"""DreamEnv semantics: seeding, termination vs truncation, uncertainty rules, bad input, model errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neural_gym import DreamEnv


def rollout(env: DreamEnv, seed: int, steps: int = 20) -> list[np.ndarray]:
    obs, _ = env.reset(seed=seed)
    out = [obs]
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        obs, _, term, trunc, _ = env.step(rng.uniform(-3, 3, size=1))
        out.append(obs)
        if term or trunc:
            break
    return out


def test_same_seed_same_trajectory(pendulum_model):
    a = rollout(DreamEnv("InvertedPendulum", pendulum_model), seed=3)
    b = rollout(DreamEnv("InvertedPendulum", pendulum_model), seed=3)
    c = rollout(DreamEnv("InvertedPendulum", pendulum_model), seed=4)
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_observations_are_in_the_ground_truth_space(pendulum_model):
    env = DreamEnv("InvertedPendulum", pendulum_model)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float64 and env.observation_space.contains(obs)
    obs, reward, term, trunc, info = env.step(np.zeros(1, dtype=np.float32))
    assert env.observation_space.contains(obs)
    assert isinstance(reward, float) and isinstance(term, bool) and isinstance(trunc, bool)
    assert set(info) == {"uncertainty", "uncertainty_exceeded", "model_error"}


def test_known_termination_terminates_not_truncates(pendulum_model):
    # Start with the pole already past the 0.2 rad limit: the task's own rule must end the episode as terminated.
    env = DreamEnv("InvertedPendulum", pendulum_model, on_uncertain="penalize")
    env.reset(seed=0, options={"obs": np.array([0.0, 0.19, 0.0, 3.0])})
    for _ in range(10):
        _, reward, term, trunc, _ = env.step(np.array([-3.0]))
        if term or trunc:
            break
    assert term and not trunc
    assert reward <= 0.0  # InvertedPendulum pays 1 only while the pole is up


def test_time_limit_truncates(pendulum_model):
    env = DreamEnv("InvertedPendulum", pendulum_model, max_episode_steps=3, uncertainty_threshold=1e9)
    env.reset(seed=0, options={"obs": np.zeros(4)})
    flags = [env.step(np.zeros(1))[2:4] for _ in range(3)]
    assert flags[:2] == [(False, False), (False, False)]
    assert flags[2] == (False, True)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(1))


def far_state(model) -> np.ndarray:
    """An observation 40 training-data standard deviations from the mean in every dimension."""
    obs_dim = model.spec.obs_shape[0]
    return model.input_mean[:obs_dim].cpu().numpy() + 40 * model.input_std[:obs_dim].cpu().numpy()


def test_out_of_distribution_state_is_cut(narrow_action_model):
    # Reacher never terminates, so the only way this episode can end after one step is the uncertainty cut-off.
    env = DreamEnv("Reacher", narrow_action_model)
    env.reset(seed=0, options={"obs": far_state(narrow_action_model)})
    _, _, term, trunc, info = env.step(np.zeros(2))
    assert info["uncertainty_exceeded"] and trunc and not term
    assert info["uncertainty"] > narrow_action_model.spec.calibration.threshold


def test_in_distribution_steps_are_not_cut(pendulum_model):
    env = DreamEnv("InvertedPendulum", pendulum_model, start="dataset")
    rng = np.random.default_rng(0)
    cut = 0
    for ep in range(40):
        env.reset(seed=ep)
        _, _, _, _, info = env.step(rng.uniform(-3, 3, size=1))
        cut += info["uncertainty_exceeded"]
    assert cut <= 2  # calibrated at the 99.9% quantile of held-out real transitions


def test_out_of_distribution_actions_are_cut(narrow_action_model):
    # The model only saw |a| <= 0.05; full-range actions are outside its data even though inside the action space.
    def cut_rate(scale: float) -> float:
        env = DreamEnv("Reacher", narrow_action_model, start="dataset")
        hits = 0
        for ep in range(30):
            env.reset(seed=ep)
            _, _, _, _, info = env.step(np.full(2, scale))
            hits += info["uncertainty_exceeded"]
        return hits / 30

    assert cut_rate(0.02) <= 0.1
    assert cut_rate(1.0) >= 0.9


def test_terminate_rule_halts_with_penalty(pendulum_model):
    env = DreamEnv("InvertedPendulum", pendulum_model, on_uncertain="terminate", halt_penalty=50.0, termination="learned")
    env.reset(seed=0, options={"obs": far_state(pendulum_model)})
    _, reward, term, trunc, info = env.step(np.zeros(1))
    assert term and not trunc and reward == -50.0 and info["uncertainty_exceeded"]


def test_penalize_rule_subtracts_lambda_times_uncertainty(pendulum_model):
    kw = dict(termination="learned", reward="learned")
    plain = DreamEnv("InvertedPendulum", pendulum_model, on_uncertain="penalize", penalty=0.0, **kw)
    pen = DreamEnv("InvertedPendulum", pendulum_model, on_uncertain="penalize", penalty=2.0, **kw)
    start = {"obs": far_state(pendulum_model)}
    plain.reset(seed=0, options=start)
    pen.reset(seed=0, options=start)
    _, r0, _, trunc0, info0 = plain.step(np.zeros(1))
    _, r1, _, trunc1, info1 = pen.step(np.zeros(1))
    assert not trunc0 and not trunc1  # penalize never cuts
    assert r1 == pytest.approx(r0 - 2.0 * info1["uncertainty"], rel=1e-6)


@pytest.mark.parametrize("action", [np.zeros(2), np.zeros((1, 1)), np.array([np.nan]), np.array([np.inf]), "left"])
def test_bad_actions_raise_value_error(pendulum_model, action):
    env = DreamEnv("InvertedPendulum", pendulum_model)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"Box|shape|finite"):
        env.step(action)


def test_bad_options_and_kwargs(pendulum_model):
    env = DreamEnv("InvertedPendulum", pendulum_model)
    with pytest.raises(ValueError, match="obs"):
        env.reset(options={"observation": np.zeros(4)})
    with pytest.raises(ValueError, match=r"shape \[1, 4\].*got shape \(1, 3\)"):
        env.reset(options={"obs": np.zeros(3)})
    with pytest.raises(ValueError, match="on_uncertain"):
        DreamEnv("InvertedPendulum", pendulum_model, on_uncertain="ignore")
    with pytest.raises(ValueError, match="no exact reward"):
        DreamEnv("HalfCheetah", reward="known")
    with pytest.raises(ValueError, match="trained for task InvertedPendulum"):
        DreamEnv("Reacher", pendulum_model)


def test_non_finite_model_output_ends_episode_without_nan(pendulum_model, monkeypatch):
    env = DreamEnv("InvertedPendulum", pendulum_model)
    obs0, _ = env.reset(seed=0)
    real_step = pendulum_model.step

    def broken(state, action, member=None, return_members=False):
        pred = real_step(state, action, member=member, return_members=return_members)
        pred.state = torch.full_like(pred.state, float("nan"))
        return pred

    monkeypatch.setattr(pendulum_model, "step", broken)
    obs, reward, term, trunc, info = env.step(np.zeros(1))
    assert info["model_error"] and trunc and not term
    assert np.isfinite(obs).all() and np.array_equal(obs, obs0) and np.isfinite(reward)


def test_member_propagation_differs_from_mean(pendulum_model):
    def traj(propagation: str, seed: int) -> np.ndarray:
        env = DreamEnv("InvertedPendulum", pendulum_model, propagation=propagation, uncertainty_threshold=1e9)
        env.reset(seed=seed, options={"obs": np.array([0.0, 0.05, 0.1, -0.1])})
        return np.stack([env.step(np.array([0.5]))[0] for _ in range(5)])

    members = [traj("member", s) for s in range(6)]
    assert any(not np.allclose(members[0], m) for m in members[1:])  # different elites drawn → different dreams
    assert np.array_equal(traj("mean", 0), traj("mean", 1))  # the mean does not depend on the draw


def test_render_draws_predicted_state(pendulum_model):
    env = DreamEnv("InvertedPendulum", pendulum_model, render_mode="rgb_array")
    env.reset(seed=0)
    f0 = env.render()
    env.step(np.array([3.0]))
    env.step(np.array([3.0]))
    f1 = env.render()
    assert f0.shape == (480, 480, 3) and f0.dtype == np.uint8
    assert not np.array_equal(f0, f1)
    env.close()
