"""train_ensemble on a synthetic damped oscillator: accuracy, reward, termination, calibration, reproducibility."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neural_gym.world_models import EnsembleConfig, EnsembleModel, TrainReport, train_ensemble
from neural_gym.world_models.ensemble.train import _split

TINY = EnsembleConfig(ensemble_size=4, num_elites=3, hidden_size=32, num_layers=2)
X_TERMINAL = 0.8


def oscillator(n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` transitions of a damped, driven oscillator plus a slow third state, from random states and actions.

    Reward ``-x'^2 - 0.1 a^2``; terminated when ``x' > 0.8``; 100-step "episodes" for the episode split.
    """
    rng = np.random.default_rng(seed)
    obs = rng.uniform(-1.0, 1.0, size=(n, 3))
    act = rng.uniform(-1.0, 1.0, size=(n, 1))
    x, v, c = obs.T
    dt = 0.1
    nv = v + dt * (-2.0 * x - 0.3 * v + act[:, 0])
    nx = x + dt * nv
    nc = 0.9 * c + 0.1 * np.sin(x)
    next_obs = np.column_stack([nx, nv, nc])
    return {
        "obs": obs,
        "actions": act,
        "next_obs": next_obs,
        "rewards": -(nx**2) - 0.1 * act[:, 0] ** 2,
        "terminated": nx > X_TERMINAL,
        "episode_ids": np.arange(n) // 100,
    }


def fit(data: dict[str, np.ndarray], **kw: object) -> tuple[EnsembleModel, TrainReport]:
    """Tiny, quiet, CPU training run."""
    args: dict[str, object] = {
        "task": "Oscillator",
        "task_env_id": "Oscillator-v0",
        "action_low": [-1.0],
        "action_high": [1.0],
        "config": TINY,
        "batch_size": 64,
        "device": "cpu",
        "progress": False,
    }
    args.update(kw)
    return train_ensemble(
        data["obs"],
        data["actions"],
        data["next_obs"],
        data["rewards"],
        data["terminated"],
        **args,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def trained() -> tuple[EnsembleModel, TrainReport]:
    data = oscillator(3000, seed=0)
    return fit(data, episode_ids=data["episode_ids"], max_epochs=50, patience=5, provenance={"dataset": "synthetic"})


@pytest.fixture(scope="module")
def fresh() -> dict[str, np.ndarray]:
    """Held-out transitions from the same distribution, never seen in training."""
    return oscillator(2000, seed=99)


def step(model: EnsembleModel, obs: np.ndarray, act: np.ndarray, **kw: object):  # noqa: ANN201
    return model.step(torch.as_tensor(obs, dtype=torch.float32), torch.as_tensor(act, dtype=torch.float32), **kw)


def test_report(trained: tuple[EnsembleModel, TrainReport]) -> None:
    model, report = trained
    assert 1 <= report.epochs <= 50
    assert len(report.train_loss) == len(report.holdout_mse) == report.epochs
    assert all(len(row) == 4 for row in report.holdout_mse)
    assert report.train_loss[-1] < report.train_loss[0]
    assert report.n_train + report.n_holdout == 3000 and report.n_holdout == 300  # 3 whole episodes
    assert report.elites == model.spec.elites == model.elite_idx.tolist()
    best = np.min(np.array(report.holdout_mse), axis=0)
    assert sorted(report.elites) == sorted(np.argsort(best)[:3].tolist())
    assert report.best_holdout_mse == pytest.approx(best[report.elites].mean(), rel=1e-5)
    assert report.train_samples_per_s > 0 and report.wall_time_s > 0
    assert not model.training


def test_provenance_and_start_states(trained: tuple[EnsembleModel, TrainReport]) -> None:
    model, report = trained
    prov = model.spec.provenance
    assert prov["dataset"] == "synthetic" and prov["seed"] == 0
    assert prov["n_train"] == report.n_train and prov["epochs"] == report.epochs
    for key in ("torch", "numpy", "python", "best_holdout_mse", "wall_time_s", "trained_at"):
        assert key in prov
    assert model.start_states.shape == (2048, 3)
    assert (model.start_states.abs() <= 1.0).all()


def test_beats_copying_the_last_state(trained: tuple[EnsembleModel, TrainReport], fresh: dict[str, np.ndarray]) -> None:
    model, report = trained
    assert report.best_holdout_mse < 0.05  # normalized units; predicting zero delta scores >= 1
    pred = step(model, fresh["obs"], fresh["actions"])
    model_mse = ((pred.state.numpy() - fresh["next_obs"]) ** 2).mean()
    copy_mse = ((fresh["obs"] - fresh["next_obs"]) ** 2).mean()
    assert model_mse < 0.02 * copy_mse


def test_learned_reward(trained: tuple[EnsembleModel, TrainReport], fresh: dict[str, np.ndarray]) -> None:
    model, _ = trained
    reward = step(model, fresh["obs"], fresh["actions"]).reward.numpy()
    assert ((reward - fresh["rewards"]) ** 2).mean() < 0.05 * fresh["rewards"].var()


def test_learned_termination(trained: tuple[EnsembleModel, TrainReport], fresh: dict[str, np.ndarray]) -> None:
    model, _ = trained
    p = step(model, fresh["obs"], fresh["actions"]).terminated.numpy()
    truth = fresh["terminated"]
    assert 0.05 < truth.mean() < 0.2
    assert ((p > 0.5) == truth).mean() > 0.93  # the base rate alone would score ~0.9
    far_from_edge = np.abs(fresh["next_obs"][:, 0] - X_TERMINAL) > 0.2
    assert ((p > 0.5) == truth)[far_from_edge].mean() > 0.99


def test_calibration(trained: tuple[EnsembleModel, TrainReport], fresh: dict[str, np.ndarray]) -> None:
    model, report = trained
    cal = model.spec.calibration
    assert cal is report.calibration or cal == report.calibration
    assert cal.measure == "ensemble_std" and cal.quantile == 0.999 and cal.heldout_size == report.n_holdout
    assert set(cal.thresholds) == {"ensemble_std", "aleatoric_max", "pairwise_max"}
    for q in cal.heldout_quantiles.values():
        assert list(q) == ["0.5", "0.9", "0.99", "0.999", "max"]
        assert q["0.5"] <= q["0.9"] <= q["0.99"] <= q["0.999"] <= q["max"]
    inside = step(model, fresh["obs"], fresh["actions"]).disagreement
    assert (inside < cal.threshold).float().mean() >= 0.95
    outside = step(model, fresh["obs"] * 20.0, fresh["actions"] * 5.0).disagreement
    assert (outside > cal.threshold).float().mean() >= 0.9


def test_same_seed_same_weights_other_seed_differs() -> None:
    data = oscillator(600, seed=1)
    a, _ = fit(data, max_epochs=2, seed=3)
    b, _ = fit(data, max_epochs=2, seed=3)
    c, _ = fit(data, max_epochs=2, seed=4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["head.weight"], sc["head.weight"])


def test_global_rng_untouched() -> None:
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    fit(oscillator(300, seed=2), max_epochs=1)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state[1])


def test_no_terminal_transitions_means_never_terminating() -> None:
    data = oscillator(600, seed=3)
    data["terminated"] = np.zeros(600, dtype=bool)
    model, _ = fit(data, max_epochs=2)
    assert step(model, data["obs"] * 5, data["actions"]).terminated.max() < 1e-6


def test_row_split_step_cap_and_measure_choice(tmp_path: Path) -> None:
    model, report = fit(
        oscillator(500, seed=4),
        max_epochs=2,
        max_train_steps_per_epoch=2,
        holdout_fraction=0.2,
        max_holdout=60,
        measure="pairwise_max",
        calibration_scale=2.0,
        max_start_states=10,
        tensorboard_dir=str(tmp_path / "tb"),
    )
    assert report.n_holdout == 60 and report.n_train == 440
    cal = model.spec.calibration
    assert cal.measure == "pairwise_max" and cal.scale == 2.0
    for m, q in cal.heldout_quantiles.items():
        assert cal.thresholds[m] == pytest.approx(2.0 * q["0.999"])
    assert model.start_states.shape == (10, 3)
    assert any((tmp_path / "tb").iterdir())


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"actions": np.zeros((500, 2))}, r"actions must have shape \[N=500, A=1\]"),
        ({"next_obs": np.zeros((500, 4))}, r"next_obs must have the shape of obs \[500, 3\], got \(500, 4\)"),
        ({"rewards": np.zeros(499)}, r"rewards must have shape \[N=500\], got \(499,\)"),
        ({"terminated": np.full(500, 2)}, "terminated must be booleans or 0/1"),
        ({"obs": np.full((500, 3), np.nan)}, "obs must be finite; 500 of 500 rows"),
    ],
)
def test_bad_data_is_refused(change: dict[str, np.ndarray], match: str) -> None:
    data = oscillator(500, seed=5)
    data.update(change)
    with pytest.raises(ValueError, match=match):
        fit(data, max_epochs=1)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"measure": "vibes"}, "measure must be one of"),
        ({"holdout_fraction": 0.0}, "holdout_fraction must be in"),
        ({"episode_ids": np.zeros(500)}, "at least 2 episodes"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
    ],
)
def test_bad_arguments_are_refused(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit(oscillator(500, seed=5), max_epochs=1, **kw)


def test_early_stopping_keeps_each_members_best_weights() -> None:
    """After training, every member scores its best epoch's held-out MSE (not its last)."""
    data = oscillator(800, seed=6)
    model, report = fit(data, max_epochs=40, patience=2, lr=3e-2, seed=0)  # large lr: noisy epochs
    assert report.epochs < 40
    _, hold = _split(800, None, 0.1, 5000, np.random.default_rng(0))  # the split train_ensemble made
    obs = torch.as_tensor(data["obs"][hold], dtype=torch.float32)
    act = torch.as_tensor(data["actions"][hold], dtype=torch.float32)
    target = np.column_stack([data["next_obs"][hold] - data["obs"][hold], data["rewards"][hold]])
    target_n = (torch.as_tensor(target, dtype=torch.float32) - model.target_mean) / model.target_std
    with torch.no_grad():
        mean, _, _ = model.forward_members(obs, act, members="all")
    mse = (mean - target_n).square().mean(dim=(1, 2)).numpy()
    np.testing.assert_allclose(mse, np.min(report.holdout_mse, axis=0), rtol=1e-4)
    assert (np.min(report.holdout_mse, axis=0) < np.array(report.holdout_mse[-1])).any()
