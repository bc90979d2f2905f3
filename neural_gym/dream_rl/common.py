"""Pieces shared by both dream-RL modes: argument checks, world-model fitting, evaluation, checkpoints, resume state."""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

from neural_gym.envs import TaskSpec, get_task
from neural_gym.world_models import WorldModel, load_checkpoint, save_checkpoint

from ..evaluate import paired_episodes

ALGOS = ("PPO", "SAC")
"""SB3 algorithms the offline mode accepts (dyna needs an off-policy one: SAC)."""

AGENT_FILE = "agent.zip"
BUFFER_FILE = "replay_buffer.pkl"
MODEL_FILE = "model.safetensors"
STATE_FILE = "state.json"
EVAL_FILE = "eval.csv"

EVAL_COLUMNS = (
    "timesteps",
    "real_steps",
    "real_return_mean",
    "real_return_std",
    "dream_return_mean",
    "dream_real_gap",
    "dream_length_mean",
    "dream_ended_by_uncertainty",
    "wall_s",
)


def algo_class(algo: str) -> type[BaseAlgorithm]:
    """The SB3 class for ``algo`` (``"PPO"`` or ``"SAC"``, case-insensitive).

    Raises:
        ValueError: for any other name.
    """
    from stable_baselines3 import PPO, SAC

    classes: dict[str, type[BaseAlgorithm]] = {"PPO": PPO, "SAC": SAC}
    name = str(algo).upper()
    if name not in classes:
        raise ValueError(f"algo must be one of {list(ALGOS)}, got {algo!r}")
    return classes[name]


def check_task(task: str) -> TaskSpec:
    """Resolve ``task`` and make sure its action space is a bounded ``Box`` (what PPO and SAC both need).

    Raises:
        ValueError: for an unknown task (the message lists the known ones) or a non-``Box`` action space.
    """
    spec = get_task(task)
    env = spec.make()
    space = env.action_space
    env.close()
    if (
        not isinstance(space, gym.spaces.Box)
        or not np.all(np.isfinite(space.low))
        or not np.all(np.isfinite(space.high))
    ):
        raise ValueError(f"dream RL needs a bounded Box action space; task {spec.name} has {space}")
    return spec


def check_positive(**values: int) -> None:
    """``ValueError`` naming the first argument that is not a positive integer."""
    for name, value in values.items():
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


# ---------------------------------------------------------------------------------------------------------------------
# Evaluation


def real_returns(
    task: str, policy: Any, *, episodes: int, seed: int, max_episode_steps: int | None = None
) -> np.ndarray:
    """``[episodes]`` MuJoCo returns of ``policy`` (deterministic SB3 ``predict``), resets seeded ``seed + i``."""
    spec = get_task(task)
    env = spec.make()
    limit = max_episode_steps or spec.max_episode_steps
    out = np.zeros(episodes)
    try:
        for i in range(episodes):
            obs, _ = env.reset(seed=seed + i)
            for _ in range(limit):
                action = policy.predict(obs, deterministic=True)[0]
                obs, r, term, trunc, _ = env.step(action)
                out[i] += float(r)
                if term or trunc:
                    break
    finally:
        env.close()
    return out


@dataclass
class EvalLog:
    """Rows of the periodic MuJoCo evaluation, appended to a CSV file as they come.

    Attributes:
        path: the CSV file (``None``: keep rows in memory only).
        rows: every row written by this process (and read back from an existing file on resume).
    """

    path: Path | None
    rows: list[dict[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.path is not None and self.path.exists():
            with open(self.path, newline="") as f:
                self.rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]

    def append(self, row: dict[str, float]) -> None:
        """Add one row (and write it, with a header when the file is new)."""
        self.rows.append(row)
        if self.path is None:
            return
        new = not self.path.exists()
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(EVAL_COLUMNS))
            if new:
                writer.writeheader()
            writer.writerow({k: row.get(k, float("nan")) for k in EVAL_COLUMNS})


class EvalCallback(BaseCallback):
    """Every ``eval_freq`` agent steps, score the agent in MuJoCo and, when a world model is given, in the dream too.

    With a model the episodes are paired (:func:`neural_gym.evaluate.paired_episodes`: the dream starts from each
    MuJoCo start state), so ``dream_real_gap`` = dream return − MuJoCo return measures how much the agent exploits
    the model. Rows go to an :class:`EvalLog` and to SB3's logger (so to TensorBoard when the agent has a
    ``tensorboard_log``).

    Args:
        task: ground-truth task.
        log: where rows go.
        eval_freq: agent steps between evaluations.
        episodes: episodes per evaluation.
        seed: base seed of the evaluation resets (the same start states every time).
        model: ``() -> WorldModel | None``, the current world model (``None``: MuJoCo only).
        real_steps: ``(agent_steps) -> real env steps used so far`` for the CSV.
        max_episode_steps: evaluation time limit (default: the task's).
        dream_kwargs: further dream env arguments (``on_uncertain``, ``penalty``, ...).
    """

    def __init__(
        self,
        task: str,
        log: EvalLog,
        *,
        eval_freq: int,
        episodes: int = 5,
        seed: int = 10_000,
        model: Callable[[], WorldModel | None] = lambda: None,
        real_steps: Callable[[int], int] = lambda steps: steps,
        max_episode_steps: int | None = None,
        dream_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        check_positive(eval_freq=eval_freq, episodes=episodes)
        self.task = task
        self.log = log
        self.eval_freq = int(eval_freq)
        self.episodes = int(episodes)
        self.eval_seed = int(seed)
        self.get_model = model
        self.real_steps = real_steps
        self.max_episode_steps = max_episode_steps
        self.dream_kwargs = dict(dream_kwargs or {})
        self._t0 = time.perf_counter()
        self._next = 0

    def _on_training_start(self) -> None:
        done = [r["timesteps"] for r in self.log.rows]
        last = max(done) if done else -1
        # the next multiple of eval_freq after the last evaluation (resumed runs continue the schedule)
        self._next = (int(last) // self.eval_freq + 1) * self.eval_freq if last >= 0 else self.eval_freq

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self.evaluate()
            self._next = (self.num_timesteps // self.eval_freq + 1) * self.eval_freq
        return True

    def evaluate(self) -> dict[str, float]:
        """Run one evaluation now and log it."""
        model = self.get_model()
        steps = int(self.model.num_timesteps)
        row: dict[str, float] = {"timesteps": steps, "real_steps": self.real_steps(steps)}
        if model is not None:
            paired = paired_episodes(
                self.task,
                self.model,
                checkpoint=model,
                episodes=self.episodes,
                seed=self.eval_seed,
                max_episode_steps=self.max_episode_steps,
                progress=False,
                **self.dream_kwargs,
            )
            s = paired.summary()
            row.update(
                real_return_mean=s["real_return_mean"],
                real_return_std=s["real_return_std"],
                dream_return_mean=s["dream_return_mean"],
                dream_real_gap=s["dream_return_mean"] - s["real_return_mean"],
                dream_length_mean=s["dream_length_mean"],
                dream_ended_by_uncertainty=s["dream_end"]["uncertainty"],
            )
        else:
            rets = real_returns(
                self.task,
                self.model,
                episodes=self.episodes,
                seed=self.eval_seed,
                max_episode_steps=self.max_episode_steps,
            )
            row.update(real_return_mean=float(rets.mean()), real_return_std=float(rets.std()))
        row["wall_s"] = time.perf_counter() - self._t0
        self.log.append(row)
        for key in ("real_return_mean", "dream_return_mean", "dream_real_gap"):
            if key in row:
                self.logger.record(f"eval/{key}", row[key])
        return row


# ---------------------------------------------------------------------------------------------------------------------
# Checkpoints and resume


def _replace(tmp: Path, final: Path) -> None:
    os.replace(tmp, final)


def save_run(
    out: Path, agent: BaseAlgorithm, model: WorldModel | None, state: dict[str, Any], *, save_buffer: bool = True
) -> None:
    """Write agent, replay buffer, world model and ``state.json`` (each file replaced atomically, state last)."""
    out.mkdir(parents=True, exist_ok=True)
    agent.save(out / "agent.tmp.zip")
    _replace(out / "agent.tmp.zip", out / AGENT_FILE)
    if save_buffer and isinstance(agent, OffPolicyAlgorithm) and agent.replay_buffer is not None:
        agent.save_replay_buffer(out / "replay_buffer.tmp.pkl")
        _replace(out / "replay_buffer.tmp.pkl", out / BUFFER_FILE)
    if model is not None:
        save_checkpoint(model, out / "model.tmp.safetensors")
        _replace(out / "model.tmp.safetensors", out / MODEL_FILE)
    tmp = out / "state.tmp.json"
    tmp.write_text(json.dumps({**state, "step": int(agent.num_timesteps)}, indent=2))
    _replace(tmp, out / STATE_FILE)


def load_state(out: Path, expected: dict[str, Any]) -> dict[str, Any] | None:
    """The saved ``state.json`` of a run folder, or ``None`` when there is none.

    Raises:
        ValueError: when the folder holds a run of another task, mode or algorithm.
    """
    path = out / STATE_FILE
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    for key, value in expected.items():
        if state.get(key) != value:
            raise ValueError(
                f"{out} holds a run with {key}={state.get(key)!r}, not {value!r}; use another --out or resume=False"
            )
    return state


def load_model(out: Path, task: str, device: str) -> WorldModel:
    """The world model saved in a run folder."""
    return load_checkpoint(out / MODEL_FILE, task=task, device=device)


class CheckpointCallback(BaseCallback):
    """Every ``save_freq`` agent steps (and at the end of training) save the run so it can resume.

    Args:
        out: run folder.
        model: ``() -> WorldModel | None``, the current world model.
        state: extra JSON-ready facts saved with the step (task, mode, algo, ...).
        save_freq: agent steps between saves.
    """

    def __init__(
        self, out: Path, *, model: Callable[[], WorldModel | None], state: dict[str, Any], save_freq: int
    ) -> None:
        super().__init__()
        check_positive(save_freq=save_freq)
        self.out = out
        self.get_model = model
        self.state = state
        self.save_freq = int(save_freq)
        self._last = 0

    def _on_training_start(self) -> None:
        self._last = self.num_timesteps

    def _on_step(self) -> bool:
        if self.num_timesteps - self._last >= self.save_freq:
            self.save()
        return True

    def _on_training_end(self) -> None:
        self.save()

    def save(self) -> None:
        """Save now."""
        save_run(self.out, self.model, self.get_model(), self.state)
        self._last = self.num_timesteps


@dataclass
class DreamRLResult:
    """What a dream-RL run produced.

    Attributes:
        agent: the trained SB3 agent.
        model: the world model at the end of training (dyna: ``None`` if the run ended before its first refit).
        out_dir: the run folder (``agent.zip``, ``model.safetensors``, ``state.json``, ``eval.csv``, ...).
        steps: agent steps done in total (dream steps in offline mode, real steps in dyna mode).
        real_steps: real env steps used by the agent (0 offline; the dataset is counted apart).
        evaluations: the MuJoCo evaluation rows (see :data:`EVAL_COLUMNS`).
    """

    agent: BaseAlgorithm
    model: WorldModel | None
    out_dir: Path
    steps: int
    real_steps: int
    evaluations: list[dict[str, float]]

    @property
    def final_return(self) -> float:
        """MuJoCo return of the last evaluation (NaN if none)."""
        return self.evaluations[-1]["real_return_mean"] if self.evaluations else float("nan")
