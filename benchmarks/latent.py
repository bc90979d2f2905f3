"""Latent-family benchmark: training cost, frame and state drift against MuJoCo, and dream frames/s.

For the shipped ``latent`` checkpoints (``world_models/zoo/<Task>-latent*.safetensors``):

1. **Training wall time** to the shipped quality: read from each checkpoint's provenance (measured while it was
   trained on this machine's 2 CPU cores, with the command recorded beside it), with its held-out figures.
2. **Pixels** (``--pixel-checkpoint``): PSNR and SSIM by horizon of the decoded frames against renders of the
   restored physics state, beside copy-last-frame, and controllability (true vs shuffled actions), via
   :func:`neural_gym.drift.measure_frame_drift` on fresh held-out data (seed 1000); the full report goes to
   ``--out/latent/<name>/``.
3. **State** (``--state-checkpoints``): decoded-state normalized RMSE by horizon against copy-last, via
   :func:`neural_gym.drift.measure_drift`.
4. **Dream frames/s**: a batched ``DreamVectorEnv`` over the pixel checkpoint (``start="dataset"``, random actions,
   autoresets included) at several ``num_envs``, against MuJoCo rendering the same task's 64×64 frames in its own
   pixel env (``task.make(obs_mode="pixels")``, random actions, one env), both measured in this run. Target: >= 5x.

Writes ``latent.json`` and ``latent.png`` into ``--out`` (default ``benchmarks/results``).

    python benchmarks/latent.py            # about 5 minutes on 2 CPU cores
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from envs import get_task  # noqa: E402
from neural_gym import DreamVectorEnv  # noqa: E402
from neural_gym.drift import measure_drift, measure_frame_drift, write_frame_report  # noqa: E402
from world_models import read_spec, resolve_checkpoint_path  # noqa: E402


def mujoco_frames_per_s(task: str, image_size: tuple[int, int], seconds: float, seed: int) -> dict[str, float]:
    """Frames/s of the ground truth's own pixel env (step + 64x64 render), random actions, resets included."""
    env = get_task(task).make(obs_mode="pixels", image_size=image_size)
    rng = np.random.default_rng(seed)
    low, high = env.action_space.low, env.action_space.high
    env.reset(seed=seed)
    for _ in range(20):  # warm-up: GL context, caches
        env.step(rng.uniform(low, high))
    frames, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        _, _, terminated, truncated, _ = env.step(rng.uniform(low, high))
        frames += 1
        if terminated or truncated:
            env.reset(seed=int(rng.integers(2**31)))
    elapsed = time.perf_counter() - t0
    env.close()
    return {"frames": frames, "seconds": elapsed, "frames_per_s": frames / elapsed}


def dream_frames_per_s(checkpoint: str, task: str, num_envs: int, seconds: float, seed: int) -> dict[str, float]:
    """Frames/s of a batched pixel dream: ``num_envs`` frames per ``step``, autoresets included."""
    env = DreamVectorEnv(task, checkpoint, num_envs=num_envs, start="dataset", device="cpu")
    rng = np.random.default_rng(seed)
    low, high = env.single_action_space.low, env.single_action_space.high
    env.reset(seed=seed)
    for _ in range(3):
        env.step(rng.uniform(low, high, size=(num_envs, len(low))))
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        env.step(rng.uniform(low, high, size=(num_envs, len(low))))
        steps += 1
    elapsed = time.perf_counter() - t0
    env.close()
    return {"num_envs": num_envs, "steps": steps, "seconds": elapsed, "frames_per_s": steps * num_envs / elapsed}


def training_figures(checkpoint: str) -> dict[str, Any]:
    """What the checkpoint's provenance says of its training (measured when it was trained)."""
    path = resolve_checkpoint_path(checkpoint)
    spec = read_spec(path)
    p = spec.provenance
    keep = ("command", "dataset_id", "dataset_transitions", "observations", "steps", "wall_time_s", "trained_at")
    out = {k: p.get(k) for k in keep}
    out.update({k: v for k, v in p.items() if k.startswith("heldout")})
    out.update(task=spec.task, obs_shape=list(spec.obs_shape), size_mb=path.stat().st_size / 1e6)
    out["threshold"] = {"measure": spec.calibration.measure, "value": spec.calibration.threshold}
    return out


def _curve(pred: dict[str, Any], metric: str, horizons: list[int]) -> list[float]:
    c = pred[metric]
    return [float(c["value"][i]) for i in range(len(horizons))]


def pixel_drift(checkpoint: str, n_starts: int, out: Path, progress: bool) -> dict[str, Any]:
    """PSNR/SSIM by horizon against copy-last and controllability; the full report under ``out``."""
    task = read_spec(resolve_checkpoint_path(checkpoint)).task
    result = measure_frame_drift(task, checkpoint, n_starts=n_starts, horizons=(1, 5, 10, 25), progress=progress)
    write_frame_report(result, out, video=True, progress=progress)
    hs = result.horizons
    summary = {"horizons": hs}
    for role, pred in result.predictors.items():
        summary[role] = {"psnr": _curve(pred, "psnr", hs), "ssim": _curve(pred, "ssim", hs)}
    ctrl = result.controllability["psnr"]
    summary["controllability_psnr"] = [float(v) for v in ctrl["value"][: len(hs)]]
    unc = result.uncertainty or {}
    summary["uncertainty"] = {k: unc.get(k) for k in ("spearman", "auroc", "justified_share") if k in unc}
    summary["model_beats_copy_last"] = [
        m > c for m, c in zip(summary["model"]["psnr"], summary["copy_last"]["psnr"], strict=True)
    ]
    summary["report"] = str(out)
    return summary


def state_drift(checkpoint: str, n_starts: int, progress: bool) -> dict[str, Any]:
    """Decoded-state normalized RMSE by horizon against copy-last (and linear extrapolation)."""
    task = read_spec(resolve_checkpoint_path(checkpoint)).task
    result = measure_drift(
        task,
        checkpoint,
        n_starts=n_starts,
        horizons=(1, 5, 10, 25),
        baselines=("copy_last", "linear"),
        progress=progress,
    )
    base = result.base
    hs = result.horizons
    out: dict[str, Any] = {"horizons": hs}
    for name in result.predictors:
        curve = base["predictors"][name]["nrmse"]["value"]  # one value per reported horizon
        out[name] = [float("nan") if curve[k] is None else float(curve[k]) for k in range(len(hs))]
    return out


def plot(results: dict[str, Any], path: Path) -> None:
    """PSNR by horizon (model vs copy-last) and frames/s (dream vs MuJoCo)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    px = results.get("pixels")
    if px:
        hs = px["horizons"]
        for role, style in (("model", "-o"), ("shuffled", "--s"), ("copy_last", ":^")):
            axes[0].plot(hs, px[role]["psnr"], style, label=role)
        axes[0].set(
            xlabel="horizon (steps)", ylabel="PSNR (dB)", title=f"{results['pixel_checkpoint']}: frames vs truth"
        )
        axes[0].legend()
    fps = results.get("frames_per_s")
    if fps:
        labels = ["MuJoCo 1 env"] + [f"dream N={d['num_envs']}" for d in fps["dream"]]
        values = [fps["mujoco"]["frames_per_s"]] + [d["frames_per_s"] for d in fps["dream"]]
        axes[1].bar(labels, values, color=["gray"] + ["tab:blue"] * len(fps["dream"]))
        axes[1].set(ylabel="frames / s", title="64x64 frames per second (same run)")
        axes[1].tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    """Run every part and write JSON + PNG."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pixel-checkpoint", default="zoo:Reacher-latent-pixels")
    p.add_argument("--state-checkpoints", default="zoo:Reacher-latent,zoo:InvertedPendulum-latent")
    p.add_argument("--num-envs", default="1,16,64,256", help="dream batch sizes for frames/s")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds per frames/s measurement")
    p.add_argument("--starts", type=int, default=32, help="held-out start states per drift measurement")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: steady figures on a shared 2-core box)")
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.quiet
    t0 = time.perf_counter()
    state_ckpts = [c for c in args.state_checkpoints.split(",") if c.strip()]
    results: dict[str, Any] = {
        "pixel_checkpoint": args.pixel_checkpoint,
        "training": {c: training_figures(c) for c in [args.pixel_checkpoint, *state_ckpts]},
    }
    results["state"] = {c: state_drift(c, args.starts, progress) for c in state_ckpts}
    name = args.pixel_checkpoint.removeprefix("zoo:")
    results["pixels"] = pixel_drift(args.pixel_checkpoint, args.starts, out / "latent" / name, progress)

    spec = read_spec(resolve_checkpoint_path(args.pixel_checkpoint))
    mujoco = mujoco_frames_per_s(spec.task, spec.obs_shape[:2], args.seconds, seed=0)
    dream = [
        dream_frames_per_s(args.pixel_checkpoint, spec.task, int(n), args.seconds, seed=0)
        for n in args.num_envs.split(",")
    ]
    best = max(dream, key=lambda d: d["frames_per_s"])
    results["frames_per_s"] = {
        "mujoco": mujoco,
        "dream": dream,
        "best_ratio": best["frames_per_s"] / mujoco["frames_per_s"],
        "best_num_envs": best["num_envs"],
        "target_ratio": 5.0,
        "target_met": best["frames_per_s"] / mujoco["frames_per_s"] >= 5.0,
        "torch_threads": args.threads,
        "load_average_1min": os.getloadavg()[0],
    }
    results["wall_s"] = time.perf_counter() - t0
    results["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__}
    (out / "latent.json").write_text(json.dumps(results, indent=2, default=str))
    plot(results, out / "latent.png")
    print(json.dumps({k: results[k] for k in ("frames_per_s", "pixels", "state")}, indent=2, default=str))
    print(f"wrote {out / 'latent.json'} and {out / 'latent.png'}")


if __name__ == "__main__":
    main()
