"""Checkpoints: exact round trip, and refusal of every kind of wrong file with a message that says what it is."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import neural_gym.world_models.zoo
from neural_gym.world_models import (
    CHECKPOINT_FORMAT_VERSION,
    CheckpointError,
    EnsembleConfig,
    EnsembleModel,
    ModelSpec,
    WorldModel,
    load_checkpoint,
    read_spec,
    register_family,
    save_checkpoint,
    train_ensemble,
    zoo_path,
)
from neural_gym.world_models.checkpoint import FAMILIES, CheckpointNotFoundError

TINY = EnsembleConfig(ensemble_size=3, num_elites=2, hidden_size=16, num_layers=2)


@pytest.fixture(scope="module")
def model() -> EnsembleModel:
    """A briefly trained tiny model (calibration, elites and start states filled in)."""
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(400, 3))
    act = rng.uniform(-1, 1, size=(400, 2))
    next_obs = obs + 0.1 * np.tanh(obs[:, ::-1] + act.sum(1, keepdims=True))
    model, _ = train_ensemble(
        obs,
        act,
        next_obs,
        obs[:, 0],
        obs[:, 1] > 1.5,
        task="HalfCheetah",
        task_env_id="HalfCheetah-v5",
        action_low=[-1.0, -1.0],
        action_high=[1.0, 1.0],
        config=TINY,
        max_epochs=2,
        batch_size=64,
        device="cpu",
        progress=False,
        max_start_states=50,
    )
    return model


@pytest.fixture
def saved(model: EnsembleModel, tmp_path: Path) -> Path:
    return save_checkpoint(model, tmp_path / "ckpt" / "cheetah.safetensors")


def _rewrite(src: Path, dst: Path, **metadata: str) -> Path:
    """Copy a checkpoint with some metadata entries replaced."""
    from safetensors import safe_open

    with safe_open(str(src), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no __iter__
        meta = dict(f.metadata())
    meta.update(metadata)
    save_file(tensors, str(dst), metadata=meta)
    return dst


def test_round_trip_gives_identical_predictions(model: EnsembleModel, saved: Path) -> None:
    loaded = load_checkpoint(saved, task="HalfCheetah", family="ensemble", device="cpu")
    assert isinstance(loaded, EnsembleModel) and not loaded.training
    assert loaded.spec.to_dict() == model.spec.to_dict()
    assert loaded.start_states.shape == (50, 3)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    g = torch.Generator().manual_seed(0)
    obs, act = torch.randn(16, 3, generator=g), torch.rand(16, 2, generator=g)
    member = torch.randint(0, 2, (16,), generator=g)
    a, b = model.step(obs, act, member=member), loaded.step(obs, act, member=member)
    for name in ("state", "reward", "terminated", "disagreement"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name


def test_file_layout(saved: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(saved), framework="pt") as f:
        meta = f.metadata()
        keys = set(f.keys())
    assert meta["format"] == "neural_gym" and meta["format_version"] == str(CHECKPOINT_FORMAT_VERSION)
    assert json.loads(meta["spec"])["family"] == "ensemble"
    assert {"input_mean", "target_std", "elite_idx", "start_states", "head.weight"} <= keys
    assert read_spec(saved) == ModelSpec.from_dict(json.loads(meta["spec"]))


def test_task_accepts_case_and_env_id(saved: Path) -> None:
    load_checkpoint(saved, task="halfcheetah", device="cpu")
    load_checkpoint(saved, task="HalfCheetah-v5", device="cpu")


def test_wrong_task_is_refused(saved: Path) -> None:
    with pytest.raises(CheckpointError, match=r"is for task HalfCheetah \(family ensemble\), expected Hopper"):
        load_checkpoint(saved, task="Hopper", device="cpu")


def test_wrong_family_is_refused(saved: Path) -> None:
    with pytest.raises(CheckpointError, match=r"\(family ensemble\), expected family latent"):
        load_checkpoint(saved, family="latent", device="cpu")


def test_unknown_family_is_refused(saved: Path, tmp_path: Path) -> None:
    spec = read_spec(saved).to_dict() | {"family": "mystery"}
    path = _rewrite(saved, tmp_path / "mystery.safetensors", spec=json.dumps(spec))
    with pytest.raises(CheckpointError, match=r"family 'mystery' is not registered"):
        load_checkpoint(path, device="cpu")


def test_other_format_version_is_refused(saved: Path, tmp_path: Path) -> None:
    path = _rewrite(saved, tmp_path / "future.safetensors", format_version="999")
    with pytest.raises(
        CheckpointError, match=rf"format version 999, this neural_gym reads version {CHECKPOINT_FORMAT_VERSION}"
    ):
        load_checkpoint(path, device="cpu")
    with pytest.raises(CheckpointError, match="format version 999"):
        read_spec(path)


def test_truncated_file_is_refused(saved: Path, tmp_path: Path) -> None:
    data = saved.read_bytes()
    path = tmp_path / "half.safetensors"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path, device="cpu")


def test_random_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "noise.safetensors"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path, device="cpu")
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        read_spec(path)


def test_foreign_safetensors_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(path), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match=r"not a neural_gym checkpoint \(metadata format='pt'"):
        load_checkpoint(path, device="cpu")
    save_file({"w": torch.zeros(3)}, str(path))
    with pytest.raises(CheckpointError, match="not a neural_gym checkpoint"):
        read_spec(path)


def test_weights_that_do_not_match_the_spec_are_refused(saved: Path, tmp_path: Path) -> None:
    spec = read_spec(saved).to_dict()
    spec["config"]["hidden_size"] = 8
    path = _rewrite(saved, tmp_path / "mismatch.safetensors", spec=json.dumps(spec))
    with pytest.raises(CheckpointError, match="do not match the model its spec describes"):
        load_checkpoint(path, device="cpu")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint file at"):
        load_checkpoint(tmp_path / "nothing.safetensors", device="cpu")
    with pytest.raises(FileNotFoundError):
        read_spec(tmp_path / "nothing.safetensors")


def test_atomic_write_leaves_no_temp_files(
    model: EnsembleModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_checkpoint(model, tmp_path / "a.safetensors")
    save_checkpoint(model, path)  # overwrite in place
    assert sorted(os.listdir(tmp_path)) == ["a.safetensors"]

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(model, tmp_path / "b.safetensors")
    assert sorted(os.listdir(tmp_path)) == ["a.safetensors"]


def test_zoo_names(model: EnsembleModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(neural_gym.world_models.zoo, "ZOO_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"make zoo") as err:
        zoo_path("HalfCheetah")
    assert isinstance(err.value, CheckpointError)
    save_checkpoint(model, tmp_path / "HalfCheetah.safetensors")
    assert neural_gym.world_models.zoo.available() == ["HalfCheetah"]
    assert zoo_path("halfcheetah") == zoo_path("HalfCheetah-v5") == tmp_path / "HalfCheetah.safetensors"
    monkeypatch.chdir(tmp_path.parent)  # so the bare name is not also a path
    for name in ("zoo:HalfCheetah", "halfcheetah"):
        assert load_checkpoint(name, task="HalfCheetah", device="cpu").spec.task == "HalfCheetah"
    with pytest.raises(CheckpointNotFoundError, match=r"the zoo has \['HalfCheetah'\]"):
        load_checkpoint("zoo:Hopper", device="cpu")


def test_register_family() -> None:
    class Other(WorldModel):
        @classmethod
        def from_spec(cls, spec: ModelSpec) -> Other:
            raise NotImplementedError

        def initial_state(self, context: torch.Tensor) -> torch.Tensor:
            return context

        def step(self, state, action, member=None, return_members=False):  # noqa: ANN001, ANN201
            raise NotImplementedError

        def observe(self, state: torch.Tensor) -> torch.Tensor:
            return state

    try:
        register_family("other", Other)
        register_family("other", Other)  # same class again: fine
        assert FAMILIES["other"] is Other
        with pytest.raises(ValueError, match="already registered"):
            register_family("ensemble", Other)
        with pytest.raises(TypeError, match="WorldModel subclass"):
            register_family("x", dict)  # type: ignore[arg-type]
    finally:
        FAMILIES.pop("other", None)
    assert FAMILIES["ensemble"] is EnsembleModel


def test_saved_checkpoint_has_ordinary_file_mode(tmp_path):
    import os
    import stat

    from neural_gym.world_models import EnsembleConfig, EnsembleModel, save_checkpoint

    model = EnsembleModel(
        task="T", task_env_id="T-v0", obs_dim=2, action_dim=1, action_low=[-1.0], action_high=[1.0],
        config=EnsembleConfig(ensemble_size=2, num_elites=2, hidden_size=8, num_layers=1),
    )
    path = save_checkpoint(model, tmp_path / "m.safetensors")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
