"""Offline dream RL: a fixed dataset → a world model → an SB3 agent trained only inside the dream → scored in MuJoCo.

The dream starts every episode from a real state of the dataset (``start="dataset"``), runs at most ``horizon`` steps
(the rollout horizon h of MOPO/MOReL-style offline model-based RL) and handles uncertain steps by truncating them or by
the MOPO penalty ``r − λ·u`` (``on_uncertain="penalize"``, ``penalty=λ``).

Security:
    ``train_offline(..., resume=True)`` loads the run folder's ``agent.zip``, SB3's format, which SB3 **unpickles**:
    a malicious file runs arbitrary code. Only resume run folders you trust.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from neural_gym.envs import load_transitions
from neural_gym.world_models import CheckpointError, EnsembleConfig, WorldModel, load_checkpoint

from ..train import fit_ensemble
from ..vector_env import DreamVectorEnv
from .common import (
    EVAL_FILE,
    CheckpointCallback,
    DreamRLResult,
    EvalCallback,
    EvalLog,
    ProgressCallback,
    algo_class,
    check_eval,
    check_penalty,
    check_positive,
    check_task,
    load_agent,
    load_model,
    open_or_start,
)
from .runfolder import jsonable

UNCERTAINTY_RULES = ("truncate", "terminate", "penalize")


def train_offline(
    task: str,
    dataset_id: str | None = None,
    *,
    checkpoint: str | WorldModel | None = None,
    algo: str = "SAC",
    total_timesteps: int = 100_000,
    num_envs: int = 16,
    horizon: int = 100,
    on_uncertain: str = "truncate",
    penalty: float = 1.0,
    max_start_states: int = 10_000,
    model_config: EnsembleConfig | None = None,
    model_epochs: int = 50,
    eval_freq: int = 10_000,
    eval_episodes: int = 5,
    eval_max_episode_steps: int | None = None,
    save_freq: int = 10_000,
    out_dir: str | Path = "outputs/dream_rl/offline",
    resume: bool = False,
    overwrite: bool = False,
    seed: int = 0,
    device: str = "auto",
    tensorboard: bool = False,
    progress: bool = True,
    agent_kwargs: dict[str, Any] | None = None,
) -> DreamRLResult:
    """Train ``algo`` inside the dream of a fixed dataset and evaluate it periodically in MuJoCo.

    Args:
        task: ground-truth task (``"InvertedPendulum"``, ``"Hopper"``, ...).
        dataset_id: local Minari dataset: the world model is trained on it (unless ``checkpoint`` is given) and the
            dream's start states are drawn from its observations.
        checkpoint: use this world model (path, zoo name or model) instead of training one; without ``dataset_id``
            the checkpoint's own stored start states are used.
        algo: ``"PPO"`` or ``"SAC"``.
        total_timesteps: dream steps of agent training (in total, counting steps done before a resume).
        num_envs: parallel dream episodes (one model forward pass steps them all).
        horizon: rollout horizon h = the dream's ``max_episode_steps``.
        on_uncertain: ``"truncate"``, ``"terminate"`` or ``"penalize"`` (MOPO).
        penalty: MOPO λ for ``"penalize"``.
        max_start_states: cap on dataset observations stored as start states (drawn with the run's seed).
        model_config: ensemble shape when a model is trained (default :class:`EnsembleConfig`).
        model_epochs: epoch cap of model training.
        eval_freq: dream steps between MuJoCo evaluations.
        eval_episodes: paired episodes per evaluation.
        eval_max_episode_steps: evaluation time limit (default the task's).
        save_freq: dream steps between checkpoints of the run.
        out_dir: run folder: ``state.json`` (the commit point), ``gen-NNNNNN/`` (``agent.zip``,
            ``replay_buffer.npz`` for SAC, ``model.safetensors``), ``eval.csv`` (and ``tb/`` with ``tensorboard``);
            see :mod:`neural_gym.dream_rl.runfolder`.
        resume: continue the run saved in ``out_dir`` from its last complete save (a fresh run if nothing was
            saved). Every setting must match the saved run except ``total_timesteps``, ``save_freq``, ``device``,
            ``tensorboard`` and ``progress``. Loads ``agent.zip``, which SB3 unpickles: only resume folders you trust.
        overwrite: start over in an ``out_dir`` that holds a run (its run files are deleted); without it (and
            without ``resume``) such a folder is refused.
        seed: seeds the model, the start states, the dream and the agent.
        device: device of the world model and the agent.
        tensorboard: also log to TensorBoard under ``out_dir/tb``.
        progress: a progress bar on a terminal; off a terminal plain lines on stderr (periodic, and one per
            evaluation). See :class:`~neural_gym.dream_rl.common.ProgressCallback`.
        agent_kwargs: further keyword arguments of the SB3 constructor.

    Returns:
        A :class:`DreamRLResult`.

    Raises:
        ValueError: on an unknown task or algorithm, an uncertainty rule that does not exist, neither a dataset nor a
            checkpoint, a non-positive count, an existing run folder without ``resume`` or ``overwrite``, or a resume
            whose settings differ from the saved run's.
        CheckpointError: on resume, a run folder whose files are missing, changed or disagree with ``state.json``.
    """
    spec = check_task(task)
    cls = algo_class(algo)
    if on_uncertain not in UNCERTAINTY_RULES:
        raise ValueError(f"on_uncertain must be one of {list(UNCERTAINTY_RULES)}, got {on_uncertain!r}")
    penalty = check_penalty(penalty)
    check_positive(
        total_timesteps=total_timesteps,
        num_envs=num_envs,
        horizon=horizon,
        max_start_states=max_start_states,
        model_epochs=model_epochs,
    )
    check_eval(eval_freq, eval_episodes, eval_max_episode_steps, save_freq)
    if dataset_id is None and checkpoint is None:
        raise ValueError("offline mode needs a dataset_id (to train a world model on) or a checkpoint (or both)")
    out = Path(out_dir)
    settings = {
        "task": spec.name,
        "mode": "offline",
        "algo": cls.__name__,
        "dataset_id": dataset_id,
        "checkpoint": _describe(checkpoint),
        "num_envs": int(num_envs),
        "horizon": int(horizon),
        "on_uncertain": on_uncertain,
        "penalty": penalty,
        "max_start_states": int(max_start_states),
        "model_config": jsonable(asdict(model_config)) if model_config is not None else None,
        "model_epochs": int(model_epochs),
        "eval_freq": int(eval_freq),
        "eval_episodes": int(eval_episodes),
        "eval_max_episode_steps": eval_max_episode_steps,
        "seed": int(seed),
        "agent_kwargs": jsonable(agent_kwargs or {}),
    }
    generation = open_or_start(out, settings, resume=resume, overwrite=overwrite)
    agent_device = "cpu" if device == "auto" else device

    model: WorldModel | None
    if generation is not None:
        model = load_model(generation, spec.name, device)
        if model is None:
            raise CheckpointError(f"generation {generation.folder} of an offline run has no world model")
    else:
        model = _prepare_model(
            spec.name, dataset_id, checkpoint, model_config, model_epochs, max_start_states, seed, device, progress
        )
    dream = DreamVectorEnv(
        spec.name,
        model,
        num_envs,
        start="dataset",
        on_uncertain=on_uncertain,
        penalty=penalty,
        max_episode_steps=horizon,
        device=device,
    )
    venv = dream.to_sb3()
    venv.seed(seed)
    tb = str(out / "tb") if tensorboard else None
    if generation is not None:
        agent = load_agent(cls, generation, env=venv, device=agent_device, tensorboard_log=tb)
    else:
        kwargs: dict[str, Any] = {"seed": seed, "device": agent_device, "verbose": 0, "tensorboard_log": tb}
        if cls.__name__ == "PPO":
            kwargs.update(n_steps=max(64, 2048 // num_envs), batch_size=256)
        kwargs.update(agent_kwargs or {})
        agent = cls("MlpPolicy", venv, **kwargs)
    done = int(agent.num_timesteps)
    log = EvalLog(out / EVAL_FILE)
    shown = ProgressCallback(f"dream-train {spec.name} offline", int(total_timesteps), enabled=progress)
    evaluator = EvalCallback(
        spec.name,
        log,
        eval_freq=eval_freq,
        episodes=eval_episodes,
        seed=seed + 10_000,
        model=lambda: model,
        real_steps=lambda steps: 0,
        max_episode_steps=eval_max_episode_steps,
        dream_kwargs={"on_uncertain": on_uncertain, "penalty": penalty},
        report=shown.report,
    )
    saver = CheckpointCallback(
        out,
        model=lambda: model,
        settings=settings,
        save_freq=save_freq,
        generation=generation.state["generation"] if generation is not None else None,
    )
    remaining = int(total_timesteps) - done
    if remaining > 0:
        agent.learn(
            remaining,
            callback=[shown, evaluator, saver],
            reset_num_timesteps=generation is None,
            progress_bar=False,
            tb_log_name="offline",
        )
    if not log.rows or log.rows[-1]["timesteps"] < agent.num_timesteps:
        evaluator.init_callback(agent)
        evaluator.evaluate()
    venv.close()
    return DreamRLResult(
        agent=agent, model=model, out_dir=out, steps=int(agent.num_timesteps), real_steps=0, evaluations=log.rows
    )


def _describe(checkpoint: str | Path | WorldModel | None) -> str | None:
    """What the run records about ``checkpoint``: its path or name, or the model's class for an in-memory model."""
    if checkpoint is None or isinstance(checkpoint, (str, Path)):
        return None if checkpoint is None else str(checkpoint)
    return f"<in-memory {type(checkpoint).__name__}>"


def _prepare_model(
    task: str,
    dataset_id: str | None,
    checkpoint: str | WorldModel | None,
    config: EnsembleConfig | None,
    epochs: int,
    max_start_states: int,
    seed: int,
    device: str,
    progress: bool,
) -> WorldModel:
    spec = check_task(task)
    data = load_transitions(dataset_id) if dataset_id is not None else None
    if checkpoint is not None:
        model = (
            checkpoint if isinstance(checkpoint, WorldModel) else load_checkpoint(checkpoint, task=task, device=device)
        )
    else:
        assert data is not None
        model, _ = fit_ensemble(
            spec,
            data.observations,
            data.actions,
            data.next_observations,
            data.rewards,
            data.terminations,
            episode_ids=data.episode_ids,
            config=config,
            max_epochs=epochs,
            seed=seed,
            device=device,
            progress=progress,
            provenance={"dataset_id": dataset_id, "dataset_transitions": len(data)},
        )
    if data is not None:
        if not hasattr(model, "set_start_states"):
            raise ValueError(f"a {model.spec.family} model cannot take dataset start states; pass an ensemble model")
        rng = np.random.default_rng(seed)
        obs = data.observations
        if len(obs) > max_start_states:
            obs = obs[rng.choice(len(obs), size=max_start_states, replace=False)]
        model.set_start_states(obs)
    return model
