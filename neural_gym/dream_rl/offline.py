"""Offline dream RL: a fixed dataset → a world model → an SB3 agent trained only inside the dream → scored in MuJoCo.

The dream starts every episode from a real state of the dataset (``start="dataset"``), runs at most ``horizon`` steps
(the rollout horizon h of MOPO/MOReL-style offline model-based RL) and handles uncertain steps by truncating them or by
the MOPO penalty ``r − λ·u`` (``on_uncertain="penalize"``, ``penalty=λ``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from neural_gym.envs import load_transitions
from neural_gym.world_models import EnsembleConfig, WorldModel, load_checkpoint

from ..train import fit_ensemble
from ..vector_env import DreamVectorEnv
from .common import (
    AGENT_FILE,
    EVAL_FILE,
    CheckpointCallback,
    DreamRLResult,
    EvalCallback,
    EvalLog,
    algo_class,
    check_positive,
    check_task,
    load_model,
    load_state,
)

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
        out_dir: run folder: ``agent.zip``, ``replay_buffer.pkl`` (SAC), ``model.safetensors``, ``state.json``,
            ``eval.csv`` (and ``tb/`` with ``tensorboard``).
        resume: continue the run saved in ``out_dir`` from its saved step (a fresh run if nothing is saved).
        seed: seeds the model, the start states, the dream and the agent.
        device: device of the world model and the agent.
        tensorboard: also log to TensorBoard under ``out_dir/tb``.
        progress: progress bars.
        agent_kwargs: further keyword arguments of the SB3 constructor.

    Returns:
        A :class:`DreamRLResult`.

    Raises:
        ValueError: on an unknown task or algorithm, an uncertainty rule that does not exist, neither a dataset nor a
            checkpoint, a non-positive budget, or a run folder holding another run.
    """
    spec = check_task(task)
    cls = algo_class(algo)
    if on_uncertain not in UNCERTAINTY_RULES:
        raise ValueError(f"on_uncertain must be one of {list(UNCERTAINTY_RULES)}, got {on_uncertain!r}")
    if penalty < 0:
        raise ValueError(f"penalty (MOPO λ) must be >= 0, got {penalty}")
    check_positive(
        total_timesteps=total_timesteps, num_envs=num_envs, horizon=horizon, max_start_states=max_start_states
    )
    if dataset_id is None and checkpoint is None:
        raise ValueError("offline mode needs a dataset_id (to train a world model on) or a checkpoint (or both)")
    out = Path(out_dir)
    identity = {"task": spec.name, "mode": "offline", "algo": cls.__name__}
    state = load_state(out, identity) if resume else None
    agent_device = "cpu" if device == "auto" else device

    if state is not None:
        model = load_model(out, spec.name, device)
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
    if state is not None:
        agent = cls.load(out / AGENT_FILE, env=venv, device=agent_device, tensorboard_log=tb)
        if hasattr(agent, "load_replay_buffer") and (out / "replay_buffer.pkl").exists():
            agent.load_replay_buffer(out / "replay_buffer.pkl")
        agent._last_obs = None  # the saved last observation belongs to the interrupted env: start fresh episodes
    else:
        out.mkdir(parents=True, exist_ok=True)
        for stale in (EVAL_FILE,):
            (out / stale).unlink(missing_ok=True)
        kwargs: dict[str, Any] = {"seed": seed, "device": agent_device, "verbose": 0, "tensorboard_log": tb}
        if cls.__name__ == "PPO":
            kwargs.update(n_steps=max(64, 2048 // num_envs), batch_size=256)
        kwargs.update(agent_kwargs or {})
        agent = cls("MlpPolicy", venv, **kwargs)
    done = int(agent.num_timesteps)
    log = EvalLog(out / EVAL_FILE)
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
    )
    saver = CheckpointCallback(
        out, model=lambda: model, state={**identity, "dataset_id": dataset_id, "seed": seed}, save_freq=save_freq
    )
    remaining = int(total_timesteps) - done
    if remaining > 0:
        agent.learn(
            remaining,
            callback=[evaluator, saver],
            reset_num_timesteps=state is None,
            progress_bar=progress,
            tb_log_name="offline",
        )
    if not log.rows or log.rows[-1]["timesteps"] < agent.num_timesteps:
        evaluator.init_callback(agent)
        evaluator.evaluate()
    venv.close()
    return DreamRLResult(
        agent=agent, model=model, out_dir=out, steps=int(agent.num_timesteps), real_steps=0, evaluations=log.rows
    )


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
