"""Dream env throughput on HalfCheetah against MuJoCo and against the bare ensemble forward pass.

In one run: env steps/s of ``DreamVectorEnv`` at N = 1, 64, 1024 (full-ensemble uncertainty every step), of gymnasium's
HalfCheetah-v5 as a single env, ``SyncVectorEnv`` and ``AsyncVectorEnv``, and samples/s of the bare elite forward pass
(``forward_members``) on the same batch. Each measurement runs in a fresh process so its peak RSS is its own.

Targets (issue 2): >= 8x the single MuJoCo env at N = 1024; env overhead <= 20% of the bare forward pass; peak RSS
<= 1 GB at N = 1024. Written to ``benchmarks/results/throughput.json`` and ``throughput.png``.

    python benchmarks/throughput.py [--seconds 3] [--checkpoint zoo:HalfCheetah]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _timed(step: Any, seconds: float, min_iters: int = 5) -> tuple[float, int]:
    """Run ``step`` repeatedly for about ``seconds``; return (seconds per call, calls)."""
    step()  # warm-up
    n, t0 = 0, time.perf_counter()
    while n < min_iters or time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return (time.perf_counter() - t0) / n, n


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _gym_worker(kind: str, n: int, seconds: float) -> dict[str, Any]:
    import gymnasium as gym
    import numpy as np

    rng = np.random.default_rng(0)
    if kind == "single":
        env = gym.make("HalfCheetah-v5")
        env.reset(seed=0)

        def step() -> None:
            _, _, term, trunc, _ = env.step(rng.uniform(-1, 1, 6))
            if term or trunc:
                env.reset()

        per, calls = _timed(step, seconds)
        return {"env_steps_per_s": 1.0 / per, "calls": calls, "num_envs": 1, "peak_rss_mb": _peak_rss_mb()}
    cls = gym.vector.SyncVectorEnv if kind == "sync" else gym.vector.AsyncVectorEnv
    envs = cls([lambda: gym.make("HalfCheetah-v5") for _ in range(n)])
    envs.reset(seed=0)
    per, calls = _timed(lambda: envs.step(rng.uniform(-1, 1, (n, 6))), seconds)
    envs.close()
    return {"env_steps_per_s": n / per, "calls": calls, "num_envs": n, "peak_rss_mb": _peak_rss_mb()}


def _dream_worker(n: int, seconds: float, checkpoint: str, device: str) -> dict[str, Any]:
    import numpy as np
    import torch

    from neural_gym import DreamVectorEnv

    envs = DreamVectorEnv("HalfCheetah", checkpoint, num_envs=n, device=device, uncertainty_threshold=1e9)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    acts = rng.uniform(-1, 1, (64, n, 6))
    i = [0]

    def env_step() -> None:
        envs.step(acts[i[0] % 64])
        i[0] += 1

    env_per, calls = _timed(env_step, seconds)
    model = envs.model
    obs = torch.as_tensor(envs.engine.obs, dtype=torch.float32, device=model.device)
    act = torch.as_tensor(acts[0], dtype=torch.float32, device=model.device)

    def bare() -> None:
        with torch.inference_mode():
            model.forward_members(obs, act)
        if model.device.type == "cuda":
            torch.cuda.synchronize()

    bare_per, _ = _timed(bare, seconds)
    return {
        "num_envs": n,
        "env_steps_per_s": n / env_per,
        "bare_forward_samples_per_s": n / bare_per,
        "env_overhead": env_per / bare_per - 1.0,
        "calls": calls,
        "peak_rss_mb": _peak_rss_mb(),
        "members": model.num_members,
        "torch_threads": torch.get_num_threads(),
    }


def _in_fresh_process(fn: Any, *args: Any) -> dict[str, Any]:
    """Run ``fn(*args)`` in a new interpreter (this script with ``--worker``) so its peak RSS is its own."""
    cmd = [sys.executable, __file__, "--worker", json.dumps([fn.__name__, list(args)])]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    """Measure, print, and write JSON + PNG."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--checkpoint", default="zoo:HalfCheetah")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--vector-envs", type=int, default=8, help="N for Sync/AsyncVectorEnv")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("MUJOCO_GL", "egl")
    if args.worker:  # one measurement in this fresh process; the result is the last line of stdout
        name, worker_args = json.loads(args.worker)
        print(json.dumps({"_gym_worker": _gym_worker, "_dream_worker": _dream_worker}[name](*worker_args)))
        return

    load_before = os.getloadavg()[0]
    if load_before > 0.5:
        print(f"warning: 1-minute load average is {load_before:.2f} before the run; other processes will distort "
              "these timings (torch's threads wait for busy cores)")
    results: dict[str, Any] = {"task": "HalfCheetah-v5", "checkpoint": args.checkpoint, "device": args.device,
                               "load_average_before": load_before}
    results["mujoco_single"] = _in_fresh_process(_gym_worker, "single", 1, args.seconds)
    results["mujoco_sync"] = _in_fresh_process(_gym_worker, "sync", args.vector_envs, args.seconds)
    results["mujoco_async"] = _in_fresh_process(_gym_worker, "async", args.vector_envs, args.seconds)
    results["dream"] = {str(n): _in_fresh_process(_dream_worker, n, args.seconds, args.checkpoint, args.device) for n in (1, 64, 1024)}

    single = results["mujoco_single"]["env_steps_per_s"]
    big = results["dream"]["1024"]
    results["targets"] = {
        "speedup_vs_single_mujoco_at_1024": {"value": big["env_steps_per_s"] / single, "target": 8.0,
                                             "met": big["env_steps_per_s"] / single >= 8.0},
        "env_overhead_at_1024": {"value": big["env_overhead"], "target": 0.20, "met": big["env_overhead"] <= 0.20},
        "peak_rss_mb_at_1024": {"value": big["peak_rss_mb"], "target": 1024.0, "met": big["peak_rss_mb"] <= 1024.0},
    }
    results["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    results["load_average_after"] = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "throughput.json"
    out.write_text(json.dumps(results, indent=2))
    _plot(results, RESULTS / "throughput.png")

    print(f"{'what':<34} {'env steps/s':>12} {'x single MuJoCo':>16} {'overhead':>9} {'peak RSS MB':>12}")
    rows = [("MuJoCo HalfCheetah-v5, single", results["mujoco_single"]),
            (f"MuJoCo SyncVectorEnv N={args.vector_envs}", results["mujoco_sync"]),
            (f"MuJoCo AsyncVectorEnv N={args.vector_envs}", results["mujoco_async"])]
    rows += [(f"DreamVectorEnv N={n}", r) for n, r in results["dream"].items()]
    for name, r in rows:
        overhead = f"{100 * r['env_overhead']:.0f}%" if "env_overhead" in r else "-"
        print(f"{name:<34} {r['env_steps_per_s']:>12.0f} {r['env_steps_per_s'] / single:>16.1f} {overhead:>9} "
              f"{r['peak_rss_mb']:>12.0f}")
    for k, v in results["targets"].items():
        print(f"target {k}: {v['value']:.3g} (target {v['target']}) {'met' if v['met'] else 'MISSED'}")
    print(f"wrote {out}")


def _plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = ["MuJoCo\nsingle", "MuJoCo\nSync", "MuJoCo\nAsync"] + [f"dream\nN={n}" for n in results["dream"]]
    vals = [results[k]["env_steps_per_s"] for k in ("mujoco_single", "mujoco_sync", "mujoco_async")]
    vals += [r["env_steps_per_s"] for r in results["dream"].values()]
    bare = [None, None, None] + [r["bare_forward_samples_per_s"] for r in results["dream"].values()]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(range(len(vals)), vals, color=["#888"] * 3 + ["#2a7"] * len(results["dream"]), label="env steps/s")
    xs = [i for i, b in enumerate(bare) if b is not None]
    ax.scatter(xs, [bare[i] for i in xs], color="k", marker="_", s=400, label="bare ensemble forward, samples/s")
    ax.set_xticks(range(len(vals)), labels)
    ax.set_yscale("log")
    ax.set_ylabel("steps (samples) per second")
    ax.set_title(f"HalfCheetah throughput ({results['device']})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
