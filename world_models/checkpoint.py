"""Checkpoints: one ``.safetensors`` file per model, weights plus the JSON :class:`ModelSpec` in its header.

Layout: tensors = ``model.state_dict()`` (contiguous, CPU); metadata (str → str) = ``{"format": "neural_gym",
"format_version": "<CHECKPOINT_FORMAT_VERSION>", "spec": json.dumps(spec.to_dict())}``. Files are written atomically
(temporary file in the same folder, then ``os.replace``), so a reader never sees half a checkpoint.

Example:
    >>> path = save_checkpoint(model, "runs/hopper.safetensors")           # doctest: +SKIP
    >>> read_spec(path).task                                              # doctest: +SKIP
    'Hopper'
    >>> model = load_checkpoint("zoo:Hopper", task="Hopper", device="cpu")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from neural_gym.world_models.base import CHECKPOINT_FORMAT_VERSION, ModelSpec, WorldModel
from neural_gym.world_models.device import resolve_device
from neural_gym.world_models.ensemble.model import EnsembleModel
from neural_gym.world_models.latent.model import LatentModel
from neural_gym.world_models.video.model import VideoModel
from neural_gym.world_models.zoo import zoo_path

FORMAT_NAME = "neural_gym"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used here; the message says what the file is and what was expected."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """No checkpoint at the given path (or in the zoo under the given name)."""


#: Family name → model class (which must provide ``from_spec(spec)``).
FAMILIES: dict[str, type[WorldModel]] = {"ensemble": EnsembleModel, "latent": LatentModel, "video": VideoModel}


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


def save_checkpoint(model: WorldModel, path: str | Path) -> Path:
    """Write ``model`` (weights, buffers and spec) to one ``.safetensors`` file, atomically.

    Args:
        model: any :class:`WorldModel`.
        path: destination; parent folders are created.

    Returns:
        The path written.
    """
    path = Path(path)
    spec = model.spec
    try:
        spec_json = json.dumps(spec.to_dict())
    except TypeError as err:
        raise ValueError(f"model.spec must be JSON-serializable to be saved (check spec.provenance): {err}") from err
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    metadata = {"format": FORMAT_NAME, "format_version": str(CHECKPOINT_FORMAT_VERSION), "spec": spec_json}
    data = save_safetensors_bytes(tensors, metadata=metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the mode a plain open() would
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


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


def load_checkpoint(
    path_or_name: str | Path,
    *,
    task: str | None = None,
    family: str | None = None,
    device: str | torch.device = "auto",
) -> WorldModel:
    """Rebuild a model from a checkpoint, refusing one that does not fit.

    Args:
        path_or_name: a file path, ``"zoo:<Task>"``, or a bare zoo task name that is not an existing path.
        task: the task the caller expects (``spec.task``, case-insensitive, or its gymnasium id); ``None`` accepts any.
        family: the family the caller expects; ``None`` accepts any registered family.
        device: where to put the model (``"auto"``: CUDA when available).

    Returns:
        The model, in eval mode, on ``device``, with its spec (calibration and provenance included).

    Raises:
        CheckpointError: missing file, truncated/corrupt file, not a neural_gym checkpoint, other format version,
            other task or family, unknown family, or weights that do not match the spec.
    """
    path = resolve_checkpoint_path(path_or_name)
    metadata, _ = _read_header(path)
    spec = _spec_from_metadata(path, metadata)
    what = f"checkpoint {path} is for task {spec.task} (family {spec.family})"
    if task is not None and task.lower() not in (spec.task.lower(), spec.task_env_id.lower()):
        raise CheckpointError(f"{what}, expected {task}")
    if family is not None and family != spec.family:
        raise CheckpointError(f"{what}, expected family {family}")
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
    try:
        model = FAMILIES[spec.family].from_spec(spec)  # type: ignore[attr-defined]
    except (TypeError, ValueError, KeyError) as err:
        raise CheckpointError(f"{what}, but its spec cannot build a {spec.family} model: {err}") from err
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{what}, but its weights do not match the model its spec describes: {err}") from err
    return model.to(dev).eval()
