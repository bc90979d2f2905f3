"""The dream's verdicts on the shipped VLA ladder: every ladder checkpoint and the three references, paired episodes in
MuJoCo and in the reach dream (``zoo:TabletopReach``), with the agreement figures.

One run of :func:`neural_gym.evaluate.evaluate_policies` (``K`` = the ladder's checkpoints + ``expert``,
``noisy-expert``, ``random``; ``M`` = ``--episodes`` paired episodes each, seeds ``--seed ..``), then its
:meth:`~neural_gym.evaluate.PolicyEvaluation.to_dict` (agreement report with bootstrap intervals, per-policy rates in
both worlds with Wilson intervals, inconclusive episodes, speed of both worlds, every per-episode verdict) written to
``benchmarks/results/evaluate_ladder.json`` (temp file + rename), and a summary printed.

    OMP_NUM_THREADS=1 python benchmarks/evaluate_ladder.py [--episodes 50] [--seed 1000] [--out PATH]
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


def _fmt(x: Any) -> str:
    return "  n/a" if x is None else f"{x:5.2f}"


def summary(report: dict[str, Any]) -> str:
    """The printed summary: figures over all and over conclusive episodes, then each policy in both worlds."""
    lines = []
    agreement = report["agreement"]
    inc = agreement["inconclusive"]
    lines.append(
        f"{report['task']}: {len(report['policies'])} policies x {report['episodes']} paired episodes, dream "
        f"{report['checkpoint']} (judge: {report['judge']}); inconclusive {inc['episodes']} ({inc['share']:.1%})"
    )
    for block in ("all_episodes", "conclusive_only"):
        figures = agreement[block]["figures"]
        parts = []
        for key in ("pearson", "spearman", "kendall", "mmrv", "kappa", "agreement", "mae"):
            f = figures[key]
            lo, hi = f["interval_over_episodes"]
            parts.append(f"{key} {_fmt(f['value'])} [{_fmt(lo)}, {_fmt(hi)}]")
        lines.append(f"  {block}: " + ", ".join(parts))
    lines.append(f"  {'policy':44s} {'dream':>6s} {'real':>6s} {'gap':>6s} {'incon':>5s}")
    for name, p in report["per_policy"].items():
        d, r = p["dream"]["rate"], p["real"]["rate"]
        lines.append(f"  {name:44s} {d:6.2f} {r:6.2f} {d - r:+6.2f} {p['inconclusive']:5d}")
    s = report["speed"]
    lines.append(
        f"  speed: dream {s['dream_episodes_per_s']:.2f} episodes/s, MuJoCo {s['mujoco_episodes_per_s']:.2f} "
        f"episodes/s (with rendering and the policy; {s['episodes']} episodes each)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=50, help="paired episodes per policy (M)")
    parser.add_argument("--seed", type=int, default=1000, help="seed of the first episode")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples of the agreement report")
    parser.add_argument("--out", type=Path, default=RESULTS / "evaluate_ladder.json")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    from neural_gym.evaluate import evaluate_policies
    from neural_gym.policies.vla import zoo_names
    from neural_gym.policies.vla.evaluate import REFERENCES
    from neural_gym.world_models.checkpoint import atomic_write

    names = zoo_names()
    policies: dict[str, str] = {name: f"zoo:{name}" for name in names}
    policies.update({ref: ref for ref in REFERENCES})
    start = time.perf_counter()
    result = evaluate_policies(
        policies, "TabletopReach", episodes=args.episodes, seed=args.seed, device="cpu", progress=not args.quiet
    )
    out = result.to_dict(n_boot=args.n_boot)
    out["command"] = " ".join(
        ["python", "benchmarks/evaluate_ladder.py", *(argv if argv is not None else sys.argv[1:])]
    )
    out["total_s"] = round(time.perf_counter() - start, 1)
    out["machine"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, (json.dumps(out, indent=1) + "\n").encode())
    print(summary(out))
    print(f"wrote {args.out} in {out['total_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
