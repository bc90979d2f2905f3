"""Action recoverability of every family on TabletopReach: can a real-data inverse-dynamics model read the actions
back from what each shipped model generated?

Two inverse-dynamics models (:func:`neural_gym.drift.train_inverse_model`) are trained on fresh real data, never the
shipped models' own: a 64x64 pixel collection of the shipped models' policy mix (scripted expert with action noise
0.4, 20 % random episodes) with seed 3000 (the shipped models trained on seed 0). The state IDM reads its state
vectors, the frame IDM its frames; both hold out the last 20 % of the episodes. Then
:func:`neural_gym.drift.action_recoverability` rolls each model open loop from held-out real starts (a second
collection of the same mix, seed 1000) with the recorded actions and applies the IDM to consecutive generated
observations and to the real ones of the same steps:

* state models (state IDM): ``zoo:TabletopReach`` (ensemble), ``zoo:TabletopReach-wam`` (world action model) and
  copy-last (the floor: a model that never moves), all from the same starts;
* frame models (frame IDM): ``zoo:TabletopReach-latent-pixels`` (RSSM), ``zoo:TabletopReach-video`` (diffusion) and
  copy-last-frame, all from the same starts (drawn with the latent model's 5 frames of context).

Per horizon and overall: action RMSE in ``[-1, 1]`` units on generated and on real pairs, their ratio, the
mean-action baseline, bootstrap intervals over starts. ``benchmarks/wam.py`` folds the JSON in.

    OMP_NUM_THREADS=1 python benchmarks/recoverability.py                # the full run (about 10 minutes)
    OMP_NUM_THREADS=1 python benchmarks/recoverability.py --smoke --out /tmp/rec.json

Writes ``benchmarks/results/wam_recoverability.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
TASK = "TabletopReach"
POLICY = {"policy": "expert", "action_noise": 0.4, "random_fraction": 0.2}
STATE_MODELS = ("zoo:TabletopReach", "zoo:TabletopReach-wam")
FRAME_MODELS = ("zoo:TabletopReach-latent-pixels", "zoo:TabletopReach-video")


def _collect(steps: int, seed: int, name: str, progress: bool) -> str:
    from neural_gym.envs import collect

    return collect(
        TASK,
        steps,
        seed=seed,
        obs_mode="pixels",
        image_size=64,
        dataset_id=f"recoverability/{TASK}/{name}",
        progress=progress,
        **POLICY,
    )


def _measure(
    models: dict[str, Any], idm: Any, heldout: str, args: argparse.Namespace, starts: int, horizon: int, context: int
) -> dict[str, Any]:
    from neural_gym.drift import action_recoverability

    out = {}
    for label, model in models.items():
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = action_recoverability(
                TASK,
                model,
                idm,
                dataset_id=heldout,
                n_starts=starts,
                horizon=horizon,
                start_context=context,
                seed=0,
                n_boot=args.n_boot,
                device="cpu",
                progress=args.progress,
            )
        r["warnings"] = sorted({str(w.message) for w in caught})
        r["wall_s"] = round(time.perf_counter() - t0, 1)
        out[label] = r
        o = r["overall"]
        print(
            f"  {label}: generated {o['generated']['value']:.3f}, real {o['real']['value']:.3f}, ratio "
            f"{o['ratio']['value']:.2f} [{o['ratio']['low']:.2f}, {o['ratio']['high']:.2f}], mean action "
            f"{o['mean_action']['value']:.3f} ({r['wall_s']:.0f} s)",
            flush=True,
        )
    return out


def _plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    groups = [("state", "state IDM"), ("frames", "frame IDM")]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    for ax, (group, title) in zip(axes[:2], groups, strict=True):
        rows = results["models"][group]
        first = next(iter(rows.values()))
        h = first["horizons"]
        for label, r in rows.items():
            ax.plot(h, r["generated"]["value"], marker="o", ms=3, label=f"{label} (generated)")
            ax.fill_between(h, r["generated"]["low"], r["generated"]["high"], alpha=0.15)
        ax.plot(h, first["real"]["value"], color="k", ls="--", label="real transitions (same starts)")
        ax.plot(h, first["mean_action"]["value"], color="gray", ls=":", label="mean action (trivial)")
        ax.set_xlabel("step after the start")
        ax.set_ylabel("action RMSE, [-1, 1] units")
        ax.set_title(f"{title}, {first['n_starts']} held-out starts")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7)
    ax = axes[2]
    labels, value, low, high = [], [], [], []
    for group, _ in groups:
        for label, r in results["models"][group].items():
            o = r["overall"]["ratio"]
            labels.append(label)
            value.append(o["value"])
            low.append(o["value"] - o["low"])
            high.append(o["high"] - o["value"])
    y = np.arange(len(labels))
    ax.barh(y, value, xerr=[low, high], color="tab:blue", alpha=0.7)
    ax.axvline(1.0, color="k", ls="--", lw=1)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel("generated / real RMSE, all steps (95 % CI)")
    ax.set_title("recoverability ratio (1: as readable as real)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idm-data-steps", type=int, default=20_000, help="real steps the IDMs learn from (20000)")
    parser.add_argument("--heldout-steps", type=int, default=5_000, help="held-out real steps for the starts (5000)")
    parser.add_argument("--state-idm-steps", type=int, default=3000, help="state IDM optimizer steps (3000)")
    parser.add_argument("--frame-idm-steps", type=int, default=2000, help="frame IDM optimizer steps (2000)")
    parser.add_argument("--state-starts", type=int, default=128, help="held-out starts of the state models (128)")
    parser.add_argument("--frame-starts", type=int, default=32, help="held-out starts of the frame models (32)")
    parser.add_argument("--horizon", type=int, default=16, help="steps rolled from each start (16)")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples over starts (1000)")
    parser.add_argument("--smoke", action="store_true", help="a tiny run to check the script (figures meaningless)")
    parser.add_argument("--progress", action="store_true", help="progress bars")
    parser.add_argument("--out", default=str(RESULTS / "wam_recoverability.json"), help="JSON path (PNG beside it)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.idm_data_steps, args.heldout_steps, args.state_idm_steps, args.frame_idm_steps = 1500, 600, 200, 100
        args.state_starts, args.frame_starts, args.horizon, args.n_boot = 8, 4, 4, 50

    import torch

    from neural_gym.drift import train_inverse_model
    from neural_gym.drift.inputs import minari_root, versions
    from neural_gym.envs import load_episodes
    from neural_gym.json_values import json_safe
    from neural_gym.world_models import load_checkpoint
    from neural_gym.world_models.baselines import CopyLastFrameModel, CopyLastModel
    from neural_gym.world_models.checkpoint import atomic_write

    started = time.perf_counter()
    out: dict[str, Any] = {
        "task": TASK,
        "command": " ".join(["python benchmarks/recoverability.py", *(argv if argv is not None else sys.argv[1:])]),
        "torch_threads": torch.get_num_threads(),
        "versions": versions(),
    }
    tmp = Path(tempfile.mkdtemp(prefix="neural_gym_recoverability_"))
    try:
        with minari_root(tmp):
            t0 = time.perf_counter()
            train_id = _collect(args.idm_data_steps, 3000, "idm-pixels64-v0", args.progress)
            heldout_id = _collect(args.heldout_steps, 1000, "heldout-pixels64-v0", args.progress)
            out["data"] = {
                "inverse_models": {"steps": args.idm_data_steps, "seed": 3000, **POLICY},
                "heldout": {"steps": args.heldout_steps, "seed": 1000, **POLICY},
                "image_size": 64,
                "collect_s": round(time.perf_counter() - t0, 1),
            }
            print(f"collected {args.idm_data_steps} + {args.heldout_steps} steps", flush=True)
            episodes = load_episodes(train_id)
            idms, reports = {}, {}
            for observation, steps in (("state", args.state_idm_steps), ("frames", args.frame_idm_steps)):
                idm, report = train_inverse_model(
                    episodes,
                    task=TASK,
                    observation=observation,
                    steps=steps,
                    batch_size=128 if observation == "state" else 64,
                    seed=0,
                    progress=args.progress,
                    dataset_id=f"{train_id} (seed 3000, collected by this script)",
                )
                idms[observation], reports[observation] = idm, report.to_dict()
                print(
                    f"{observation} IDM: held-out RMSE {report.heldout_rmse:.3f} (mean action "
                    f"{report.heldout_mean_action_rmse:.3f}), {report.train_s:.0f} s",
                    flush=True,
                )
            del episodes
            out["inverse_models"] = reports
            ensemble = load_checkpoint(STATE_MODELS[0], task=TASK, device="cpu")
            state_models: dict[str, Any] = {n: load_checkpoint(n, task=TASK, device="cpu") for n in STATE_MODELS}
            state_models["copy-last"] = CopyLastModel(ensemble.spec)
            frame_models: dict[str, Any] = {n: load_checkpoint(n, task=TASK, device="cpu") for n in FRAME_MODELS}
            frame_models["copy-last-frame"] = CopyLastFrameModel(frame_models[FRAME_MODELS[1]].spec)
            frame_context = max(int(m.context_length) for m in frame_models.values())
            out["models"] = {
                "state": _measure(state_models, idms["state"], heldout_id, args, args.state_starts, args.horizon, 1),
                "frames": _measure(
                    frame_models, idms["frames"], heldout_id, args, args.frame_starts, args.horizon, frame_context
                ),
            }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out["notes"] = [
        "copy-last and copy-last-frame never move: the IDM reads the actions of 'no change' from their pairs (the floor).",
        "Within each group every model is scored from the same held-out starts, so 'real' is one curve per group.",
        "The IDMs and the held-out starts come from fresh collections (seeds 3000 and 1000); the shipped models "
        "trained on seed 0 of the same policy mix.",
    ]
    out["total_s"] = round(time.perf_counter() - started, 1)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps(json_safe(out), indent=2, allow_nan=False) + "\n").encode())
    _plot(out, path.with_suffix(".png"))
    print(f"wrote {path} and {path.with_suffix('.png')} in {out['total_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
