"""Rollout-calibrated cut-offs of the shipped ensembles, beside the one-step rule, and the realized conformal rate.

For each task with a shipped checkpoint (``world_models/zoo``; nothing there is changed): the held-out dataset of
``benchmarks/drift.py`` (seed 1000, the training data's policy; collected if missing), ``--episodes`` start states
rolled open loop for ``--horizon`` steps (:func:`neural_gym.drift.rollout_records`; actions as ``drift.py``'s
``auto``: recorded where the ground truth terminates or the data is expert data, else a random policy), then
:func:`neural_gym.drift.calibrate_records` (τ = 1.0 normalized RMSE, default level ``--alpha``): signal and
split-conformal threshold on a calibration half, figures on the scoring half, and the one-step rule (disagreement
above the checkpoint's threshold) scored on the same scoring half. Reported per task:

- AUROC of the chosen signal (and of every candidate, the spread of whole member trajectories among them) for
  "normalized error > τ"; the share of cut-offs justified; the shares of episodes cut no later than the trusted horizon
  and no earlier than half of it;
- the shipped checkpoint's own stored cut-off (``make zoo-calibrate``: chosen on seed-2000 held-out data, so these
  seed-1000 episodes are out of sample) scored on all of this run's episodes, with the realized rate of its stored
  conformal curve at each α of ``--alphas`` (``shipped_cutoff``; absent for a checkpoint without one);
- the realized conformal rate: over ``--splits`` seeded calibration/scoring splits of the same episodes, the mean over
  scoring episodes of the per-episode share of wrong kept steps under the conformal threshold for each α of
  ``--alphas`` (what the guarantee bounds by α in expectation), with its spread, and the kept share.

Targets (issue "uncertainty that warns in time"): AUROC ≥ 0.9; ≥ 90% of cut-offs justified; cut no later than the
trusted horizon in ≥ 90% of episodes and no earlier than half of it in ≥ 75%; realized rate within 0.02 of α. Each is
reported met or not, beside the one-step rule's figure. Writes ``benchmarks/results/calibration.json``.

    OMP_NUM_THREADS=1 python benchmarks/calibration.py [--tasks Hopper,HalfCheetah] [--episodes 128] [--horizon 100]

``--families`` runs the same measurement on the shipped checkpoints of the other families instead (:data:`FAMILY_RUNS`:
the latent models from state and from frames, the video models and the world action model) and writes
``benchmarks/results/calibration_families.json``. Each is rolled open loop from real states of a fresh held-out
collection (seed 1000, the checkpoint's training policy; its training data used seed 0) with a random policy acting
on the real states (``actions="random"``; recorded actions where the ground truth terminates), and calibrated over the
signals its Dream env computes. The error is the observation kind's: normalized RMSE for state vectors (τ = 1), the
RMS pixel error for frames, with τ the error of PSNR = ``tau_psnr``: 20 dB as the frame drift reports use, except on
Reacher, whose frames are mostly static background, so that a frame with the arm wholly misplaced still scores about
21 dB and 20 dB is never reached; 25 dB there (copy-last-frame is at 24–25 dB after one step). Besides every
candidate's AUROC it reports the AUROC of the step index alone (``clock_auroc``): a signal that only grows with the
horizon scores that much, so the margin above it is what the signal knows beyond the clock; and every signal's
``within_step_auroc`` (:func:`neural_gym.world_models.calibration.within_step_auroc`: episodes ranked only against
each other at equal steps, where the clock scores 0.5). Both are reported for the ensembles too. Target: AUROC ≥ 0.8
(pixel families), the state targets above for the state-vector models.

    OMP_NUM_THREADS=1 python benchmarks/calibration.py --families [--only TabletopReach-wam]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
TASKS = ["InvertedPendulum", "Reacher", "HalfCheetah", "Hopper", "Pusher", "Walker2d"]
TAU = 1.0
TARGETS = {
    "auroc": 0.9,
    "justified_share": 0.9,
    "cut_no_later_share": 0.9,
    "cut_no_earlier_than_half_share": 0.75,
    "realized_rate_tolerance": 0.02,
}


#: ``(task, checkpoint, held-out policy, actions, tau)`` of ``--families``; ``tau`` is a normalized RMSE for state
#: models and a PSNR in dB for frame models (see the module docstring for Reacher's 25 dB).
FAMILY_RUNS: list[tuple[str, str, str, str, float]] = [
    ("InvertedPendulum", "InvertedPendulum-latent", "expert", "recorded", 1.0),
    ("Reacher", "Reacher-latent", "random", "random", 1.0),
    ("Reacher", "Reacher-latent-pixels", "random", "random", 25.0),
    ("Reacher", "Reacher-video", "random", "random", 25.0),
    ("TabletopReach", "TabletopReach-latent-pixels", "expert", "random", 20.0),
    ("TabletopReach", "TabletopReach-video", "expert", "random", 20.0),
    ("TabletopReach", "TabletopReach-wam", "expert", "random", 1.0),
]
PIXEL_AUROC_TARGET = 0.8


def _f3(x: float | None) -> str:
    """A figure for the progress lines; ``n/a`` where it is undefined (``None`` after ``json_safe``)."""
    return "n/a" if x is None else f"{x:.3f}"


def _clock_auroc(records: Any, tau: float) -> float:
    """AUROC of the step index alone for ``error > tau`` (what a signal that only grows with the horizon scores)."""
    import numpy as np

    from neural_gym.world_models.calibration import RolloutRecords, pooled_auroc

    clock = RolloutRecords(
        error=list(records.error), signals={"step": [np.arange(1.0, len(e) + 1.0) for e in records.error]}
    )
    return pooled_auroc(clock, "step", tau)


def _realized_rates(records: Any, signal: str, alphas: list[float], splits: int, tau: float = TAU) -> dict[str, Any]:
    """Mean per-episode share of wrong kept steps on scoring halves, over seeded splits, for each alpha."""
    import numpy as np

    from neural_gym.world_models.calibration import conformal_threshold, episode_losses, kept_steps, split_episodes

    out: dict[str, Any] = {}
    for alpha in alphas:
        rates, kept, met = [], [], 0
        for s in range(splits):
            cal_idx, score_idx = split_episodes(records.n_episodes, 0.5, seed=10_000 + s)
            cal, scoring = records.subset(cal_idx), records.subset(score_idx)
            res = conformal_threshold(cal, signal, tau, alpha)
            met += int(res.meets_alpha)
            rates.append(float(episode_losses(scoring, signal, tau, [res.threshold])[:, 0].mean()))
            k = sum(int(kept_steps(x, res.threshold)) for x in scoring.signal(signal))
            kept.append(k / scoring.lengths.sum())
        r = np.asarray(rates)
        mean = float(r.mean())
        out[str(alpha)] = {
            "alpha": alpha,
            "realized_rate": mean,
            "realized_rate_sd_over_splits": float(r.std(ddof=1)) if splits > 1 else None,
            "realized_rate_se": float(r.std(ddof=1) / np.sqrt(splits)) if splits > 1 else None,
            "kept_share": float(np.mean(kept)),
            "splits_meeting_alpha": met,
            "within_tolerance": abs(mean - alpha) <= TARGETS["realized_rate_tolerance"],
            "at_most_alpha": mean <= alpha + TARGETS["realized_rate_tolerance"],
        }
    return out


def _shipped_cutoff(rollout: Any, records: Any, alphas: list[float], tau: float = TAU) -> dict[str, Any] | None:
    """The checkpoint's stored rollout cut-off scored on ``records`` (out of sample), and its curve's rate per alpha."""
    if rollout is None:
        return None
    from neural_gym.drift.calibrate import cutoff_figures
    from neural_gym.world_models.calibration import episode_losses, kept_steps

    if rollout.signal not in records.signals:
        return {"signal": rollout.signal, "error": "the records do not hold this signal"}
    per_alpha = {}
    for alpha in alphas:
        try:
            threshold = rollout.threshold_for_risk(alpha)
        except ValueError as err:  # below 1/(n+1) for the stored calibration episodes
            per_alpha[str(alpha)] = {"alpha": alpha, "error": str(err)}
            continue
        rate = float(episode_losses(records, rollout.signal, tau, [threshold])[:, 0].mean())
        kept = sum(int(kept_steps(x, threshold)) for x in records.signal(rollout.signal)) / records.lengths.sum()
        per_alpha[str(alpha)] = {
            "alpha": alpha,
            "threshold": threshold,
            "realized_rate": rate,
            "kept_share": float(kept),
            "at_most_alpha": rate <= alpha + TARGETS["realized_rate_tolerance"],
        }
    return {
        "signal": rollout.signal,
        "threshold": rollout.threshold,
        "alpha": rollout.alpha,
        "calibrated_on": rollout.scored_on.get("heldout"),
        "stored_scores": {
            k: rollout.scores.get(k) for k in ("auroc", "justified_share", "realized_rate", "kept_share")
        },
        "on_these_episodes": cutoff_figures(records, rollout.signal, rollout.threshold, tau),
        "realized_rate": per_alpha,
    }


def _previous(path: Path) -> dict[str, Any] | None:
    """Key figures per task of the results file this run replaces (``None`` if there is none or it is unreadable)."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    tasks = {}
    for task, row in (old.get("tasks") or {}).items():
        if "scores" not in row:
            continue
        s = row["scores"]
        tasks[task] = {
            "signal": row.get("signal"),
            "auroc": s.get("auroc"),
            "justified_share": s.get("justified_share"),
            "cut_no_later_share": s.get("cut_no_later_share"),
            "cut_no_earlier_than_half_share": s.get("cut_no_earlier_than_half_share"),
            "realized_rate": {a: r.get("realized_rate") for a, r in (row.get("realized_rate") or {}).items()},
        }
    return {"command": old.get("command"), "tasks": tasks}


def _targets(scores: dict[str, Any], rates: dict[str, Any], auroc_target: float | None = None) -> dict[str, Any]:
    one = scores.get("one_step", {})
    out: dict[str, Any] = {}
    for key in ("auroc", "justified_share", "cut_no_later_share", "cut_no_earlier_than_half_share"):
        value, target = scores.get(key), TARGETS[key]
        if key == "auroc" and auroc_target is not None:
            target = auroc_target
        out[key] = {"value": value, "target": target, "met": value is not None and value >= target,
                    "one_step": one.get(key)}  # fmt: skip
    out["realized_rate"] = {
        alpha: {"value": r["realized_rate"], "target": f"|rate - {alpha}| <= 0.02", "met": r["within_tolerance"]}
        for alpha, r in rates.items()
    }
    return out


def _families(args: argparse.Namespace, alphas: list[float], command: str, machine: dict[str, Any]) -> dict[str, Any]:
    """``--families``: every checkpoint of :data:`FAMILY_RUNS` (or ``--only``) calibrated and scored alike."""
    import numpy as np

    from neural_gym.cutoff import env_signals
    from neural_gym.drift import calibrate_records, rollout_records
    from neural_gym.drift.observation_kinds import FrameObservations, is_frame_shape
    from neural_gym.json_values import json_safe
    from neural_gym.world_models import read_spec
    from neural_gym.world_models.calibration import pooled_auroc, within_step_auroc

    only = {n for n in (args.only or "").split(",") if n}
    summary: dict[str, Any] = {
        "episodes": args.episodes,
        "horizon": args.horizon,
        "alpha": args.alpha,
        "alphas": alphas,
        "splits": args.splits,
        "targets": {**TARGETS, "auroc_pixel_families": PIXEL_AUROC_TARGET},
        "command": command,
        "machine": machine,
        "checkpoints": {},
    }
    for task, name, policy, actions, tau_value in FAMILY_RUNS:
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        spec = read_spec(f"zoo:{name}")
        frames = is_frame_shape(tuple(spec.obs_shape))
        tau = FrameObservations.error_threshold(tau_value) if frames else tau_value
        n = args.episodes if not frames else min(args.episodes, args.pixel_episodes)
        records = rollout_records(
            task,
            f"zoo:{name}",
            n_starts=n,
            horizon=args.horizon,
            actions=actions,
            heldout_steps=args.heldout_steps if not frames else args.pixel_heldout_steps,
            heldout_policy=policy,
            heldout_seed=1000,
            member_trajectories=True,
            seed=0,
            device="cpu",
            progress=not args.quiet,
        )
        allowed = list(env_signals(spec.family))
        cal = calibrate_records(
            records,
            tau=tau,
            alpha=args.alpha,
            error="rmse" if frames else "nrmse",
            candidates=[s for s in allowed if s in records.signals],
            one_step_threshold=spec.calibration.threshold,
            scored_on={
                "task": task,
                "checkpoint": f"zoo:{name}",
                "heldout": {"policy": policy, "seed": 1000},
                "horizon": args.horizon,
                "actions": actions,
                "propagation": "member",
                "seed": 0,
            },  # fmt: skip
        )
        every = {s: pooled_auroc(records, s, tau) for s in records.signals}
        within = {s: within_step_auroc(records, s, tau) for s in records.signals}
        scores = json_safe(dict(cal.scores))
        rates = _realized_rates(records, cal.signal, alphas, args.splits, tau)
        errors = np.concatenate(records.error)
        row = json_safe({
            "task": task,
            "family": spec.family,
            "observations": "frames" if frames else "state",
            "heldout_policy": policy,
            "actions": actions,
            "tau": tau,
            "tau_psnr_db": tau_value if frames else None,
            "n_episodes": records.n_episodes,
            "steps": int(records.lengths.sum()),
            "mean_length": float(records.lengths.mean()),
            "wrong_step_share": float(np.mean(errors > tau)),
            "signal": cal.signal,
            "threshold": cal.threshold,
            "env_signals": allowed,
            "candidate_auroc_calibration_half": cal.candidate_auroc,
            "auroc_all_episodes": every,
            "clock_auroc": _clock_auroc(records, tau),
            "within_step_auroc": within,
            "scores": scores,
            "realized_rate": rates,
            "targets": _targets(scores, rates, PIXEL_AUROC_TARGET if frames else None),
            "shipped_cutoff": _shipped_cutoff(spec.calibration.rollout, records, alphas, tau),
            "seconds": time.perf_counter() - t0,
        })  # fmt: skip
        summary["checkpoints"][name] = row
        print(
            f"{name}: {cal.signal} AUROC {_f3(scores['auroc'])} (one-step {_f3(scores['one_step']['auroc'])}, clock "
            f"{_f3(row['clock_auroc'])}), justified {_f3(scores['justified_share'])}, wrong steps "
            f"{row['wrong_step_share']:.2f}, rates {[round(r['realized_rate'], 4) for r in rates.values()]} "
            f"({row['seconds']:.0f} s)",
            flush=True,
        )
    return summary


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0 (targets are reported, not enforced)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated tasks (default all six)")
    parser.add_argument("--episodes", type=int, default=128, help="held-out start states per task (default 128)")
    parser.add_argument("--horizon", type=int, default=100, help="steps per rollout at most (default 100)")
    parser.add_argument("--alpha", type=float, default=0.1, help="level of the stored default threshold")
    parser.add_argument("--alphas", default="0.05,0.1,0.2", help="levels whose realized rate is measured")
    parser.add_argument("--splits", type=int, default=200, help="calibration/scoring splits for the rate (200)")
    parser.add_argument("--heldout-steps", type=int, default=10_000, help="steps of each held-out dataset")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", default=None, help="JSON to write (default calibration[_families].json)")
    parser.add_argument("--families", action="store_true", help="the latent, video and WAM checkpoints instead")
    parser.add_argument("--only", default="", help="with --families: comma-separated checkpoint names")
    parser.add_argument("--pixel-episodes", type=int, default=64, help="with --families: episodes of frame models")
    parser.add_argument("--pixel-heldout-steps", type=int, default=5000, help="held-out frames collected")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    os.environ.setdefault("MINARI_DATASETS_PATH", str(ROOT / "data" / "minari"))
    os.environ.setdefault("MUJOCO_GL", "egl")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import torch
    from drift import TERMINATING, _heldout  # the drift benchmark's held-out data and action choice

    from neural_gym.cutoff import ENV_SIGNALS
    from neural_gym.drift import calibrate_records, rollout_records
    from neural_gym.json_values import json_safe
    from neural_gym.world_models import read_spec
    from neural_gym.world_models.calibration import within_step_auroc
    from neural_gym.world_models.checkpoint import atomic_write
    from neural_gym.world_models.zoo import available

    torch.set_num_threads(args.threads)
    alphas = [float(a) for a in args.alphas.split(",") if a.strip()]
    out = Path(args.out or RESULTS / ("calibration_families.json" if args.families else "calibration.json"))
    summary: dict[str, Any] = {
        "episodes": args.episodes,
        "horizon": args.horizon,
        "tau": TAU,
        "alpha": args.alpha,
        "alphas": alphas,
        "splits": args.splits,
        "targets": TARGETS,
        "command": " ".join(["python", "benchmarks/calibration.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpus": os.cpu_count(),
            "threads": args.threads,
        },  # fmt: skip
        "tasks": {},
    }
    t0 = time.perf_counter()
    if args.families:
        summary = _families(args, alphas, summary["command"], summary["machine"])
        summary["wall_time_s"] = time.perf_counter() - t0
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, (json.dumps(json_safe(summary), indent=1, allow_nan=False) + "\n").encode())
        print(f"wrote {out}")
        return 0
    for task in [t for t in args.tasks.split(",") if t]:
        if task not in available():
            summary["tasks"][task] = {"error": f"no shipped checkpoint (world_models/zoo has {available()})"}
            continue
        t_task = time.perf_counter()
        spec = read_spec(f"zoo:{task}")
        dataset_id, policy, noise = _heldout(
            task, spec.provenance.get("dataset_id"), args.heldout_steps, not args.quiet
        )
        actions = "recorded" if policy == "expert" or task in TERMINATING else "random"
        records = rollout_records(
            task,
            f"zoo:{task}",
            dataset_id=dataset_id,
            n_starts=args.episodes,
            horizon=args.horizon,
            actions=actions,
            member_trajectories=True,
            seed=0,
            device="cpu",
            progress=not args.quiet,
        )
        cal = calibrate_records(
            records,
            tau=TAU,
            alpha=args.alpha,
            candidates=list(ENV_SIGNALS),
            one_step_threshold=spec.calibration.threshold,
            scored_on={
                "task": task,
                "checkpoint": f"zoo:{task}",
                "heldout": {"dataset_id": dataset_id},
                "horizon": args.horizon,
                "actions": actions,
                "propagation": "member",
                "seed": 0,
            },  # fmt: skip
        )
        scores = dict(cal.scores)
        rates = _realized_rates(records, cal.signal, alphas, args.splits)
        clock = _clock_auroc(records, TAU)
        within = {s: within_step_auroc(records, s, TAU) for s in records.signals}
        shipped = _shipped_cutoff(spec.calibration.rollout, records, alphas)
        summary["tasks"][task] = json_safe({
            "heldout_dataset": dataset_id,
            "heldout_policy": policy,
            "heldout_action_noise": noise,
            "actions": actions,
            "n_episodes": records.n_episodes,
            "steps": int(records.lengths.sum()),
            "mean_length": float(records.lengths.mean()),
            "signal": cal.signal,
            "threshold": cal.threshold,
            "one_step_threshold": spec.calibration.threshold,
            "candidate_auroc_calibration_half": cal.candidate_auroc,
            "clock_auroc": clock,
            "within_step_auroc": within,
            "scores": scores,
            "realized_rate": rates,
            "targets": _targets(json_safe(scores), rates),
            "shipped_cutoff": shipped,
            "risk_curve_points": len(cal.risk_thresholds),
            "seconds": time.perf_counter() - t_task,
        })  # fmt: skip
        row = summary["tasks"][task]
        print(
            f"{task}: {cal.signal} AUROC {row['scores']['auroc']} (one-step {row['scores']['one_step']['auroc']}), "
            f"justified {row['scores']['justified_share']} (one-step {row['scores']['one_step']['justified_share']}), "
            f"rates {[round(r['realized_rate'], 4) for r in rates.values()]} for {alphas} "
            f"({time.perf_counter() - t_task:.0f} s)",
            flush=True,
        )
        if shipped is not None and "on_these_episodes" in shipped:
            on = shipped["on_these_episodes"]
            print(
                f"  shipped cut-off {shipped['signal']} > {shipped['threshold']:.4g}: AUROC {on['auroc']}, justified "
                f"{on['justified_share']}, rates "
                f"{[round(r.get('realized_rate', float('nan')), 4) for r in shipped['realized_rate'].values()]}",
                flush=True,
            )
    summary["wall_time_s"] = time.perf_counter() - t0
    summary["previous_run"] = _previous(out)  # the figures this run replaces, beside its own
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, (json.dumps(json_safe(summary), indent=1, allow_nan=False) + "\n").encode())
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
