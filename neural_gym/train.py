"""From a ground-truth dataset to a saved world-model checkpoint (the bridge between ``envs`` and ``world_models``)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

from envs import TaskSpec, get_task, load_transitions
from world_models import EnsembleConfig, EnsembleModel, TrainReport, save_checkpoint, train_ensemble


def fit_ensemble(
    task: str | TaskSpec,
    obs: np.ndarray,
    actions: np.ndarray,
    next_obs: np.ndarray,
    rewards: np.ndarray,
    terminated: np.ndarray,
    *,
    episode_ids: np.ndarray | None = None,
    config: EnsembleConfig | None = None,
    max_epochs: int = 100,
    patience: int = 5,
    max_train_steps_per_epoch: int | None = None,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
    tensorboard_dir: str | None = None,
    provenance: dict[str, Any] | None = None,
) -> tuple[EnsembleModel, TrainReport]:
    """Train an ``ensemble`` world model of ``task`` on transition arrays (the task supplies spaces and bounds).

    Args:
        task: ground-truth task (name or :class:`envs.TaskSpec`).
        obs: ``[N, O]`` observations.
        actions: ``[N, A]`` actions in the env's range.
        next_obs: ``[N, O]`` observations after the step.
        rewards: ``[N]`` rewards.
        terminated: ``[N]`` the task's terminal condition after the step.
        episode_ids: ``[N]`` episode of each row (held-out data is then whole episodes).
        config: ensemble shape; default 7 members, 5 elites, 4x200 SiLU.
        max_epochs: epoch cap; training stops early on held-out data.
        patience: epochs without held-out improvement before stopping.
        max_train_steps_per_epoch: cap on optimizer steps per epoch (for frequent refits).
        batch_size: per-member batch size.
        lr: learning rate.
        seed: seeds the split, initialization and batches.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``.
        progress: show a progress bar.
        tensorboard_dir: write TensorBoard scalars there.
        provenance: recorded in the model's spec (dataset id, command, ...).

    Returns:
        The model and its training report.
    """
    spec = task if isinstance(task, TaskSpec) else get_task(task)
    env = spec.make()
    low, high = env.action_space.low.tolist(), env.action_space.high.tolist()
    obs_size = env.observation_space.shape[0]
    env.close()
    if obs.ndim != 2 or obs.shape[1] != obs_size:
        raise ValueError(
            f"task {spec.name} has observations of size {obs_size}, got data of shape {obs.shape}: "
            "was it collected on another task?"
        )
    return train_ensemble(
        obs,
        actions,
        next_obs,
        rewards,
        terminated,
        episode_ids=episode_ids,
        task=spec.name,
        task_env_id=spec.env_id,
        action_low=low,
        action_high=high,
        config=config or EnsembleConfig(),
        max_epochs=max_epochs,
        patience=patience,
        max_train_steps_per_epoch=max_train_steps_per_epoch,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
        progress=progress,
        tensorboard_dir=tensorboard_dir,
        provenance=provenance,
    )


def fit_world_model(
    task: str,
    dataset_id: str,
    *,
    command: str | None = None,
    **kwargs: Any,
) -> tuple[EnsembleModel, TrainReport]:
    """Train an ``ensemble`` world model on a local Minari dataset (without saving it).

    Args:
        task: ground-truth task the dataset was collected on.
        dataset_id: local Minari dataset id (see :func:`envs.collect`); recorded in the model's provenance.
        command: the command line recorded in the model's provenance (default: this process's argv).
        **kwargs: the keyword arguments of :func:`fit_ensemble` (``config``, ``max_epochs``, ``seed``, ...).

    Returns:
        The model and its training report.
    """
    data = load_transitions(dataset_id)
    provenance = {"dataset_id": dataset_id, "dataset_transitions": len(data), "command": command or shlex.join(sys.argv)}
    try:
        return fit_ensemble(
            task,
            data.observations,
            data.actions,
            data.next_observations,
            data.rewards,
            data.terminations,
            episode_ids=data.episode_ids,
            provenance=provenance,
            **kwargs,
        )
    except ValueError as err:
        raise ValueError(f"dataset {dataset_id}: {err}") from err


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
