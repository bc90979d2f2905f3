"""VLA checkpoints: one ``.safetensors`` file, the network's ``state_dict`` plus JSON metadata in its header.

Layout: tensors = ``net.state_dict()``; header metadata (str -> str) = ``{"format": "neural_gym_vla",
"format_version": "1", "config": <VLAConfig JSON>, "vocabulary": <token list JSON>, "info": <JSON>,
"weights_sha256": <hex>}``. ``info`` records the head kind, chunk size, image size, task families, training data
(dataset ids or the demo collection, episodes, steps), training steps, seed, wall time and the exact command.

The checksum and the atomic write are the world-model checkpoints' own
(:func:`neural_gym.world_models.checkpoint.weights_checksum`, the same ``O_TMPFILE`` + rename write). Loading refuses,
each with a message naming the file: a missing or unreadable (truncated, corrupt) file, a world-model or other
safetensors file, another format version, weights that fail their checksum or are not finite, a checkpoint for another
task family (``task=``) or another head kind (``head=``), and weights that do not fit the stored config.

Shipped checkpoints (the ladder, ``neural_gym/policies/vla/zoo``) load by name: ``load_vla("zoo:reach-regression-300demos-3000steps")``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from neural_gym.policies.vla.model import VLAConfig, VLANet
from neural_gym.policies.vla.policy import VLAPolicy
from neural_gym.policies.vla.vocab import Vocabulary
from neural_gym.world_models.checkpoint import CHECKSUM_KEY, CheckpointError, atomic_write, weights_checksum

VLA_FORMAT = "neural_gym_vla"
VLA_FORMAT_VERSION = "1"
ZOO_DIR = Path(__file__).resolve().parent / "zoo"
"""Folder of the shipped ladder checkpoints."""


class VLACheckpointError(CheckpointError):
    """A VLA checkpoint that cannot be used here; the message says what the file is and what was expected."""


def zoo_names() -> list[str]:
    """Names of the shipped VLA checkpoints (``zoo/<name>.safetensors``), sorted."""
    return sorted(p.stem for p in ZOO_DIR.glob("*.safetensors"))


def resolve_vla_path(path_or_name: str | Path) -> Path:
    """A file path, or ``"zoo:<name>"`` -> existing file.

    Raises:
        VLACheckpointError: When there is no such file (the message lists the zoo for a ``zoo:`` name).
    """
    if isinstance(path_or_name, str) and path_or_name.startswith("zoo:"):
        path = ZOO_DIR / f"{path_or_name[4:]}.safetensors"
        if not path.is_file():
            raise VLACheckpointError(
                f"No shipped VLA checkpoint {path_or_name!r}; the zoo has {zoo_names()} (regenerate with `make vla-zoo`)."
            )
        return path
    path = Path(path_or_name)
    if not path.is_file():
        raise VLACheckpointError(f"No VLA checkpoint file at {path}.")
    return path


def save_vla(policy: VLAPolicy, path: str | Path, info: dict[str, Any] | None = None) -> Path:
    """Write ``policy`` (weights, config, vocabulary, ``policy.metadata`` updated by ``info``) atomically.

    Returns:
        The path written.

    Raises:
        ValueError: When the metadata is not JSON-serializable (or holds NaN).
        VLACheckpointError: When a weight is not finite.
    """
    path = Path(path)
    meta = {**policy.metadata, **(info or {})}
    meta.update(head=policy.head, chunk_size=policy.chunk_size, image_size=policy.config.image_size)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in policy.net.state_dict().items()}
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise VLACheckpointError(f"Refusing to save {path}: tensor {name!r} has non-finite values.")
    try:
        header = {
            "format": VLA_FORMAT,
            "format_version": VLA_FORMAT_VERSION,
            "config": json.dumps(policy.config.to_dict()),
            "vocabulary": json.dumps(policy.vocab.tokens),
            "info": json.dumps(meta, allow_nan=False),
            CHECKSUM_KEY: weights_checksum(tensors),
        }
    except (TypeError, ValueError) as err:
        raise ValueError(f"The VLA metadata must be JSON-serializable to save {path}: {err}") from err
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, save_safetensors_bytes(tensors, metadata=header))
    policy.metadata = meta
    return path


def _header(path: Path) -> dict[str, str]:
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise VLACheckpointError(
            f"{path} is not a readable safetensors file (truncated or corrupt): {err}; expected a VLA checkpoint "
            "written by save_vla"
        ) from err
    fmt = metadata.get("format")
    if fmt != VLA_FORMAT:
        what = "a neural_gym world-model checkpoint" if fmt == "neural_gym" else f"a safetensors file of format {fmt!r}"
        raise VLACheckpointError(f"{path} is {what}, not a VLA policy checkpoint (format {VLA_FORMAT!r}).")
    if metadata.get("format_version") != VLA_FORMAT_VERSION:
        raise VLACheckpointError(
            f"{path} has VLA format version {metadata.get('format_version')}, this neural_gym reads "
            f"{VLA_FORMAT_VERSION}; regenerate it (`make vla-zoo` for the shipped ones)."
        )
    return metadata


def read_vla_info(path_or_name: str | Path) -> dict[str, Any]:
    """The ``info`` metadata of a VLA checkpoint (header only, no weights), with ``config`` and ``vocabulary`` added.

    Raises:
        VLACheckpointError: Missing, unreadable, not a VLA checkpoint, or malformed metadata.
    """
    path = resolve_vla_path(path_or_name)
    metadata = _header(path)
    try:
        info = json.loads(metadata["info"])
        info["config"] = json.loads(metadata["config"])
        info["vocabulary"] = json.loads(metadata["vocabulary"])
    except (KeyError, ValueError, TypeError) as err:
        raise VLACheckpointError(f"{path} is a VLA checkpoint with missing or malformed metadata: {err!r}") from err
    return info


def load_vla(
    path_or_name: str | Path,
    *,
    task: str | None = None,
    head: str | None = None,
    seed: int = 0,
    num_threads: int | None = 1,
) -> VLAPolicy:
    """Rebuild a :class:`VLAPolicy` from a checkpoint, refusing one that is damaged or does not fit.

    Args:
        path_or_name: A file path or ``"zoo:<name>"``.
        task: The tabletop family the caller will run (``None`` accepts any); must be among the checkpoint's families.
        head: The head kind expected (``None`` accepts any).
        seed: Initial seed of the flow head's noise.
        num_threads: Torch threads around each forward pass.

    Raises:
        VLACheckpointError: Missing, truncated or corrupt file; not a VLA checkpoint (a world model, another file);
            other format version; checksum mismatch or non-finite weights; another task or head; weights that do not
            fit the config. The message names the file.
    """
    path = resolve_vla_path(path_or_name)
    info = read_vla_info(path)
    families = info.get("tasks", [])
    if task is not None and task not in families:
        raise VLACheckpointError(f"{path} is a VLA for task families {families}, expected {task!r}.")
    if head is not None and info["config"].get("head") != head:
        raise VLACheckpointError(f"{path} is a VLA with a {info['config'].get('head')!r} head, expected {head!r}.")
    try:
        config = VLAConfig.from_dict(info["config"])
        vocab = Vocabulary(info["vocabulary"])
    except (TypeError, ValueError) as err:
        raise VLACheckpointError(f"{path} has an invalid VLA config or vocabulary: {err}") from err
    try:
        tensors = load_safetensors_bytes(path.read_bytes())
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise VLACheckpointError(f"{path}: weights are unreadable (truncated or corrupt): {err}") from err
    stored = _header(path).get(CHECKSUM_KEY)
    actual = weights_checksum(tensors)
    if stored != actual:
        raise VLACheckpointError(
            f"{path}: the weights do not match their checksum (stored {stored}, computed {actual}): the file is "
            "corrupt; restore or regenerate it."
        )
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise VLACheckpointError(f"{path}: tensor {name!r} has non-finite values.")
    if len(vocab) != config.vocab_size:
        raise VLACheckpointError(f"{path}: the vocabulary has {len(vocab)} tokens, the config {config.vocab_size}.")
    net = VLANet(config)
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise VLACheckpointError(f"{path}: the weights do not fit the stored VLA config: {err}") from err
    meta = {k: v for k, v in info.items() if k not in ("config", "vocabulary")}
    return VLAPolicy(net, vocab, meta, seed=seed, num_threads=num_threads)
