"""A ``train`` killed while it saves leaves no temporary file and an old checkpoint untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from neural_gym.envs import collect

DATASET_ID = "tests/Reacher/killed-train-v0"

# Trains a tiny ensemble with neural_gym.train.train_world_model and SIGKILLs itself once the checkpoint's bytes are
# written and synced, before they are in place.
_KILLED_TRAIN = """
import os, signal, sys
from neural_gym.train import train_world_model
from neural_gym.world_models import EnsembleConfig

real_fsync = os.fsync
def fsync_then_die(fd):
    real_fsync(fd)
    os.kill(os.getpid(), signal.SIGKILL)
os.fsync = fsync_then_die
train_world_model(
    "Reacher", sys.argv[1], sys.argv[2], config=EnsembleConfig(ensemble_size=2, num_elites=2, hidden_size=8, num_layers=1),
    max_epochs=1, batch_size=16, device="cpu", progress=False, command="test",
)
"""


@pytest.fixture
def dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    return collect("Reacher", 120, seed=0, dataset_id=DATASET_ID, progress=False)


def _killed_train(dataset_id: str, out: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _KILLED_TRAIN, dataset_id, str(out)], capture_output=True, timeout=300
    )
    assert result.returncode == -signal.SIGKILL, f"expected a kill during save: {result.stderr.decode()[-2000:]}"


def test_killed_train_leaves_no_temporary(dataset: str, tmp_path: Path) -> None:
    out = tmp_path / "runs" / "reacher.safetensors"
    out.parent.mkdir()
    _killed_train(dataset, out)
    assert os.listdir(out.parent) == []


def test_killed_retrain_keeps_the_old_checkpoint(dataset: str, tmp_path: Path) -> None:
    from neural_gym.train import train_world_model
    from neural_gym.world_models import EnsembleConfig, load_checkpoint

    out = tmp_path / "runs" / "reacher.safetensors"
    config = EnsembleConfig(ensemble_size=2, num_elites=2, hidden_size=8, num_layers=1)
    train_world_model(
        dataset_id=dataset,
        task="Reacher",
        out=out,
        config=config,
        max_epochs=1,
        batch_size=16,
        device="cpu",
        progress=False,
        command="test",
    )
    before = out.read_bytes()
    _killed_train(dataset, out)
    assert os.listdir(out.parent) == [out.name] and out.read_bytes() == before
    load_checkpoint(out, task="Reacher", device="cpu")
