"""Training refuses a dataset recorded on another task, even one with the same dimensions, and says which dataset."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from neural_gym.envs import DatasetAlignmentError, DatasetTaskError, collect, dataset_env_id, load_transitions
from neural_gym.envs.dataset import dataset_path
from neural_gym.train import fit_world_model
from neural_gym.world_models import EnsembleConfig

CHEETAH_ID = "tests/HalfCheetah/task-v0"
TINY = EnsembleConfig(ensemble_size=2, num_elites=2, hidden_size=8, num_layers=1)
FAST = {"config": TINY, "max_epochs": 1, "batch_size": 16, "device": "cpu", "progress": False}


@pytest.fixture(scope="module")
def cheetah(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small HalfCheetah dataset (two episodes; 17-dim observations, 6-dim actions: the same sizes as Walker2d)."""
    root = tmp_path_factory.mktemp("minari")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MINARI_DATASETS_PATH", str(root))
        collect("HalfCheetah", 1_050, seed=0, dataset_id=CHEETAH_ID, progress=False)
    return str(root)


@pytest.fixture
def root(cheetah: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MINARI_DATASETS_PATH", cheetah)
    return Path(cheetah)


def test_the_collector_records_the_environment(root: Path) -> None:
    assert dataset_env_id(CHEETAH_ID) == "HalfCheetah-v5"


@pytest.mark.parametrize("task", ["Walker2d", "Hopper"])
def test_ensemble_refuses_another_tasks_dataset(root: Path, task: str) -> None:
    with pytest.raises(DatasetTaskError, match=rf"'{CHEETAH_ID}' was recorded on HalfCheetah-v5, not on {task}-v5"):
        fit_world_model(task, CHEETAH_ID, family="ensemble", **FAST)


def test_latent_refuses_another_tasks_dataset(root: Path) -> None:
    with pytest.raises(DatasetTaskError, match=rf"'{CHEETAH_ID}' was recorded on HalfCheetah-v5, not on Walker2d-v5"):
        fit_world_model("Walker2d", CHEETAH_ID, family="latent", preset="debug", steps=1, device="cpu", progress=False)


def test_the_recording_task_trains(root: Path) -> None:
    model, _ = fit_world_model("HalfCheetah", CHEETAH_ID, family="ensemble", command="test", **FAST)
    assert model.spec.task == "HalfCheetah" and model.spec.provenance["dataset_id"] == CHEETAH_ID


def test_dataset_without_an_environment_warns(root: Path, tmp_path: Path) -> None:
    import shutil

    other = "tests/HalfCheetah/noenv-v0"
    shutil.copytree(dataset_path(CHEETAH_ID), dataset_path(other))
    meta_path = dataset_path(other) / "data" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    for key in ("env_spec", "eval_env_spec"):
        meta.pop(key, None)
    meta["dataset_id"] = other
    meta_path.write_text(json.dumps(meta))
    try:
        assert dataset_env_id(other) is None
        with pytest.warns(UserWarning, match=rf"'{other}' records no environment .* cannot be checked against"):
            load_transitions(other, env_id="Walker2d-v5")
    finally:
        shutil.rmtree(dataset_path(other))


def test_per_episode_problems_name_the_dataset_and_the_episode(root: Path) -> None:
    import shutil

    other = "tests/HalfCheetah/broken-v0"
    shutil.copytree(dataset_path(CHEETAH_ID), dataset_path(other))
    meta_path = dataset_path(other) / "data" / "metadata.json"
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "dataset_id": other}))
    with h5py.File(dataset_path(other) / "data" / "main_data.hdf5", "r+") as f:
        f["episode_0"]["observations"][5, 3] = np.nan
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(DatasetAlignmentError, match=rf"Dataset '{other}': .*not finite .*episode 0, step [45]"):
                load_transitions(other, env_id="HalfCheetah-v5")
    finally:
        shutil.rmtree(dataset_path(other))
