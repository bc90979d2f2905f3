"""Rollout drift: exact replay, figures checked by hand, settings, reports written all-or-nothing, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from neural_gym.drift import measure_drift, replay_ground_truth, roll_model, write_report
from neural_gym.drift import report as report_module
from neural_gym.drift.cli import main as drift_main
from neural_gym.envs import collect, get_task, load_episodes
from neural_gym.train import fit_world_model
from neural_gym.world_models import CheckpointError, EnsembleConfig, EnsembleModel, WorldModel, save_checkpoint
from neural_gym.world_models.baselines import CopyLastModel, LinearExtrapolationModel

ALL_TASKS = ["InvertedPendulum", "Reacher", "HalfCheetah", "Hopper", "Pusher", "Walker2d"]
TINY = EnsembleConfig(ensemble_size=3, num_elites=2, hidden_size=32, num_layers=2)
TRAIN_ID = "drift/Hopper/train-v0"
HELDOUT_ID = "drift/Hopper/heldout-v0"


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def hopper(minari_dir: Path) -> tuple[EnsembleModel, str]:
    """A tiny Hopper ensemble (its training dataset recorded in provenance) and a held-out dataset (seed 1000)."""
    collect("Hopper", 1500, seed=0, dataset_id=TRAIN_ID, progress=False)
    collect("Hopper", 800, seed=1000, dataset_id=HELDOUT_ID, progress=False)
    model, _ = fit_world_model("Hopper", TRAIN_ID, config=TINY, max_epochs=4, seed=0, device="cpu", progress=False)
    return model, HELDOUT_ID


@pytest.fixture(scope="module")
def result(hopper: tuple[EnsembleModel, str]) -> Any:
    model, heldout = hopper
    return measure_drift(
        "Hopper",
        model,
        dataset_id=heldout,
        n_starts=8,
        horizons=(1, 2, 5, 10),
        reground_every=[1],
        action_noise=[0.0, 0.2],
        n_boot=50,
        progress=False,
        device="cpu",
    )


# ------------------------------------------------------------------------------------------------------ exact replay
@pytest.mark.parametrize("name", ALL_TASKS)
def test_replay_from_restored_physics_state_reproduces_recording(name: str, minari_dir: Path) -> None:
    dataset_id = collect(name, 40, seed=7, dataset_id=f"drift/{name}/replay-v0", progress=False)
    episode = load_episodes(dataset_id)[0]
    t = min(3, len(episode) - 1)
    obs, rewards, _ = replay_ground_truth(get_task(name), episode.physics_states[t], episode.actions[t:])
    np.testing.assert_array_equal(obs, episode.observations[t + 1 : t + 1 + len(obs)])
    np.testing.assert_array_equal(rewards, episode.rewards[t : t + len(obs)])
    assert len(obs) == len(episode) - t


def test_drift_replays_the_recording_exactly(result: Any) -> None:
    assert result.meta["replay_max_abs_error"] == 0.0
    sd = result.data[(None, 0.0)]
    for i, s in enumerate(result.starts):
        ep = result.episodes[s.episode_index]
        n = int(sd.gt.valid[i].sum())
        np.testing.assert_array_equal(sd.gt.obs[i, : n + 1], ep.observations[s.t : s.t + n + 1])
        np.testing.assert_array_equal(sd.gt.actions[i, :n], ep.actions[s.t : s.t + n])


# ------------------------------------------------------------------------------------------------------------ figures
def test_nrmse_matches_a_hand_computation(result: Any, hopper: tuple[EnsembleModel, str]) -> None:
    model, _ = hopper
    sd = result.data[(None, 0.0)]
    std = model.obs_std.double().numpy()
    np.testing.assert_array_equal(result.obs_std, std)
    pred = sd.predictions["ensemble"].obs
    for k, h in enumerate(result.horizons):
        alive = sd.gt.valid[:, h - 1]
        z = (pred[alive, h - 1] - sd.gt.obs[alive, h]) / std
        curve = result.base["predictors"]["ensemble"]
        assert curve["nrmse"]["value"][k] == pytest.approx(np.sqrt(np.mean(z**2)))
        assert curve["nrmse"]["low"][k] <= curve["nrmse"]["value"][k] <= curve["nrmse"]["high"][k]
        np.testing.assert_allclose(curve["nrmse_per_dim"][k], np.sqrt(np.mean(z**2, axis=0)))
        assert result.base["starts_alive"][k] == int(alive.sum())
    # the first step's prediction is one model step from the recorded start observation with the recorded action
    one = model.step(
        torch.as_tensor(sd.gt.obs[:, 0], dtype=torch.float32), torch.as_tensor(sd.gt.actions[:, 0], dtype=torch.float32)
    )
    np.testing.assert_allclose(pred[:, 0], one.state.double().numpy(), rtol=1e-6, atol=1e-6)


def test_baselines_share_the_table(result: Any, hopper: tuple[EnsembleModel, str]) -> None:
    model, _ = hopper
    assert result.predictors == ["ensemble", "copy_last", "linear", "single_mlp"]
    base = result.base["predictors"]
    assert base["copy_last"]["reward_mae"] is None and base["single_mlp"]["reward_mae"] is not None
    budget = result.meta["predictors"]["single_mlp"]["budget"]
    assert budget["dataset_id"] == TRAIN_ID
    assert budget["epochs"] == model.spec.provenance["epochs"] and budget["hidden_size"] == 32
    sd = result.data[(None, 0.0)]
    # copy-last predicts the start observation at every step; linear extrapolates from the recorded previous one
    np.testing.assert_allclose(sd.predictions["copy_last"].obs[:, 4], sd.gt.obs[:, 0], atol=1e-5)
    prev = np.stack([result.episodes[s.episode_index].observations[s.t - 1] for s in result.starts])
    np.testing.assert_allclose(sd.predictions["linear"].obs[:, 0], 2 * sd.gt.obs[:, 0] - prev, atol=1e-5)
    assert all(s.t >= 1 for s in result.starts)  # linear wants 2 observations of context


def test_reground_every_step_is_one_step_prediction(result: Any, hopper: tuple[EnsembleModel, str]) -> None:
    model, _ = hopper
    sd = result.data[(1, 0.0)]
    j = 3
    one = model.step(
        torch.as_tensor(sd.gt.obs[:, j], dtype=torch.float32), torch.as_tensor(sd.gt.actions[:, j], dtype=torch.float32)
    )
    np.testing.assert_allclose(sd.predictions["ensemble"].obs[:, j], one.state.double().numpy(), rtol=1e-6, atol=1e-6)
    free = result.data[(None, 0.0)].predictions["ensemble"].obs[:, j]
    assert not np.allclose(free, sd.predictions["ensemble"].obs[:, j])


def test_error_against_the_regrounding_interval(result: Any) -> None:
    reg = result.regrounding()
    assert reg["horizon"] == 10 and reg["intervals"] == [1, None]
    for name in result.predictors:  # the table reads the settings' curves at h=10
        free = result.setting(None, 0.0)["predictors"][name]["nrmse"]["value"][-1]
        every = result.setting(1, 0.0)["predictors"][name]["nrmse"]["value"][-1]
        assert reg["predictors"][name]["value"] == [every, free]
    ens = reg["predictors"]["ensemble"]["value"]
    assert ens[0] < ens[1]  # re-grounded every step: the one-step error, far below the free rollout's at h=10
    assert result.regrounding(horizon=2)["horizon"] == 2
    with pytest.raises(ValueError, match="not reported"):
        result.regrounding(horizon=3)
    assert result.to_json()["regrounding"]["intervals"] == [1, None]


def test_controllability_compares_true_and_shuffled_actions(result: Any, hopper: tuple[EnsembleModel, str]) -> None:
    ctrl = result.controllability
    perm = np.asarray(ctrl["permutation"])
    assert sorted(perm.tolist()) == list(range(len(perm))) and not (perm == np.arange(len(perm))).any()
    true = np.asarray(result.base["predictors"]["ensemble"]["nrmse"]["value"])
    shuffled = np.asarray(ctrl["nrmse_shuffled"]["value"])
    assert np.isfinite(shuffled).all() and (shuffled[1:] > true[1:]).all()  # Hopper's joints follow the torques
    assert np.asarray(ctrl["difference"]["value"])[-1] > 0
    model, heldout = hopper
    copy = CopyLastModel(model.spec)  # ignores its actions: the shuffled rollout is the same rollout
    ignoring = measure_drift(
        "Hopper", copy, dataset_id=heldout, n_starts=4, horizons=(1, 5), baselines=(), n_boot=20, progress=False
    )
    np.testing.assert_array_equal(ignoring.controllability["difference"]["value"], [0.0, 0.0])
    assert "Controllability" in report_module.markdown_report(result, video=False)


def test_action_noise_reaches_both_worlds(result: Any) -> None:
    clean, noisy = result.data[(None, 0.0)], result.data[(None, 0.2)]
    assert not np.allclose(clean.gt.actions[:, 0], noisy.gt.actions[:, 0])
    assert np.abs(noisy.gt.actions).max() <= 1.0
    assert noisy.gt.replay_max_abs_error is None
    assert [(s["reground_every"], s["action_noise"]) for s in result.settings] == [
        (None, 0.0),
        (1, 0.0),
        (None, 0.2),
        (1, 0.2),
    ]


def test_uncertainty_figures_and_json(result: Any) -> None:
    unc = result.base["uncertainty"]
    assert unc is not None and unc["pairs"] == int(result.data[(None, 0.0)].gt.valid.sum())
    assert len(unc["trusted_horizon"]["per_start"]) == len(result.starts)
    payload = json.dumps(result.to_json(), allow_nan=False)  # NaN/inf never reach the JSON
    assert '"auroc"' in payload and '"skipped_horizons"' in payload


def test_auroc_with_one_class_is_flagged(hopper: tuple[EnsembleModel, str]) -> None:
    model, heldout = hopper
    r = measure_drift(
        "Hopper",
        model,
        dataset_id=heldout,
        n_starts=4,
        horizons=(1, 2),
        tau=1e9,
        baselines=(),
        n_boot=10,
        progress=False,
        device="cpu",
    )
    unc = r.to_json()["settings"][0]["uncertainty"]
    assert unc["auroc"]["value"] is None and "no step had normalized error > tau" in unc["auroc_note"]


# ------------------------------------------------------------------------------------------------- policies, horizons
def test_policy_actions_mask_after_real_termination(hopper: tuple[EnsembleModel, str]) -> None:
    model, heldout = hopper
    r = measure_drift(
        "Hopper",
        model,
        dataset_id=heldout,
        n_starts=6,
        horizons=(1, 5, 60),
        actions="random",
        baselines=("copy_last",),
        n_boot=10,
        progress=False,
        device="cpu",
    )
    gt = r.data[(None, 0.0)].gt
    for i in range(len(r.starts)):
        n = int(gt.valid[i].sum())
        assert gt.valid[i, :n].all() and not gt.valid[i, n:].any()  # a prefix
        assert n == gt.valid.shape[1] or gt.terminated[i, n - 1]  # ends only at a real termination
    alive = r.meta["horizons"], r.base["starts_alive"]
    assert list(alive[1]) == sorted(alive[1], reverse=True)


def test_policy_with_wrong_action_shape_is_refused(hopper: tuple[EnsembleModel, str]) -> None:
    model, heldout = hopper
    with pytest.raises(ValueError, match=r"shape \(5,\), expected \(3,\)"):
        measure_drift(
            "Hopper",
            model,
            dataset_id=heldout,
            n_starts=2,
            horizons=(1,),
            actions=lambda obs: np.zeros(5),
            baselines=(),
            progress=False,
        )


def test_horizon_longer_than_the_data_is_refused_or_skipped(hopper: tuple[EnsembleModel, str]) -> None:
    model, heldout = hopper
    with pytest.raises(ValueError, match="longer than any recorded window"):
        measure_drift(
            "Hopper", model, dataset_id=heldout, n_starts=2, horizons=(1, 10_000), baselines=(), progress=False
        )
    r = measure_drift(
        "Hopper", model, dataset_id=heldout, n_starts=4, baselines=(), n_boot=10, progress=False, device="cpu"
    )
    assert "200" in r.meta["skipped_horizons"] and 200 not in r.horizons and 1 in r.horizons


def test_checkpoint_for_another_task_is_refused(hopper: tuple[EnsembleModel, str], tmp_path: Path) -> None:
    model, heldout = hopper
    path = save_checkpoint(model, tmp_path / "hopper.safetensors")
    with pytest.raises(CheckpointError, match="task Hopper"):
        measure_drift("Reacher", str(path), dataset_id=heldout, progress=False)
    with pytest.raises(CheckpointError, match="task Hopper"):
        measure_drift("Reacher", model, dataset_id=heldout, progress=False)


def test_training_data_and_other_task_data_are_refused(hopper: tuple[EnsembleModel, str]) -> None:
    model, _ = hopper
    with pytest.raises(ValueError, match="held-out"):
        measure_drift("Hopper", model, dataset_id=TRAIN_ID, progress=False)
    other = collect("Reacher", 60, seed=1000, dataset_id="drift/Reacher/heldout-v0", progress=False)
    with pytest.raises(ValueError, match="another task"):
        measure_drift("Hopper", model, dataset_id=other, baselines=(), progress=False)


class BurnIn(WorldModel):
    """A stand-in for a burn-in family: wants 3 real steps of context, then copies the last observation."""

    def __init__(self, spec: Any) -> None:
        super().__init__()
        self.inner = CopyLastModel(spec)
        self.spec = self.inner.spec
        self.seen: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

    @property
    def context_length(self) -> int:
        return 3

    @property
    def device(self) -> torch.device:
        return self.inner.device

    def initial_state_from_history(self, observations: torch.Tensor, actions: torch.Tensor) -> Any:
        self.seen.append((tuple(observations.shape), tuple(actions.shape)))
        return observations[:, -1].clone()

    def initial_state(self, context: torch.Tensor) -> Any:
        return context

    def step(self, state: Any, action: torch.Tensor, member: Any = None, return_members: bool = False) -> Any:
        return self.inner.step(state, action)

    def observe(self, state: Any) -> torch.Tensor:
        return state


def test_models_say_how_much_context_they_want(hopper: tuple[EnsembleModel, str]) -> None:
    model, heldout = hopper
    burn = BurnIn(model.spec)
    r = measure_drift(
        "Hopper",
        model,
        dataset_id=heldout,
        n_starts=4,
        horizons=(1, 2),
        baselines=("burn",),
        baseline_models={"burn": burn},
        n_boot=10,
        progress=False,
        device="cpu",
    )
    assert r.meta["context"] == 3 and all(s.t >= 2 for s in r.starts)
    assert burn.seen[0] == ((4, 3, 11), (4, 2, 3))
    ctx = r.data[(None, 0.0)].gt
    lin = roll_model(LinearExtrapolationModel(model.spec), ctx)
    np.testing.assert_allclose(lin.obs[:, 0], 2 * ctx.obs[:, 0] - ctx.context_obs[:, -1], atol=1e-5)


# --------------------------------------------------------------------------------------------------------- reporting
@pytest.mark.slow
def test_write_report_is_complete(result: Any, tmp_path: Path) -> None:
    out = write_report(result, tmp_path / "report", video=True)
    for name in report_module.REPORT_FILES.values():
        assert (out / name).stat().st_size > 0, name
    md = (out / "report.md").read_text()
    assert "copy_last" in md and "AUROC" in md and "error_vs_horizon.png" in md
    assert "Error against the re-grounding interval" in md and "| k=1 |" in md and "| free |" in md
    assert json.loads((out / "drift.json").read_text())["task"] == "Hopper"
    assert sorted(os.listdir(tmp_path)) == ["report"]


def test_report_never_replaces_a_file(result: Any, tmp_path: Path) -> None:
    precious = tmp_path / "model.safetensors"
    precious.write_bytes(b"weights")
    with pytest.raises(FileExistsError, match="is a file"):
        write_report(result, precious, video=False)
    assert precious.read_bytes() == b"weights" and sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


def test_failed_report_leaves_nothing_behind(result: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keep = tmp_path / "old"
    keep.mkdir()
    (keep / "drift.json").write_text("{}")

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("plot failed")

    monkeypatch.setattr(report_module, "plot_settings", broken)
    with pytest.raises(RuntimeError, match="plot failed"):
        write_report(result, tmp_path / "new", video=False)
    with pytest.raises(RuntimeError, match="plot failed"):
        write_report(result, keep, video=False)
    assert sorted(os.listdir(tmp_path)) == ["old"]  # no half-written folder, no temp folder
    assert os.listdir(keep) == ["drift.json"] and (keep / "drift.json").read_text() == "{}"
    with pytest.raises(FileExistsError):
        write_report(result, keep, video=False, overwrite=False)


def test_cli(hopper: tuple[EnsembleModel, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, heldout = hopper
    path = save_checkpoint(model, tmp_path / "hopper.safetensors")
    out = tmp_path / "cli"
    args = ["drift", "--task", "Hopper", "--checkpoint", str(path), "--dataset-id", heldout, "--starts", "4"]
    args += [
        "--horizons",
        "1,2",
        "--baselines",
        "copy_last",
        "--no-video",
        "--n-boot",
        "20",
        "--out",
        str(out),
        "--quiet",
    ]
    assert drift_main(args) == 0
    assert (out / "report.md").exists() and "nRMSE h=1" in capsys.readouterr().out
    bad = tmp_path / "bad"
    assert (
        drift_main(
            [
                "drift",
                "--task",
                "Reacher",
                "--checkpoint",
                str(path),
                "--dataset-id",
                heldout,
                "--out",
                str(bad),
                "--quiet",
            ]
        )
        == 2
    )
    assert "task Hopper" in capsys.readouterr().err and not bad.exists()


def test_default_collects_fresh_heldout_data_in_a_temporary_folder(
    hopper: tuple[EnsembleModel, str], minari_dir: Path
) -> None:
    model, _ = hopper
    r = measure_drift(
        "Hopper",
        model,
        n_starts=3,
        horizons=(1,),
        heldout_steps=200,
        baselines=(),
        n_boot=5,
        progress=False,
        device="cpu",
    )
    assert r.meta["heldout"] == {
        "dataset_id": None,
        "collected": True,
        "steps": 200,
        "policy": "random",
        "action_noise": 0.0,
        "seed": 1000,
    }
    assert os.environ["MINARI_DATASETS_PATH"] == str(minari_dir)
    assert not (minari_dir / "neural_gym" / "Hopper" / "heldout-v0").exists()


# ------------------------------------------------------------------------------------------- unavailable baselines
def _without_training_data(model: EnsembleModel) -> EnsembleModel:
    """A copy of ``model`` whose recorded training dataset is not under ``MINARI_DATASETS_PATH`` (a fresh clone)."""
    import copy

    missing = copy.deepcopy(model)
    missing.spec.provenance = {**missing.spec.provenance, "dataset_id": "drift/Hopper/not-on-this-machine-v0"}
    return missing


def test_default_baselines_skip_a_single_mlp_without_its_data(
    hopper: tuple[EnsembleModel, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from neural_gym.cli import main as neural_gym_main

    model, heldout = hopper
    missing = _without_training_data(model)
    small = {"dataset_id": heldout, "n_starts": 4, "horizons": (1, 2), "n_boot": 10, "progress": False, "device": "cpu"}
    with pytest.warns(UserWarning, match="single-MLP baseline"):
        r = measure_drift("Hopper", missing, **small)
    assert r.predictors == ["ensemble", "copy_last", "linear"]
    assert r.meta["skipped_baselines"] == ["single_mlp"]
    assert any("not-on-this-machine" in n and "single-MLP" in n for n in r.meta["notes"])
    assert "single-MLP" in json.dumps(r.to_json())
    # the CLI runs the same predictors from the same checkpoint
    path = save_checkpoint(missing, tmp_path / "missing.safetensors")
    out = tmp_path / "cli"
    args = ["drift", "--task", "Hopper", "--checkpoint", str(path), "--dataset-id", heldout, "--starts", "4"]
    args += ["--horizons", "1,2", "--no-video", "--n-boot", "10", "--out", str(out), "--quiet"]
    assert neural_gym_main(args) == 0
    cli = json.loads((out / "drift.json").read_text())
    assert list(cli["predictors"]) == r.predictors
    assert "single-MLP baseline" in capsys.readouterr().err


def test_a_single_mlp_asked_for_by_name_without_its_data_is_an_error(hopper: tuple[EnsembleModel, str]) -> None:
    model, heldout = hopper
    missing = _without_training_data(model)
    with pytest.raises(FileNotFoundError, match="not-on-this-machine"):
        measure_drift(
            "Hopper",
            missing,
            dataset_id=heldout,
            n_starts=4,
            horizons=(1,),
            baselines=("copy_last", "linear", "single_mlp"),
            n_boot=5,
            progress=False,
            device="cpu",
        )


def test_the_metric_definitions_the_docstrings_point_at_exist() -> None:
    import importlib
    import re

    root = Path(__file__).resolve().parents[2]
    names = [
        "neural_gym.metrics",
        "neural_gym.drift.measure",
        "neural_gym.drift.frames",
        "neural_gym.world_models.base",
    ]
    for module in map(importlib.import_module, names):
        docs = re.findall(r"``([\w/]+\.md)``", module.__doc__ or "")
        assert docs, f"{module.__name__} names no design document"
        for doc in docs:
            text = (root / doc).read_text()
            assert "## 7. Metric definitions" in text and "trusted horizon" in text.lower()
    readme = (root / "README.md").read_text()
    mentions = re.findall(r"[\w./-]*DESIGN\.md", readme)
    assert mentions and set(mentions) == {"docs/DESIGN.md"}, mentions  # the README points at the project's own file
