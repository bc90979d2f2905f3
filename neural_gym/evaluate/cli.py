"""``neural-gym evaluate``: paired policy evaluation in the dream and in MuJoCo, written as a report folder.

Wired into ``neural_gym/cli.py`` with ``add_parser(sub)`` and, for ``args.command == "evaluate"``, ``run(args)``.
Building the parser imports nothing heavy (``neural-gym --help`` stays fast).
"""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Play every policy for the same --episodes start states (seeds --seed, --seed + 1, ...) in MuJoCo and in the dream
(a state world model; its predicted states drawn by the task's own scene), judge the dream's episodes by the task's
success rule on the predicted state, and say how far the dream's verdicts can be trusted: Pearson, Spearman, Kendall,
MAE, MMRV and the mean gap over the policies' success rates, agreement and Cohen's kappa over paired episodes, with
bootstrap intervals, with and without the dream episodes its uncertainty rule cut (inconclusive).

Writes into --out, all or nothing: evaluation.json (every figure and per-episode verdict), scatter.png, ranks.png,
videos/<policy>.mp4 (MuJoCo | dream, the first --record episodes of each policy), report.md and report.html (one
self-contained file). Policies: expert, noisy-expert, random, zoo:<VLA name>, a VLA .safetensors file or ws://host:port.
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``evaluate`` subcommand to ``neural-gym``'s subparsers.

    Args:
        sub: The object ``ArgumentParser.add_subparsers`` returned.

    Returns:
        The ``evaluate`` parser.
    """
    from ..cli import _int_at_least, positive_int

    p = sub.add_parser(
        "evaluate",
        help="evaluate policies in the dream and in MuJoCo on paired episodes; write the agreement report",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--policies",
        nargs="+",
        required=True,
        metavar="POLICY",
        help="policies to compare: expert, noisy-expert, random, zoo:<VLA name>, *.safetensors, ws://host:port, "
        "wam:<checkpoint>[?imagine=1][&sample_noise=0] (a world action model's policy mode)",
    )
    p.add_argument("--task", default="TabletopReach", help="tabletop task (default TabletopReach)")
    p.add_argument("--episodes", type=positive_int, default=50, help="paired episodes per policy (default 50)")
    p.add_argument("--seed", type=int, default=1000, help="seed of the first episode (default 1000)")
    p.add_argument("--split", default="train", choices=["train", "heldout", "all"], help="instruction split")
    p.add_argument(
        "--checkpoint",
        default=None,
        help="the dream's checkpoint (default zoo:<task>, the state ensemble); a pixel model such as "
        "zoo:TabletopReach-video or zoo:TabletopReach-latent-pixels plays its own frames",
    )
    p.add_argument(
        "--judge",
        default=None,
        choices=["rule", "probe", "classifier", "heads"],
        help="the dream's success judge (default: rule for state dreams; for pixel dreams the frame judge's verdict "
        "that scored better on held-out real episodes)",
    )
    p.add_argument(
        "--frame-judge", default=None, help="frame judge of a pixel dream (a .safetensors path; default zoo:<task>)"
    )
    p.add_argument("--out", default="outputs/evaluate", help="report folder (default outputs/evaluate)")
    p.add_argument("--no-videos", action="store_true", help="write no videos (and record no frames)")
    p.add_argument("--record", type=_int_at_least(0), default=2, help="episodes per policy in the videos (default 2)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder (once complete)")
    p.add_argument(
        "--max-episode-steps", type=positive_int, default=None, help="time limit of both worlds (default the task's)"
    )
    p.add_argument("--n-boot", type=positive_int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--device", default="auto", help="torch device of the dream (default auto)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``neural-gym evaluate``: evaluate, write the report, print the summary and where it went.

    Raises:
        ValueError: Bad policies (unknown, repeated), a task without instructions, or bad settings.
        FileExistsError: ``--out`` exists without ``--overwrite`` (checked before anything runs).
    """
    from ..cli import fmt

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or not args.overwrite):
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it (or another --out)")
    repeated = sorted({p for p in args.policies if args.policies.count(p) > 1})
    if repeated:
        raise ValueError(f"each policy once, please: {', '.join(repeated)} given more than once")
    from .harness import evaluate_policies
    from .report import write_evaluation_report

    record = 0 if args.no_videos else min(args.record, args.episodes)
    evaluation = evaluate_policies(
        {p: p for p in args.policies},
        args.task,
        episodes=args.episodes,
        seed=args.seed,
        split=args.split,
        checkpoint=args.checkpoint,
        max_episode_steps=args.max_episode_steps,
        device=args.device,
        progress=not args.quiet,
        record_episodes=record,
        judge=args.judge,
        frame_judge=args.frame_judge,
    )
    path = write_evaluation_report(
        evaluation, out, videos=not args.no_videos, overwrite=args.overwrite, n_boot=args.n_boot
    )
    import json

    payload = json.loads((path / "evaluation.json").read_text())
    width = max(6, *(len(n) for n in payload["policies"]))
    print(f"{'policy':<{width}}  {'MuJoCo':>6}  {'dream':>6}  {'gap':>6}  inconclusive")
    for name in payload["policies"]:
        s = payload["per_policy"][name]
        real, dream = s["real"]["rate"], s["dream"]["rate"]
        print(
            f"{name:<{width}}  {fmt(real):>6}  {fmt(dream):>6}  {dream - real:>+6.2f}  "
            f"{s['inconclusive']}/{s['episodes']}"
        )
    figures = payload["agreement"]["all_episodes"]["figures"]
    inc = payload["agreement"]["inconclusive"]
    print(
        "\n"
        + ", ".join(
            f"{label} {fmt(figures[key]['value'], 3)}"
            for key, label in (
                ("pearson", "Pearson"),
                ("spearman", "Spearman"),
                ("kendall", "Kendall"),
                ("mmrv", "MMRV"),
                ("kappa", "kappa"),
            )
        )
        + f", inconclusive {100 * inc['share']:.1f}% (all episodes; report.md has intervals and conclusive-only)"
    )
    judge = payload["judge_accuracy"]["overall"]
    if judge is not None:
        a = judge["accuracy"]
        where = "every real frame" if payload["judge_accuracy"].get("frame_judge") else "the real final states"
        print(f"judge ({payload['judge']}) on {where}: {a['correct']}/{a['n']} episodes correct")
    print(f"report: {path / 'report.html'} (and report.md, evaluation.json, plots, videos) in {path}")
    return 0
