"""Dyna / MBPO-style dream RL: SAC collects real data; short model rollouts branched from real states add more.

SB3's SAC runs on the real env and fills its replay buffer as usual. Two public extension points add the model:

- :class:`MixedReplayBuffer` (passed as ``replay_buffer_class``) holds a second buffer of imagined transitions and
  samples ``real_ratio`` of every batch from the real data and the rest from the imagined data.
- :class:`DynaCallback` refits the ensemble on all real data every ``model_train_freq`` real steps, then rolls
  ``rollout_batch_size`` dream episodes of ``horizon`` steps from states drawn out of the real replay buffer, acting with
  the current policy, and stores the imagined transitions in the model buffer.

Many gradient steps per real step (MBPO's high update-to-data ratio) is SAC's own ``gradient_steps`` argument.

Security:
    ``train_dyna(..., resume=True)`` loads the run folder's ``agent.zip``, SB3's format, which SB3 **unpickles**: a
    malicious file runs arbitrary code. Only resume run folders you trust. The replay buffers (real and imagined) are
    saved pickle-free (``replay_buffer.npz``).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.vec_env import VecNormalize

from neural_gym.world_models import CheckpointError, EnsembleConfig, WorldModel

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
    check_int,
    check_penalty,
    check_positive,
    check_task,
    load_agent,
    load_model,
    open_or_start,
)
from .runfolder import jsonable


def check_real_ratio(real_ratio: float) -> float:
    """``real_ratio`` as a float in ``[0, 1]``; ``ValueError`` otherwise."""
    value = float(real_ratio)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"real_ratio must be in [0, 1] (share of each batch drawn from real data), got {real_ratio}")
    return value


class MixedReplayBuffer(ReplayBuffer):
    """A replay buffer of real transitions with a second buffer of imagined ones beside it.

    ``add`` (what SB3 calls while collecting) stores real transitions; :meth:`add_model` stores imagined ones.
    ``sample(B)`` returns ``round(real_ratio·B)`` real rows and the rest imagined (all real while no imagined data
    exists yet).

    Args:
        buffer_size: real transitions kept.
        observation_space: observation space.
        action_space: action space.
        device: torch device of the samples.
        n_envs: parallel real envs.
        optimize_memory_usage: SB3's memory optimization of the real buffer.
        handle_timeout_termination: treat time-limit ends as non-terminal (SB3's default).
        real_ratio: share of each batch drawn from real data, in ``[0, 1]``.
        model_buffer_size: imagined transitions kept (the oldest are overwritten first).
    """

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        device: torch.device | str = "auto",
        n_envs: int = 1,
        optimize_memory_usage: bool = False,
        handle_timeout_termination: bool = True,
        real_ratio: float = 0.05,
        model_buffer_size: int = 400_000,
    ) -> None:
        super().__init__(
            buffer_size,
            observation_space,
            action_space,
            device=device,
            n_envs=n_envs,
            optimize_memory_usage=optimize_memory_usage,
            handle_timeout_termination=handle_timeout_termination,
        )
        self.real_ratio = check_real_ratio(real_ratio)
        check_positive(model_buffer_size=model_buffer_size)
        # one "env" column: imagined rows are written one batch at a time by add_model
        self.model_buffer = ReplayBuffer(model_buffer_size, observation_space, action_space, device=device, n_envs=1)

    def real_data(self) -> dict[str, np.ndarray]:
        """All real transitions so far, flattened over envs: ``obs``, ``actions`` (scaled to [-1, 1] as SAC stores
        them), ``next_obs``, ``rewards``, ``terminated`` (true terminal, not time-limit)."""
        n = self.buffer_size if self.full else self.pos
        obs = self.observations[:n].reshape(n * self.n_envs, -1)
        next_obs = self.next_observations[:n].reshape(n * self.n_envs, -1)
        dones = self.dones[:n].reshape(-1) > 0
        timeouts = self.timeouts[:n].reshape(-1) > 0
        return {
            "obs": obs.astype(np.float64),
            "actions": self.actions[:n].reshape(n * self.n_envs, -1).astype(np.float64),
            "next_obs": next_obs.astype(np.float64),
            "rewards": self.rewards[:n].reshape(-1).astype(np.float64),
            "terminated": dones & ~timeouts,
        }

    def add_model(
        self, obs: np.ndarray, next_obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, terminated: np.ndarray
    ) -> None:
        """Store ``[K, ...]`` imagined transitions (actions scaled to [-1, 1] like the real ones)."""
        buf = self.model_buffer
        for i in range(len(obs)):  # ReplayBuffer.add takes one row per env; K is a few thousand per refit
            buf.add(
                obs[i : i + 1], next_obs[i : i + 1], actions[i : i + 1], rewards[i : i + 1], terminated[i : i + 1], [{}]
            )

    def sample(self, batch_size: int, env: VecNormalize | None = None) -> ReplayBufferSamples:
        """``real_ratio`` of ``batch_size`` real rows, the rest imagined."""
        model_rows = self.model_buffer.size()
        n_real = batch_size if model_rows == 0 else int(round(self.real_ratio * batch_size))
        if self.size() == 0:
            n_real = 0
        parts: list[ReplayBufferSamples] = []
        if n_real > 0:
            parts.append(super().sample(n_real, env=env))
        if batch_size - n_real > 0:
            parts.append(self.model_buffer.sample(batch_size - n_real, env=env))
        if len(parts) == 1:
            return parts[0]
        # fields SB3 leaves as None (e.g. ``discounts`` without n-step returns) stay None
        return ReplayBufferSamples(
            *(None if fields[0] is None else torch.cat(fields, dim=0) for fields in zip(*parts, strict=True))
        )


class DynaCallback(BaseCallback):
    """Refit the world model on real data and fill the model buffer with short branched rollouts (MBPO).

    Args:
        task: ground-truth task.
        model: the current world model (``None``: the first refit creates one).
        model_train_freq: real steps between refits (and rollouts).
        rollout_batch_size: branched rollouts per refit (``B`` real start states).
        horizon: steps per branched rollout (MBPO's ``k``).
        on_uncertain: what an uncertain imagined step does; with ``"truncate"`` that step is not stored.
        penalty: MOPO λ for ``on_uncertain="penalize"``.
        model_config: ensemble shape.
        model_epochs: epoch cap per refit.
        model_steps_per_epoch: cap on optimizer steps per refit epoch (``None``: a full pass).
        min_real_steps: no refit before this many real transitions.
        seed: seeds refits and the choice of start states.
        device: device of the world model.
    """

    def __init__(
        self,
        task: str,
        model: WorldModel | None,
        *,
        model_train_freq: int = 250,
        rollout_batch_size: int = 400,
        horizon: int = 1,
        on_uncertain: str = "truncate",
        penalty: float = 1.0,
        model_config: EnsembleConfig | None = None,
        model_epochs: int = 20,
        model_steps_per_epoch: int | None = None,
        min_real_steps: int = 200,
        seed: int = 0,
        device: str = "auto",
    ) -> None:
        super().__init__()
        check_positive(model_train_freq=model_train_freq, rollout_batch_size=rollout_batch_size, horizon=horizon)
        self.spec = check_task(task)
        self.world_model = model
        self.model_train_freq = int(model_train_freq)
        self.rollout_batch_size = int(rollout_batch_size)
        self.horizon = int(horizon)
        self.on_uncertain = on_uncertain
        self.penalty = float(penalty)
        self.model_config = model_config
        self.model_epochs = int(model_epochs)
        self.model_steps_per_epoch = model_steps_per_epoch
        self.min_real_steps = int(min_real_steps)
        self.seed = int(seed)
        self.device = device
        self.refits = 0
        self._last_refit = 0

    def _on_training_start(self) -> None:
        self._last_refit = (self.num_timesteps // self.model_train_freq) * self.model_train_freq
        self.refits = self._last_refit // self.model_train_freq

    def _on_step(self) -> bool:
        if self.num_timesteps - self._last_refit >= self.model_train_freq and self.num_timesteps >= self.min_real_steps:
            self.refit()
            self.rollout()
            self._last_refit = self.num_timesteps
        return True

    @property
    def buffer(self) -> MixedReplayBuffer:
        """The agent's mixed replay buffer."""
        buf = self.model.replay_buffer
        if not isinstance(buf, MixedReplayBuffer):
            raise TypeError(f"DynaCallback needs replay_buffer_class=MixedReplayBuffer, got {type(buf).__name__}")
        return buf

    def refit(self) -> WorldModel:
        """Train a fresh ensemble on every real transition so far (real actions unscaled back to the env's range)."""
        data = self.buffer.real_data()
        actions = self.model.policy.unscale_action(data["actions"])
        self.world_model, _ = fit_ensemble(
            self.spec,
            data["obs"],
            actions,
            data["next_obs"],
            data["rewards"],
            data["terminated"],
            config=self.model_config,
            max_epochs=self.model_epochs,
            max_train_steps_per_epoch=self.model_steps_per_epoch,
            seed=self.seed + self.refits,
            device=self.device,
            progress=False,
            provenance={"dyna_real_steps": int(self.num_timesteps)},
        )
        self.refits += 1
        self.logger.record("dyna/refits", self.refits)
        self.logger.record("dyna/real_transitions", len(data["obs"]))
        return self.world_model

    def rollout(self) -> int:
        """Branch ``rollout_batch_size`` dream rollouts of ``horizon`` steps from real states; returns rows stored."""
        assert self.world_model is not None
        buf = self.buffer
        data = buf.real_data()
        rng = np.random.default_rng([self.seed, self.refits])
        starts = data["obs"][rng.integers(0, len(data["obs"]), size=self.rollout_batch_size)]
        dream = DreamVectorEnv(
            self.spec.name,
            self.world_model,
            self.rollout_batch_size,
            autoreset_mode=AutoresetMode.SAME_STEP,  # the branch reads info["final_obs"] of ended rollouts
            on_uncertain=self.on_uncertain,
            penalty=self.penalty,
            max_episode_steps=self.horizon,
            device=self.device,
        )
        obs, _ = dream.reset(seed=int(rng.integers(2**31 - 1)), options={"obs": starts})
        alive = np.ones(self.rollout_batch_size, dtype=bool)
        stored = 0
        for _ in range(self.horizon):
            action, _ = self.model.predict(obs, deterministic=False)  # [B, A] in the env's range
            next_obs, reward, terminated, truncated, info = dream.step(action)
            done = terminated | truncated
            real_next = next_obs.copy()
            if done.any():
                for i in np.flatnonzero(done):
                    real_next[i] = info["final_obs"][i]
            keep = alive & ~info["model_error"]
            if self.on_uncertain == "truncate":
                keep &= ~info["uncertainty_exceeded"]
            if keep.any():
                buf.add_model(
                    obs[keep].astype(np.float32),
                    real_next[keep].astype(np.float32),
                    self.model.policy.scale_action(np.asarray(action)[keep]).astype(np.float32),
                    reward[keep].astype(np.float32),
                    terminated[keep].astype(np.float32),
                )
                stored += int(keep.sum())
            alive &= ~done
            if not alive.any():
                break
            obs = next_obs
        dream.close()
        self.logger.record("dyna/model_rows", stored)
        return stored


def train_dyna(
    task: str,
    *,
    algo: str = "SAC",
    total_timesteps: int = 10_000,
    real_ratio: float = 0.05,
    gradient_steps: int = 10,
    batch_size: int = 256,
    learning_starts: int = 200,
    model_train_freq: int = 250,
    rollout_batch_size: int = 400,
    horizon: int = 1,
    model_buffer_size: int = 400_000,
    on_uncertain: str = "truncate",
    penalty: float = 1.0,
    model_config: EnsembleConfig | None = None,
    model_epochs: int = 20,
    model_steps_per_epoch: int | None = None,
    eval_freq: int = 1_000,
    eval_episodes: int = 5,
    eval_max_episode_steps: int | None = None,
    save_freq: int = 1_000,
    out_dir: str | Path = "outputs/dream_rl/dyna",
    resume: bool = False,
    overwrite: bool = False,
    seed: int = 0,
    device: str = "auto",
    tensorboard: bool = False,
    progress: bool = True,
    agent_kwargs: dict[str, Any] | None = None,
) -> DreamRLResult:
    """Train SAC MBPO-style: real collection, periodic model refits, branched model rollouts, mixed-batch updates.

    Args:
        task: ground-truth task.
        algo: must be ``"SAC"`` (the mode needs an off-policy algorithm with a replay buffer).
        total_timesteps: real env steps in total (counting steps done before a resume).
        real_ratio: share of each SAC batch drawn from real data, in ``[0, 1]`` (MBPO uses 0.05).
        gradient_steps: SAC updates per real step (the update-to-data ratio).
        batch_size: SAC batch size.
        learning_starts: real steps of uniform-random actions before SAC starts to learn.
        model_train_freq: real steps between model refits and rollouts.
        rollout_batch_size: branched rollouts per refit.
        horizon: steps per branched rollout.
        model_buffer_size: imagined transitions kept.
        on_uncertain: ``"truncate"`` (uncertain steps are dropped), ``"terminate"`` or ``"penalize"``.
        penalty: MOPO λ for ``"penalize"``.
        model_config: ensemble shape (default :class:`EnsembleConfig`).
        model_epochs: epoch cap per refit.
        model_steps_per_epoch: cap on optimizer steps per refit epoch.
        eval_freq: real steps between MuJoCo evaluations (dream-vs-real paired once a model exists).
        eval_episodes: episodes per evaluation.
        eval_max_episode_steps: evaluation time limit (default the task's).
        save_freq: real steps between checkpoints of the run.
        out_dir: run folder: ``state.json`` (the commit point), ``gen-NNNNNN/`` (``agent.zip``,
            ``replay_buffer.npz`` with the real and the imagined transitions, ``model.safetensors``), ``eval.csv``;
            see :mod:`neural_gym.dream_rl.runfolder`.
        resume: continue the run saved in ``out_dir`` from its last complete save (a fresh run if nothing was
            saved). Every setting must match the saved run except ``total_timesteps``, ``save_freq``, ``device``,
            ``tensorboard`` and ``progress``. Loads ``agent.zip``, which SB3 unpickles: only resume folders you trust.
        overwrite: start over in an ``out_dir`` that holds a run (its run files are deleted); without it (and
            without ``resume``) such a folder is refused.
        seed: seeds SAC, the env, the model refits and the rollouts.
        device: device of the world model and the agent.
        tensorboard: also log to TensorBoard under ``out_dir/tb``.
        progress: a progress bar on a terminal; off a terminal plain lines on stderr (periodic, and one per
            evaluation). See :class:`~neural_gym.dream_rl.common.ProgressCallback`.
        agent_kwargs: further keyword arguments of the SAC constructor.

    Returns:
        A :class:`DreamRLResult` (``real_steps == steps``).

    Raises:
        ValueError: for an algorithm other than SAC, ``real_ratio`` outside ``[0, 1]``, an unknown task or uncertainty
            rule, non-positive counts, an existing run folder without ``resume`` or ``overwrite``, or a resume whose
            settings differ from the saved run's.
        CheckpointError: on resume, a run folder whose files are missing, changed or disagree with ``state.json``.
    """
    spec = check_task(task)
    cls = algo_class(algo)
    if cls.__name__ != "SAC":
        raise ValueError(
            f"dyna mode needs an off-policy algorithm with a replay buffer (SAC); {cls.__name__} is on-policy. "
            "Use algo='SAC', or mode='offline' for PPO"
        )
    real_ratio = check_real_ratio(real_ratio)
    from .offline import UNCERTAINTY_RULES

    if on_uncertain not in UNCERTAINTY_RULES:
        raise ValueError(f"on_uncertain must be one of {list(UNCERTAINTY_RULES)}, got {on_uncertain!r}")
    penalty = check_penalty(penalty)
    check_positive(
        total_timesteps=total_timesteps,
        gradient_steps=gradient_steps,
        batch_size=batch_size,
        model_train_freq=model_train_freq,
        rollout_batch_size=rollout_batch_size,
        horizon=horizon,
        model_buffer_size=model_buffer_size,
        model_epochs=model_epochs,
    )
    check_int(0, learning_starts=learning_starts)
    if model_steps_per_epoch is not None:
        check_positive(model_steps_per_epoch=model_steps_per_epoch)
    check_eval(eval_freq, eval_episodes, eval_max_episode_steps, save_freq)
    out = Path(out_dir)
    settings = {
        "task": spec.name,
        "mode": "dyna",
        "algo": "SAC",
        "real_ratio": real_ratio,
        "gradient_steps": int(gradient_steps),
        "batch_size": int(batch_size),
        "learning_starts": int(learning_starts),
        "model_train_freq": int(model_train_freq),
        "rollout_batch_size": int(rollout_batch_size),
        "horizon": int(horizon),
        "model_buffer_size": int(model_buffer_size),
        "on_uncertain": on_uncertain,
        "penalty": penalty,
        "model_config": jsonable(asdict(model_config)) if model_config is not None else None,
        "model_epochs": int(model_epochs),
        "model_steps_per_epoch": model_steps_per_epoch,
        "eval_freq": int(eval_freq),
        "eval_episodes": int(eval_episodes),
        "eval_max_episode_steps": eval_max_episode_steps,
        "seed": int(seed),
        "agent_kwargs": jsonable(agent_kwargs or {}),
    }
    generation = open_or_start(out, settings, resume=resume, overwrite=overwrite)
    agent_device = "cpu" if device == "auto" else device
    env = Monitor(spec.make())
    tb = str(out / "tb") if tensorboard else None
    model: WorldModel | None = None
    if generation is not None:
        model = load_model(generation, spec.name, device)
        agent = load_agent(cls, generation, env=env, device=agent_device, tensorboard_log=tb)
        if not isinstance(agent.replay_buffer, MixedReplayBuffer):
            raise CheckpointError(
                f"{generation.folder} holds a SAC agent with a {type(agent.replay_buffer).__name__}, not the "
                "MixedReplayBuffer of a dyna run"
            )
    else:
        kwargs: dict[str, Any] = {
            "seed": seed,
            "device": agent_device,
            "verbose": 0,
            "tensorboard_log": tb,
            "batch_size": batch_size,
            "gradient_steps": gradient_steps,
            "learning_starts": learning_starts,
            "replay_buffer_class": MixedReplayBuffer,
            "replay_buffer_kwargs": {"real_ratio": real_ratio, "model_buffer_size": model_buffer_size},
        }
        kwargs.update(agent_kwargs or {})
        agent = cls("MlpPolicy", env, **kwargs)
    dyna = DynaCallback(
        spec.name,
        model,
        model_train_freq=model_train_freq,
        rollout_batch_size=rollout_batch_size,
        horizon=horizon,
        on_uncertain=on_uncertain,
        penalty=penalty,
        model_config=model_config,
        model_epochs=model_epochs,
        model_steps_per_epoch=model_steps_per_epoch,
        min_real_steps=max(learning_starts, 50),
        seed=seed,
        device=device,
    )
    log = EvalLog(out / EVAL_FILE)
    shown = ProgressCallback(f"dream-train {spec.name} dyna", int(total_timesteps), enabled=progress)
    evaluator = EvalCallback(
        spec.name,
        log,
        eval_freq=eval_freq,
        episodes=eval_episodes,
        seed=seed + 10_000,
        model=lambda: dyna.world_model,
        max_episode_steps=eval_max_episode_steps,
        dream_kwargs={"on_uncertain": on_uncertain, "penalty": penalty},
        report=shown.report,
    )
    saver = CheckpointCallback(
        out,
        model=lambda: dyna.world_model,
        settings=settings,
        save_freq=save_freq,
        generation=generation.state["generation"] if generation is not None else None,
    )
    remaining = int(total_timesteps) - int(agent.num_timesteps)
    if remaining > 0:
        agent.learn(
            remaining,
            callback=[shown, dyna, evaluator, saver],
            reset_num_timesteps=generation is None,
            progress_bar=False,
            tb_log_name="dyna",
        )
    if not log.rows or log.rows[-1]["timesteps"] < agent.num_timesteps:
        evaluator.init_callback(agent)
        evaluator.evaluate()
    env.close()
    final_model = dyna.world_model
    return DreamRLResult(
        agent=agent,
        model=final_model,
        out_dir=out,
        steps=int(agent.num_timesteps),
        real_steps=int(agent.num_timesteps),
        evaluations=log.rows,
    )
