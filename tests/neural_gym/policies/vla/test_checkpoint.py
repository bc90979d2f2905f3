"""VLA checkpoints: identical actions after a round trip; damaged, foreign and mismatched files refused clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neural_gym.policies.vla import HEADS, VLACheckpointError, load_vla, read_vla_info, save_vla
from neural_gym.world_models.zoo import ZOO_DIR as WORLD_MODEL_ZOO

from .conftest import obs_batch


@pytest.mark.parametrize("head", HEADS)
def test_save_load_round_trip_gives_identical_actions(
    tiny_policies: dict, demos: list, tmp_path: Path, head: str
) -> None:
    policy = tiny_policies[head]
    path = save_vla(policy, tmp_path / f"{head}.safetensors", {"name": head})
    loaded = load_vla(path, task="reach", head=head)
    obs = obs_batch(demos)
    policy.reset(seed=5)
    loaded.reset(seed=5)
    np.testing.assert_array_equal(loaded.act(obs), policy.act(obs))
    info = read_vla_info(path)
    assert info["head"] == head and info["chunk_size"] == 8 and info["image_size"] == 64
    assert info["vocabulary"][:2] == ["<pad>", "<unk>"] and info["command"] == "pytest" and info["name"] == head
    assert path.stat().st_size < 2_000_000
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left beside it


@pytest.fixture
def saved(tiny_policies: dict, tmp_path: Path) -> Path:
    return save_vla(tiny_policies["regression"], tmp_path / "vla.safetensors")


def test_corrupt_weights_are_refused(saved: Path) -> None:
    data = bytearray(saved.read_bytes())
    data[-100] ^= 0xFF  # a byte inside the last tensor
    saved.write_bytes(bytes(data))
    with pytest.raises(VLACheckpointError, match="checksum"):
        load_vla(saved)


def test_truncated_file_is_refused(saved: Path) -> None:
    saved.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(VLACheckpointError, match="truncated or corrupt"):
        load_vla(saved)


def test_world_model_checkpoint_is_refused() -> None:
    path = next(WORLD_MODEL_ZOO.glob("*.safetensors"))
    with pytest.raises(VLACheckpointError, match="world-model checkpoint, not a VLA"):
        load_vla(path)


def test_other_task_or_head_is_refused(saved: Path) -> None:
    with pytest.raises(VLACheckpointError, match="expected 'push'"):
        load_vla(saved, task="push")
    with pytest.raises(VLACheckpointError, match="expected 'flow'"):
        load_vla(saved, head="flow")


def test_missing_file_and_unknown_zoo_name_are_refused(tmp_path: Path) -> None:
    with pytest.raises(VLACheckpointError, match="No VLA checkpoint file"):
        load_vla(tmp_path / "nothing.safetensors")
    with pytest.raises(VLACheckpointError, match="the zoo has"):
        load_vla("zoo:no-such-checkpoint")
