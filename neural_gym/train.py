"""From a ground-truth dataset to a saved world-model checkpoint (the bridge between ``envs`` and ``world_models``).

Families: ``ensemble`` (state vectors, :func:`fit_ensemble`), ``latent`` (RSSM from state vectors or frames,
:func:`fit_latent`), ``video`` (pixel-space generator from frames, :func:`fit_video`) and ``wam`` (world action model
on state vectors, :func:`fit_wam`)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

from neural_gym.envs import TaskSpec, get_task, load_episodes, load_transitions
from neural_gym.world_models import (
    EnsembleConfig,
    EnsembleModel,
    TrainReport,
    WorldModel,
    save_checkpoint,
    train_ensemble,
)

#: World-model families :func:`fit_world_model` can train.
FAMILIES = ("ensemble", "latent", "video", "wam")


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
        task: ground-truth task (name or :class:`neural_gym.envs.TaskSpec`).
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
    if actions.ndim != 2 or actions.shape[1] != len(low):
        raise ValueError(
            f"task {spec.name} has actions of size {len(low)}, got data of shape {actions.shape}: "
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


def _sequence_dataset(
    task: str | TaskSpec, dataset_id: str, obs: str, command: str | None
) -> tuple[TaskSpec, list[Any], dict[str, Any], dict[str, Any]]:
    """Episodes of a local Minari dataset for the sequence families, checked against the task.

    Returns:
        The task, its episodes, the keyword arguments ``train_latent``/``train_video`` take from the task (ids and
        action bounds), and the provenance to record.
    """
    if obs not in ("state", "pixels"):
        raise ValueError(f"obs must be 'state' or 'pixels', got {obs!r}")
    spec = task if isinstance(task, TaskSpec) else get_task(task)
    episodes = load_episodes(dataset_id, env_id=spec.env_id)  # refuses data recorded on another environment
    if obs == "pixels" and any(ep.frames is None for ep in episodes):
        raise ValueError(
            f"dataset {dataset_id} has no frames; collect one with `neural-gym collect --task {spec.name} "
            "--obs-mode pixels`"
        )
    env = spec.make()
    low, high = env.action_space.low.tolist(), env.action_space.high.tolist()
    obs_size = env.observation_space.shape[0]
    env.close()
    for ep in episodes:
        if obs == "state" and ep.observations.shape[1] != obs_size:
            raise ValueError(
                f"task {spec.name} has observations of size {obs_size}, dataset {dataset_id} episode {ep.id} has "
                f"{ep.observations.shape[1]}: was it collected on another task?"
            )
        if ep.actions.shape[1] != len(low):
            raise ValueError(
                f"task {spec.name} has actions of size {len(low)}, dataset {dataset_id} episode {ep.id} has "
                f"{ep.actions.shape[1]}: was it collected on another task?"
            )
    task_kwargs = {"task": spec.name, "task_env_id": spec.env_id, "action_low": low, "action_high": high}
    provenance = {
        "dataset_id": dataset_id,
        "dataset_transitions": int(sum(len(ep.actions) for ep in episodes)),
        "observations": obs,
        "command": command or shlex.join(sys.argv),
    }
    return spec, episodes, task_kwargs, provenance


def fit_latent(
    task: str | TaskSpec,
    dataset_id: str,
    *,
    obs: str = "state",
    preset: str = "small",
    overrides: dict[str, Any] | None = None,
    command: str | None = None,
    **kwargs: Any,
) -> tuple[Any, Any]:
    """Train a ``latent`` (RSSM) world model on a local Minari dataset, from state vectors or from frames.

    Args:
        task: ground-truth task the dataset was collected on.
        dataset_id: local Minari dataset id; ``obs="pixels"`` needs one collected with ``obs_mode="pixels"``.
        obs: ``"state"`` (the observation vectors) or ``"pixels"`` (the stored frames).
        preset: size preset of :func:`neural_gym.world_models.latent.preset` (``"debug"``, ``"small"``, ``"medium"``).
        overrides: :class:`~neural_gym.world_models.latent.LatentConfig` fields to change in the preset (e.g.
            ``{"conv_depth": 8}``).
        command: the command line recorded in the model's provenance (default: this process's argv).
        **kwargs: keyword arguments of :func:`neural_gym.world_models.latent.train_latent` (``steps``, ``batch_size``,
            ``seq_len``, ``seed``, ``device``, ``progress``, ``log_dir``, ...).

    Returns:
        The model and its :class:`~neural_gym.world_models.latent.LatentTrainReport`.
    """
    from neural_gym.world_models.latent import SequenceData, train_latent
    from neural_gym.world_models.latent import preset as latent_preset

    _, episodes, task_kwargs, provenance = _sequence_dataset(task, dataset_id, obs, command)
    sequences = [
        SequenceData(
            observations=ep.frames if obs == "pixels" else ep.observations,
            actions=ep.actions,
            rewards=ep.rewards,
            terminations=ep.terminations,
        )
        for ep in episodes
    ]
    config: Any = preset
    if overrides:
        frame_size = episodes[0].frames.shape[1] if obs == "pixels" and episodes else 64
        kind = "pixels" if obs == "pixels" else "vector"
        config = latent_preset(preset, obs_kind=kind, image_size=frame_size, **overrides)
    return train_latent(sequences, **task_kwargs, config=config, provenance=provenance, **kwargs)


def fit_video(
    task: str | TaskSpec,
    dataset_id: str,
    *,
    preset: str = "small",
    overrides: dict[str, Any] | None = None,
    command: str | None = None,
    **kwargs: Any,
) -> tuple[Any, Any]:
    """Train a ``video`` (DIAMOND-style pixel generator) world model on the frames of a local Minari pixel dataset.

    The dataset's state vectors (stored beside the frames) train the model's state probe.

    Args:
        task: ground-truth task the dataset was collected on.
        dataset_id: local Minari dataset id collected with ``obs_mode="pixels"``.
        preset: size preset of :func:`neural_gym.world_models.video.preset` (``"debug"``, ``"small32"``, ``"small"``).
        overrides: :class:`~neural_gym.world_models.video.VideoConfig` fields to change in the preset.
        command: the command line recorded in the model's provenance (default: this process's argv).
        **kwargs: keyword arguments of :func:`neural_gym.world_models.video.train_video` (``steps``, ``batch_size``, ``lr``,
            ``seed``, ``device``, ``progress``, ``log_dir``, ...).

    Returns:
        The model and its :class:`~neural_gym.world_models.video.VideoTrainReport`.
    """
    from neural_gym.world_models.video import preset as video_preset
    from neural_gym.world_models.video import train_video

    _, episodes, task_kwargs, provenance = _sequence_dataset(task, dataset_id, "pixels", command)
    size = int(episodes[0].frames.shape[1]) if episodes else 64
    config = video_preset(preset, image_size=size, **(overrides or {}))
    return train_video(episodes, **task_kwargs, config=config, provenance=provenance, **kwargs)


def fit_wam(
    task: str | TaskSpec,
    dataset_id: str,
    *,
    preset: str = "small",
    overrides: dict[str, Any] | None = None,
    clips_dataset_id: str | None = None,
    command: str | None = None,
    **kwargs: Any,
) -> tuple[Any, Any]:
    """Train a ``wam`` (world action model) on the state vectors, actions and instructions of a local Minari dataset.

    Args:
        task: ground-truth task the dataset was collected on.
        dataset_id: local Minari dataset id (action-labelled episodes).
        preset: size preset of :func:`neural_gym.world_models.wam.preset` (``"debug"``, ``"small"``).
        overrides: :class:`~neural_gym.world_models.wam.WAMConfig` fields to change in the preset.
        clips_dataset_id: another dataset of the same task whose episodes are used as action-free clips (their
            actions are never read).
        command: the command line recorded in the model's provenance (default: this process's argv).
        **kwargs: keyword arguments of :func:`neural_gym.world_models.wam.train_wam` (``steps``, ``batch_size``,
            ``lr``, ``seed``, ``device``, ``progress``, ``log_dir``, ...).

    Returns:
        The model and its :class:`~neural_gym.world_models.wam.WAMTrainReport`.
    """
    from neural_gym.world_models.wam import preset as wam_preset
    from neural_gym.world_models.wam import train_wam

    config = wam_preset(preset, **(overrides or {}))  # a settings error names the setting, not the dataset
    spec, episodes, task_kwargs, provenance = _sequence_dataset(task, dataset_id, "state", command)
    clips: list[Any] = []
    if clips_dataset_id is not None:
        clips = [
            {"observations": ep.observations, "instruction": ep.instruction}
            for ep in _sequence_dataset(spec, clips_dataset_id, "state", command)[1]
        ]
        provenance["clips_dataset_id"] = clips_dataset_id
    return train_wam(episodes, clips=clips, **task_kwargs, config=config, provenance=provenance, **kwargs)


def fit_world_model(
    task: str,
    dataset_id: str,
    *,
    family: str = "ensemble",
    command: str | None = None,
    **kwargs: Any,
) -> tuple[WorldModel, Any]:
    """Train a world model of ``family`` on a local Minari dataset (without saving it).

    Args:
        task: ground-truth task the dataset was collected on.
        dataset_id: local Minari dataset id (see :func:`neural_gym.envs.collect`); recorded in the model's provenance.
        family: ``"ensemble"`` (:func:`fit_ensemble`), ``"latent"`` (:func:`fit_latent`), ``"video"``
            (:func:`fit_video`) or ``"wam"`` (:func:`fit_wam`).
        command: the command line recorded in the model's provenance (default: this process's argv).
        **kwargs: the keyword arguments of :func:`fit_ensemble` (``config``, ``max_epochs``, ``seed``, ...) or of
            :func:`fit_latent` (``obs``, ``preset``, ``steps``, ``seed``, ...), of :func:`fit_video` or of :func:`fit_wam`.

    Returns:
        The model and its training report.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if family == "latent":
        return fit_latent(task, dataset_id, command=command, **kwargs)
    if family == "video":
        return fit_video(task, dataset_id, command=command, **kwargs)
    if family == "wam":
        return fit_wam(task, dataset_id, command=command, **kwargs)
    if kwargs.get("config") is not None:
        kwargs["config"].validate()  # a settings error names the setting, not the dataset
    spec = get_task(task)
    data = load_transitions(dataset_id, env_id=spec.env_id)  # refuses data recorded on another environment
    provenance = {
        "dataset_id": dataset_id,
        "dataset_transitions": len(data),
        "command": command or shlex.join(sys.argv),
    }
    try:
        return fit_ensemble(
            spec,
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
) -> tuple[WorldModel, Any, Path]:
    """Train a world model on a local Minari dataset and save it atomically to ``out``.

    Args:
        task: ground-truth task the dataset was collected on.
        dataset_id: local Minari dataset id.
        out: checkpoint path (``.safetensors``).
        **kwargs: the keyword arguments of :func:`fit_world_model` (``family="latent"`` for an RSSM).

    Returns:
        The model, its training report, and the checkpoint path.
    """
    model, report = fit_world_model(task, dataset_id, **kwargs)
    return model, report, save_checkpoint(model, out)
