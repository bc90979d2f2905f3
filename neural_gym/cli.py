"""``neural-gym``: collect ground truth, train world models, play dreams, run the demo."""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

DESCRIPTION = """\
Learned simulators as Gymnasium environments, checked against MuJoCo.

The usual path:   collect (ground truth → local Minari dataset)
               →  train   (dataset → ensemble world-model checkpoint)
               →  dream   (play the checkpoint as an env, side by side with ground truth)
`demo` trains an SB3 agent inside a shipped dream and scores it in MuJoCo.
`dream-train` trains an SB3 agent inside a dream (offline from a dataset, or Dyna/MBPO with real data) and scores it in MuJoCo.
`drift` replays identical actions from held-out physics states in MuJoCo and a checkpoint and charts the error by horizon.
`calibrate` chooses a checkpoint's uncertainty cut-off on held-out rollouts and stores it (enables uncertainty_risk=alpha).
`evaluate` plays policies on paired episodes in MuJoCo and in the dream and reports how far the dream's verdicts agree.
`serve-policy` puts a policy behind a WebSocket in openpi's wire format (for remote evaluation).

Expected errors (unknown task, missing dataset, bad checkpoint or settings) print one line and exit with status 2;
`neural-gym --debug COMMAND ...` shows the traceback instead.
"""

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError, FileExistsError)
"""Errors a command reports as one line (``CheckpointError`` is a ``ValueError``); anything else is a bug."""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, ``<prog>: error: <message> (see `<prog> --help`)``.

    Attributes:
        command_parsers: on the top-level parser, each command's parser by name (set by :func:`build_parser`).
    """

    command_parsers: dict[str, argparse.ArgumentParser]

    def error(self, message: str) -> NoReturn:
        """Print the one-line error to stderr and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _int_at_least(low: int) -> Callable[[str], int]:
    """An argparse ``type`` accepting integers ``>= low``, refusing anything else with a message that says so."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            what = "a positive integer" if low == 1 else f"an integer >= {low}"
            raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in some messages
    return parse


positive_int = _int_at_least(1)
"""argparse ``type`` for counts that must be at least 1 (steps, episodes, members, ...)."""


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def fmt(value: float | None, digits: int = 2) -> str:
    """A figure for a terminal summary: ``digits`` decimals, ``"n/a"`` for ``None``, NaN or infinity.

    Args:
        value: the figure.
        digits: decimals shown.

    Returns:
        The figure as text.
    """
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    return f"{float(value):.{digits}f}"


def _one_line(err: BaseException) -> str:
    """The error's message on one line (``KeyError`` without its quotes)."""
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    return " ".join(text.split()) or type(err).__name__


def _add_collect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "collect",
        help="run a policy in the ground-truth simulator and write a local Minari dataset",
        description="Run a policy in a ground-truth MuJoCo task and write a local Minari dataset (physics state of "
        "every step included). Datasets go to $MINARI_DATASETS_PATH (Minari's default: ~/.minari/datasets).",
    )
    p.add_argument("task_name", nargs="?", default=None, metavar="TASK", help="task name (or use --task)")
    p.add_argument("--task", default=None, help="task name, e.g. HalfCheetah (see `neural-gym tasks`)")
    p.add_argument("--steps", type=positive_int, default=50_000, help="number of transitions to record (default 50000)")
    p.add_argument(
        "--policy",
        default="random",
        help="'random', 'expert' (scripted, see envs/experts.py), a path to a saved SB3 model (.zip) (SB3 unpickles .zip files: a malicious one runs code, so load only files you trust), a VLA checkpoint (.safetensors or zoo:<name>, with --obs-mode dict) or ws://host:port (a remote policy)",
    )
    p.add_argument("--algo", default="SAC", help="SB3 class of --policy when it is a path (default SAC)")
    p.add_argument(
        "--action-noise",
        type=_non_negative_float,
        default=0.0,
        help="std of Gaussian noise added to the policy's actions, in units of half the action range",
    )
    p.add_argument(
        "--random-fraction",
        type=_non_negative_float,
        default=0.0,
        help="share of episodes (0..1) played by a uniform random policy instead of --policy (default 0)",
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
        choices=["state", "pixels", "dict"],
        help="'state' (default), or 'pixels' / 'dict' (the same dataset): "
        "also store N x N uint8 frames of the task's camera beside the state (lossless), and the instruction for tasks "
        "with language",
    )
    p.add_argument(
        "--image-size", type=positive_int, default=64, help="frame height and width for --obs-mode pixels (default 64)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset with the same id")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _overrides(items: list[str]) -> dict[str, Any]:
    """``["conv_depth=8", "proprio=true"]`` → ``{"conv_depth": 8, "proprio": True}`` (values read as JSON if they can be).

    Raises:
        ValueError: for an item that is not ``FIELD=VALUE``.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set needs FIELD=VALUE, got {item!r}")
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
        "DIAMOND-style few-step denoising generator over the last frames of such a pixel dataset. --family wam: a "
        "world action model (UWM-style) of future states and action chunks on state vectors, also a policy and an "
        "inverse-dynamics model.",
    )
    p.add_argument("--task", required=True, help="task the dataset was collected on")
    p.add_argument("--dataset-id", required=True, help="local Minari dataset id")
    p.add_argument("--out", required=True, help="checkpoint path, e.g. runs/halfcheetah.safetensors")
    p.add_argument("--family", default="ensemble", choices=["ensemble", "latent", "video", "wam"], help="model family")
    p.add_argument("--obs", default="state", choices=["state", "pixels"], help="latent: learn from state or frames")
    p.add_argument(
        "--preset",
        default="small",
        help="latent: debug | small | medium; video: debug | small32 | small; wam: debug | small",
    )
    p.add_argument("--steps", type=positive_int, default=5000, help="latent/video/wam: optimizer steps (default 5000)")
    p.add_argument("--seq-len", type=_int_at_least(2), default=50, help="latent: training window length (default 50)")
    p.add_argument(
        "--conv-depth",
        type=positive_int,
        default=None,
        help="latent: frame encoder/decoder channels (= --set conv_depth=N)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="latent/video/wam: change one config field of the preset, e.g. --set conv_depth=8 (repeatable)",
    )
    p.add_argument("--members", type=_int_at_least(2), default=7, help="ensemble members, >= 2 (default 7)")
    p.add_argument(
        "--elites", type=_int_at_least(2), default=5, help="members kept for inference, 2..--members (default 5)"
    )
    p.add_argument("--hidden", type=positive_int, default=200, help="hidden width (default 200)")
    p.add_argument("--layers", type=positive_int, default=4, help="hidden layers (default 4)")
    p.add_argument("--max-epochs", type=positive_int, default=100, help="epoch cap (early stopping on held-out data)")
    p.add_argument(
        "--patience", type=positive_int, default=5, help="epochs without held-out improvement before stopping"
    )
    p.add_argument(
        "--batch-size", type=positive_int, default=256, help="batch size per member (latent: windows, default 16)"
    )
    p.add_argument("--lr", type=_positive_float, default=1e-3, help="learning rate")
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
    p.add_argument(
        "--policy",
        default="random",
        help="'random', 'expert' or a path to a saved SB3 model (.zip) (SB3 unpickles .zip files: a malicious one runs code, so load only files you trust)",
    )
    p.add_argument("--algo", default="PPO", help="SB3 class of --policy when it is a path (default PPO)")
    p.add_argument("--episodes", type=positive_int, default=5, help="paired episodes (default 5)")
    p.add_argument("--on-uncertain", default="truncate", choices=["truncate", "terminate", "penalize"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the summary to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="the three uses on shipped dreams: RL inside a dream, policy evaluation, drift (a few minutes on 2 CPU "
        "cores)",
        description="Train an SB3 agent entirely inside the dream of a task (its shipped world model) and evaluate it "
        "in MuJoCo from the same start states; then evaluate a spread of the shipped VLA ladder and the references in "
        "the TabletopReach dream and in MuJoCo (paired start states); then measure the task's dream drift against "
        "MuJoCo. Prints each part's table and writes every part's files and one combined report.md / report.html, "
        "all or nothing.",
    )
    p.add_argument("--task", default="InvertedPendulum", help="task (default InvertedPendulum)")
    p.add_argument("--algo", default="PPO", choices=["PPO", "SAC"], help="SB3 algorithm (default PPO)")
    p.add_argument("--timesteps", type=positive_int, default=60_000, help="dream steps of training (default 60000)")
    p.add_argument("--num-envs", type=positive_int, default=16, help="parallel dream envs (default 16)")
    p.add_argument("--episodes", type=positive_int, default=10, help="paired evaluation episodes (default 10)")
    p.add_argument("--checkpoint", default=None, help="dream with this checkpoint instead of the shipped one")
    p.add_argument("--seed", type=int, default=0, help="first training seed (default 0)")
    p.add_argument(
        "--seeds", type=positive_int, default=5, help="agents trained, seeds --seed, --seed + 1, ... (default 5)"
    )
    p.add_argument(
        "--out",
        default="outputs/demo",
        help="folder for every part's files and the combined report, replaced as a whole (default outputs/demo)",
    )
    p.add_argument("--skip-eval", action="store_true", help="leave out the policy-evaluation part")
    p.add_argument("--skip-drift", action="store_true", help="leave out the drift part")
    p.add_argument(
        "--policy-episodes",
        type=positive_int,
        default=20,
        help="paired episodes per policy of the evaluation (default 20)",
    )
    p.add_argument(
        "--drift-starts", type=positive_int, default=16, help="held-out start states of the drift (default 16)"
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _tasks() -> int:
    """``neural-gym tasks``: one line per task (optional extras' tasks say how to install them)."""
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


def _collect(args: argparse.Namespace) -> int:
    """``neural-gym collect``: write the dataset and say where it went."""
    from minari.storage.datasets_root_dir import get_dataset_path

    from neural_gym.envs import collect, get_task

    from .policies import load_policy

    if args.task_name is not None and args.task is not None and args.task_name != args.task:
        raise ValueError(f"two tasks given: {args.task_name!r} and --task {args.task!r}; give one")
    task = args.task_name if args.task_name is not None else args.task
    if task is None:
        raise ValueError("collect needs a task: neural-gym collect TASK ... (or --task TASK); see `neural-gym tasks`")
    get_task(task)  # an unknown task fails here, before a policy loads
    if args.policy.startswith(("zoo:", "ws://", "wss://")) or args.policy.endswith(".safetensors"):
        from .policies import resolve_policy  # a VLA checkpoint or a remote server: a Policy given dict observations

        policy = resolve_policy(args.policy, task=task, seed=args.seed)
    else:
        policy = load_policy(args.policy, args.algo)
    dataset_id = collect(
        task,
        args.steps,
        policy=policy,
        seed=args.seed,
        dataset_id=args.dataset_id,
        action_noise=args.action_noise,
        progress=not args.quiet,
        overwrite=args.overwrite,
        obs_mode=args.obs_mode,
        image_size=args.image_size,
        random_fraction=args.random_fraction,
    )
    print(f"wrote dataset {dataset_id} ({args.steps} steps) to {get_dataset_path(dataset_id)}")
    return 0


def _train(args: argparse.Namespace, argv: list[str]) -> int:
    """``neural-gym train``: fit the model, save the checkpoint, print one summary line."""
    if args.family == "ensemble" and args.elites > args.members:
        raise ValueError(
            f"--elites ({args.elites}) must not exceed --members ({args.members}): the elites are chosen among the "
            "members (give --elites between 2 and --members)"
        )
    from neural_gym.world_models import EnsembleConfig

    from .train import train_world_model

    command = shlex.join(["neural-gym", *argv])
    if args.family in ("latent", "video", "wam"):
        conv = [f"conv_depth={args.conv_depth}"] if args.conv_depth else []
        extra = {"obs": args.obs, "seq_len": args.seq_len} if args.family == "latent" else {}
        batch = 16 if args.batch_size == 256 and args.family != "wam" else args.batch_size
        model, report, path = train_world_model(
            args.task,
            args.dataset_id,
            args.out,
            family=args.family,
            preset=args.preset,
            overrides=_overrides(args.overrides + conv),
            steps=args.steps,
            batch_size=batch,
            lr=args.lr,
            seed=args.seed,
            device=args.device,
            progress=not args.quiet,
            log_dir=args.tensorboard,
            command=command,
            **extra,
        )
        if args.family == "wam":
            figures = (
                f"held-out one-step nRMSE {fmt(report.heldout_forward_nrmse, 3)} (copy-last "
                f"{fmt(report.heldout_copy_last_nrmse, 3)}), inverse MAE {fmt(report.heldout_inverse_mae, 3)} (mean "
                f"action {fmt(report.heldout_mean_action_mae, 3)})"
            )
        elif args.family == "video":
            figures = (
                f"held-out one-step PSNR {fmt(report.heldout_onestep_psnr)} dB "
                f"(copy-last {fmt(report.heldout_copy_last_psnr)} dB)"
            )
        else:
            figures = (
                f"held-out reconstruction MSE {fmt(report.heldout_recon_mse, 4)} "
                f"(mean baseline {fmt(report.heldout_mean_baseline_mse, 4)})"
            )
        cal = model.spec.calibration
        print(
            f"wrote {path}: {report.steps} steps in {report.wall_time_s:.0f} s, {figures}, "
            f"{cal.measure} threshold {fmt(cal.threshold, 4)}"
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
        command=command,
    )
    cal = model.spec.calibration
    print(
        f"wrote {path}: {report.epochs} epochs in {report.wall_time_s:.0f} s, held-out MSE "
        f"{fmt(report.best_holdout_mse, 4)} (normalized), elites {report.elites}, "
        f"{cal.measure} threshold {fmt(cal.threshold, 4)}"
    )
    return 0


def _dream(args: argparse.Namespace) -> int:
    """``neural-gym dream``: the paired-episode table, then means (and the JSON file with ``--json``)."""
    from .evaluate import paired_episodes
    from .policies import load_policy

    result = paired_episodes(
        args.task,
        load_policy(args.policy, args.algo),
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
            f"{i:>7} {fmt(result.real_returns[i]):>14} {fmt(result.dream_returns[i]):>13} "
            f"{result.real_lengths[i]:>9} {result.dream_lengths[i]:>10}  {result.dream_end[i]}"
        )
    summary = result.summary()
    ends = ", ".join(f"{k} {v}" for k, v in summary["dream_end"].items() if v) or "-"
    print(
        f"{'mean':>7} {fmt(summary['real_return_mean']):>14} {fmt(summary['dream_return_mean']):>13} "
        f"{fmt(summary['real_length_mean'], 1):>9} {fmt(summary['dream_length_mean'], 1):>10}  {ends}"
    )
    print(f"{'std':>7} {fmt(summary['real_return_std']):>14} {fmt(summary['dream_return_std']):>13}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
        print(f"json: {args.json}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    """``neural-gym demo``: dream RL, policy evaluation and drift; print each part's table and where the report went."""
    from .demo import run_demo

    result = run_demo(
        args.task,
        algo=args.algo,
        timesteps=args.timesteps,
        num_envs=args.num_envs,
        eval_episodes=args.episodes,
        seed=args.seed,
        n_seeds=args.seeds,
        checkpoint=args.checkpoint,
        out_dir=args.out,
        device=args.device,
        progress=not args.quiet,
        evaluate=not args.skip_eval,
        policy_episodes=args.policy_episodes,
        drift=not args.skip_drift,
        drift_starts=args.drift_starts,
    )
    print(result.summary())
    print(f"\nreport: {result.report_html} (and {result.report_md.name}) in {result.report_html.parent}")
    return 0


def _add_serve_policy(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve-policy",
        help="serve a policy over a WebSocket in openpi's wire format",
        description="Serve a policy over a WebSocket in openpi's wire format (msgpack with numpy arrays; the metadata "
        "first, then one reply {'actions': [H, A]} per unbatched observation), for neural_gym.policies.RemotePolicy "
        'or an openpi WebsocketClientPolicy. Needs the remote extra: pip install "neural-gym[remote]". Ctrl-C stops.',
    )
    p.add_argument(
        "--policy",
        required=True,
        help="'random', 'expert', an SB3 model (.zip; SB3 unpickles it: load only files you trust), a VLA checkpoint "
        "(.safetensors) or ws://host:port (relay another server)",
    )
    p.add_argument(
        "--task", default=None, help="task of 'expert' / 'random' (e.g. push, TabletopPush, InvertedPendulum)"
    )
    p.add_argument("--algo", default="PPO", help="SB3 class of an SB3 --policy (default PPO)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=_int_at_least(0), default=8000, help="TCP port (default 8000; 0 picks a free one)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random policy, expert noise or VLA sampling")
    p.add_argument(
        "--action-noise", type=_non_negative_float, default=0.0, help="expert action noise (fraction of half range)"
    )
    p.add_argument(
        "--obs-keys",
        choices=["neural_gym", "openpi_libero"],
        default="neural_gym",
        help="observation keys on the wire: pixels/state/instruction (default) or openpi's LIBERO example's "
        "observation/image, observation/state, prompt",
    )


def _serve_policy(args: argparse.Namespace) -> int:
    """``neural-gym serve-policy``: put a local policy behind openpi's WebSocket protocol until interrupted."""
    try:
        from .policies.remote import OPENPI_LIBERO_KEYS, PolicyServer
    except ImportError as err:
        raise ValueError(str(err)) from err
    from .policies.named import resolve_policy

    try:
        policy = resolve_policy(
            args.policy, task=args.task, algo=args.algo, seed=args.seed, action_noise=args.action_noise
        )
        keys = OPENPI_LIBERO_KEYS if args.obs_keys == "openpi_libero" else None
        server = PolicyServer(policy, args.host, args.port, obs_keys=keys, metadata={"spec": args.policy})
    except ImportError as err:
        raise ValueError(str(err)) from err
    except OSError as err:
        raise ValueError(f"cannot listen on {args.host}:{args.port}: {err}") from err
    print(f"serving {policy!r} on {server.url} (chunk size {policy.chunk_size}); Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.close()
    return 0


def build_parser() -> _Parser:
    """The ``neural-gym`` argument parser (building it imports neither torch, MuJoCo nor SB3).

    Returns:
        The parser; every subcommand also takes ``--debug``.
    """
    parser = _Parser(prog="neural-gym", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("tasks", help="list the ground-truth tasks and their dream env ids")
    _add_collect(sub)
    _add_train(sub)
    _add_dream(sub)
    _add_demo(sub)
    from .drift.cli import add_parser as _add_drift

    _add_drift(sub)
    from .drift.calibrate_cli import add_parser as _add_calibrate

    _add_calibrate(sub)
    from .dream_rl.cli import add_parser as _add_dream_train

    _add_dream_train(sub)
    _add_serve_policy(sub)
    from .evaluate.cli import add_parser as _add_evaluate

    _add_evaluate(sub)
    for command_parser in sub.choices.values():
        # SUPPRESS: a subcommand without --debug keeps the value of a `neural-gym --debug` before it.
        command_parser.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of an error"
        )
    parser.command_parsers = dict(sub.choices)
    return parser


def _dispatch(args: argparse.Namespace, argv: list[str]) -> int:
    if args.command == "tasks":
        return _tasks()
    if args.command == "collect":
        return _collect(args)
    if args.command == "train":
        return _train(args, argv)
    if args.command == "dream":
        return _dream(args)
    if args.command == "demo":
        return _demo(args)
    if args.command == "dream-train":
        from .dream_rl.cli import run as run_dream_train

        return run_dream_train(args)
    if args.command == "drift":
        from .drift.cli import run as run_drift

        return run_drift(args)
    if args.command == "calibrate":
        from .drift.calibrate_cli import run as run_calibrate

        return run_calibrate(args)
    if args.command == "serve-policy":
        return _serve_policy(args)
    if args.command == "evaluate":
        from .evaluate.cli import run as run_evaluate

        return run_evaluate(args)
    raise ValueError(f"unknown command {args.command!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``neural-gym`` command.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0, or 2 after an expected error (:data:`EXPECTED_ERRORS`), printed to stderr as one line
        ``neural-gym <command>: error: <message>`` (with ``--debug`` the error propagates with its traceback).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported by the command's parser, so the line names the command
        parser.command_parsers[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return _dispatch(args, argv)
    except EXPECTED_ERRORS as err:
        if args.debug:
            raise
        print(f"neural-gym {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
