"""Fixtures: tiny datasets and tiny world models trained in seconds on real ground-truth data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from neural_gym.envs import collect
from neural_gym.train import fit_world_model
from neural_gym.world_models import EnsembleConfig, EnsembleModel

TINY = EnsembleConfig(ensemble_size=4, num_elites=3, hidden_size=64, num_layers=2)


@pytest.fixture(scope="session")
def minari_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private MINARI_DATASETS_PATH for the whole session."""
    path = tmp_path_factory.mktemp("minari")
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(path)
    yield path
    if old is None:
        os.environ.pop("MINARI_DATASETS_PATH", None)
    else:
        os.environ["MINARI_DATASETS_PATH"] = old


def train_tiny(task: str, dataset_id: str, seed: int = 0, epochs: int = 30) -> EnsembleModel:
    """A small ensemble on a collected dataset."""
    model, _ = fit_world_model(
        task, dataset_id, config=TINY, max_epochs=epochs, patience=5, seed=seed, device="cpu", progress=False
    )
    return model


@pytest.fixture(scope="session")
def pendulum_model(minari_dir: Path) -> EnsembleModel:
    """A tiny InvertedPendulum ensemble trained on 3000 random-policy steps."""
    dataset_id = collect("InvertedPendulum", 3000, seed=1, dataset_id="test/InvertedPendulum/random-v0", progress=False)
    return train_tiny("InvertedPendulum", dataset_id)


@pytest.fixture(scope="session")
def narrow_action_model(minari_dir: Path) -> EnsembleModel:
    """A tiny Reacher ensemble that only ever saw actions within ±0.05 (of the ±1 range)."""

    rng = np.random.default_rng(0)

    def small(obs: np.ndarray) -> np.ndarray:
        return rng.uniform(-0.05, 0.05, size=2)

    dataset_id = collect("Reacher", 3000, policy=small, seed=2, dataset_id="test/Reacher/narrow-v0", progress=False)
    return train_tiny("Reacher", dataset_id)

