"""Policy evaluation without hardware, measured: the shipped VLA ladder and the three references, paired episodes in
MuJoCo and in every shipped tabletop-reach dream, with the agreement figures and the issue's targets.

Runs (``--runs``, default all): ``ensemble`` (the state ensemble ``zoo:TabletopReach``, predicted states drawn by the
task's scene, judged by the task rule), ``ensemble-heldout`` (the same on held-out instructions),
``latent`` (``zoo:TabletopReach-latent-pixels``, the RSSM from frames) and ``video``
(``zoo:TabletopReach-video``, the DIAMOND-style generator); the pixel dreams are judged by the shipped frame judge
(``neural_gym/evaluate/zoo/TabletopReach.safetensors``, state probe + rule by default; every judge's verdict is in the
report). Each run is one :func:`neural_gym.evaluate.evaluate_policies` (``K`` = the ladder's checkpoints + ``expert``,
``noisy-expert``, ``random``; ``M`` = ``--episodes`` each) written as a report folder
``benchmarks/results/policy_eval/<run>/`` (JSON, scatter, ranks, videos, Markdown, HTML); the summary with the
targets goes to ``benchmarks/results/policy_eval.json`` and ``policy_eval.png`` (one scatter panel per run).

    OMP_NUM_THREADS=1 python benchmarks/policy_eval.py [--episodes 50] [--runs ensemble latent] [--seed 1000]
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

os.environ.setdefault("MUJOCO_GL", "egl")

RESULTS = Path(__file__).resolve().parent / "results"
RUNS: dict[str, dict[str, Any]] = {
    "ensemble": {"checkpoint": "zoo:TabletopReach", "split": "train"},
    "ensemble-heldout": {"checkpoint": "zoo:TabletopReach", "split": "heldout"},
    "latent": {"checkpoint": "zoo:TabletopReach-latent-pixels", "split": "train"},
    "video": {"checkpoint": "zoo:TabletopReach-video", "split": "train"},
}
TARGETS: dict[str, list[tuple[str, str, float]]] = {
    "ensemble": [("pearson", ">=", 0.95), ("mmrv", "<=", 0.03)],
    "latent": [("pearson", ">=", 0.90), ("spearman", ">=", 0.85)],
}
"""Per run: (figure, comparison, target) on the agreement over all episodes; every run also has per-episode
agreement >= 0.85 and the dream >= 5x MuJoCo's episodes per second (with rendering)."""
COMMON_TARGETS = [("agreement", ">=", 0.85)]
SPEEDUP_TARGET = 5.0


def _fmt(x: Any) -> str:
    return "  n/a" if x is None else f"{x:5.2f}"


def summary(name: str, report: dict[str, Any]) -> str:
    """The printed summary of one run: figures over all and over conclusive episodes, then each policy."""
    lines = []
    agreement = report["agreement"]
    inc = agreement["inconclusive"]
    lines.append(
        f"[{name}] {report['task']} ({report['split']}): {len(report['policies'])} policies x {report['episodes']} "
        f"paired episodes, dream {report['checkpoint']} (judge: {report['judge']}); inconclusive "
        f"{inc['episodes']} ({inc['share']:.1%})"
    )
    for block in ("all_episodes", "conclusive_only"):
        figures = agreement[block]["figures"]
        parts = []
        for key in ("pearson", "spearman", "kendall", "mmrv", "kappa", "agreement", "mae"):
            f = figures[key]
            lo, hi = f["interval_over_episodes"]
            parts.append(f"{key} {_fmt(f['value'])} [{_fmt(lo)}, {_fmt(hi)}]")
        lines.append(f"  {block}: " + ", ".join(parts))
    for kind, j in report.get("judges", {}).items():
        fig = j["agreement"]["all_episodes"]["figures"]
        acc = j.get("accuracy_on_real_episodes")
        lines.append(
            f"  judge {kind:10s} pearson {_fmt(fig['pearson']['value'])} agreement {_fmt(fig['agreement']['value'])}"
            + ("" if acc is None else f", accuracy on real episodes {acc['rate']:.2f}")
        )
    lines.append(f"  {'policy':44s} {'dream':>6s} {'real':>6s} {'gap':>6s} {'incon':>5s}")
    for policy, p in report["per_policy"].items():
        d, r = p["dream"]["rate"], p["real"]["rate"]
        lines.append(f"  {policy:44s} {d:6.2f} {r:6.2f} {d - r:+6.2f} {p['inconclusive']:5d}")
    s = report["speed"]
    lines.append(
        f"  speed: dream {s['dream_episodes_per_s']:.2f} episodes/s, MuJoCo {s['mujoco_episodes_per_s']:.2f} "
        f"episodes/s (with rendering and the policy; {s['episodes']} episodes each)"
    )
    return "\n".join(lines)


def targets(name: str, report: dict[str, Any]) -> dict[str, Any]:
    """The targets of run ``name``: value, target, met."""
    figures = report["agreement"]["all_episodes"]["figures"]
    out: dict[str, Any] = {}
    for figure, op, goal in TARGETS.get(name.split("-")[0], []) + COMMON_TARGETS:
        value = figures[figure]["value"]
        met = value is not None and (value >= goal if op == ">=" else value <= goal)
        out[figure] = {"value": value, "target": f"{op} {goal}", "met": bool(met)}
    s = report["speed"]
    ratio = s["dream_episodes_per_s"] / s["mujoco_episodes_per_s"]
    out["dream_speedup"] = {"value": ratio, "target": f">= {SPEEDUP_TARGET}", "met": bool(ratio >= SPEEDUP_TARGET)}
    return out


def plot(runs: dict[str, dict[str, Any]], path: Path) -> None:
    """One panel per run: dream against real success per policy, with Wilson intervals and y = x."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(4.2 * len(runs), 4.2), squeeze=False)
    for ax, (name, report) in zip(axes[0], runs.items(), strict=True):
        per = report["per_policy"]
        real = [p["real"]["rate"] for p in per.values()]
        dream = [p["dream"]["rate"] for p in per.values()]
        xerr = [
            [p["real"]["rate"] - p["real"]["ci_low"] for p in per.values()],
            [p["real"]["ci_high"] - p["real"]["rate"] for p in per.values()],
        ]
        yerr = [
            [p["dream"]["rate"] - p["dream"]["ci_low"] for p in per.values()],
            [p["dream"]["ci_high"] - p["dream"]["rate"] for p in per.values()],
        ]
        ax.errorbar(real, dream, xerr=xerr, yerr=yerr, fmt="o", ms=4, capsize=2, alpha=0.8)
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        fig_ = report["agreement"]["all_episodes"]["figures"]
        ax.set_title(f"{name}: r={_fmt(fig_['pearson']['value'])}, MMRV={_fmt(fig_['mmrv']['value'])}", fontsize=9)
        ax.set_xlabel("MuJoCo success")
        ax.set_ylabel("dream success")
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.05)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_entry(name: str, report: dict[str, Any], folder: Path, wall_s: float | None) -> dict[str, Any]:
    """The summary entry of one run, from its report's ``evaluation.json``."""
    return {
        "checkpoint": report["checkpoint"],
        "split": report["split"],
        "episodes": report["episodes"],
        "policies": len(report["policies"]),
        "judge": report["judge"],
        "figures": {
            block: {k: v["value"] for k, v in report["agreement"][block]["figures"].items()}
            for block in ("all_episodes", "conclusive_only")
        },
        "inconclusive_share": report["agreement"]["inconclusive"]["share"],
        "judges": {
            kind: {
                "pearson": j["agreement"]["all_episodes"]["figures"]["pearson"]["value"],
                "spearman": j["agreement"]["all_episodes"]["figures"]["spearman"]["value"],
                "mmrv": j["agreement"]["all_episodes"]["figures"]["mmrv"]["value"],
                "agreement": j["agreement"]["all_episodes"]["figures"]["agreement"]["value"],
                "accuracy_on_real_episodes": (j.get("accuracy_on_real_episodes") or {}).get("rate"),
            }
            for kind, j in report.get("judges", {}).items()
        },
        "frame_judge_heldout": (report.get("frame_judge") or {}).get("heldout"),
        "speed": report["speed"],
        "targets": targets(name, report),
        "report": str(folder.relative_to(folder.parent.parent)),
        "wall_s": wall_s,
    }


def write_summary(out_path: Path, runs: dict[str, Any], reports: dict[str, dict[str, Any]], argv: list[str]) -> None:
    """The summary JSON and the scatter panels, atomically (after every run, so a killed run loses only itself)."""
    from neural_gym.world_models.checkpoint import atomic_write

    out = {
        "runs": runs,
        "command": " ".join(["python", "benchmarks/policy_eval.py", *argv]),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        },
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out_path, (json.dumps(out, indent=1) + "\n").encode())
    if reports:
        plot(reports, out_path.with_suffix(".png"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=50, help="paired episodes per policy (M)")
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS), help="which dreams (default all)")
    parser.add_argument("--seed", type=int, default=1000, help="seed of the first episode")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the agreement report")
    parser.add_argument("--record", type=int, default=2, help="paired episodes per policy kept as videos")
    parser.add_argument("--out", type=Path, default=RESULTS / "policy_eval.json")
    parser.add_argument(
        "--from-reports",
        action="store_true",
        help="run nothing: rebuild the summary of --runs from their report folders (written by earlier calls)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)

    from neural_gym.evaluate import evaluate_policies, write_evaluation_report
    from neural_gym.policies.vla import zoo_names
    from neural_gym.policies.vla.evaluate import REFERENCES

    policies: dict[str, str] = {name: f"zoo:{name}" for name in zoo_names()}
    policies.update({ref: ref for ref in REFERENCES})
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {}
    runs: dict[str, Any] = dict(previous.get("runs", {}))  # other runs of an earlier call are kept
    reports: dict[str, dict[str, Any]] = {}
    folders = args.out.parent / "policy_eval"
    for name in runs:  # the panels of kept runs
        if (folders / name / "evaluation.json").is_file():
            reports[name] = json.loads((folders / name / "evaluation.json").read_text())
    for name in args.runs:
        folder = folders / name
        start = time.perf_counter()
        if args.from_reports:
            wall_s = runs.get(name, {}).get("wall_s")
        else:
            result = evaluate_policies(
                policies,
                "TabletopReach",
                episodes=args.episodes,
                seed=args.seed,
                split=RUNS[name]["split"],
                checkpoint=RUNS[name]["checkpoint"],
                device="cpu",
                progress=not args.quiet,
                record_episodes=min(args.record, args.episodes),
            )
            write_evaluation_report(result, folder, n_boot=args.n_boot)
            wall_s = round(time.perf_counter() - start, 1)
        report = json.loads((folder / "evaluation.json").read_text())
        reports[name] = report
        runs[name] = run_entry(name, report, folder, wall_s)
        print(summary(name, report), flush=True)
        for key, t in runs[name]["targets"].items():
            print(f"  target {key}: {_fmt(t['value'])} ({t['target']}) {'met' if t['met'] else 'MISSED'}", flush=True)
        write_summary(args.out, runs, reports, argv)
    print(f"wrote {args.out}, {args.out.with_suffix('.png')} and the report folders under {folders}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
