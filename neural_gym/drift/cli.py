"""``neural-gym drift``: measure a checkpoint's rollout drift against MuJoCo and write a report folder.

Wire it into ``neural_gym/cli.py`` with ``add_parser(sub)`` and, for ``args.command == "drift"``, ``return run(args)``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

DESCRIPTION = """\
Replay identical actions from identical physics states in MuJoCo and in a world model, from start states of held-out
real data, beside baselines (copy-last, linear extrapolation, a single MLP trained on the checkpoint's own data and
budget). Reports normalized RMSE / relative L1 / reward / termination by horizon with bootstrap intervals, the
ensemble's disagreement against the true error (Spearman, AUROC, justified cut-offs, trusted horizon), re-grounding and
action-noise settings. Writes drift.json, PNG plots, a side-by-side MP4 and report.md into --out, all or nothing.

Checkpoints that predict frames (obs_shape (H, W, 3)) take the frame path instead: PSNR and SSIM of the decoded frames
against renders of the restored physics state, beside copy-last-frame; controllability (true minus shuffled actions);
disagreement against PSNR < --tau-psnr. It writes frame_drift.json, PNG plots, frame_drift.mp4 and report.md.
"""


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from err


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from err


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``drift`` subcommand to ``neural-gym``'s subparsers.

    Args:
        sub: the object ``ArgumentParser.add_subparsers`` returned.

    Returns:
        The ``drift`` parser.
    """
    from ..cli import positive_int

    p = sub.add_parser(
        "drift",
        help="measure a world model's rollout drift against MuJoCo from held-out real states, with baselines",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--task", required=True, help="task name, e.g. Hopper")
    p.add_argument("--checkpoint", default=None, help="checkpoint path or zoo name (default: shipped for the task)")
    p.add_argument(
        "--dataset-id",
        default=None,
        help="held-out Minari dataset with physics states (default: collect a fresh one, seed 1000, in a temp folder)",
    )
    p.add_argument("--starts", type=positive_int, default=32, help="start states (default 32)")
    p.add_argument(
        "--horizons", type=_ints, default=None, help="comma-separated horizons (default 1,2,5,10,25,50,100,200)"
    )
    p.add_argument(
        "--policy",
        default=None,
        help="actions from 'random', 'expert' or a saved SB3 model (.zip) (SB3 unpickles .zip files: a malicious one runs code, so load only files you trust); default: the held-out "
        "episodes' recorded actions",
    )
    p.add_argument("--algo", default="SAC", help="SB3 class of --policy when it is a path (default SAC)")
    p.add_argument(
        "--reground-every", type=_ints, default=None, help="also re-ground to the real state every k steps (e.g. 1,10)"
    )
    p.add_argument(
        "--action-noise", type=_floats, default=[0.0], help="action-noise scales for both worlds, e.g. 0,0.1,0.3"
    )
    p.add_argument("--tau", type=float, default=1.0, help="normalized error counted as wrong (default 1.0)")
    p.add_argument(
        "--tau-psnr", type=float, default=20.0, help="frame checkpoints: PSNR (dB) counted as wrong (default 20)"
    )
    p.add_argument(
        "--baselines",
        type=_names,
        default=None,
        help="comma-separated from copy_last,linear,single_mlp (default: all three; single_mlp only when the "
        "checkpoint's training dataset is available locally, since it trains on it)",
    )
    p.add_argument(
        "--heldout-steps", type=positive_int, default=10_000, help="steps collected when --dataset-id is not given"
    )
    p.add_argument(
        "--heldout-policy", default="random", help="policy of that collection: random or expert (default random)"
    )
    p.add_argument("--heldout-action-noise", type=float, default=0.0, help="action noise of that collection")
    p.add_argument(
        "--inverse-model",
        default=None,
        help="inverse-dynamics checkpoint trained on real transitions of the task (neural_gym.drift."
        "save_inverse_model): adds action recoverability to the report",
    )
    p.add_argument("--n-boot", type=positive_int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--out", default=None, help="report folder (default outputs/drift/<Task>)")
    p.add_argument("--no-video", action="store_true", help="skip the side-by-side MP4")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of starts, noise, random policy and bootstrap (default 0); frame checkpoints: also of the held-out "
        "collection (default 1000)",
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def fmt(value: float | None, digits: int) -> str:
    """A figure for the terminal: ``digits`` decimals, ``"n/a"`` for ``None`` or NaN (see ``neural_gym.cli.fmt``)."""
    from ..cli import fmt as cli_fmt

    return cli_fmt(value, digits)


def _policy(name: str | None, algo: str) -> Any:
    from ..policies import load_policy

    return "recorded" if name is None else load_policy(name, algo, keywords=("random", "expert", "recorded"))


def _predicts_frames(task: str, checkpoint: str | None) -> bool:
    """Whether the checkpoint's observations are RGB frames ``(H, W, 3)`` (the frame drift path)."""
    from neural_gym.envs import get_task
    from neural_gym.world_models import read_spec
    from neural_gym.world_models.checkpoint import resolve_checkpoint_path

    shape = tuple(read_spec(resolve_checkpoint_path(checkpoint or f"zoo:{get_task(task).name}")).obs_shape)
    return len(shape) == 3 and shape[-1] == 3


def _run_frames(args: argparse.Namespace, out: Path) -> int:
    """The frame path of :func:`run` (see ``neural_gym.drift.frames``)."""
    from .frame_report import FRAME_REPORT_FILES, write_frame_report
    from .frames import measure_frame_drift

    state_only = {
        "--policy": args.policy is not None,
        "--reground-every": args.reground_every is not None,
        "--action-noise": list(args.action_noise) != [0.0],
        "--baselines": args.baselines is not None,
        "--heldout-action-noise": args.heldout_action_noise != 0.0,
    }
    given = [name for name, used in state_only.items() if used]
    if given:
        raise ValueError(
            f"{', '.join(given)} apply to state checkpoints only; this checkpoint predicts frames (it replays the "
            "held-out recording of --heldout-policy, beside copy-last-frame and shuffled actions)"
        )
    result = measure_frame_drift(
        args.task,
        args.checkpoint,
        dataset_id=args.dataset_id,
        n_starts=args.starts,
        horizons=args.horizons,
        heldout_steps=args.heldout_steps,
        policy=args.heldout_policy,
        seed=1000 if args.seed is None else args.seed,
        tau_psnr=args.tau_psnr,
        inverse_model=args.inverse_model,
        n_boot=args.n_boot,
        device=args.device,
        progress=not args.quiet,
    )
    write_frame_report(result, out, video=not args.no_video, progress=not args.quiet)
    print(result.summary_table())
    unc = result.uncertainty
    if unc is not None:
        print(
            f"\nAUROC {fmt(unc['auroc']['value'], 3)}, justified cut-offs "
            f"{fmt((unc['justified_share'] or {}).get('value'), 3)}, "
            f"trusted horizon median {fmt(unc['trusted_horizon']['median'], 1)}"
        )
    print(f"\nreport: {out / FRAME_REPORT_FILES['markdown']}\njson:   {out / FRAME_REPORT_FILES['json']}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``neural-gym drift`` with parsed ``args``; print the headline table and where the report went.

    Returns:
        0 on success.

    Raises:
        ValueError, FileNotFoundError, FileExistsError: on bad input, before anything is written (``neural-gym``'s
            ``main`` prints them as one line and exits with status 2).
    """
    from .measure import measure_drift
    from .report import REPORT_FILES, write_report

    out = Path(args.out) if args.out else Path("outputs") / "drift" / args.task
    if _predicts_frames(args.task, args.checkpoint):
        return _run_frames(args, out)
    # No --baselines: the API's default, which leaves out a single MLP whose training data is not on this machine, with
    # a note in drift.json and a warning, printed here as one note line.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        result = measure_drift(
            args.task,
            args.checkpoint,
            dataset_id=args.dataset_id,
            n_starts=args.starts,
            horizons=args.horizons,
            actions=_policy(args.policy, args.algo),
            reground_every=args.reground_every,
            action_noise=args.action_noise,
            tau=args.tau,
            baselines=args.baselines,
            heldout_steps=args.heldout_steps,
            heldout_policy=args.heldout_policy,
            heldout_action_noise=args.heldout_action_noise,
            inverse_model=args.inverse_model,
            n_boot=args.n_boot,
            seed=0 if args.seed is None else args.seed,
            device=args.device,
            progress=not args.quiet,
        )
    for warning in caught:
        print(f"note: {warning.message}", file=sys.stderr)
    write_report(result, out, video=not args.no_video, progress=not args.quiet)
    print(result.summary_table())
    unc = result.base["uncertainty"]
    if unc is not None:
        print(
            f"\nAUROC {fmt(unc['auroc']['value'], 3)}, justified cut-offs "
            f"{fmt((unc['justified_share'] or {}).get('value'), 3)}, "
            f"trusted horizon median {fmt(unc['trusted_horizon']['median'], 1)}, "
            f"dream horizon median {fmt(unc['dream_horizon']['median'], 1)}"
        )
    print(f"\nreport: {out / REPORT_FILES['markdown']}\njson:   {out / REPORT_FILES['json']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m neural_gym.drift.cli [drift] ARGS`` is ``neural-gym drift ARGS`` (same errors and exit status).

    Args:
        argv: the arguments, with or without the leading ``"drift"`` (default ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    from ..cli import main as neural_gym_main

    args = list(sys.argv[1:] if argv is None else argv)
    return neural_gym_main(args if args[:1] == ["drift"] else ["drift", *args])


if __name__ == "__main__":
    sys.exit(main())
