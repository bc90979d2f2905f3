"""``neural-gym dream-train``: train an SB3 agent inside a dream (offline or Dyna/MBPO) and score it in MuJoCo.

Wire it into ``neural_gym/cli.py`` with ``add_parser(sub)`` and, for ``args.command == "dream-train"``,
``return run(args)``.
"""

from __future__ import annotations

import argparse
import json
import math

DESCRIPTION = """\
Train an SB3 agent inside a learned simulator and evaluate it in MuJoCo every --eval-freq steps.

offline: a fixed Minari dataset (--dataset-id) trains a world model (or --checkpoint gives one); PPO or SAC then trains
         only inside the dream, episodes starting from dataset states, --horizon steps long, uncertain steps truncated
         or penalized (MOPO: --on-uncertain penalize --penalty λ).
dyna:    SAC collects real data with its current policy; every --model-train-freq real steps the ensemble is refit on
         all real data and --rollout-batch-size branched rollouts of --horizon steps fill a model buffer; each SAC
         batch mixes --real-ratio real data with imagined data (MBPO). Needs SAC (off-policy).

The run folder (--out) holds state.json (the commit point of the last save), one gen-NNNNNN/ folder with that save's
agent.zip, replay_buffer.npz and model.safetensors, and eval.csv (MuJoCo return and the dream-vs-real gap per
evaluation). A run killed at any moment resumes (--resume) from its last complete save. A fresh run refuses a folder
that holds a run unless given --overwrite (start over) or --resume. On --resume every setting must match the saved
run except --steps (to extend the budget), --save-freq, --device, --tensorboard and --quiet.

Security: agent.zip is Stable-Baselines3's format and is unpickled by SB3 on --resume; unpickling a malicious file
runs arbitrary code. Only resume run folders you trust. The other files are pickle-free (JSON, .npz, safetensors, CSV).

Off a terminal (a log file, CI) one line per evaluation goes to stderr instead of the progress bar; the last
evaluation is printed to stdout as JSON.
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``dream-train`` subcommand to ``neural-gym``'s subparsers.

    Args:
        sub: the object ``ArgumentParser.add_subparsers`` returned.

    Returns:
        The ``dream-train`` parser.
    """
    p = sub.add_parser(
        "dream-train",
        help="train an SB3 agent inside a dream (offline from a dataset, or Dyna/MBPO) and evaluate it in MuJoCo",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--task", required=True, help="task name, e.g. InvertedPendulum")
    p.add_argument("--algo", default="SAC", choices=["PPO", "SAC"], help="SB3 algorithm (dyna: SAC only)")
    p.add_argument("--mode", default="offline", choices=["offline", "dyna"], help="offline (default) or dyna")
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="agent steps: dream steps offline (default 100000), real steps in dyna (default 10000)",
    )
    p.add_argument("--dataset-id", default=None, help="offline: Minari dataset to train the model on and start from")
    p.add_argument("--checkpoint", default=None, help="offline: use this world model instead of training one")
    p.add_argument("--num-envs", type=int, default=16, help="offline: parallel dream envs (default 16)")
    p.add_argument("--horizon", type=int, default=None, help="dream rollout horizon h (default 100 offline, 1 dyna)")
    p.add_argument("--on-uncertain", default="truncate", choices=["truncate", "terminate", "penalize"])
    p.add_argument("--penalty", type=float, default=1.0, help="MOPO λ for --on-uncertain penalize (default 1)")
    p.add_argument(
        "--model-epochs", type=int, default=None, help="epoch cap per model fit (default 50 offline, 20 dyna)"
    )
    p.add_argument("--real-ratio", type=float, default=0.05, help="dyna: share of each batch from real data, in [0, 1]")
    p.add_argument("--gradient-steps", type=int, default=10, help="dyna: SAC updates per real step (default 10)")
    p.add_argument("--model-train-freq", type=int, default=250, help="dyna: real steps between model refits")
    p.add_argument("--rollout-batch-size", type=int, default=400, help="dyna: branched rollouts per refit")
    p.add_argument("--learning-starts", type=int, default=200, help="dyna: random real steps before learning")
    p.add_argument("--eval-freq", type=int, default=None, help="steps between MuJoCo evaluations")
    p.add_argument("--eval-episodes", type=int, default=5, help="episodes per evaluation (default 5)")
    p.add_argument("--save-freq", type=int, default=None, help="steps between run checkpoints (default = --eval-freq)")
    p.add_argument("--out", default=None, help="run folder (default outputs/dream_rl/<task>-<mode>)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run saved in --out from its last complete save (same settings; --steps may grow). "
        "SB3 unpickles agent.zip: only resume run folders you trust",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="start over in an --out that already holds a run (deletes that run)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--tensorboard", action="store_true", help="also log to TensorBoard under <out>/tb")
    p.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")
    return p


def check_args(args: argparse.Namespace) -> None:
    """Refuse counts below their minimum and ratios outside their range, naming the flag.

    Raises:
        ValueError: ``--<flag> must be ..., got <value>``.
    """
    at_least = {
        "steps": 1,
        "num_envs": 1,
        "horizon": 1,
        "model_epochs": 1,
        "gradient_steps": 1,
        "model_train_freq": 1,
        "rollout_batch_size": 1,
        "learning_starts": 0,
        "eval_freq": 1,
        "eval_episodes": 1,
        "save_freq": 1,
    }
    for name, minimum in at_least.items():
        value = getattr(args, name, None)
        if value is not None and value < minimum:
            raise ValueError(f"--{name.replace('_', '-')} must be >= {minimum}, got {value}")
    if not 0.0 <= args.real_ratio <= 1.0:  # also refuses NaN
        raise ValueError(
            f"--real-ratio must be in [0, 1] (share of each batch drawn from real data), got {args.real_ratio}"
        )
    if not (math.isfinite(args.penalty) and args.penalty >= 0):
        raise ValueError(f"--penalty must be a finite number >= 0 (MOPO λ), got {args.penalty}")
    if args.resume and args.overwrite:
        raise ValueError("pass --resume (continue the saved run) or --overwrite (start over), not both")


def _default(value: int | None, default: int) -> int:
    return default if value is None else value


def run(args: argparse.Namespace) -> int:
    """Run ``dream-train`` with parsed arguments; prints the last evaluation as JSON.

    Warning:
        With ``--resume`` this loads the run folder's ``agent.zip``, which SB3 unpickles: a malicious file runs
        arbitrary code. Only resume run folders you trust.

    Returns:
        The exit status (0).

    Raises:
        ValueError: a bad argument (naming the flag), a run folder that holds a run without ``--resume`` or
            ``--overwrite``, or a ``--resume`` whose settings differ from the saved run's.
        CheckpointError: a run folder whose files are missing, changed or inconsistent on ``--resume``.
    """
    check_args(args)
    from ..json_values import json_safe
    from .dyna import train_dyna
    from .offline import train_offline

    out = args.out or f"outputs/dream_rl/{args.task}-{args.mode}"
    eval_freq = _default(args.eval_freq, 10_000 if args.mode == "offline" else 1_000)
    common = {
        "algo": args.algo,
        "on_uncertain": args.on_uncertain,
        "penalty": args.penalty,
        "eval_freq": eval_freq,
        "eval_episodes": args.eval_episodes,
        "save_freq": _default(args.save_freq, eval_freq),
        "out_dir": out,
        "resume": args.resume,
        "overwrite": args.overwrite,
        "seed": args.seed,
        "device": args.device,
        "tensorboard": args.tensorboard,
        "progress": not args.quiet,
    }
    if args.mode == "offline":
        result = train_offline(
            args.task,
            args.dataset_id,
            checkpoint=args.checkpoint,
            total_timesteps=_default(args.steps, 100_000),
            num_envs=args.num_envs,
            horizon=_default(args.horizon, 100),
            model_epochs=_default(args.model_epochs, 50),
            **common,
        )
    else:
        result = train_dyna(
            args.task,
            total_timesteps=_default(args.steps, 10_000),
            real_ratio=args.real_ratio,
            gradient_steps=args.gradient_steps,
            model_train_freq=args.model_train_freq,
            rollout_batch_size=args.rollout_batch_size,
            learning_starts=args.learning_starts,
            horizon=_default(args.horizon, 1),
            model_epochs=_default(args.model_epochs, 20),
            **common,
        )
    last = result.evaluations[-1] if result.evaluations else {}
    summary = {"out": str(result.out_dir), "steps": result.steps, "real_steps": result.real_steps, **last}
    print(json.dumps(json_safe(summary), indent=2, allow_nan=False))  # NaN (no dream yet, a zero return) -> null
    return 0
