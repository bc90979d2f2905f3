"""The main job: train an SB3 agent inside the dream, then judge it in MuJoCo, over several training seeds.

One PPO seed is not a result: on InvertedPendulum the same 60 000-step budget gives MuJoCo returns from a few hundred to
the 1000 ceiling depending on the seed (and on the torch thread count, which changes the floating-point order of SB3's
updates). :func:`run_demo` therefore trains ``n_seeds`` agents (seeds ``seed, seed + 1, ...``), plays each for the same
paired episodes (every pair starts from the same real state in MuJoCo and in the dream, start states seeded by
``seed + 10_000`` for every agent), and reports per-seed returns beside their mean and a 95% Student-t interval over
seeds. The random policy, which has no training seed, is played once. Every evaluation also gives the exploitation gap
(dream return − MuJoCo return, and that gap as a share of the MuJoCo return; :mod:`neural_gym.dream_rl.gap`): per seed,
and over seeds as the gap between the mean returns.

After the agents, two more parts show the other two uses on shipped defaults (each can be skipped):

- **policy evaluation** (:func:`neural_gym.evaluate.evaluate_policies`): :data:`DEMO_POLICIES`, a spread of the shipped
  VLA ladder and the three references, each for ``policy_episodes`` paired episodes in the shipped ``TabletopReach``
  dream and in MuJoCo; its report (:func:`neural_gym.evaluate.write_evaluation_report`) goes to ``evaluation/``;
- **drift** (:func:`neural_gym.drift.measure_drift`): the task's dream against MuJoCo from ``drift_starts`` held-out
  real states, on a small fresh held-out collection; its report (:func:`neural_gym.drift.write_report`) goes to
  ``drift/``.

:mod:`neural_gym.demo_report` ties the parts together in ``report.md`` and a self-contained ``report.html``. The whole
output folder is written all or nothing (:func:`neural_gym.drift.report.atomic_folder`).

The demo's own SB3 training and evaluation run with ``torch.set_num_threads(num_threads)`` (default 1) inside a context
that gives the previous setting back afterwards: SB3's small MLP updates gain nothing from a thread pool and collapse
when another process holds a core.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from neural_gym.envs import get_task

from .dream_rl.gap import exploitation_gap
from .drift.report import atomic_folder
from .evaluate import PairedEpisodes, paired_episodes
from .json_values import json_safe
from .threads import torch_threads
from .vector_env import DreamVectorEnv

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from .drift import DriftResult

#: Coverage of the interval over training seeds.
CI_LEVEL = 0.95
#: The evaluation part's policies: the shipped VLA ladder's rungs from its best to near its floor (ground-truth
#: success 1.0, 0.68, 0.32 and 0.04 over 50 episodes in ``benchmarks/results/policy_eval/ensemble/evaluation.json``) and the references.
DEMO_POLICIES = (
    "zoo:reach-regression-300demos-3000steps",
    "zoo:reach-bins-300demos-1500steps",
    "zoo:reach-bins-300demos-700steps",
    "zoo:reach-regression-300demos-300steps",
    "expert",
    "noisy-expert",
    "random",
)
#: The task of the evaluation part (its shipped dream is the judge).
EVAL_TASK = "TabletopReach"
#: Baselines of the drift part (those that need no training data).
DRIFT_BASELINES = ("copy_last", "linear")
#: Sub-folders of the demo's output folder.
PART_FOLDERS = {"evaluation": "evaluation", "drift": "drift"}


@dataclass
class DemoEvaluation:
    """The policy-evaluation part of the demo.

    Attributes:
        folder: its report folder (``evaluation/``: ``evaluation.json``, plots, videos, ``report.md``, ``report.html``).
        payload: the content of its ``evaluation.json``.
        seconds: wall time of playing the policies and writing the report.
    """

    folder: Path
    payload: dict[str, Any]
    seconds: float

    def table(self) -> str:
        """Per-policy success in both worlds, then the agreement figures and the inconclusive share (plain text)."""
        from .demo_report import evaluation_text

        return evaluation_text(self.payload)


@dataclass
class DemoDrift:
    """The drift part of the demo.

    Attributes:
        folder: its report folder (``drift/``: ``drift.json``, plots, ``drift.mp4``, ``report.md``).
        result: what :func:`neural_gym.drift.measure_drift` measured.
        seconds: wall time of measuring and writing the report.
    """

    folder: Path
    result: DriftResult
    seconds: float

    def table(self) -> str:
        """Error by horizon per predictor and how the uncertainty held against the true error (plain text)."""
        from .demo_report import drift_text

        return drift_text(self.result)


@dataclass
class DemoSeed:
    """One trained agent of the demo.

    Attributes:
        seed: the seed of its dream envs and its SB3 training.
        train_seconds: wall time of its training.
        episodes: its paired dream/real episodes.
        agent_path: where the agent was saved (``.zip``).
    """

    seed: int
    train_seconds: float
    episodes: PairedEpisodes
    agent_path: Path


@dataclass
class DemoResult:
    """What the demo measured.

    Attributes:
        task: the task trained on.
        algo: the SB3 algorithm.
        timesteps: dream steps of training per seed.
        runs: one :class:`DemoSeed` per training seed.
        random: paired dream/real episodes of a uniform random policy (the floor).
        over_seeds: per ``"real_return"``, ``"dream_return"`` and ``"dream_real_gap"`` (dream − MuJoCo), the mean
            over seeds of each agent's mean, the std over seeds, the 95% t-interval (``None`` bounds with one seed)
            and the per-seed values; ``"dream_real_gap_share"`` is the gap of the two means over ``|mean MuJoCo
            return|`` with the per-seed shares (:func:`neural_gym.dream_rl.gap.exploitation_gap`);
            ``"real_return_over_dream_steps"`` and ``"served_steps_gap_share"`` hold the MuJoCo return over only the
            steps each dream episode served and the gap against it (see
            :attr:`neural_gym.evaluate.PairedEpisodes.real_returns_over_dream_steps`).
        num_threads: torch threads the demo trained and evaluated with (``None``: torch's own setting).
        plot: path of the PNG written.
        json: path of the JSON written.
        evaluation: the policy-evaluation part (``None`` when skipped).
        drift: the drift part (``None`` when skipped).
        report_html: the combined report, one self-contained page.
        report_md: the combined report in Markdown.
        seconds: wall time of each part that ran (``"dream_rl"``, ``"evaluation"``, ``"drift"``) and ``"total"``.
    """

    task: str
    algo: str
    timesteps: int
    runs: list[DemoSeed]
    random: PairedEpisodes
    over_seeds: dict[str, dict[str, Any]]
    num_threads: int | None
    plot: Path
    json: Path
    evaluation: DemoEvaluation | None = None
    drift: DemoDrift | None = None
    report_html: Path | None = None
    report_md: Path | None = None
    seconds: dict[str, float] | None = None

    @property
    def seeds(self) -> list[int]:
        """The training seeds."""
        return [r.seed for r in self.runs]

    def table(self) -> str:
        """A plain-text table of dream vs real returns per seed, their mean and interval over seeds, and the floor."""
        secs = ", ".join(f"{r.train_seconds:.0f}" for r in self.runs)
        threads = "torch's default" if self.num_threads is None else str(self.num_threads)
        lines = [
            f"{self.algo} trained for {self.timesteps} steps inside the dream of {self.task}, "
            f"{len(self.runs)} seed(s) (training {secs} s; torch threads: {threads})",
            "",
            f"{'policy':<10} {'seed':>5} {'dream return':>18} {'MuJoCo return':>18} {'dream len':>10} {'real len':>9}"
            f" {'gap':>8} {'gap/MuJoCo':>10}",
        ]
        for r in self.runs:
            lines.append(_row(self.algo, str(r.seed), r.episodes))
        lines.append(_row("random", "-", self.random))
        real, dream = self.over_seeds["real_return"], self.over_seeds["dream_return"]
        lines.append("")
        lines.append(
            f"{self.algo} over {real['n_seeds']} seed(s), mean of the per-seed mean returns "
            f"[{CI_LEVEL:.0%} t-interval over seeds]:"
        )
        lines.append(f"  MuJoCo return {_fmt(real['mean'])} {_interval_text(real)}, per seed {_values(real)}")
        lines.append(f"  dream return  {_fmt(dream['mean'])} {_interval_text(dream)}, per seed {_values(dream)}")
        gap, share = self.over_seeds["dream_real_gap"], self.over_seeds["dream_real_gap_share"]
        lines.append(
            f"  dream - MuJoCo {_fmt(gap['mean'])} {_interval_text(gap)}, per seed {_values(gap)}; "
            f"{_share(share['value'])} of the MuJoCo return (per seed {', '.join(map(_share, share['per_seed']))})"
        )
        if "served_steps_gap_share" in self.over_seeds:
            served, sshare = self.over_seeds["real_return_over_dream_steps"], self.over_seeds["served_steps_gap_share"]
            lines.append(
                f"  MuJoCo return over the steps the dream served {_fmt(served['mean'])} {_interval_text(served)}; "
                f"the dream is {_share(sshare['value'])} of it"
            )
        ends: dict[str, int] = {}
        for r in self.runs:
            for k, v in r.episodes.summary()["dream_end"].items():
                ends[k] = ends.get(k, 0) + v
        lines.append("")
        lines.append("agents' dream episodes ended by: " + ", ".join(f"{k} {v}" for k, v in ends.items()))
        return "\n".join(lines)

    def summary(self) -> str:
        """Every part's text: :meth:`table`, then the evaluation's and the drift's tables (or that they were skipped)."""
        parts = [f"1. Dream RL\n\n{self.table()}"]
        parts.append(
            "2. Policy evaluation\n\n" + (self.evaluation.table() if self.evaluation else "skipped (--skip-eval)")
        )
        parts.append("3. Drift\n\n" + (self.drift.table() if self.drift else "skipped (--skip-drift)"))
        if self.seconds:
            parts.append("wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in self.seconds.items()))
        return "\n\n".join(parts)


def run_demo(
    task: str = "InvertedPendulum",
    *,
    algo: str = "PPO",
    timesteps: int = 60_000,
    num_envs: int = 16,
    eval_episodes: int = 10,
    seed: int = 0,
    n_seeds: int = 5,
    checkpoint: str | None = None,
    out_dir: str | Path = "outputs/demo",
    device: str = "auto",
    num_threads: int | None = 1,
    progress: bool = True,
    evaluate: bool = True,
    policies: Sequence[str] = DEMO_POLICIES,
    policy_episodes: int = 20,
    record_episodes: int = 1,
    drift: bool = True,
    drift_starts: int = 16,
    drift_heldout_steps: int = 2000,
    n_boot: int = 1000,
) -> DemoResult:
    """Train ``algo`` inside ``neural_gym/<task>-v0`` with ``n_seeds`` seeds, evaluate policies, measure drift.

    Every agent plays the same ``eval_episodes`` paired episodes (start states seeded by ``seed + 10_000``), so the
    spread over seeds is the spread of training, not of start states. Written all or nothing into ``out_dir`` (the
    folder is built beside it and renamed into place; an earlier demo folder there is replaced only by a complete
    one): ``demo_<Task>.json`` (per-seed returns and the interval over seeds), ``demo_<Task>.png``, one agent per seed
    (``<algo>_<Task>_seed<k>.zip``), ``evaluation/`` and ``drift/`` (the parts' own reports, unless skipped), and the
    combined ``report.md`` and ``report.html``.

    Args:
        task: ground-truth task (its shipped checkpoint is the dream); the drift part measures this dream too.
        algo: ``"PPO"`` or ``"SAC"``.
        timesteps: dream steps to train each seed for.
        num_envs: parallel dream envs (one model forward pass steps them all).
        eval_episodes: paired episodes per agent.
        seed: first training seed (seeds ``seed .. seed + n_seeds - 1``); also seeds the evaluation and the drift
            part's start states.
        n_seeds: number of agents trained.
        checkpoint: another world model to dream with (training and drift).
        out_dir: where everything goes; it must not exist, be empty, or hold an earlier demo (its ``report.md`` or
            ``demo_<Task>.json``).
        device: device for the world models and the agent.
        num_threads: torch intra-op threads for the whole demo, set for the duration and restored afterwards;
            ``None`` leaves torch's setting alone.
        progress: progress bars.
        evaluate: run the policy-evaluation part.
        policies: policy names of that part (as :func:`neural_gym.evaluate.evaluate_policies` takes them).
        policy_episodes: paired episodes per policy of that part (seeds ``1000 ..``, the ladder's).
        record_episodes: episodes per policy recorded as MuJoCo | dream videos in ``evaluation/videos/``.
        drift: run the drift part.
        drift_starts: held-out start states of that part.
        drift_heldout_steps: steps of its fresh held-out collection (the task's scripted expert with action noise 0.6
            where it has one, as the shipped InvertedPendulum data; else a random policy).
        n_boot: bootstrap resamples of the evaluation's and the drift's intervals.

    Returns:
        A :class:`DemoResult`.

    Raises:
        ValueError: an unknown ``algo``, a count that is not positive, or no policies.
        FileExistsError: ``out_dir`` is a file, or a folder with files that is not an earlier demo.
    """
    from stable_baselines3 import PPO, SAC

    spec = get_task(task)
    algos: dict[str, Any] = {"PPO": PPO, "SAC": SAC}
    if algo.upper() not in algos:
        raise ValueError(f"algo must be one of {sorted(algos)}, got {algo!r}")
    for name, value in (
        ("timesteps", timesteps),
        ("num_envs", num_envs),
        ("eval_episodes", eval_episodes),
        ("n_seeds", n_seeds),
        ("policy_episodes", policy_episodes),
        ("drift_starts", drift_starts),
        ("drift_heldout_steps", drift_heldout_steps),
        ("n_boot", n_boot),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(record_episodes, bool) or not isinstance(record_episodes, int) or record_episodes < 0:
        raise ValueError(f"record_episodes must be a whole number >= 0, got {record_episodes!r}")
    if num_threads is not None and (
        isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1
    ):
        raise ValueError(f"num_threads must be a positive integer or None, got {num_threads!r}")
    if evaluate and (isinstance(policies, str) or len(policies) == 0):
        raise ValueError(f"policies must be a non-empty sequence of policy names, got {policies!r}")
    out = Path(out_dir)
    _check_out(out)
    algo = algo.upper()
    cls = algos[algo]
    eval_seed = seed + 10_000
    common = {"checkpoint": checkpoint, "episodes": eval_episodes, "seed": eval_seed, "progress": progress}
    seconds: dict[str, float] = {}
    t_start = time.perf_counter()
    with atomic_folder(out) as stage, torch_threads(num_threads):
        runs: list[tuple[int, float, PairedEpisodes, str]] = []
        for s in range(seed, seed + n_seeds):
            agent, secs = _train(cls, spec.name, checkpoint, num_envs, s, timesteps, device, progress)
            name = f"{algo.lower()}_{spec.name}_seed{s}"
            agent.save(stage / name)

            def policy(obs: np.ndarray, agent: Any = agent) -> np.ndarray:
                return agent.predict(obs, deterministic=True)[0]

            runs.append((s, secs, paired_episodes(spec.name, policy, **common), f"{name}.zip"))
        rand = paired_episodes(spec.name, "random", **common)
        over = _over_seeds_with_gap([p for _, _, p, _ in runs])
        plot_name, json_name = f"demo_{spec.name}.png", f"demo_{spec.name}.json"
        _plot(spec.name, algo, [(s, p) for s, _, p, _ in runs], rand, over, stage / plot_name)
        payload = {
            "task": spec.name,
            "algo": algo,
            "timesteps": timesteps,
            "num_envs": num_envs,
            "seed": seed,
            "seeds": [s for s, _, _, _ in runs],
            "eval_seed": eval_seed,
            "eval_episodes": eval_episodes,
            "torch_threads": num_threads,
            "train_seconds": [secs for _, secs, _, _ in runs],
            "agent_over_seeds": over,
            "per_seed": [
                {"seed": s, "train_seconds": secs, "agent_file": f, **_episodes_json(p)} for s, secs, p, f in runs
            ],
            "random": _episodes_json(rand),
        }
        (stage / json_name).write_text(json.dumps(json_safe(payload), indent=2, allow_nan=False))
        seconds["dream_rl"] = time.perf_counter() - t_start
        evaluation = None
        if evaluate:
            t0 = time.perf_counter()
            evaluation = _evaluation_part(
                stage, out, policies, policy_episodes, min(record_episodes, policy_episodes), n_boot, device, progress
            )
            seconds["evaluation"] = evaluation.seconds = time.perf_counter() - t0
        drift_part = None
        if drift:
            t0 = time.perf_counter()
            drift_part = _drift_part(
                stage, out, spec.name, checkpoint, drift_starts, drift_heldout_steps, n_boot, seed, device, progress
            )
            seconds["drift"] = drift_part.seconds = time.perf_counter() - t0
        result = DemoResult(
            task=spec.name,
            algo=algo,
            timesteps=timesteps,
            runs=[DemoSeed(s, secs, p, out / f) for s, secs, p, f in runs],
            random=rand,
            over_seeds=over,
            num_threads=num_threads,
            plot=out / plot_name,
            json=out / json_name,
            evaluation=evaluation,
            drift=drift_part,
            seconds=seconds,
        )
        from .demo_report import REPORT_FILES, write_demo_report

        seconds["total"] = time.perf_counter() - t_start
        write_demo_report(result, stage)
        result.report_html, result.report_md = out / REPORT_FILES["html"], out / REPORT_FILES["markdown"]
    return result


def _check_out(out: Path) -> None:
    """Refuse an output folder that the demo's all-or-nothing replace would wipe out without being a demo's."""
    from .demo_report import REPORT_FILES

    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} is a file; the demo writes a folder (pass another out_dir)")
    earlier = (out / REPORT_FILES["markdown"]).is_file() or any(
        out.glob("demo_*.json")
    )  # this demo's or an older one's
    if out.is_dir() and any(out.iterdir()) and not earlier:
        raise FileExistsError(
            f"{out} holds files but no earlier demo's {REPORT_FILES['markdown']} or demo_<Task>.json; the demo replaces "
            "its whole output folder, so pass an empty or new out_dir"
        )


def _evaluation_part(
    stage: Path,
    out: Path,
    policies: Sequence[str],
    episodes: int,
    record: int,
    n_boot: int,
    device: str,
    progress: bool,
) -> DemoEvaluation:
    """The shipped VLA rungs and references in the TabletopReach dream and MuJoCo; the report in ``evaluation/``."""
    from .evaluate import evaluate_policies, write_evaluation_report
    from .evaluate.report import REPORT_FILES

    names = {p.removeprefix("zoo:"): p for p in policies}
    if len(names) != len(policies):
        raise ValueError(f"each policy once, please: got {list(policies)}")
    evaluation = evaluate_policies(
        names, EVAL_TASK, episodes=episodes, device=device, progress=progress, record_episodes=record
    )
    folder = write_evaluation_report(evaluation, stage / PART_FOLDERS["evaluation"], videos=record > 0, n_boot=n_boot)
    payload = json.loads((folder / REPORT_FILES["json"]).read_text())
    return DemoEvaluation(out / PART_FOLDERS["evaluation"], payload, 0.0)


def _drift_part(
    stage: Path,
    out: Path,
    task: str,
    checkpoint: str | None,
    starts: int,
    heldout_steps: int,
    n_boot: int,
    seed: int,
    device: str,
    progress: bool,
) -> DemoDrift:
    """The task's dream against MuJoCo from held-out real states (a small fresh collection); report in ``drift/``."""
    from neural_gym.envs.experts import EXPERTS

    from .drift import measure_drift, write_report

    policy, noise = ("expert", 0.6) if task in EXPERTS else ("random", 0.0)
    # the two baselines that need no data: the single MLP would train on the checkpoint's dataset (seconds to minutes,
    # and absent from a fresh clone)
    result = measure_drift(
        task,
        checkpoint,
        n_starts=starts,
        baselines=DRIFT_BASELINES,
        heldout_steps=heldout_steps,
        heldout_policy=policy,
        heldout_action_noise=noise,
        n_boot=n_boot,
        seed=seed,
        device=device,
        progress=progress,
    )
    write_report(result, stage / PART_FOLDERS["drift"], progress=progress)
    return DemoDrift(out / PART_FOLDERS["drift"], result, 0.0)


def _train(
    cls: Any, task: str, checkpoint: str | None, num_envs: int, seed: int, timesteps: int, device: str, progress: bool
) -> tuple[Any, float]:
    """One agent trained inside the dream; its wall time of training."""
    from stable_baselines3 import PPO

    venv = DreamVectorEnv(task, checkpoint, num_envs=num_envs, device=device).to_sb3()
    try:
        venv.seed(seed)
        kwargs: dict[str, Any] = {"seed": seed, "device": "cpu" if device == "auto" else device, "verbose": 0}
        if cls is PPO:
            kwargs.update(n_steps=max(64, 2048 // num_envs), batch_size=256, n_epochs=10, learning_rate=3e-4)
        agent = cls("MlpPolicy", venv, **kwargs)
        t0 = time.perf_counter()
        agent.learn(total_timesteps=timesteps, progress_bar=progress)
        return agent, time.perf_counter() - t0
    finally:
        venv.close()


def _over_seeds(values: list[float], level: float = CI_LEVEL) -> dict[str, Any]:
    """Mean, std and Student-t interval of per-seed values (``None`` for what one seed cannot tell)."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    mean = float(x.mean())
    out: dict[str, Any] = {"n_seeds": n, "mean": mean, "std": None, "ci_low": None, "ci_high": None}
    if n > 1:
        sd = float(x.std(ddof=1))
        half = float(stats.t.ppf((1 + level) / 2, n - 1)) * sd / math.sqrt(n)
        out.update(std=sd, ci_low=mean - half, ci_high=mean + half)
    return out | {"ci_level": level, "interval": "student_t_over_seeds", "per_seed": x.tolist()}


def _over_seeds_with_gap(runs: list[PairedEpisodes]) -> dict[str, dict[str, Any]]:
    """Returns and the exploitation gap over seeds (see :attr:`DemoResult.over_seeds`)."""
    real = [float(p.real_returns.mean()) for p in runs]
    dream = [float(p.dream_returns.mean()) for p in runs]
    over = {"real_return": _over_seeds(real), "dream_return": _over_seeds(dream)}
    over["dream_real_gap"] = _over_seeds([d - r for d, r in zip(dream, real, strict=True)])
    share = exploitation_gap(over["dream_return"]["mean"], over["real_return"]["mean"])["dream_real_gap_share"]
    per_seed = [exploitation_gap(d, r)["dream_real_gap_share"] for d, r in zip(dream, real, strict=True)]
    over["dream_real_gap_share"] = {
        "value": share,
        "per_seed": per_seed,
        "definition": "(mean dream return - mean MuJoCo return) / |mean MuJoCo return| over seeds",
    }
    if all(p.real_returns_over_dream_steps is not None for p in runs):
        served = [float(np.mean(p.real_returns_over_dream_steps)) for p in runs]  # type: ignore[arg-type]
        over["real_return_over_dream_steps"] = _over_seeds(served)
        over["served_steps_gap_share"] = {
            "value": exploitation_gap(over["dream_return"]["mean"], over["real_return_over_dream_steps"]["mean"])[
                "dream_real_gap_share"
            ],
            "per_seed": [exploitation_gap(d, r)["dream_real_gap_share"] for d, r in zip(dream, served, strict=True)],
            "definition": "(mean dream return - mean MuJoCo return over the steps each dream episode served) / |that "
            "MuJoCo return| over seeds: the gap left once a cut-off's shorter episodes are accounted for",
        }
    return over


def _episodes_json(p: PairedEpisodes) -> dict[str, Any]:
    s = p.summary()
    gap = exploitation_gap(s["dream_return_mean"], s["real_return_mean"])
    return {**s, **gap, "real_returns": p.real_returns.tolist(), "dream_returns": p.dream_returns.tolist()}


def _share(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:+.1f}%"


def _fmt(x: float | None, width: int = 0) -> str:
    text = "n/a" if x is None or not math.isfinite(x) else f"{x:.1f}"
    return f"{text:>{width}}"


def _row(name: str, seed: str, p: PairedEpisodes) -> str:
    s = p.summary()
    gap = exploitation_gap(s["dream_return_mean"], s["real_return_mean"])
    return (
        f"{name:<10} {seed:>5} {_fmt(s['dream_return_mean'], 10)} ± {_fmt(s['dream_return_std']):<5} "
        f"{_fmt(s['real_return_mean'], 10)} ± {_fmt(s['real_return_std']):<5} "
        f"{_fmt(s['dream_length_mean'], 10)} {_fmt(s['real_length_mean'], 9)} "
        f"{_fmt(gap['dream_real_gap'], 8)} {_share(gap['dream_real_gap_share']):>10}"
    )


def _interval_text(summary: dict[str, Any]) -> str:
    if summary["ci_low"] is None:
        return "[n/a: one seed gives no interval]"
    return f"[{_fmt(summary['ci_low'])}, {_fmt(summary['ci_high'])}] (std over seeds {_fmt(summary['std'])})"


def _values(summary: dict[str, Any]) -> str:
    return ", ".join(_fmt(v) for v in summary["per_seed"])


def _plot(
    task: str,
    algo: str,
    runs: list[tuple[int, PairedEpisodes]],
    rand: PairedEpisodes,
    over: dict[str, dict[str, Any]],
    path: Path,
) -> None:
    """Per-seed mean returns in both worlds and their mean over seeds with its interval (left); every episode (right)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    groups = [("random", rand), *((f"{algo} seed {s}", p) for s, p in runs)]
    x = np.arange(len(groups))
    for k, (label, attr) in enumerate((("dream", "dream_returns"), ("MuJoCo", "real_returns"))):
        vals = [getattr(p, attr) for _, p in groups]
        ax1.bar(
            x + (k - 0.5) * 0.38, [v.mean() for v in vals], 0.38, yerr=[v.std() for v in vals], label=label, capsize=4
        )
    # the mean over seeds, with its t-interval (no bar when one seed gives no interval)
    xm = len(groups)
    for k, key in enumerate(("dream_return", "real_return")):
        o = over[key]
        err = None if o["ci_low"] is None else [[o["mean"] - o["ci_low"]], [o["ci_high"] - o["mean"]]]
        ax1.bar(
            xm + (k - 0.5) * 0.38, o["mean"], 0.38, yerr=err, capsize=4, color=f"C{k}", hatch="//", edgecolor="white"
        )
    ax1.set_xticks([*x, xm], [*(g for g, _ in groups), f"mean of {len(runs)}\n(95% t-int.)"], rotation=15)
    ax1.set_ylabel("episode return (mean ± std over episodes)")
    ax1.set_title(f"{task}: dream vs MuJoCo, {len(runs)} training seed(s)")
    ax1.legend()
    everything = [rand, *(p for _, p in runs)]
    for (label, p), marker in zip(groups, ["x", "o", "s", "^", "v", "D", "P", "*"] * len(groups), strict=False):
        ax2.scatter(p.real_returns, p.dream_returns, label=label, marker=marker)
    lo = min(min(p.real_returns.min(), p.dream_returns.min()) for p in everything)
    hi = max(max(p.real_returns.max(), p.dream_returns.max()) for p in everything)
    ax2.plot([lo, hi], [lo, hi], "k--", lw=1, label="dream = MuJoCo")
    ax2.set_xlabel("MuJoCo return")
    ax2.set_ylabel("dream return (same start state)")
    ax2.set_title("paired episodes")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
