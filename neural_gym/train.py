"""From a ground-truth dataset to a saved world-model checkpoint (the bridge between ``envs`` and ``world_models``)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from envs import get_task, load_transitions
from world_models import EnsembleConfig, EnsembleModel, TrainReport, save_checkpoint, train_ensemble


def fit_world_model(
    task: str,
    dataset_id: str,
    *,
    config: EnsembleConfig | None = None,
    max_epochs: int = 100,
    patience: int = 5,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
    tensorboard_dir: str | None = None,
    command: str | None = None,
) -> tuple[EnsembleModel, TrainReport]:
    """Train an ``ensemble`` world model on a local Minari dataset (without saving it).

    Args:
        task: ground-truth task the dataset was collected on.
        dataset_id: local Minari dataset id (see :func:`envs.collect`); recorded in the model's provenance.
        config: ensemble shape; default 7 members, 5 elites, 4x200 SiLU.
        max_epochs: epoch cap; training stops early on held-out episodes.
        patience: epochs without held-out improvement before stopping.
        batch_size: per-member batch size.
        lr: learning rate.
        seed: seeds the split, initialization and batches.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``.
        progress: show a progress bar.
        tensorboard_dir: write TensorBoard scalars there.
        command: the command line recorded in the model's provenance (default: this process's argv).

    Returns:
        The model and its training report.
    """
    spec = get_task(task)
    data = load_transitions(dataset_id)
    env = spec.make()
    low, high = env.action_space.low.tolist(), env.action_space.high.tolist()
    obs_size = env.observation_space.shape[0]
    env.close()
    if data.observations.shape[1] != obs_size:
        raise ValueError(
            f"dataset {dataset_id} has observations of size {data.observations.shape[1]}, "
            f"but task {spec.name} has {obs_size}: was it collected on another task?"
        )
    return train_ensemble(
        data.observations,
        data.actions,
        data.next_observations,
        data.rewards,
        data.terminations,
        episode_ids=data.episode_ids,
        task=spec.name,
        task_env_id=spec.env_id,
        action_low=low,
        action_high=high,
        config=config or EnsembleConfig(),
        max_epochs=max_epochs,
        patience=patience,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
        progress=progress,
        tensorboard_dir=tensorboard_dir,
        provenance={
            "dataset_id": dataset_id,
            "dataset_transitions": len(data),
            "command": command or shlex.join(sys.argv),
        },
    )


def train_world_model(
    task: str,
    dataset_id: str,
    out: str | Path,
    **kwargs: Any,
) -> tuple[EnsembleModel, TrainReport, Path]:
    """Train an ``ensemble`` world model on a local Minari dataset and save it atomically to ``out``.

    Args:
        task: ground-truth task the dataset was collected on.
        dataset_id: local Minari dataset id.
        out: checkpoint path (``.safetensors``).
        **kwargs: the keyword arguments of :func:`fit_world_model`.

    Returns:
        The model, its training report, and the checkpoint path.
    """
    model, report = fit_world_model(task, dataset_id, **kwargs)
    return model, report, save_checkpoint(model, out)
