"""Demonstrations through the project's collector: a local dict dataset with instructions, read back for training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neural_gym.policies.vla import load_demos
from neural_gym.policies.vla.data import collect_dataset_demos

from .conftest import tiny_vla


def test_collected_dataset_trains_a_vla(minari_dir: Path) -> None:
    demos = collect_dataset_demos("reach", 3, dataset_id="neural_gym/TabletopReach/vla-test-v0", progress=False)
    assert len(demos) == 3
    for d in demos:
        assert d.frames.shape[1:] == (64, 64, 3) and d.frames.dtype == np.uint8
        assert len(d.frames) == len(d.observations) == len(d.actions) + 1
        assert isinstance(d.instruction, str) and d.instruction
    policy = tiny_vla(demos, "regression", steps=1)
    assert policy.metadata["data"]["episodes"] == 3


def test_datasets_without_frames_or_instructions_are_refused(minari_dir: Path) -> None:
    from neural_gym.envs import collect

    collect("InvertedPendulum", 20, dataset_id="neural_gym/InvertedPendulum/vla-test-v0", progress=False)
    with pytest.raises(ValueError, match="no frames"):
        load_demos("neural_gym/InvertedPendulum/vla-test-v0")
    with pytest.raises(ValueError, match="Unknown tabletop family"):
        collect_dataset_demos("stack", 1, dataset_id="neural_gym/TabletopReach/vla-test-v1")
