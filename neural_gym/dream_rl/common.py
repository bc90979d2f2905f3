"""Pieces shared by both dream-RL modes: argument checks, evaluation, progress lines, checkpoints and resume.

Security:
    :func:`load_agent` loads ``agent.zip``, SB3's format, which SB3 **unpickles**: a malicious file runs arbitrary code.
    Only resume run folders you trust. Everything else in a run folder is pickle-free (see
    :mod:`neural_gym.dream_rl.runfolder`).
"""

from __future__ import annotations

import csv
import io
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

from neural_gym.envs import TaskSpec, get_task
from neural_gym.world_models import CheckpointError, WorldModel, load_checkpoint

from ..evaluate import paired_episodes
from ..progress import ProgressBar, format_duration, progress_bar
from .gap import exploitation_gap, gap_text
from .runfolder import (
    AGENT_FILE,
    BUFFER_FILE,
    EVAL_FILE,
    MODEL_FILE,
    Generation,
    load_buffer,
    open_run,
    save_generation,
    start_fresh,
    truncate_eval,
)

ALGOS = ("PPO", "SAC")
"""SB3 algorithms the offline mode accepts (dyna needs an off-policy one: SAC)."""

EVAL_COLUMNS = (
    "timesteps",
    "real_steps",
    "real_return_mean",
    "real_return_std",
    "dream_return_mean",
    "dream_real_gap",
    "dream_real_gap_share",
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
    check_int(1, **values)


def check_int(minimum: int, **values: int) -> None:
    """``ValueError`` naming the first argument that is not an integer ``>= minimum``."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        if value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")


def check_penalty(penalty: float) -> float:
    """``penalty`` (MOPO λ) as a finite float ``>= 0``; ``ValueError`` otherwise."""
    value = float(penalty)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"penalty (MOPO λ) must be a finite number >= 0, got {penalty}")
    return value


def check_eval(eval_freq: int, eval_episodes: int, eval_max_episode_steps: int | None, save_freq: int) -> None:
    """``ValueError`` for a non-positive evaluation or checkpoint count (``eval_max_episode_steps`` may be ``None``)."""
    check_positive(eval_freq=eval_freq, eval_episodes=eval_episodes, save_freq=save_freq)
    if eval_max_episode_steps is not None:
        check_positive(eval_max_episode_steps=eval_max_episode_steps)


class ProgressCallback(BaseCallback):
    """Training progress through :func:`neural_gym.progress.progress_bar`, with one line per evaluation in logs.

    On a terminal (stderr a TTY) a tqdm bar whose postfix shows the last MuJoCo return. Off a terminal (a log file,
    CI, a pipe) plain lines on stderr: the helper's periodic ones (every 10 % or 30 s) and, from :meth:`report`, one
    per evaluation::

        dream-train InvertedPendulum dyna: step 150/300 (50%), 61 s: MuJoCo return 17.0 ± 0.0, dream return 12.0,
        dream-real gap -5.0 (-29.4% of MuJoCo)

    Args:
        desc: what trains, e.g. ``"dream-train InvertedPendulum dyna"``.
        total_timesteps: the run's step budget (counting steps done before a resume).
        enabled: ``False`` shows nothing.
        stream: where to write (default ``sys.stderr`` when training starts).
    """

    def __init__(self, desc: str, total_timesteps: int, *, enabled: bool = True, stream: IO[str] | None = None) -> None:
        super().__init__()
        self.desc = desc
        self.total_timesteps = int(total_timesteps)
        self.enabled = bool(enabled)
        self.stream = stream
        self.bar: ProgressBar[Any] | None = None
        self._start = 0
        self._t0 = time.perf_counter()

    def _out(self) -> IO[str]:
        return sys.stderr if self.stream is None else self.stream

    def _on_training_start(self) -> None:
        self._start = int(self.num_timesteps)
        self._t0 = time.perf_counter()
        resumed = f" (resumed at step {self._start})" if self._start else ""
        self.bar = progress_bar(
            total=max(self.total_timesteps - self._start, 0),
            desc=self.desc + resumed,
            unit="step",
            enabled=self.enabled,
            stream=self._out(),
        )

    def _on_step(self) -> bool:
        if self.bar is not None:
            done = int(self.num_timesteps) - self._start - self.bar.n
            if done > 0:
                self.bar.update(done)
        return True

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None  # evaluations after training (the final one) print as lines, not into a closed bar

    def report(self, row: dict[str, float]) -> None:
        """Show an evaluation row: the bar's postfix on a terminal, one plain line elsewhere."""
        if not self.enabled:
            return
        ret = f"{row['real_return_mean']:.1f}"
        if self.bar is not None:
            self.bar.set_postfix(mujoco_return=ret)
        if _is_terminal(self._out()):
            return
        steps = int(row["timesteps"])
        elapsed = time.perf_counter() - self._t0
        head = f"{self.desc}: step {steps}/{self.total_timesteps} ({100 * steps / max(self.total_timesteps, 1):.0f}%)"
        parts = [f"MuJoCo return {ret} ± {row['real_return_std']:.1f}"]
        gap = gap_text(row)
        if gap:
            parts += [f"dream return {row['dream_return_mean']:.1f}", gap]
        print(f"{head}, {format_duration(elapsed)}: {', '.join(parts)}", file=self._out(), flush=True)


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


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
                self.rows = [_with_gap({k: float(v) for k, v in row.items()}) for row in csv.DictReader(f)]

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


def _with_gap(row: dict[str, float]) -> dict[str, float]:
    """``row`` with its gap share, derived from its returns when the row comes from a run older than the column."""
    share = row.get("dream_real_gap_share", math.nan)
    if not math.isfinite(share) and "dream_return_mean" in row and "real_return_mean" in row:
        row["dream_real_gap_share"] = exploitation_gap(row["dream_return_mean"], row["real_return_mean"])[
            "dream_real_gap_share"
        ]
    return row


class EvalCallback(BaseCallback):
    """Every ``eval_freq`` agent steps, score the agent in MuJoCo and, when a world model is given, in the dream too.

    With a model the episodes are paired (:func:`neural_gym.evaluate.paired_episodes`: the dream starts from each
    MuJoCo start state), so ``dream_real_gap`` = dream return − MuJoCo return measures how much the agent exploits
    the model, and ``dream_real_gap_share`` = that gap over ``|MuJoCo return|``
    (:func:`neural_gym.dream_rl.gap.exploitation_gap`). Without a model (Dyna before its first refit) the dream
    columns are NaN. Rows go to an :class:`EvalLog` and to SB3's logger (so to TensorBoard when the agent has a
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
        report: called with each row after it is logged (progress lines; ``None``: nothing).
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
        report: Callable[[dict[str, float]], None] | None = None,
    ) -> None:
        super().__init__()
        check_positive(eval_freq=eval_freq, episodes=episodes)
        self.report = report
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
                **exploitation_gap(s["dream_return_mean"], s["real_return_mean"]),
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
        if self.report is not None:
            self.report(row)
        for key in ("real_return_mean", "dream_return_mean", "dream_real_gap", "dream_real_gap_share"):
            if key in row:
                self.logger.record(f"eval/{key}", row[key])
        return row


# ---------------------------------------------------------------------------------------------------------------------
# Checkpoints


class CheckpointCallback(BaseCallback):
    """Every ``save_freq`` agent steps (and at the end of training) save the run as one generation so it can resume.

    Saves happen at the start of a rollout, when every transition of the steps counted so far is in the replay buffer
    and the agent has trained on them (a save inside ``on_step`` would miss the step's transition).
    See :mod:`neural_gym.dream_rl.runfolder` for the layout and the commit protocol.

    Args:
        out: run folder.
        model: ``() -> WorldModel | None``, the current world model.
        settings: the run's settings (JSON-ready), saved in ``state.json`` and compared on resume.
        save_freq: agent steps between saves.
        generation: the generation committed before (``None``: none yet).
    """

    def __init__(
        self,
        out: Path,
        *,
        model: Callable[[], WorldModel | None],
        settings: dict[str, Any],
        save_freq: int,
        generation: str | None = None,
    ) -> None:
        super().__init__()
        check_positive(save_freq=save_freq)
        self.out = out
        self.get_model = model
        self.settings = settings
        self.save_freq = int(save_freq)
        self.generation = generation
        self._last = 0

    def _on_training_start(self) -> None:
        self._last = self.num_timesteps

    def _on_rollout_start(self) -> None:
        if self.num_timesteps - self._last >= self.save_freq:
            self.save()

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        if self.num_timesteps != self._last or self.generation is None:
            self.save()

    def save(self) -> None:
        """Save and commit a generation now."""
        self.generation = save_generation(
            self.out, agent=self.model, model=self.get_model(), settings=self.settings, previous=self.generation
        )
        self._last = self.num_timesteps


def load_agent(cls: type[BaseAlgorithm], generation: Generation, **kwargs: Any) -> BaseAlgorithm:
    """The SB3 agent (and its replay buffer) of a committed generation, checked against ``state.json``.

    Warning:
        ``agent.zip`` is SB3's format, which SB3 **unpickles** on load: a malicious file runs arbitrary code. Only
        load run folders you trust. Its sha256 is checked against ``state.json`` first, which catches corruption but
        not a folder crafted as a whole. The replay buffer is a pickle-free ``.npz`` (``allow_pickle=False``).

    Args:
        cls: the SB3 class.
        generation: what :func:`~neural_gym.dream_rl.runfolder.open_run` returned.
        **kwargs: further ``cls.load`` arguments (``env``, ``device``, ``tensorboard_log``).

    Raises:
        CheckpointError: a file differs from ``state.json``, or the agent's or buffer's step count is not the saved
            step.
    """
    data = generation.read(AGENT_FILE)
    agent = cls.load(io.BytesIO(data), **kwargs)
    if int(agent.num_timesteps) != generation.step:
        raise CheckpointError(
            f"{generation.folder / AGENT_FILE} is at step {agent.num_timesteps}, state.json says {generation.step}"
        )
    if isinstance(agent, OffPolicyAlgorithm):
        if not generation.has(BUFFER_FILE):
            raise CheckpointError(f"generation {generation.folder} of an off-policy agent has no {BUFFER_FILE}")
        load_buffer(agent, generation.read(BUFFER_FILE), generation.state.get("buffer") or {}, generation.step)
    agent._last_obs = None  # the saved last observation belongs to the interrupted env: start fresh episodes
    return agent


def load_model(generation: Generation, task: str, device: str) -> WorldModel | None:
    """The world model of a committed generation (``None`` if it has none), its sha256 checked first."""
    if not generation.has(MODEL_FILE):
        return None
    generation.read(MODEL_FILE)  # size and sha256 against state.json
    return load_checkpoint(generation.folder / MODEL_FILE, task=task, device=device)


def open_or_start(out: Path, settings: dict[str, Any], *, resume: bool, overwrite: bool) -> Generation | None:
    """Resume (the committed generation, or ``None`` when nothing was saved) or start fresh, refusing to clobber.

    Raises:
        ValueError: ``resume`` and ``overwrite`` together; a fresh run on a run folder without ``overwrite``; a
            resume whose settings differ from the saved run.
        CheckpointError: an unreadable, older-layout or inconsistent run folder on resume.
    """
    if resume and overwrite:
        raise ValueError("pass resume (--resume) or overwrite (--overwrite), not both")
    if not resume:
        start_fresh(out, overwrite=overwrite)
        return None
    generation = open_run(out, settings)
    out.mkdir(parents=True, exist_ok=True)
    truncate_eval(out / EVAL_FILE, generation.step if generation else 0, EVAL_COLUMNS)
    return generation


@dataclass
class DreamRLResult:
    """What a dream-RL run produced.

    Attributes:
        agent: the trained SB3 agent.
        model: the world model at the end of training (dyna: ``None`` if the run ended before its first refit).
        out_dir: the run folder (``state.json``, ``gen-NNNNNN/`` with the last saved agent, replay buffer and world
            model, ``eval.csv``, ...; see :mod:`neural_gym.dream_rl.runfolder`).
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
