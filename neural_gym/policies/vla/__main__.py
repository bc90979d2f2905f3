"""``python -m neural_gym.policies.vla``: train, evaluate, regenerate the ladder, list the shipped checkpoints.

Examples::

    python -m neural_gym.policies.vla train --task reach --episodes 300 --head flow --steps 2000 --out runs/flow.safetensors
    python -m neural_gym.policies.vla evaluate zoo:reach-flow-300demos-2500steps --episodes 100 --split heldout
    python -m neural_gym.policies.vla evaluate expert --task reach
    python -m neural_gym.policies.vla ladder            # = make vla-zoo
    python -m neural_gym.policies.vla list

Expected errors (bad arguments, missing or damaged checkpoints, policies that cannot read the observations) print one
line ``error: ...`` and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from neural_gym.policies.protocol import PolicyError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m neural_gym.policies.vla", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="behaviour-clone a VLA on expert demonstrations")
    train.add_argument("--task", default="reach", choices=("reach", "push", "pick_place"))
    train.add_argument("--dataset-id", help="train on this local dataset (episodes with frames and instructions)")
    train.add_argument("--episodes", type=int, default=300, help="demonstrations to collect (without --dataset-id)")
    train.add_argument("--action-noise", type=float, default=0.0, help="noise std of the collected expert actions")
    train.add_argument("--head", default="regression", choices=("regression", "bins", "flow"))
    train.add_argument("--steps", type=int, default=2000)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--lr", type=float, default=2e-3)
    train.add_argument("--chunk-size", type=int, default=8)
    train.add_argument("--no-proprio", action="store_true", help="do not feed the gripper state")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", required=True, help="checkpoint path (.safetensors)")
    train.add_argument("--eval-episodes", type=int, default=0, help="ground-truth episodes after training (0: none)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")

    ev = sub.add_parser("evaluate", help="ground-truth success in MuJoCo")
    ev.add_argument("policy", help="checkpoint path, zoo:<name>, or expert / noisy-expert / random")
    ev.add_argument("--task", default="reach", choices=("reach", "push", "pick_place"))
    ev.add_argument("--episodes", type=int, default=50)
    ev.add_argument("--seed", type=int, default=1000)
    ev.add_argument("--split", default="train", choices=("train", "heldout", "all"))
    ev.add_argument("--num-envs", type=int, default=25)
    ev.add_argument("--json", help="also write the result to this JSON file")
    ev.add_argument("--quiet", action="store_true")

    lad = sub.add_parser("ladder", help="regenerate the shipped ladder of checkpoints (make vla-zoo)")
    lad.add_argument("--out-dir", default=None, help="destination (default: the package's zoo folder)")
    lad.add_argument("--eval-episodes", type=int, default=50)
    lad.add_argument("--quiet", action="store_true")

    sub.add_parser("list", help="the shipped checkpoints with their head, data and steps")
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.command == "train":
        from neural_gym.policies.vla.checkpoint import save_vla
        from neural_gym.policies.vla.data import collect_demos, load_demos
        from neural_gym.policies.vla.train import train_vla

        if args.dataset_id:
            demos = load_demos(args.dataset_id)
            data_info = {"source": "dataset", "dataset_ids": [args.dataset_id]}
        else:
            demos = collect_demos(args.task, args.episodes, action_noise=args.action_noise, progress=not args.quiet)
            data_info = {
                "source": f"collect_demos({args.task!r}, {args.episodes}, seed=0, action_noise={args.action_noise})",
                "dataset_ids": [],
            }
        policy = train_vla(
            demos,
            head=args.head,
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            chunk_size=args.chunk_size,
            use_proprio=not args.no_proprio,
            tasks=(args.task,),
            data_info=data_info,
            progress=not args.quiet,
        )
        path = save_vla(policy, args.out)
        print(f"saved {path} ({path.stat().st_size / 1e6:.2f} MB, final loss {policy.metadata['final_loss']:.4f})")
        if args.eval_episodes > 0:
            from neural_gym.policies.vla.evaluate import evaluate_in_mujoco

            r = evaluate_in_mujoco(policy, args.task, args.eval_episodes, progress=not args.quiet)
            print(f"GT success {r.success_rate:.0%} ({r.successes}/{r.episodes}, 95% {r.ci_low:.0%}-{r.ci_high:.0%})")
        return 0
    if args.command == "evaluate":
        from neural_gym.policies.vla.checkpoint import load_vla
        from neural_gym.policies.vla.evaluate import REFERENCES, evaluate_in_mujoco, reference_policy

        policy = (
            reference_policy(args.policy, args.task)
            if args.policy in REFERENCES
            else load_vla(args.policy, task=args.task)
        )
        r = evaluate_in_mujoco(
            policy, args.task, args.episodes, seed=args.seed, split=args.split, num_envs=args.num_envs,
            progress=not args.quiet,
        )  # fmt: skip
        print(
            f"{args.policy} on {args.task} ({args.split}): GT success {r.success_rate:.0%} ({r.successes}/{r.episodes}, "
            f"95% {r.ci_low:.0%}-{r.ci_high:.0%}), mean length {r.mean_length:.1f}, {r.wall_s:.0f} s"
        )
        if args.json:
            from pathlib import Path

            from neural_gym.world_models.checkpoint import atomic_write

            atomic_write(Path(args.json), json.dumps(r.to_dict(), indent=1).encode())
        return 0
    if args.command == "ladder":
        from neural_gym.policies.vla.checkpoint import ZOO_DIR
        from neural_gym.policies.vla.ladder import build_ladder

        build_ladder(args.out_dir or ZOO_DIR, eval_episodes=args.eval_episodes, progress=not args.quiet)
        return 0
    from neural_gym.policies.vla.checkpoint import read_vla_info, zoo_names

    for name in zoo_names():
        info = read_vla_info(f"zoo:{name}")
        print(f"zoo:{name}  head={info['head']} demos={info['data']['episodes']} steps={info['train_steps']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (ValueError, FileNotFoundError, PolicyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
