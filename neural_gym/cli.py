"""``neural-gym``: collect ground truth, train world models, play dreams, run the demo."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from typing import Any

DESCRIPTION = """\
Learned simulators as Gymnasium environments, checked against MuJoCo.

The usual path:   collect (ground truth → local Minari dataset)
               →  train   (dataset → ensemble world-model checkpoint)
               →  dream   (play the checkpoint as an env, side by side with ground truth)
`demo` trains an SB3 agent inside a shipped dream and scores it in MuJoCo.
`dream-train` trains an SB3 agent inside a dream (offline from a dataset, or Dyna/MBPO with real data) and scores it in MuJoCo.
`drift` replays identical actions from held-out physics states in MuJoCo and a checkpoint and charts the error by horizon.
"""


def _add_collect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "collect",
        help="run a policy in the ground-truth simulator and write a local Minari dataset",
        description="Run a policy in a ground-truth MuJoCo task and write a local Minari dataset (physics state of "
        "every step included). Datasets go to $MINARI_DATASETS_PATH (Minari's default: ~/.minari/datasets).",
    )
    p.add_argument("--task", required=True, help="task name, e.g. HalfCheetah (see `neural-gym tasks`)")
    p.add_argument("--steps", type=int, default=50_000, help="number of transitions to record (default 50000)")
    p.add_argument(
        "--policy",
        default="random",
        help="'random', 'expert' (scripted, see envs/experts.py) or a path to a saved SB3 model (.zip)",
    )
    p.add_argument("--algo", default="SAC", help="SB3 class of --policy when it is a path (default SAC)")
    p.add_argument(
        "--action-noise",
        type=float,
        default=0.0,
        help="std of Gaussian noise added to the policy's actions, in units of half the action range",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for resets, the random policy and the noise")
    p.add_argument(
        "--dataset-id",
        default=None,
        help="Minari id (default neural_gym/<Task>/<random|expert|policy>-v0, "
        "with -pixels<N> before -v0 for --obs-mode pixels)",
    )
    p.add_argument(
        "--obs-mode",
        default="state",
        choices=["state", "pixels"],
        help="'state' (default) or 'pixels': "
        "also store N x N uint8 frames of the task's camera beside the state (lossless)",
    )
    p.add_argument(
        "--image-size", type=int, default=64, help="frame height and width for --obs-mode pixels (default 64)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset with the same id")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _overrides(parser: argparse.ArgumentParser, items: list[str]) -> dict[str, Any]:
    """``["conv_depth=8", "proprio=true"]`` → ``{"conv_depth": 8, "proprio": True}`` (values read as JSON if they can be)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            parser.error(f"--set needs FIELD=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a world model (ensemble, latent RSSM or video generator) on a dataset and save a checkpoint",
        description="Train a world model on a local Minari dataset, calibrate its uncertainty threshold on held-out "
        "episodes, and save one .safetensors checkpoint. --family ensemble: a probabilistic MLP ensemble (PETS/MBPO "
        "style) on state vectors. --family latent: a Dreamer-style RSSM with an ensemble of prior heads, from state "
        "vectors or (--obs pixels) from the frames of a dataset collected with --obs-mode pixels. --family video: a "
        "DIAMOND-style few-step denoising generator over the last frames of such a pixel dataset.",
    )
    p.add_argument("--task", required=True, help="task the dataset was collected on")
    p.add_argument("--dataset-id", required=True, help="local Minari dataset id")
    p.add_argument("--out", required=True, help="checkpoint path, e.g. runs/halfcheetah.safetensors")
    p.add_argument("--family", default="ensemble", choices=["ensemble", "latent", "video"], help="model family")
    p.add_argument("--obs", default="state", choices=["state", "pixels"], help="latent: learn from state or frames")
    p.add_argument("--preset", default="small", help="latent: debug | small | medium; video: debug | small32 | small")
    p.add_argument("--steps", type=int, default=5000, help="latent/video: optimizer steps (default 5000)")
    p.add_argument("--seq-len", type=int, default=50, help="latent: training window length (default 50)")
    p.add_argument(
        "--conv-depth", type=int, default=None, help="latent: frame encoder/decoder channels (= --set conv_depth=N)"
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="latent/video: change one config field of the preset, e.g. --set conv_depth=8 (repeatable)",
    )
    p.add_argument("--members", type=int, default=7, help="ensemble members (default 7)")
    p.add_argument("--elites", type=int, default=5, help="members kept for inference (default 5)")
    p.add_argument("--hidden", type=int, default=200, help="hidden width (default 200)")
    p.add_argument("--layers", type=int, default=4, help="hidden layers (default 4)")
    p.add_argument("--max-epochs", type=int, default=100, help="epoch cap (early stopping on held-out data)")
    p.add_argument("--patience", type=int, default=5, help="epochs without held-out improvement before stopping")
    p.add_argument("--batch-size", type=int, default=256, help="batch size per member (latent: windows, default 16)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    p.add_argument("--seed", type=int, default=0, help="seed for split, init and batches")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--tensorboard", default=None, help="TensorBoard log dir")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_dream(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dream",
        help="play a policy in a dream and in ground truth from the same start states",
        description="Play a policy for paired episodes in the dream (a world-model checkpoint) and in the "
        "ground-truth simulator, each pair from the same start state, and print both returns and why each "
        "dream episode ended.",
    )
    p.add_argument("--task", required=True, help="task name")
    p.add_argument("--checkpoint", default=None, help="checkpoint path or zoo name (default: shipped for the task)")
    p.add_argument("--policy", default="random", help="'random', 'expert' or a path to a saved SB3 model (.zip)")
    p.add_argument("--algo", default="PPO", help="SB3 class of --policy when it is a path (default PPO)")
    p.add_argument("--episodes", type=int, default=5, help="paired episodes (default 5)")
    p.add_argument("--on-uncertain", default="truncate", choices=["truncate", "terminate", "penalize"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the summary to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="train an SB3 agent inside a shipped dream and evaluate it in MuJoCo (a few minutes on 2 CPU cores)",
        description="Train an SB3 agent entirely inside the dream of a task (its shipped world model), evaluate it in "
        "MuJoCo from the same start states, print dream-vs-real returns and write a plot and JSON.",
    )
    p.add_argument("--task", default="InvertedPendulum", help="task (default InvertedPendulum)")
    p.add_argument("--algo", default="PPO", choices=["PPO", "SAC"], help="SB3 algorithm (default PPO)")
    p.add_argument("--timesteps", type=int, default=60_000, help="dream steps of training (default 60000)")
    p.add_argument("--num-envs", type=int, default=16, help="parallel dream envs (default 16)")
    p.add_argument("--episodes", type=int, default=10, help="paired evaluation episodes (default 10)")
    p.add_argument("--checkpoint", default=None, help="dream with this checkpoint instead of the shipped one")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="outputs/demo", help="folder for the plot, JSON and agent (default outputs/demo)")
    p.add_argument("--device", default="auto")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _load_policy(parser: argparse.ArgumentParser, name: str, algo: str) -> object:
    from .policies import load_policy

    try:
        return load_policy(name, algo)
    except ValueError as err:
        parser.error(str(err))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``neural-gym`` command."""
    parser = argparse.ArgumentParser(
        prog="neural-gym", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("tasks", help="list the ground-truth tasks and their dream env ids")
    _add_collect(sub)
    _add_train(sub)
    _add_dream(sub)
    _add_demo(sub)
    from .drift.cli import add_parser as _add_drift

    _add_drift(sub)
    from .dream_rl.cli import add_parser as _add_dream_train

    _add_dream_train(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)

    if args.command == "tasks":
        from neural_gym.envs import OPTIONAL_TASKS, TASKS, get_task

        from .registration import env_id

        for name in [*TASKS, *OPTIONAL_TASKS]:
            try:
                t = get_task(name)
            except ImportError:
                extra = OPTIONAL_TASKS[name].extra
                print(f'{env_id(name):<34} needs the optional extra: pip install "neural-gym[{extra}]"')
                continue
            exact = [w for w, f in (("reward", t.reward_fn), ("termination", t.termination_fn)) if f is not None]
            print(f"{env_id(name):<34} ground truth {t.env_id:<20} exact: {', '.join(exact) or '-'}")
        return 0
    if args.command == "collect":
        from neural_gym.envs import collect

        if args.image_size < 1:
            parser.error(f"--image-size must be a positive number of pixels, got {args.image_size}")
        policy = _load_policy(parser, args.policy, args.algo)
        dataset_id = collect(
            args.task,
            args.steps,
            policy=policy,
            seed=args.seed,
            dataset_id=args.dataset_id,
            action_noise=args.action_noise,
            progress=not args.quiet,
            overwrite=args.overwrite,
            obs_mode=args.obs_mode,
            image_size=args.image_size,
        )
        print(f"wrote dataset {dataset_id}")
        return 0
    if args.command == "train":
        from neural_gym.world_models import EnsembleConfig

        from .train import train_world_model

        if args.family in ("latent", "video"):
            conv = [f"conv_depth={args.conv_depth}"] if args.conv_depth else []
            extra = {"obs": args.obs, "seq_len": args.seq_len} if args.family == "latent" else {}
            model, report, path = train_world_model(
                args.task,
                args.dataset_id,
                args.out,
                family=args.family,
                preset=args.preset,
                overrides=_overrides(parser, args.overrides + conv),
                steps=args.steps,
                batch_size=args.batch_size if args.batch_size != 256 else 16,
                lr=args.lr,
                seed=args.seed,
                device=args.device,
                progress=not args.quiet,
                log_dir=args.tensorboard,
                command=shlex.join(["neural-gym", *argv]),
                **extra,
            )
            if args.family == "video":
                figures = (
                    f"held-out one-step PSNR {report.heldout_onestep_psnr:.2f} dB "
                    f"(copy-last {report.heldout_copy_last_psnr:.2f} dB)"
                )
            else:
                figures = (
                    f"held-out reconstruction MSE {report.heldout_recon_mse:.4f} "
                    f"(mean baseline {report.heldout_mean_baseline_mse:.4f})"
                )
            cal = model.spec.calibration
            print(
                f"wrote {path}: {report.steps} steps in {report.wall_time_s:.0f} s, {figures}, "
                f"{cal.measure} threshold {cal.threshold:.4f}"
            )
            return 0
        config = EnsembleConfig(
            ensemble_size=args.members, num_elites=args.elites, hidden_size=args.hidden, num_layers=args.layers
        )
        model, report, path = train_world_model(
            args.task,
            args.dataset_id,
            args.out,
            config=config,
            max_epochs=args.max_epochs,
            patience=args.patience,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            device=args.device,
            progress=not args.quiet,
            tensorboard_dir=args.tensorboard,
            command=shlex.join(["neural-gym", *argv]),
        )
        cal = model.spec.calibration
        print(
            f"wrote {path}: {report.epochs} epochs in {report.wall_time_s:.0f} s, held-out MSE "
            f"{report.best_holdout_mse:.4f} (normalized), elites {report.elites}, "
            f"{cal.measure} threshold {cal.threshold:.4f}"
        )
        return 0
    if args.command == "dream":
        from .evaluate import paired_episodes

        result = paired_episodes(
            args.task,
            _load_policy(parser, args.policy, args.algo),
            checkpoint=args.checkpoint,
            episodes=args.episodes,
            seed=args.seed,
            progress=not args.quiet,
            on_uncertain=args.on_uncertain,
        )
        print(
            f"{'episode':>7} {'MuJoCo return':>14} {'dream return':>13} {'real len':>9} {'dream len':>10}  dream ended by"
        )
        for i in range(len(result.real_returns)):
            print(
                f"{i:>7} {result.real_returns[i]:>14.2f} {result.dream_returns[i]:>13.2f} "
                f"{result.real_lengths[i]:>9} {result.dream_lengths[i]:>10}  {result.dream_end[i]}"
            )
        summary = result.summary()
        print(json.dumps(summary, indent=2))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(summary, f, indent=2)
        return 0
    if args.command == "demo":
        from .demo import run_demo

        result = run_demo(
            args.task,
            algo=args.algo,
            timesteps=args.timesteps,
            num_envs=args.num_envs,
            eval_episodes=args.episodes,
            seed=args.seed,
            checkpoint=args.checkpoint,
            out_dir=args.out,
            device=args.device,
            progress=not args.quiet,
        )
        print(result.table())
        print(f"\nplot: {result.plot}\njson: {result.json}")
        return 0
    if args.command == "dream-train":
        from .dream_rl.cli import run as run_dream_train

        return run_dream_train(args)
    if args.command == "drift":
        from .drift.cli import run as run_drift

        return run_drift(args)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
