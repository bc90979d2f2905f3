"""The zoo README generator: the rollout-calibration cells and the calibrate command come from what the checkpoint
stored; checkpoints without a rollout calibration get dashes and no command."""

from __future__ import annotations

import dataclasses
import importlib

from neural_gym.world_models import read_spec
from neural_gym.world_models.zoo import ZOO_DIR, available

readme = importlib.import_module("neural_gym.world_models.zoo.__main__")


def test_rollout_cells_and_command_from_the_stored_calibration() -> None:
    name = "HalfCheetah"
    assert name in available()
    spec = read_spec(ZOO_DIR / f"{name}.safetensors")
    rollout = spec.calibration.rollout
    assert rollout is not None  # make zoo-calibrate
    row = readme._ensemble_row(name, spec, 3.9)
    assert f"`{rollout.signal}` > {rollout.threshold:.4g} ({rollout.alpha:g})" in row
    assert f"{rollout.scores['auroc']:.3f} ({rollout.scores['one_step']['auroc']:.3f})" in row
    assert row.count("|") == 12  # the header's 11 columns
    command = readme._calibration_command(name, spec)
    assert command is not None and command.startswith(f"neural-gym calibrate --task {name} ")
    held = rollout.scored_on["heldout"]["dataset_id"]
    assert f"--dataset-id {held}" in command and f"--actions {rollout.scored_on['actions']}" in command
    assert f"--out world_models/zoo/{name}.safetensors" in command


def test_a_checkpoint_without_rollout_calibration_gets_dashes() -> None:
    spec = read_spec(ZOO_DIR / "HalfCheetah.safetensors")
    plain = dataclasses.replace(spec, calibration=dataclasses.replace(spec.calibration, rollout=None))
    row = readme._ensemble_row("X", plain, 1.0)
    assert "| — | — | — |" in row and row.count("|") == 12
    assert readme._calibration_command("X", plain) is None


def test_a_wam_row_reads_its_training_report() -> None:
    from tests.neural_gym.wam_fixtures import tiny_wam

    spec = tiny_wam(steps=2).spec
    report = spec.provenance["report"]
    row = readme._wam_row("TabletopReach-wam", spec, 1.2)
    assert row.count("|") == 15  # the header's 14 columns
    assert "| — | — | — |" in row  # no rollout cut-off yet
    assert f"{report['heldout_forward_nrmse']:.3f} ({report['heldout_copy_last_nrmse']:.3f})" in row
    assert f"{report['heldout_policy_mae']:.3f} ({report['heldout_policy_imagine_mae']:.3f})" in row
    assert f"| {report['heldout_inverse_mae']:.3f} |" in row and f"{spec.calibration.threshold:.4f}" in row
    assert readme.WAM.splitlines()[-2].count("|") == 15
