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
from neural_gym.world_models.calibration import (
    RolloutCalibration,
    RolloutRecords,
    conformal_risk_curve,
    conformal_threshold,
)
from neural_gym.world_models.checkpoint import FAMILIES, CheckpointNotFoundError

TINY = EnsembleConfig(ensemble_size=3, num_elites=2, hidden_size=16, num_layers=2)


@pytest.fixture(scope="module")
def model() -> EnsembleModel:
    """A briefly trained tiny model (calibration, elites and start states filled in)."""
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(400, 3))
    act = rng.uniform(-1, 1, size=(400, 6))  # HalfCheetah-v5 has 6 actions in [-1, 1] (checked against the task on load)
    next_obs = obs + 0.1 * np.tanh(obs[:, ::-1] + act.sum(1, keepdims=True))
    model, _ = train_ensemble(
        obs,
        act,
        next_obs,
        obs[:, 0],
        obs[:, 1] > 1.5,
        task="HalfCheetah",
        task_env_id="HalfCheetah-v5",
        action_low=[-1.0] * 6,
        action_high=[1.0] * 6,
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
    obs, act = torch.randn(16, 3, generator=g), torch.rand(16, 6, generator=g)
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


# ------------------------------------------------------------------------------------------ integrity and validation
def _tensors_and_metadata(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata())  # noqa: SIM118


def _with_spec(src: Path, dst: Path, **changes: object) -> Path:
    """Copy a checkpoint with some spec fields replaced (the weights and their checksum unchanged)."""
    tensors, meta = _tensors_and_metadata(src)
    spec = json.loads(meta["spec"])
    spec.update(changes)
    meta["spec"] = json.dumps(spec)
    save_file(tensors, str(dst), metadata=meta)
    return dst


def test_checksum_is_stored_and_flipped_weight_bytes_are_refused(saved: Path, tmp_path: Path) -> None:
    from neural_gym.world_models.checkpoint import CHECKSUM_KEY, weights_checksum

    tensors, meta = _tensors_and_metadata(saved)
    assert meta[CHECKSUM_KEY] == weights_checksum(tensors)
    data = bytearray(saved.read_bytes())
    data[-3] ^= 0x10  # a byte of the last tensor's data: still a valid float, but not the saved weights
    bad = tmp_path / "flipped.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"flipped\.safetensors: the weights do not match their checksum"):
        load_checkpoint(bad, device="cpu")


def test_checksum_covers_names_dtypes_and_shapes() -> None:
    from neural_gym.world_models.checkpoint import weights_checksum

    a = torch.arange(6, dtype=torch.float32)
    base = weights_checksum({"a": a})
    assert weights_checksum({"a": a.clone()}) == base
    assert weights_checksum({"b": a}) != base
    assert weights_checksum({"a": a.reshape(2, 3)}) != base
    assert weights_checksum({"a": a.view(torch.int32)}) != base  # same bytes, other dtype
    assert weights_checksum({"a": a[:3], "b": a[3:]}) != weights_checksum({"a": a[:2], "b": a[2:]})


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(model: EnsembleModel, saved: Path, tmp_path: Path, value: float) -> None:
    from neural_gym.world_models.checkpoint import CHECKSUM_KEY, weights_checksum

    tensors, meta = _tensors_and_metadata(saved)
    name = next(k for k, v in sorted(tensors.items()) if v.is_floating_point())
    tensors[name].view(-1)[0] = value
    meta[CHECKSUM_KEY] = weights_checksum(tensors)  # a consistent file: the checksum is not what refuses it
    bad = tmp_path / "nonfinite.safetensors"
    save_file(tensors, str(bad), metadata=meta)
    with pytest.raises(CheckpointError, match=rf"nonfinite\.safetensors: tensor '{name}' has 1 non-finite value"):
        load_checkpoint(bad, device="cpu")

    broken = EnsembleModel.from_spec(model.spec)
    broken.load_state_dict(model.state_dict())
    with torch.no_grad():
        next(broken.parameters()).view(-1)[0] = value
    with pytest.raises(CheckpointError, match="refusing to save .*non-finite"):
        save_checkpoint(broken, tmp_path / "diverged.safetensors")
    assert not (tmp_path / "diverged.safetensors").exists()


def test_checkpoint_without_checksum_still_loads_with_a_warning(model: EnsembleModel, saved: Path, tmp_path: Path) -> None:
    from neural_gym.world_models.checkpoint import CHECKSUM_KEY

    tensors, meta = _tensors_and_metadata(saved)
    del meta[CHECKSUM_KEY]
    old = tmp_path / "old.safetensors"
    save_file(tensors, str(old), metadata=meta)
    with pytest.warns(UserWarning, match="no weights checksum"):
        loaded = load_checkpoint(old, task="HalfCheetah", device="cpu")
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"action_low": [2.0] + [-1.0] * 5}, r"action bound 0 has low 2.0 > high 1.0"),
        ({"action_low": [-1.0] * 5}, r"action_low .* is not a list of action_dim=6"),
        ({"elites": [0, 3]}, r"elite index 3 is out of range of the 3 members"),
        ({"elites": [-1]}, r"elite index -1 is out of range"),
        ({"elites": []}, r"elites \[\] is not a non-empty list"),
        ({"elites": [1, 1]}, r"repeat a member"),
        ({"calibration": {}}, r"no uncertainty calibration"),
        ({"calibration": {"measure": "ensemble_std", "thresholds": {"pairwise_max": 1.0}}}, r"has no threshold"),
        ({"calibration": {"measure": "ensemble_std", "thresholds": {"ensemble_std": "high"}}}, r"expected a finite"),
        ({"calibration": {"measure": "ensemble_std", "thresholds": {"ensemble_std": float("nan")}}}, r"is nan"),
        ({"calibration": {"measure": "ensemble_std", "thresholds": {"ensemble_std": float("inf")}}}, r"is inf"),
    ],
)
def test_inconsistent_metadata_is_refused(saved: Path, tmp_path: Path, changes: dict, match: str) -> None:
    bad = _with_spec(saved, tmp_path / "bad.safetensors", **changes)
    with pytest.raises(CheckpointError, match=rf"bad\.safetensors .*metadata is invalid: .*{match}"):
        load_checkpoint(bad, device="cpu")


def test_action_bounds_must_match_the_task(saved: Path, tmp_path: Path) -> None:
    import gymnasium as gym

    wider = _with_spec(saved, tmp_path / "wider.safetensors", action_low=[-2.0] * 6, action_high=[2.0] * 6)
    load_checkpoint(wider, device="cpu")  # no task given: nothing to compare with
    with pytest.raises(CheckpointError, match=r"wider\.safetensors .*differ from the task's action space"):
        load_checkpoint(wider, task="HalfCheetah", device="cpu")
    box = gym.spaces.Box(-1.0, 1.0, shape=(2,))
    with pytest.raises(CheckpointError, match=r"6 action dimensions, the task's action space has 2"):
        load_checkpoint(saved, action_space=box, device="cpu")
    load_checkpoint(saved, action_space=gym.spaces.Box(-1.0, 1.0, shape=(6,)), device="cpu")


def test_shipped_zoo_checkpoints_have_checksums_and_load(recwarn: pytest.WarningsRecorder) -> None:
    from neural_gym.world_models.checkpoint import CHECKSUM_KEY, weights_checksum
    from neural_gym.world_models.zoo import ZOO_DIR, available

    assert available()
    for name in available():
        path = ZOO_DIR / f"{name}.safetensors"
        tensors, meta = _tensors_and_metadata(path)
        assert meta.get(CHECKSUM_KEY) == weights_checksum(tensors), name
        spec = read_spec(path)
        load_checkpoint(path, task=spec.task, device="cpu")
    assert not [w for w in recwarn if "checksum" in str(w.message)]


# ------------------------------------------------------------------------------------- rollout calibration field
def _rollout_calibration() -> RolloutCalibration:
    rng = np.random.default_rng(0)
    d = [np.abs(rng.normal(size=15)) for _ in range(12)]
    rec = RolloutRecords(error=[np.cumsum(x) / 4 for x in d], signals={"disagreement_sum": [np.cumsum(x) for x in d]})
    t, r = conformal_risk_curve(rec, "disagreement_sum", 1.0)
    return RolloutCalibration(
        signal="disagreement_sum",
        threshold=conformal_threshold(rec, "disagreement_sum", 1.0, 0.2).threshold,
        alpha=0.2,
        tau=1.0,
        error="nrmse",
        n_calibration_episodes=12,
        risk_thresholds=t.tolist(),
        risk_values=r.tolist(),
        candidate_auroc={"disagreement_sum": 0.9, "disagreement": None},
        scores={"auroc": 0.88, "one_step": {"auroc": 0.6, "justified_share": None}},
        scored_on={"task": "HalfCheetah", "heldout": {"seed": 1000}, "n_episodes": 24},
    )


def test_rollout_calibration_round_trips(model: EnsembleModel, tmp_path: Path) -> None:
    import dataclasses

    cal = _rollout_calibration()
    spec = dataclasses.replace(model.spec, calibration=dataclasses.replace(model.spec.calibration, rollout=cal))
    calibrated = EnsembleModel.from_spec(spec)
    calibrated.load_state_dict(model.state_dict())
    path = save_checkpoint(calibrated, tmp_path / "calibrated.safetensors")
    assert read_spec(path).calibration.rollout == cal
    loaded = load_checkpoint(path, task="HalfCheetah", device="cpu")
    assert loaded.spec.calibration.rollout == cal and loaded.spec == spec
    assert loaded.spec.calibration.rollout.threshold_for_risk(0.2) == cal.threshold
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_checkpoints_without_rollout_calibration_read_and_write_as_before(saved: Path, tmp_path: Path) -> None:
    from neural_gym.world_models.zoo import ZOO_DIR, available

    _, meta = _tensors_and_metadata(saved)
    assert "rollout" not in json.loads(meta["spec"])["calibration"]
    old = 0
    for name in available():  # the shipped zoo: every spec re-serializes byte for byte, with or without the field
        _, meta = _tensors_and_metadata(ZOO_DIR / f"{name}.safetensors")
        spec = read_spec(ZOO_DIR / f"{name}.safetensors")
        stored = json.loads(meta["spec"])["calibration"]
        assert (spec.calibration.rollout is None) == ("rollout" not in stored), name
        old += "rollout" not in stored  # written before the field existed (the pixel and tabletop checkpoints)
        assert json.dumps(spec.to_dict(), allow_nan=False) == meta["spec"], name
    assert old > 0


def test_malformed_rollout_calibration_is_refused(saved: Path, tmp_path: Path) -> None:
    _, meta = _tensors_and_metadata(saved)
    calibration = json.loads(meta["spec"])["calibration"]
    broken = {**_rollout_calibration().to_dict(), "threshold": 123.0}
    bad = _with_spec(saved, tmp_path / "bad.safetensors", calibration={**calibration, "rollout": broken})
    with pytest.raises(CheckpointError, match=r"malformed spec: .*contradicts itself"):
        load_checkpoint(bad, device="cpu")


# ------------------------------------------------------------------------------------------------- killed saves
_KILLED_SAVE = """
import os, signal, sys
from pathlib import Path
import neural_gym.world_models.checkpoint as ckpt
from neural_gym.world_models import EnsembleConfig, EnsembleModel, save_checkpoint

path, fallback = Path(sys.argv[1]), sys.argv[2] == "fallback"
model = EnsembleModel(task="T", task_env_id="T-v0", obs_dim=2, action_dim=1, action_low=[-1.0], action_high=[1.0],
                      config=EnsembleConfig(ensemble_size=2, num_elites=2, hidden_size=8, num_layers=1))
model.spec.calibration.thresholds = {"ensemble_std": 1.0}
if fallback:
    ckpt._write_anonymous = lambda folder, tmp, data: False
real_fsync = os.fsync
def fsync_then_die(fd):
    real_fsync(fd)
    os.kill(os.getpid(), signal.SIGKILL)  # every byte is written, nothing is in place yet
os.fsync = fsync_then_die
save_checkpoint(model, path)
"""


def _killed_save(path: Path, mode: str) -> None:
    import signal
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", _KILLED_SAVE, str(path), mode], capture_output=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()


def test_killed_save_leaves_old_file_and_no_temporary(saved: Path) -> None:
    before = saved.read_bytes()
    _killed_save(saved, "anonymous")
    assert os.listdir(saved.parent) == [saved.name]
    assert saved.read_bytes() == before
    load_checkpoint(saved, device="cpu")


def test_fallback_temporaries_of_killed_saves_are_removed_by_the_next_save(model: EnsembleModel, tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    _killed_save(path, "fallback")
    stale = [n for n in os.listdir(tmp_path) if n.startswith(".m.safetensors.") and n.endswith(".tmp")]
    assert len(stale) == 1 and not path.exists()
    (tmp_path / ".other.tmp").write_text("not ours")
    save_checkpoint(model, path)
    assert sorted(os.listdir(tmp_path)) == [".other.tmp", "m.safetensors"]


def test_stamp_checksum_adds_only_the_checksum(saved: Path, tmp_path: Path) -> None:
    import warnings

    from neural_gym.world_models.checkpoint import CHECKSUM_KEY, stamp_checksum

    tensors, meta = _tensors_and_metadata(saved)
    del meta[CHECKSUM_KEY]
    old = tmp_path / "old.safetensors"
    save_file(tensors, str(old), metadata=meta)
    assert stamp_checksum(old) is True
    stamped_tensors, stamped_meta = _tensors_and_metadata(old)
    assert {k: v for k, v in stamped_meta.items() if k != CHECKSUM_KEY} == meta
    assert sorted(stamped_tensors) == sorted(tensors)
    for key, value in tensors.items():
        assert value.dtype == stamped_tensors[key].dtype and torch.equal(value, stamped_tensors[key])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_checkpoint(old, device="cpu")
    assert stamp_checksum(old) is False
    assert sorted(os.listdir(tmp_path)) == ["ckpt", "old.safetensors"]  # no temporary left beside it
