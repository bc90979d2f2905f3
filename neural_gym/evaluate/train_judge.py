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
