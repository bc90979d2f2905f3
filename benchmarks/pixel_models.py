"""Shared parts of the pixel-model benchmarks (``latent.py``, ``video.py``): frames/s against MuJoCo's own renderer,
frame drift against renders of the restored physics, and what a checkpoint's provenance says of its training."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neural_gym import DreamVectorEnv  # noqa: E402
from neural_gym.drift import measure_frame_drift, write_frame_report  # noqa: E402
from neural_gym.envs import get_task  # noqa: E402
from neural_gym.world_models import read_spec  # noqa: E402
from neural_gym.world_models.checkpoint import resolve_checkpoint_path  # noqa: E402


def to_json(results: dict[str, Any]) -> str:
    """Strict JSON: NaN and infinities (undefined figures) become ``null``."""

    def clean(x: Any) -> Any:
        if isinstance(x, float):
            return x if np.isfinite(x) else None
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        if isinstance(x, np.generic):
            return clean(x.item())
        return x

    return json.dumps(clean(results), indent=2, default=str, allow_nan=False)


def mujoco_frames_per_s(task: str, image_size: tuple[int, int], seconds: float, seed: int) -> dict[str, float]:
    """Frames/s of the ground truth's own pixel env (step + render), random actions, resets included."""
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
    """Frames/s of a batched pixel dream (``start="dataset"``): ``num_envs`` frames per ``step``, autoresets included."""
    env = DreamVectorEnv(task, checkpoint, num_envs=num_envs, start="dataset", device="cpu")
    rng = np.random.default_rng(seed)
    low, high = env.single_action_space.low, env.single_action_space.high
    env.reset(seed=seed)
    env.step(rng.uniform(low, high, size=(num_envs, len(low))))  # warm-up
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        env.step(rng.uniform(low, high, size=(num_envs, len(low))))
        steps += 1
    elapsed = time.perf_counter() - t0
    env.close()
    return {"num_envs": num_envs, "steps": steps, "seconds": elapsed, "frames_per_s": steps * num_envs / elapsed}


def frames_per_s(checkpoint: str, num_envs: list[int], seconds: float, threads: int) -> dict[str, Any]:
    """MuJoCo's 64x64 (the model's frame size) rendered frames/s and the dream's at each batch size, in one run."""
    spec = read_spec(resolve_checkpoint_path(checkpoint))
    mujoco = mujoco_frames_per_s(spec.task, spec.obs_shape[:2], seconds, seed=0)
    dream = [dream_frames_per_s(checkpoint, spec.task, n, seconds, seed=0) for n in num_envs]
    best = max(dream, key=lambda d: d["frames_per_s"])
    ratio = best["frames_per_s"] / mujoco["frames_per_s"]
    return {
        "frame_shape": list(spec.obs_shape),
        "mujoco": mujoco,
        "dream": dream,
        "best_ratio": ratio,
        "best_num_envs": best["num_envs"],
        "target_ratio": 5.0,
        "target_met": ratio >= 5.0,
        "torch_threads": threads,
        "load_average_1min": os.getloadavg()[0],
    }


def training_figures(checkpoint: str) -> dict[str, Any]:
    """What the checkpoint's provenance says of its training (measured when it was trained)."""
    path = resolve_checkpoint_path(checkpoint)
    spec = read_spec(path)
    p = spec.provenance
    keep = ("command", "dataset_id", "dataset_transitions", "observations", "steps", "wall_time_s", "trained_at")
    out = {k: p.get(k) for k in keep}
    out.update({k: v for k, v in p.items() if k.startswith("heldout")})
    out.update(task=spec.task, family=spec.family, obs_shape=list(spec.obs_shape), size_mb=path.stat().st_size / 1e6)
    out["threshold"] = {"measure": spec.calibration.measure, "value": spec.calibration.threshold}
    return out


def pixel_drift(checkpoint: str, n_starts: int, horizons: tuple[int, ...], out: Path, progress: bool) -> dict[str, Any]:
    """PSNR/SSIM by horizon against copy-last, controllability and (with a probe) state error; the report in ``out``."""
    task = read_spec(resolve_checkpoint_path(checkpoint)).task
    result = measure_frame_drift(task, checkpoint, n_starts=n_starts, horizons=horizons, progress=progress)
    write_frame_report(result, out, video=True, progress=progress)
    hs = result.horizons
    summary: dict[str, Any] = {"horizons": hs}
    for role, pred in result.predictors.items():
        summary[role] = {m: [float(v) for v in pred[m]["value"][: len(hs)]] for m in ("psnr", "ssim")}
    summary["controllability_psnr"] = [float(v) for v in result.controllability["psnr"]["value"][: len(hs)]]
    summary["model_beats_copy_last"] = [
        m > c for m, c in zip(summary["model"]["psnr"], summary["copy_last"]["psnr"], strict=True)
    ]
    unc = result.uncertainty or {}
    summary["uncertainty"] = {k: unc[k] for k in ("spearman", "auroc", "justified_share") if k in unc}
    if result.probe is not None and "model" in result.probe:
        summary["probe_nrmse"] = {k: result.probe[k]["value"] for k in ("model", "floor")}
    summary["notes"] = result.meta.get("notes", [])
    summary["report"] = str(out)
    return summary


def plot(results: dict[str, Any], title: str, path: Path) -> None:
    """PSNR by horizon (model, shuffled actions, copy-last) and frames/s (dream vs MuJoCo)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    px = results.get("pixels")
    if px:
        for role, style in (("model", "-o"), ("shuffled", "--s"), ("copy_last", ":^")):
            axes[0].plot(px["horizons"], px[role]["psnr"], style, label=role)
        axes[0].set(xlabel="horizon (steps)", ylabel="PSNR (dB)", title=f"{title}: frames vs ground truth")
        axes[0].legend()
    fps = results.get("frames_per_s")
    if fps:
        labels = ["MuJoCo 1 env"] + [f"dream N={d['num_envs']}" for d in fps["dream"]]
        values = [fps["mujoco"]["frames_per_s"]] + [d["frames_per_s"] for d in fps["dream"]]
        axes[1].bar(labels, values, color=["gray"] + ["tab:blue"] * len(fps["dream"]))
        h, w = fps["frame_shape"][:2]
        axes[1].set(ylabel="frames / s", title=f"{h}x{w} frames per second (same run)")
        axes[1].tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
