"""Calibrating a tiny trained ensemble on held-out rollouts: the stored choice is choose_cutoff's on the calibration
half, the figures are score_cutoff's on the scoring half, the fields survive the checkpoint, Dream envs use them
(gymnasium and SB3 checkers), ``neural-gym calibrate`` writes a calibrated checkpoint, bad input is refused."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from neural_gym import DreamEnv
from neural_gym.cli import main
from neural_gym.cutoff import ENV_SIGNALS
from neural_gym.drift import calibrate_on_rollouts, calibrate_records, rollout_records, set_rollout_calibration
from neural_gym.envs import collect
from neural_gym.world_models import EnsembleModel, load_checkpoint, read_spec, save_checkpoint
from neural_gym.world_models.calibration import (
    RolloutCalibration,
    RolloutRecords,
    choose_cutoff,
    conformal_threshold,
    episode_losses,
    score_cutoff,
)

from .conftest import train_tiny

TRAIN_ID = "calibrate/HalfCheetah/train-v0"
HELDOUT_ID = "calibrate/HalfCheetah/heldout-v0"
TAU = 1.2  # the tiny model's errors straddle it within 15 steps: both classes occur
ARGS = {"dataset_id": HELDOUT_ID, "n_episodes": 24, "horizon": 15, "tau": TAU, "alpha": 0.2, "seed": 3}

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def cheetah(minari_dir: Path) -> EnsembleModel:
    collect("HalfCheetah", 1500, seed=0, dataset_id=TRAIN_ID, progress=False)
    collect("HalfCheetah", 600, seed=1000, dataset_id=HELDOUT_ID, progress=False)
    return train_tiny("HalfCheetah", TRAIN_ID, epochs=4)


@pytest.fixture(scope="module")
def calibration(cheetah: EnsembleModel) -> RolloutCalibration:
    return calibrate_on_rollouts("HalfCheetah", cheetah, device="cpu", **ARGS)


@pytest.fixture(scope="module")
def calibrated_path(cheetah: EnsembleModel, calibration: RolloutCalibration, tmp_path_factory) -> Path:
    model = load_checkpoint(save_checkpoint(cheetah, tmp_path_factory.mktemp("c") / "plain.safetensors"))
    return save_checkpoint(
        set_rollout_calibration(model, calibration), tmp_path_factory.mktemp("c") / "cal.safetensors"
    )


def test_stored_choice_and_figures_are_those_of_the_records(
    cheetah: EnsembleModel, calibration: RolloutCalibration
) -> None:
    rec = rollout_records("HalfCheetah", cheetah, dataset_id=HELDOUT_ID, n_starts=24, horizon=15, seed=3)
    assert rec.n_episodes == 24 and list(rec.signals) == list(ENV_SIGNALS)  # the member-trajectory spread among them
    assert list(calibration.candidate_auroc) == list(ENV_SIGNALS)  # an ensemble's env computes every one
    errors = np.concatenate(rec.error)
    assert (errors > TAU).any() and (errors <= TAU).any()
    choice = choose_cutoff(rec, TAU, 0.2, list(ENV_SIGNALS), seed=3)
    cal_half, scoring = rec.subset(choice.choice_episodes), rec.subset(choice.scoring_episodes)
    assert calibration.signal == choice.signal and calibration.threshold == choice.threshold.threshold
    assert calibration.n_calibration_episodes == 12 and calibration.tau == TAU and calibration.error == "nrmse"
    for alpha in (0.1, 0.2, 0.3, 0.5, 0.9):
        ref = conformal_threshold(cal_half, choice.signal, TAU, alpha)
        assert calibration.threshold_for_risk(alpha) == ref.threshold
    score = score_cutoff(scoring, choice.signal, choice.threshold.threshold, TAU)
    s = calibration.scores
    assert s["auroc"] == pytest.approx(score.auroc) and s["n_cutoffs"] == score.n_cutoffs
    assert s["realized_rate"] == pytest.approx(
        episode_losses(scoring, choice.signal, TAU, [calibration.threshold])[:, 0].mean()
    )
    one = score_cutoff(scoring, "disagreement", cheetah.spec.calibration.threshold, TAU)
    assert s["one_step"]["auroc"] == pytest.approx(one.auroc) and s["one_step"]["n_cutoffs"] == one.n_cutoffs
    assert calibration.candidate_auroc == pytest.approx(choice.choice_auroc)
    on = calibration.scored_on
    assert on["heldout"] == {"dataset_id": HELDOUT_ID} and on["horizon"] == 15 and on["n_scoring_episodes"] == 12
    assert on["task"] == "HalfCheetah" and on["seed"] == 3


def test_fields_survive_the_checkpoint(calibrated_path: Path, calibration: RolloutCalibration) -> None:
    assert read_spec(calibrated_path).calibration.rollout == calibration
    loaded = load_checkpoint(calibrated_path, task="HalfCheetah", device="cpu")
    assert loaded.spec.calibration.rollout == calibration
    env = DreamEnv("HalfCheetah", str(calibrated_path))
    assert (env.cutoff.signal, env.cutoff.threshold) == (calibration.signal, calibration.threshold)
    assert env.cutoff.source == "rollout calibration"


def test_env_checkers_pass_on_the_calibrated_checkpoint(calibrated_path: Path) -> None:
    for kwargs in ({}, {"uncertainty_risk": 0.3}):
        env = gym.make("neural_gym/HalfCheetah-v0", checkpoint=str(calibrated_path), **kwargs)
        gym_check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env.unwrapped, warn=True)
        env.close()


def test_risk_thresholds_are_monotone_in_alpha(calibrated_path: Path) -> None:
    thresholds = [
        DreamEnv("HalfCheetah", str(calibrated_path), uncertainty_risk=a).cutoff.threshold for a in (0.1, 0.3, 0.6, 0.9)
    ]
    assert all(b >= a for a, b in zip(thresholds[:-1], thresholds[1:], strict=True))


def test_cli_writes_a_calibrated_checkpoint(cheetah: EnsembleModel, tmp_path: Path, capsys) -> None:
    src = save_checkpoint(cheetah, tmp_path / "in.safetensors")
    out = tmp_path / "out.safetensors"
    args = ["calibrate", "--task", "HalfCheetah", "--checkpoint", str(src), "--dataset-id", HELDOUT_ID]
    args += [
        "--episodes",
        "24",
        "--horizon",
        "15",
        "--tau",
        str(TAU),
        "--alpha",
        "0.2",
        "--seed",
        "3",
        "--out",
        str(out),
    ]
    assert main([*args, "--quiet", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "AUROC" in printed and "one-step" in printed and str(out) in printed
    rollout = read_spec(out).calibration.rollout
    expected = calibrate_on_rollouts("HalfCheetah", cheetah, device="cpu", **ARGS)
    assert rollout is not None and rollout.threshold == expected.threshold and rollout.signal == expected.signal
    assert rollout.scored_on["checkpoint"] == str(src)
    assert read_spec(src).calibration.rollout is None  # the input is left alone
    assert main([*args, "--quiet"]) == 2  # --out exists
    assert "--overwrite" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", "--task", "HalfCheetah", "--out", str(tmp_path / "x.safetensors"), "--alpha", "1.5"])
    assert exc.value.code == 2 and "must lie in (0, 1)" in capsys.readouterr().err
    assert main(["calibrate", "--task", "HalfCheetah", "--out", str(tmp_path / "x.pt")]) == 2
    assert ".safetensors" in capsys.readouterr().err
    psnr_args = [
        "calibrate",
        "--task",
        "HalfCheetah",
        "--checkpoint",
        str(src),
        "--out",
        str(tmp_path / "y.safetensors"),
    ]
    assert main([*psnr_args, "--tau-psnr", "20", "--device", "cpu"]) == 2  # a state model has no PSNR
    assert "--tau-psnr is for frame models" in capsys.readouterr().err
    assert main([*psnr_args, "--tau-psnr", "20", "--tau", "1", "--device", "cpu"]) == 2
    assert "not both" in capsys.readouterr().err


def test_bad_input(cheetah: EnsembleModel, calibration: RolloutCalibration) -> None:
    rec = rollout_records("HalfCheetah", cheetah, dataset_id=HELDOUT_ID, n_starts=8, horizon=5, seed=1)
    with pytest.raises(ValueError, match="not a signal a Dream env computes"):
        calibrate_records(rec, tau=TAU, candidates=["member_spread"])
    latent = copy.deepcopy(cheetah)
    latent.spec = dataclasses.replace(latent.spec, family="latent")
    with pytest.raises(ValueError, match="latent model cannot compute 'member_trajectories'"):
        calibrate_on_rollouts("HalfCheetah", latent, candidates=["disagreement", "member_trajectories"])
    only_one_step = RolloutRecords(error=rec.error, signals={"disagreement": rec.signal("disagreement")})
    with pytest.raises(ValueError, match="not in the records"):
        calibrate_records(only_one_step, tau=TAU, candidates=["disagreement", "disagreement_max"])
    with pytest.raises(ValueError, match=r"below 1/\(n\+1\)"):
        calibrate_records(rec, tau=TAU, alpha=0.1)  # 4 calibration episodes: 1/5 > 0.1
    with pytest.raises(ValueError, match="n_episodes must be an integer >= 4"):
        calibrate_on_rollouts("HalfCheetah", cheetah, n_episodes=3)
    with pytest.raises(ValueError, match="tau must be a positive"):
        calibrate_on_rollouts("HalfCheetah", cheetah, tau=-1.0)
    with pytest.raises(ValueError, match="alpha must lie"):
        calibrate_on_rollouts("HalfCheetah", cheetah, alpha=0.0)
    with pytest.raises(ValueError, match="training data"):
        calibrate_on_rollouts("HalfCheetah", cheetah, dataset_id=TRAIN_ID)
    with pytest.raises(TypeError, match="RolloutCalibration"):
        set_rollout_calibration(cheetah, {"signal": "disagreement"})  # type: ignore[arg-type]
    other = dataclasses.replace(calibration, scored_on={**calibration.scored_on, "task": "Hopper"})
    with pytest.raises(ValueError, match="scored on task Hopper"):
        set_rollout_calibration(cheetah, other)
