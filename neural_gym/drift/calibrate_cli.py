"""``neural-gym calibrate``: calibrate a checkpoint's uncertainty cut-off on held-out rollouts and write a new checkpoint.

Wired into ``neural_gym/cli.py`` with ``add_parser(sub)`` and, for ``args.command == "calibrate"``, ``return run(args)``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

DESCRIPTION = """\
Roll the checkpoint open loop from real states of held-out episodes (collected fresh from the ground truth with
--heldout-seed, or --dataset-id; never the training data), split the episodes into a calibration half and a scoring
half, choose the cut-off signal (one-step disagreement, its running max, running sum, or running sum / sqrt(step))
and its split-conformal threshold on the calibration half, score it on the other half, and write the checkpoint with
the result stored in it to --out (atomically). Dream envs on the new checkpoint cut on the calibrated signal by
default and accept uncertainty_risk=alpha:

    gym.make("neural_gym/Hopper-v0", checkpoint="Hopper-calibrated.safetensors", uncertainty_risk=0.05)
"""


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1), got {text}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``calibrate`` subcommand to ``neural-gym``'s subparsers.

    Args:
        sub: the object ``ArgumentParser.add_subparsers`` returned.

    Returns:
        The ``calibrate`` parser.
    """
    from ..cli import _int_at_least, _positive_float, positive_int
    from .cli import _names

    p = sub.add_parser(
        "calibrate",
        help="calibrate a checkpoint's uncertainty cut-off on held-out rollouts (enables uncertainty_risk=alpha)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--task", required=True, help="task name, e.g. Hopper")
    p.add_argument("--checkpoint", default=None, help="checkpoint path or zoo name (default: shipped for the task)")
    p.add_argument("--out", required=True, help="path of the calibrated checkpoint to write")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument(
        "--dataset-id",
        default=None,
        help="held-out Minari dataset with physics states (default: collect a fresh one in a temp folder)",
    )
    p.add_argument(
        "--episodes", type=_int_at_least(4), default=64, help="held-out start states, split in halves (default 64)"
    )
    p.add_argument("--horizon", type=positive_int, default=100, help="steps rolled per episode at most (default 100)")
    p.add_argument(
        "--tau",
        type=_positive_float,
        default=None,
        help="error counted as wrong (default: normalized RMSE 1.0 for state models, PSNR 20 dB for frame models; for "
        "a frame model the RMS pixel error as a share of the pixel range, see --tau-psnr)",
    )
    p.add_argument(
        "--tau-psnr",
        type=_positive_float,
        default=None,
        help="frame models only, instead of --tau: a frame counts as wrong below this PSNR in dB (default 20)",
    )
    p.add_argument("--alpha", type=_share, default=0.1, help="risk level of the stored default threshold (default 0.1)")
    p.add_argument(
        "--signals",
        type=_names,
        default=None,
        help="comma-separated candidates from disagreement,disagreement_max,disagreement_sum,"
        "disagreement_sum_per_sqrt_step,member_trajectories (ensemble family only; the env then carries every "
        "elite's state) (default: all the model's env computes)",
    )
    p.add_argument(
        "--actions",
        default="recorded",
        choices=["recorded", "random", "expert"],
        help="actions replayed: the held-out episodes' recorded ones (default), or a policy on the real states",
    )
    p.add_argument(
        "--heldout-steps", type=positive_int, default=10_000, help="steps collected when --dataset-id is not given"
    )
    p.add_argument("--heldout-policy", default="random", choices=["random", "expert"], help="policy of that collection")
    p.add_argument(
        "--heldout-seed", type=_int_at_least(1), default=1000, help="seed of that collection (not 0; default 1000)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of starts, followed members and the split (default 0)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``neural-gym calibrate`` with parsed ``args``; print the chosen cut-off and its figures.

    Returns:
        0 on success.

    Raises:
        ValueError, FileNotFoundError, FileExistsError: bad input, before anything is written (``neural-gym``'s
            ``main`` prints them as one line and exits with status 2).
    """
    from ..cli import fmt
    from .calibrate import calibrate_on_rollouts, set_rollout_calibration
    from .inputs import load_model

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it, or choose another --out")
    if out.suffix != ".safetensors":
        raise ValueError(f"--out must end in .safetensors (a checkpoint file), got {out}")
    from neural_gym.envs import get_task
    from neural_gym.world_models import save_checkpoint

    task = get_task(args.task).name
    model, _ = load_model(task, args.checkpoint, args.device)
    if args.tau_psnr is not None:
        from .observation_kinds import FrameObservations, is_frame_shape

        if args.tau is not None:
            raise ValueError("give --tau or --tau-psnr, not both")
        if not is_frame_shape(tuple(model.spec.obs_shape)):
            raise ValueError(
                f"--tau-psnr is for frame models; this {model.spec.family} model predicts state vectors "
                f"{tuple(model.spec.obs_shape)}: use --tau (a normalized RMSE)"
            )
        args.tau = FrameObservations.error_threshold(args.tau_psnr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        cal = calibrate_on_rollouts(
            task,
            model,
            dataset_id=args.dataset_id,
            n_episodes=args.episodes,
            horizon=args.horizon,
            tau=args.tau,
            alpha=args.alpha,
            candidates=args.signals,
            actions=args.actions,
            heldout_steps=args.heldout_steps,
            heldout_policy=args.heldout_policy,
            heldout_seed=args.heldout_seed,
            seed=args.seed,
            device=args.device,
            progress=not args.quiet,
        )
    for warning in caught:
        print(f"note: {warning.message}", file=sys.stderr)
    cal.scored_on["checkpoint"] = str(args.checkpoint or f"zoo:{task}")
    save_checkpoint(set_rollout_calibration(model, cal), out)
    s, one = cal.scores, cal.scores.get("one_step", {})
    print(
        f"signal {cal.signal}, threshold {cal.threshold:.6g} (alpha {cal.alpha}, tau {cal.tau:.4g} on {cal.error}); "
        f"{cal.scored_on['n_calibration_episodes']} calibration / {cal.scored_on['n_scoring_episodes']} scoring "
        "episodes"
    )
    rows = [
        ("AUROC", "auroc", 3),
        ("justified cut-offs", "justified_share", 3),
        ("cut <= trusted horizon", "cut_no_later_share", 3),
        ("cut >= half of it", "cut_no_earlier_than_half_share", 3),
        ("realized rate", "realized_rate", 3),
        ("kept share", "kept_share", 3),
    ]
    print(f"{'scoring half':<24}{'rollout':>10}{'one-step':>10}")
    for label, key, digits in rows:
        print(f"{label:<24}{fmt(s.get(key), digits):>10}{fmt(one.get(key), digits):>10}")
    print(f"\nwrote {out}")
    return 0


__all__ = ["DESCRIPTION", "add_parser", "run"]
