"""The shipped default checkpoints: one ``<Task>.safetensors`` per task in this folder.

They are small (a few MB) and regenerated with ``make zoo``; each records the exact command in its provenance.

Example:
    >>> from neural_gym.world_models.zoo import available, zoo_path
    >>> available()                       # doctest: +SKIP
    ['HalfCheetah', 'Hopper', 'InvertedPendulum']
    >>> zoo_path("halfcheetah").name      # doctest: +SKIP
    'HalfCheetah.safetensors'
"""

from __future__ import annotations

import re
from pathlib import Path

#: Folder holding the shipped checkpoints.
ZOO_DIR: Path = Path(__file__).resolve().parent

_SUFFIX = ".safetensors"


def available() -> list[str]:
    """Task names that have a shipped checkpoint, sorted."""
    return sorted(p.name[: -len(_SUFFIX)] for p in ZOO_DIR.glob(f"*{_SUFFIX}") if p.is_file())


def zoo_path(task: str) -> Path:
    """Path of the shipped checkpoint for ``task`` (case-insensitive; ``"zoo:"`` prefix and ``-vN`` suffix ignored).

    Args:
        task: task name, e.g. ``"HalfCheetah"``, ``"zoo:halfcheetah"`` or ``"HalfCheetah-v5"``.

    Raises:
        FileNotFoundError: (a :class:`neural_gym.world_models.checkpoint.CheckpointNotFoundError`) when the zoo has no such
            checkpoint; the message lists what it has and how to regenerate it.
    """
    from neural_gym.world_models.checkpoint import CheckpointNotFoundError  # here: checkpoint imports this module

    name = task[len("zoo:") :] if task.startswith("zoo:") else task
    wanted = {name.lower(), re.sub(r"-v\d+$", "", name).lower()}
    for p in sorted(ZOO_DIR.glob(f"*{_SUFFIX}")):
        if p.is_file() and p.name[: -len(_SUFFIX)].lower() in wanted:
            return p
    have = available()
    raise CheckpointNotFoundError(
        f"no shipped checkpoint for task {name!r} in {ZOO_DIR} (the zoo has {have if have else 'no checkpoints yet'}); "
        "regenerate the shipped checkpoints with `make zoo`, or pass a checkpoint path"
    )
