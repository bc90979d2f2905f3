"""``python -m neural_gym.evaluate.train_judge``: train a :class:`~neural_gym.evaluate.judges.FrameJudge` on a pixel
dataset of a tabletop task and save it (the shipped judges: ``make zoo-pixel-tabletop``).

Example:
    python -m neural_gym.evaluate.train_judge --task TabletopReach \\
        --dataset-id neural_gym/TabletopReach/expert-pixels64-v0 --out neural_gym/evaluate/zoo/TabletopReach.safetensors
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence


def zoo_readme() -> str:
    """The shipped judges' README, every figure read from each checkpoint's ``info``."""
    from neural_gym.evaluate.judges import JUDGE_KINDS, ZOO_DIR, load_judge

    lines = [
        "# Shipped success judges",
        "",
        "Frame judges for pixel dreams (`neural_gym.evaluate.judges`), trained on real MuJoCo frames of a pixel",
        "dataset and measured on held-out real episodes they were not trained or calibrated on. Written from each",
        "checkpoint's metadata by `python -m neural_gym.evaluate.train_judge --readme`; `make zoo-pixel-tabletop`",
        "regenerates the judges (with the pixel dreams).",
        "",
        "| judge | verdict | per-frame accuracy | per-frame balanced accuracy | per-episode accuracy | "
        "per-episode balanced accuracy | episodes |",
        "|---|---|---|---|---|---|---|",
    ]
    commands = []
    for path in sorted(ZOO_DIR.glob("*.safetensors")):
        judge = load_judge(path)
        held = judge.info["heldout"]
        for kind in JUDGE_KINDS:
            f, e = held["frames"][kind], held["episodes"][kind]
            lines.append(
                f"| {path.stem} | {kind}{' (default)' if kind == judge.best_kind else ''} | {f['accuracy']:.3f} | "
                f"{f['balanced_accuracy']:.3f} | {e['accuracy']:.3f} | {e['balanced_accuracy']:.3f} | {e['n']} |"
            )
        commands.append(
            f"# {path.stem}: {judge.info['steps']} "
            f"steps in {judge.info['train_s']} s, classifier threshold {judge.classifier_threshold}, "
            f"probe RMSE {held['probe_rmse_normalized']:.3f} (training-std units)"
        )
        commands.append(judge.info.get("command", "(no command recorded)"))
    lines += ["", "The exact command recorded in each judge:", "", "```bash", *commands, "```", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, train, save, print the held-out figures; expected errors become one line (exit 2)."""
    parser = argparse.ArgumentParser(
        prog="python -m neural_gym.evaluate.train_judge", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--task", required=True, help="tabletop task, e.g. TabletopReach")
    parser.add_argument("--dataset-id", required=True, help="a pixel dataset of the task (collect --obs-mode pixels)")
    parser.add_argument("--out", required=True, help="where to write the judge (.safetensors)")
    parser.add_argument("--steps", type=int, default=3000, help="gradient steps (default 3000)")
    parser.add_argument("--batch-size", type=int, default=64, help="frames per step (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    # `--readme` alone rewrites the shipped judges' README (neural_gym/evaluate/zoo/README.md)
    if argv is None:
        argv = sys.argv[1:]
    if list(argv) == ["--readme"]:
        from neural_gym.evaluate.judges import ZOO_DIR
        from neural_gym.world_models.checkpoint import atomic_write

        atomic_write(ZOO_DIR / "README.md", zoo_readme().encode())
        print(f"wrote {ZOO_DIR / 'README.md'}")
        return 0
    args = parser.parse_args(argv)
    from neural_gym.envs.dataset import load_episodes
    from neural_gym.evaluate.judges import save_judge, train_frame_judge

    command = "python -m neural_gym.evaluate.train_judge " + shlex.join(
        list(argv if argv is not None else sys.argv[1:])
    )
    try:
        episodes = load_episodes(args.dataset_id)
        judge = train_frame_judge(
            episodes,
            args.task,
            steps=args.steps,
            batch_size=args.batch_size,
            seed=args.seed,
            progress=not args.quiet,
            command=command,
        )
        judge.info["dataset_id"] = args.dataset_id
        save_judge(judge, args.out)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(judge.info["heldout"], indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
