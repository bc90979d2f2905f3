"""What every drift run starts from, checked once for every observation kind: the model, the held-out episodes, the
horizons the data can reach, and the common arguments.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neural_gym.envs import Episode, collect, load_episodes
from neural_gym.world_models import CheckpointError, WorldModel, load_checkpoint


def load_model(task: str, checkpoint: str | Path | WorldModel | None, device: str) -> tuple[WorldModel, str]:
    """The model (in eval mode) and how reports name it; default the task's shipped checkpoint.

    Raises:
        CheckpointError: a model or checkpoint for another task.
    """
    if isinstance(checkpoint, WorldModel):
        if checkpoint.spec.task.lower() != task.lower():
            raise CheckpointError(
                f"the model is for task {checkpoint.spec.task} (family {checkpoint.spec.family}), expected {task}"
            )
        return checkpoint.eval(), f"<{type(checkpoint).__name__} for {checkpoint.spec.task}>"
    name = checkpoint if checkpoint is not None else f"zoo:{task}"
    return load_checkpoint(name, task=task, device=device), str(name)


def refuse_training_data(model: WorldModel, dataset_id: str | None, allow: bool, task: str) -> str | None:
    """The checkpoint's training dataset id (``None`` if unrecorded), refusing it as held-out data unless allowed.

    Raises:
        ValueError: ``dataset_id`` is the checkpoint's training data and ``allow`` is false.
    """
    train_dataset = (model.spec.provenance or {}).get("dataset_id")
    if dataset_id is not None and dataset_id == train_dataset and not allow:
        raise ValueError(
            f"dataset {dataset_id!r} is the checkpoint's training data; drift needs held-out data. Collect new data "
            f"with another seed (e.g. `neural-gym collect --task {task} --seed 1000 --dataset-id "
            f"neural_gym/{task}/heldout-v0`, with the checkpoint's observation mode), leave dataset_id=None to "
            "collect it, or pass allow_training_data=True"
        )
    return train_dataset


@contextlib.contextmanager
def minari_root(path: Path) -> Iterator[None]:
    """Point ``MINARI_DATASETS_PATH`` at ``path`` for the duration (Minari reads the folder only from there)."""
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def collect_heldout(
    task: str,
    steps: int,
    *,
    policy: Any,
    seed: int,
    dataset_name: str,
    progress: bool,
    seed_name: str = "heldout_seed",
    **collect_kwargs: Any,
) -> list[Episode]:
    """Fresh held-out episodes collected in a temporary Minari folder (deleted afterwards).

    Args:
        task: the task.
        steps: steps to collect.
        policy: the collecting policy (as :func:`neural_gym.envs.collect` takes it).
        seed: collection seed (never 0, the shipped training data's).
        dataset_name: the last part of the temporary dataset id (``"heldout-v0"``).
        progress: progress bar.
        seed_name: the caller's name of ``seed`` (for the error message).
        **collect_kwargs: more arguments of :func:`neural_gym.envs.collect` (``action_noise``, ``obs_mode`` ...).

    Raises:
        ValueError: ``seed`` is 0.
    """
    if seed == 0:
        raise ValueError(f"{seed_name} 0 is the seed the shipped training data used; choose another (default 1000)")
    tmp = Path(tempfile.mkdtemp(prefix="neural_gym_drift_"))
    try:
        with minari_root(tmp):
            dataset_id = collect(
                task,
                steps,
                policy=policy,
                seed=seed,
                dataset_id=f"neural_gym/{task}/{dataset_name}",
                progress=progress,
                **collect_kwargs,
            )
            return load_episodes(dataset_id)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def model_heldout_episodes(
    task: str,
    model: WorldModel,
    dataset_id: str | None,
    *,
    steps: int,
    policy: Any,
    seed: int,
    dataset_name: str,
    progress: bool,
    camera: Any = None,
    **collect_kwargs: Any,
) -> list[Episode]:
    """The held-out episodes a model is compared on: ``dataset_id``'s, or a fresh collection in the model's
    observation kind (:func:`collect_heldout`; for a frame model, frames of its size from ``camera``, else the camera
    its checkpoint records, else the task's).

    Args:
        task: the task.
        model: the model (its observation shape and provenance pick what is collected).
        dataset_id: a held-out Minari dataset, or ``None`` to collect.
        steps, policy, seed, dataset_name, progress: as :func:`collect_heldout`.
        camera: camera of a frame model's collection.
        **collect_kwargs: more arguments of :func:`collect_heldout` (``action_noise``, ``seed_name`` ...).
    """
    if dataset_id is not None:
        return load_episodes(dataset_id)
    from .frame_renders import image_size
    from .observation_kinds import is_frame_shape

    extra = dict(collect_kwargs)
    shape = tuple(int(s) for s in model.spec.obs_shape)
    if is_frame_shape(shape):
        extra |= {"obs_mode": "pixels", "image_size": image_size(shape)}  # type: ignore[arg-type]
        cam = camera if camera is not None else (model.spec.provenance or {}).get("camera")
        if cam is not None:
            extra["camera"] = cam
    return collect_heldout(task, steps, policy=policy, seed=seed, dataset_name=dataset_name, progress=progress, **extra)


def check_common(
    horizons: Sequence[int] | None, default: Sequence[int], n_starts: int, n_boot: int, level: float
) -> list[int]:
    """The sorted, de-duplicated horizons, after checking the arguments every drift run takes.

    Raises:
        ValueError: horizons that are not positive integers, ``n_starts < 1``, ``n_boot < 1`` or a level outside
            ``(0, 1)``.
    """
    hs = list(default if horizons is None else horizons)
    if not hs or any(isinstance(h, bool) or int(h) != h or h < 1 for h in hs):
        raise ValueError(f"horizons must be positive integers, got {list(hs)}")
    if n_starts < 1:
        raise ValueError(f"n_starts must be >= 1, got {n_starts}")
    if n_boot < 1 or not 0 < level < 1:
        raise ValueError(f"need n_boot >= 1 and 0 < ci_level < 1, got {n_boot} and {level}")
    return sorted({int(h) for h in hs})


def reachable_horizons(
    hs: list[int], longest: int, *, explicit: bool, context: int, noun: str, advice: str
) -> tuple[list[int], dict[str, str]]:
    """The horizons no longer than the longest recorded window, and why the others are skipped.

    Args:
        hs: the asked-for horizons.
        longest: the longest recorded window after a start with ``context - 1`` earlier observations.
        explicit: the caller asked for ``hs`` (then a horizon too long is an error, not a note).
        context: the context of the starts.
        noun: what one observation of context is called (``"step"``, ``"frame"``).
        advice: what to do instead (ends the error message).

    Raises:
        ValueError: an explicit horizon is too long, or none is reachable.
    """
    too_long = [h for h in hs if h > longest]
    if too_long and explicit:
        raise ValueError(
            f"horizon(s) {too_long} are longer than any recorded window: the longest held-out episode allows "
            f"{longest} steps after a start with {context} {noun}(s) of context. {advice}"
        )
    skipped = {str(h): f"no recorded window is {h} steps long (longest: {longest})" for h in too_long}
    hs = [h for h in hs if h not in too_long]
    if not hs:
        raise ValueError(f"no requested horizon is reachable: the longest recorded window is {longest} steps")
    return hs, skipped


def label(policy: Any) -> str:
    """How reports name a policy (``"random"``, ``"SB3 SAC"``, a function's name)."""
    if isinstance(policy, str):
        return policy
    if hasattr(policy, "predict"):
        return f"SB3 {type(policy).__name__}"
    return getattr(policy, "__name__", type(policy).__name__)


def fmt(x: Any) -> str:
    """A number for a table (3 significant digits; ``n/a`` for ``None`` and non-finite values)."""
    return "n/a" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.3g}"


def versions() -> dict[str, str]:
    """Python, torch and NumPy versions (for the reports' metadata)."""
    import platform

    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}


__all__ = [
    "check_common",
    "collect_heldout",
    "fmt",
    "label",
    "load_model",
    "minari_root",
    "reachable_horizons",
    "refuse_training_data",
    "versions",
]
