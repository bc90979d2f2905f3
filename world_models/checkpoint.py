"""Checkpoints: one ``.safetensors`` file per model, weights plus the JSON :class:`ModelSpec` in its header.

Layout: tensors = ``model.state_dict()`` (contiguous, CPU); metadata (str → str) = ``{"format": "neural_gym",
"format_version": "<CHECKPOINT_FORMAT_VERSION>", "spec": json.dumps(spec.to_dict()), "weights_sha256": "<hex>"}``.

Integrity: ``weights_sha256`` is a SHA-256 over every tensor in sorted name order (name, dtype, shape, raw bytes; see
:func:`weights_checksum`). :func:`load_checkpoint` recomputes it and refuses a mismatch (flipped bytes), non-finite
weights, and a spec that contradicts itself or the task (action bounds, elites, calibration). Checkpoints written
before the checksum existed still load, with a warning; re-save them to add one.

Files are written atomically: the bytes go to an anonymous file in the destination folder (Linux ``O_TMPFILE``; it
vanishes if the process dies) that is then linked into place, so neither a reader nor a killed writer ever leaves half
a checkpoint. Where ``O_TMPFILE`` is not available a named temporary ``.<name>.<pid>.<random>.tmp`` is used instead and
renamed; temporaries of that pattern left by dead processes are removed by the next save into the same folder.

Example:
    >>> path = save_checkpoint(model, "runs/hopper.safetensors")           # doctest: +SKIP
    >>> read_spec(path).task                                              # doctest: +SKIP
    'Hopper'
    >>> model = load_checkpoint("zoo:Hopper", task="Hopper", device="cpu")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import secrets
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from neural_gym.durable import fsync_path, pid_alive
from neural_gym.world_models.base import CHECKPOINT_FORMAT_VERSION, ModelSpec, WorldModel
from neural_gym.world_models.device import resolve_device
from neural_gym.world_models.ensemble.model import EnsembleModel
from neural_gym.world_models.latent.model import LatentModel
from neural_gym.world_models.video.model import VideoModel
from neural_gym.world_models.wam.model import WAMModel
from neural_gym.world_models.zoo import zoo_path

FORMAT_NAME = "neural_gym"

#: Metadata key of the weights checksum (:func:`weights_checksum`).
CHECKSUM_KEY = "weights_sha256"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used here; the message says what the file is and what was expected."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """No checkpoint at the given path (or in the zoo under the given name)."""


#: Family name → model class (which must provide ``from_spec(spec)``).
FAMILIES: dict[str, type[WorldModel]] = {
    "ensemble": EnsembleModel,
    "latent": LatentModel,
    "video": VideoModel,
    "wam": WAMModel,
}


def register_family(name: str, cls: type[WorldModel], *, replace: bool = False) -> None:
    """Make :func:`load_checkpoint` able to rebuild models of family ``name``.

    Args:
        name: family name as stored in ``spec.family``.
        cls: a :class:`WorldModel` subclass with a ``from_spec(spec)`` classmethod.
        replace: allow replacing a different class already registered under ``name``.

    Raises:
        TypeError: ``cls`` is not a ``WorldModel`` subclass with ``from_spec``.
        ValueError: ``name`` is taken by another class and ``replace`` is false.
    """
    if not (isinstance(cls, type) and issubclass(cls, WorldModel)):
        raise TypeError(f"register_family needs a WorldModel subclass, got {cls!r}")
    if not callable(getattr(cls, "from_spec", None)):
        raise TypeError(f"{cls.__name__} needs a from_spec(spec) classmethod to be loaded from checkpoints")
    if FAMILIES.get(name, cls) is not cls and not replace:
        raise ValueError(f"family {name!r} is already registered to {FAMILIES[name].__name__}; pass replace=True")
    FAMILIES[name] = cls


def weights_checksum(tensors: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 (hex) over tensors in sorted name order: each tensor's name, dtype, shape and raw bytes.

    Every field is length-prefixed, so no two different sets of tensors hash the same way by concatenation.

    Args:
        tensors: name → tensor (any device; moved to CPU to read the bytes).

    Returns:
        The hex digest stored as ``metadata["weights_sha256"]``.
    """
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        header = json.dumps([name, str(tensor.dtype), list(tensor.shape)]).encode()
        raw = tensor.reshape(-1).view(torch.uint8).numpy()
        digest.update(len(header).to_bytes(8, "little"))
        digest.update(header)
        digest.update(raw.nbytes.to_bytes(8, "little"))
        digest.update(raw.data)
    return digest.hexdigest()


def _nonfinite_message(tensors: Mapping[str, torch.Tensor]) -> str | None:
    """What is non-finite in ``tensors`` (first tensor in name order), or ``None`` when every value is finite."""
    for name in sorted(tensors):
        tensor = tensors[name]
        if tensor.is_floating_point() or tensor.is_complex():
            bad = ~torch.isfinite(tensor)
            if bool(bad.any()):
                n_nan = int(torch.isnan(tensor).sum())
                return (
                    f"tensor {name!r} has {int(bad.sum())} non-finite value(s) of {tensor.numel()} "
                    f"({n_nan} NaN, {int(bad.sum()) - n_nan} inf)"
                )
    return None


def _tmp_name(path: Path) -> Path:
    """A fresh named temporary beside ``path`` (the fallback's pattern ``.<name>.<pid>.<random>.tmp``)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")


def _remove_stale_temporaries(path: Path) -> None:
    """Delete ``.<name>.<pid>.<hex>.tmp`` files beside ``path`` whose writing process is gone (a killed save)."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(\d+)\.[0-9a-f]{{16}}\.tmp$")
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        match = pattern.match(name)
        if match and not pid_alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path.parent / name)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_named(tmp: Path, data: bytes) -> None:
    """Create ``tmp`` (must not exist) with ``data``, synced to disk."""
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # mode as a plain open() gives (umask applies)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_anonymous(folder: Path, tmp: Path, data: bytes) -> bool:
    """Write ``data`` to an ``O_TMPFILE`` in ``folder`` and link it as ``tmp`` once complete.

    Returns:
        False (nothing written) where the platform or file system offers no ``O_TMPFILE`` or no ``/proc`` to link it.
    """
    o_tmpfile = getattr(os, "O_TMPFILE", 0)
    if not o_tmpfile:
        return False
    try:
        fd = os.open(folder, o_tmpfile | os.O_WRONLY, 0o666)
    except OSError:
        return False
    try:
        _write_all(fd, data)
        os.fsync(fd)
        try:
            os.link(f"/proc/self/fd/{fd}", tmp)  # the name exists only from here to the rename that follows
        except OSError:
            return False
    finally:
        os.close(fd)  # an unlinked O_TMPFILE is freed here (or by the kernel if the process dies first)
    return True


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new one, and a killed writer leaves nothing.

    Linux: the bytes go to an ``O_TMPFILE`` (an inode with no name, freed if the process dies), which is linked to a
    temporary name only once complete and at once renamed onto ``path``. Elsewhere (or where the file system refuses
    ``O_TMPFILE``) a named temporary of this module's pattern is written and renamed; stale ones left by dead
    processes are removed first.
    """
    _remove_stale_temporaries(path)
    tmp = _tmp_name(path)
    try:
        if not _write_anonymous(path.parent, tmp, data):
            _write_named(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_path(path.parent)


def save_checkpoint(model: WorldModel, path: str | Path) -> Path:
    """Write ``model`` (weights, buffers, spec and weights checksum) to one ``.safetensors`` file, atomically.

    A process killed at any point of the save leaves the previous file (if any) untouched and no temporary behind
    (see :func:`atomic_write`).

    Args:
        model: any :class:`WorldModel`.
        path: destination; parent folders are created.

    Returns:
        The path written.

    Raises:
        ValueError: the spec is not JSON-serializable.
        CheckpointError: a weight is NaN or infinite (such a checkpoint would be refused on load).
    """
    path = Path(path)
    spec = model.spec
    try:
        spec_json = json.dumps(spec.to_dict(), allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"model.spec must be JSON-serializable (no NaN/inf) to be saved to {path} (check spec.provenance and "
            f"spec.calibration): {err}"
        ) from err
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    bad = _nonfinite_message(tensors)
    if bad is not None:
        raise CheckpointError(f"refusing to save {path}: {bad}; expected finite weights (did training diverge?)")
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(CHECKPOINT_FORMAT_VERSION),
        "spec": spec_json,
        CHECKSUM_KEY: weights_checksum(tensors),
    }
    data = save_safetensors_bytes(tensors, metadata=metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)
    return path


def stamp_checksum(path: str | Path) -> bool:
    """Add the weights checksum to a checkpoint written before checksums existed, changing nothing else.

    The tensors and the other metadata entries are copied as stored (bit for bit), and the file is replaced
    atomically.

    Args:
        path: a checkpoint file.

    Returns:
        True if the checksum was added, False if the file already had one (the file is then left alone).

    Raises:
        CheckpointError: the file is unreadable or not a neural_gym checkpoint, or its weights are non-finite.
    """
    path = Path(path)
    metadata, _ = _read_header(path)
    _spec_from_metadata(path, metadata)
    if CHECKSUM_KEY in metadata:
        return False
    try:
        tensors = load_safetensors_bytes(path.read_bytes())
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{path}: weights are unreadable (truncated or corrupt): {err}") from err
    bad = _nonfinite_message(tensors)
    if bad is not None:
        raise CheckpointError(f"{path}: {bad}; not stamping a checksum on non-finite weights")
    atomic_write(path, save_safetensors_bytes(tensors, metadata={**metadata, CHECKSUM_KEY: weights_checksum(tensors)}))
    return True


def resolve_checkpoint_path(path_or_name: str | Path) -> Path:
    """``"zoo:<Task>"``, a bare zoo task name, or a file path → existing file path.

    Raises:
        CheckpointNotFoundError: nothing there (the message lists what the zoo has).
    """
    if isinstance(path_or_name, str) and path_or_name.startswith("zoo:"):
        return zoo_path(path_or_name)
    path = Path(path_or_name)
    if path.is_file():
        return path
    if path.exists():
        raise CheckpointError(f"checkpoint path {path} is not a file")
    looks_like_name = isinstance(path_or_name, str) and os.sep not in path_or_name and "/" not in path_or_name
    if looks_like_name and path.suffix != ".safetensors":
        try:
            return zoo_path(path_or_name)
        except FileNotFoundError as err:
            raise CheckpointNotFoundError(f"no checkpoint file {path}, and {err}") from err
    raise CheckpointNotFoundError(f"no checkpoint file at {path}")


def _read_header(path: Path) -> tuple[dict[str, str], list[str]]:
    """Metadata and tensor names of a safetensors file, or :class:`CheckpointError`."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {}), list(f.keys())
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(
            f"{path} is not a readable safetensors file (truncated or corrupt): {err}; "
            "expected a neural_gym checkpoint written by save_checkpoint"
        ) from err


def _spec_from_metadata(path: Path, metadata: dict[str, str]) -> ModelSpec:
    fmt = metadata.get("format")
    if fmt != FORMAT_NAME:
        raise CheckpointError(
            f"{path} is a safetensors file but not a neural_gym checkpoint (metadata format={fmt!r}, "
            f"expected {FORMAT_NAME!r}; keys {sorted(metadata)})"
        )
    version = metadata.get("format_version")
    if version != str(CHECKPOINT_FORMAT_VERSION):
        raise CheckpointError(
            f"{path} has checkpoint format version {version}, this neural_gym reads version "
            f"{CHECKPOINT_FORMAT_VERSION}; regenerate the checkpoint (for the zoo: `make zoo`) or use the matching "
            "neural_gym release"
        )
    try:
        return ModelSpec.from_dict(json.loads(metadata["spec"]))
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path} is a neural_gym checkpoint with a missing or malformed spec: {err!r}") from err


def read_spec(path: str | Path) -> ModelSpec:
    """The :class:`ModelSpec` of a checkpoint, reading only the file header (no weights).

    Args:
        path: a checkpoint path, ``"zoo:<Task>"`` or a bare zoo task name.

    Raises:
        CheckpointError: missing, unreadable, or not a neural_gym checkpoint of this format version.
    """
    resolved = resolve_checkpoint_path(path)
    metadata, _ = _read_header(resolved)
    return _spec_from_metadata(resolved, metadata)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _spec_problem(spec: ModelSpec) -> str | None:
    """What contradicts itself in ``spec`` (shapes, action bounds, elites, calibration), or ``None``."""
    if (
        not isinstance(spec.obs_shape, tuple)
        or not spec.obs_shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in spec.obs_shape)
    ):
        return f"obs_shape {spec.obs_shape!r} is not a non-empty tuple of positive integers"
    if not isinstance(spec.action_dim, int) or isinstance(spec.action_dim, bool) or spec.action_dim < 1:
        return f"action_dim {spec.action_dim!r} is not a positive integer"
    for name in ("action_low", "action_high"):
        bound = getattr(spec, name)
        if not isinstance(bound, Sequence) or isinstance(bound, str) or len(bound) != spec.action_dim:
            return f"{name} {bound!r} is not a list of action_dim={spec.action_dim} numbers"
        if not all(_is_number(x) and not math.isnan(x) for x in bound):
            return f"{name} {list(bound)!r} holds a value that is not a number"
    for i, (lo, hi) in enumerate(zip(spec.action_low, spec.action_high, strict=True)):
        if lo > hi:
            return f"action bound {i} has low {lo} > high {hi} (expected low <= high)"
    if not isinstance(spec.ensemble_size, int) or isinstance(spec.ensemble_size, bool) or spec.ensemble_size < 1:
        return f"ensemble_size {spec.ensemble_size!r} is not a positive integer"
    elites = spec.elites
    if not isinstance(elites, Sequence) or isinstance(elites, str) or not elites:
        return f"elites {elites!r} is not a non-empty list of member indices"
    for e in elites:
        if not isinstance(e, int) or isinstance(e, bool) or not 0 <= e < spec.ensemble_size:
            return f"elite index {e!r} is out of range of the {spec.ensemble_size} members (expected 0..{spec.ensemble_size - 1})"
    if len(set(elites)) != len(elites):
        return f"elites {list(elites)} repeat a member"
    cal = spec.calibration
    if not isinstance(cal.thresholds, dict) or not cal.thresholds:
        return "it has no uncertainty calibration (calibration.thresholds is empty); calibrate it or set a threshold"
    if cal.measure not in cal.thresholds:
        return f"calibration measure {cal.measure!r} has no threshold (thresholds for {sorted(cal.thresholds)})"
    for measure, value in cal.thresholds.items():
        if not _is_number(value) or not math.isfinite(value):
            return f"calibration threshold of {measure!r} is {value!r}, expected a finite number"
    return None


def _bounds_problem(spec: ModelSpec, action_space: Any) -> str | None:
    """How ``spec``'s action bounds differ from ``action_space`` (``.low``/``.high``), or ``None``."""
    import numpy as np

    low = np.asarray(action_space.low, dtype=np.float64).reshape(-1)
    high = np.asarray(action_space.high, dtype=np.float64).reshape(-1)
    if low.shape != (spec.action_dim,) or high.shape != (spec.action_dim,):
        return f"it has {spec.action_dim} action dimensions, the task's action space has {low.size}"
    # Bounds are float32 in the envs and stored as floats: compare at the env's precision.
    ok_low = np.asarray(spec.action_low, dtype=np.float32) == low.astype(np.float32)
    ok_high = np.asarray(spec.action_high, dtype=np.float32) == high.astype(np.float32)
    if not (ok_low.all() and ok_high.all()):
        return (
            f"its action bounds low={list(spec.action_low)} high={list(spec.action_high)} differ from the task's "
            f"action space low={low.tolist()} high={high.tolist()}"
        )
    return None


_TASK_BOUNDS: dict[str, tuple[list[float], list[float]] | None] = {}


def _task_action_space(env_id: str) -> Any:
    """The action space of gymnasium env ``env_id`` (cached), or ``None`` if gymnasium cannot make it.

    gymnasium is imported here, lazily: ``world_models`` itself depends only on torch, numpy and safetensors.
    """
    if env_id not in _TASK_BOUNDS:
        try:
            import gymnasium

            env = gymnasium.make(env_id)
            try:
                space = env.action_space
                _TASK_BOUNDS[env_id] = (space.low.tolist(), space.high.tolist())  # type: ignore[attr-defined]
            finally:
                env.close()
        except Exception as err:  # noqa: BLE001 - any failure to build the env means "cannot check"
            warnings.warn(
                f"cannot check the checkpoint's action bounds against {env_id}: gymnasium cannot make it ({err})",
                stacklevel=3,
            )
            _TASK_BOUNDS[env_id] = None
    bounds = _TASK_BOUNDS[env_id]
    if bounds is None:
        return None
    from types import SimpleNamespace

    return SimpleNamespace(low=bounds[0], high=bounds[1])


def _verify_weights(path: Path, metadata: dict[str, str], tensors: Mapping[str, torch.Tensor]) -> None:
    """Checksum (when stored) and finiteness of the weights, or :class:`CheckpointError`."""
    stored = metadata.get(CHECKSUM_KEY)
    if stored is None:
        warnings.warn(
            f"{path} has no weights checksum (written before neural_gym stored one), so corruption cannot be "
            "detected; load and save it again to add one",
            UserWarning,
            stacklevel=3,
        )
    else:
        actual = weights_checksum(tensors)
        if actual != stored:
            raise CheckpointError(
                f"{path}: the weights do not match their checksum (stored {CHECKSUM_KEY} {stored}, computed "
                f"{actual}): the file is corrupt (flipped or altered bytes); restore or regenerate it"
            )
    bad = _nonfinite_message(tensors)
    if bad is not None:
        raise CheckpointError(f"{path}: {bad}; expected finite weights (the model diverged or the file is corrupt)")


def load_checkpoint(
    path_or_name: str | Path,
    *,
    task: str | None = None,
    family: str | None = None,
    device: str | torch.device = "auto",
    action_space: Any | None = None,
) -> WorldModel:
    """Rebuild a model from a checkpoint, refusing one that does not fit or is damaged.

    Args:
        path_or_name: a file path, ``"zoo:<Task>"``, or a bare zoo task name that is not an existing path.
        task: the task the caller expects (``spec.task``, case-insensitive, or its gymnasium id); ``None`` accepts any.
            When given, the checkpoint's action bounds must equal the task's action space (read from ``action_space``
            or, if that is ``None``, from ``gymnasium.make(spec.task_env_id)``; a warning if gymnasium cannot make it).
        family: the family the caller expects; ``None`` accepts any registered family.
        device: where to put the model (``"auto"``: CUDA when available).
        action_space: the task's action space (anything with ``.low`` and ``.high``, e.g. a gymnasium ``Box``); its
            bounds must equal the checkpoint's.

    Returns:
        The model, in eval mode, on ``device``, with its spec (calibration and provenance included).

    Raises:
        CheckpointError: missing file, truncated/corrupt file, weights that fail their checksum or are NaN/inf, not a
            neural_gym checkpoint, other format version, other task or family, unknown family, a spec that
            contradicts itself (low > high, elites out of range, no finite calibration threshold) or the task's
            action space, or weights that do not match the spec. The message names the file.
    """
    path = resolve_checkpoint_path(path_or_name)
    metadata, _ = _read_header(path)
    spec = _spec_from_metadata(path, metadata)
    what = f"checkpoint {path} is for task {spec.task} (family {spec.family})"
    if task is not None and task.lower() not in (spec.task.lower(), spec.task_env_id.lower()):
        raise CheckpointError(f"{what}, expected {task}")
    if family is not None and family != spec.family:
        raise CheckpointError(f"{what}, expected family {family}")
    problem = _spec_problem(spec)
    if problem is not None:
        raise CheckpointError(f"{what}, but its metadata is invalid: {problem}")
    if action_space is None and task is not None:
        action_space = _task_action_space(spec.task_env_id)
    if action_space is not None:
        problem = _bounds_problem(spec, action_space)
        if problem is not None:
            raise CheckpointError(f"{what}, but {problem}")
    if spec.family not in FAMILIES:
        raise CheckpointError(
            f"{what}, but family {spec.family!r} is not registered (known: {sorted(FAMILIES)}); "
            "import the package that defines it or call neural_gym.world_models.register_family"
        )
    dev = resolve_device(device)
    try:
        tensors: dict[str, Any] = load_safetensors_bytes(path.read_bytes())
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{path}: weights are unreadable (truncated or corrupt): {err}") from err
    _verify_weights(path, metadata, tensors)
    try:
        model = FAMILIES[spec.family].from_spec(spec)  # type: ignore[attr-defined]
    except (TypeError, ValueError, KeyError) as err:
        raise CheckpointError(f"{what}, but its spec cannot build a {spec.family} model: {err}") from err
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{what}, but its weights do not match the model its spec describes: {err}") from err
    return model.to(dev).eval()


def read_tagged_checkpoint(
    path: str | Path, *, fmt: str, version: Any, what: str, error: type[Exception]
) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """The metadata and tensors of a small safetensors checkpoint of one ``format`` tag, verified.

    For the project's small checkpoints that are not world models (frame judges, inverse-dynamics models): each
    stores ``format``, ``format_version`` and the weights' checksum (:func:`weights_checksum`) in its metadata.

    Args:
        path: the file.
        fmt: the expected ``format`` tag; ``version`` the expected ``format_version``.
        what: the kind of file with its article, for the messages (``"a judge"``).
        error: the exception class raised.

    Raises:
        error: an unreadable, truncated or corrupt file, another format or version, or weights that fail their
            checksum.
    """
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
        tensors = load_safetensors_bytes(path.read_bytes())
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise error(f"{path} is not a readable safetensors file (truncated or corrupt): {err}") from err
    if meta.get("format") != fmt:
        raise error(f"{path} is a safetensors file of format {meta.get('format')!r}, not {what} ({fmt}).")
    if meta.get("format_version") != version:
        raise error(f"{path} has format version {meta.get('format_version')} of {what}, expected {version}.")
    if meta.get(CHECKSUM_KEY) != weights_checksum(tensors):
        raise error(f"{path}: the weights do not match their checksum: the file is corrupt.")
    return meta, tensors
