"""Dream env throughput on HalfCheetah against MuJoCo and against the bare ensemble forward pass.

In one run: env steps/s of ``DreamVectorEnv`` at N = 1, 64, 1024 (the calibrated disagreement over the 5 elites every step), of gymnasium's
HalfCheetah-v5 as a single env, ``SyncVectorEnv`` and ``AsyncVectorEnv``, and samples/s of the bare elite forward pass
(``forward_members``) on the same batch, on the same torch thread count as the env's own step (the engine's
``num_threads`` setting; ``bare_threads`` in the JSON). Each measurement runs in a fresh process so its peak RSS is its
own; env and bare forward alternate in ``--rounds`` rounds inside that process and the best round of each is kept, so
the overhead ratio comes from two figures taken side by side.

Then the N = 1 env again with the other core busy (a second process spinning a pure-Python loop for the whole
measurement), with the engine's default ``num_threads="auto"`` (one torch thread up to 256 envs) and with
``num_threads=None`` (torch's own setting), each against its idle figure.

Targets: >= 8x the single MuJoCo env at N = 1024 (issue 2); env overhead <= 10% of the bare forward pass at N = 1024
and <= 60% at N = 1; N = 1 beside a busy core within 3x of idle (default threads); peak RSS <= 1 GB at N = 1024.
Written to ``benchmarks/results/throughput.json`` and ``throughput.png``.

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
from collections.abc import Iterator
from contextlib import contextmanager
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


def _dream_worker(
    n: int, seconds: float, checkpoint: str, device: str, num_threads: str | None = "auto", rounds: int = 3
) -> dict[str, Any]:
    import numpy as np
    import torch

    from neural_gym import DreamVectorEnv
    from neural_gym.threads import torch_threads

    envs = DreamVectorEnv(
        "HalfCheetah", checkpoint, num_envs=n, device=device, uncertainty_threshold=1e9, num_threads=num_threads
    )
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    acts = rng.uniform(-1, 1, (64, n, 6))
    i = [0]

    def env_step() -> None:
        envs.step(acts[i[0] % 64])
        i[0] += 1

    model = envs.model
    obs = torch.as_tensor(envs.engine.obs, dtype=torch.float32, device=model.device)
    act = torch.as_tensor(acts[0], dtype=torch.float32, device=model.device)
    engine_threads = envs.engine.num_threads  # what the engine sets around its forward pass (None: torch's own)

    def bare() -> None:
        with torch.inference_mode(), torch_threads(engine_threads):
            model.forward_members(obs, act)
        if model.device.type == "cuda":
            torch.cuda.synchronize()

    with torch_threads(engine_threads):
        bare_threads = torch.get_num_threads()
    env_pers, bare_pers, calls = [], [], 0
    for _ in range(max(1, rounds)):  # alternate, so a slow spell of the machine hits both alike
        per, c = _timed(env_step, seconds / rounds)
        env_pers.append(per)
        calls += c
        bare_pers.append(_timed(bare, seconds / rounds)[0])
    env_per, bare_per = min(env_pers), min(bare_pers)
    return {
        "num_envs": n,
        "env_steps_per_s": n / env_per,
        "bare_forward_samples_per_s": n / bare_per,
        "env_overhead": env_per / bare_per - 1.0,
        "calls": calls,
        "peak_rss_mb": _peak_rss_mb(),
        "members": model.num_members,
        "torch_threads": torch.get_num_threads(),
        "num_threads_setting": num_threads,
        "engine_threads": bare_threads,
        "bare_threads": bare_threads,
        "rounds": rounds,
        "env_steps_per_s_rounds": [n / p for p in env_pers],
        "bare_forward_samples_per_s_rounds": [n / p for p in bare_pers],
    }


@contextmanager
def _busy_core() -> Iterator[int]:
    """A second process spinning a pure-Python loop while the body runs; yields its pid."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield spinner.pid
    finally:
        spinner.kill()
        spinner.wait()


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
    parser.add_argument("--out", type=Path, default=RESULTS / "throughput.json", help="JSON path (PNG beside it)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating env / bare-forward rounds per dream N")
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
    results["dream"] = {
        str(n): _in_fresh_process(_dream_worker, n, args.seconds, args.checkpoint, args.device, "auto", args.rounds)
        for n in (1, 64, 1024)
    }
    # N = 1 with torch's own thread setting, idle and beside a busy core, and the default "auto" beside a busy core.
    results["dream_num_threads_none"] = {
        "1": _in_fresh_process(_dream_worker, 1, args.seconds, args.checkpoint, args.device, None, args.rounds)
    }
    busy: dict[str, Any] = {}
    for label, setting in (("auto", "auto"), ("none", None)):
        with _busy_core():
            r = _in_fresh_process(_dream_worker, 1, args.seconds, args.checkpoint, args.device, setting, args.rounds)
        idle = results["dream"]["1"] if setting == "auto" else results["dream_num_threads_none"]["1"]
        r["idle_env_steps_per_s"] = idle["env_steps_per_s"]
        r["slowdown_vs_idle"] = idle["env_steps_per_s"] / r["env_steps_per_s"]
        busy[label] = r
    results["dream_busy_core_n1"] = busy

    single = results["mujoco_single"]["env_steps_per_s"]
    big = results["dream"]["1024"]
    small = results["dream"]["1"]
    results["targets"] = {
        "speedup_vs_single_mujoco_at_1024": {"value": big["env_steps_per_s"] / single, "target": 8.0,
                                             "met": big["env_steps_per_s"] / single >= 8.0},
        "env_overhead_at_1024": {"value": big["env_overhead"], "target": 0.10, "met": big["env_overhead"] <= 0.10},
        "env_overhead_at_1": {"value": small["env_overhead"], "target": 0.60, "met": small["env_overhead"] <= 0.60},
        "busy_core_slowdown_at_1": {"value": busy["auto"]["slowdown_vs_idle"], "target": 3.0,
                                    "met": busy["auto"]["slowdown_vs_idle"] <= 3.0},
        "peak_rss_mb_at_1024": {"value": big["peak_rss_mb"], "target": 1024.0, "met": big["peak_rss_mb"] <= 1024.0},
    }
    results["env_overhead"] = {n: r["env_overhead"] for n, r in results["dream"].items()}
    results["machine"] = {"cpus": os.cpu_count(), "cpu_model": _cpu_model(), "platform": platform.platform(),
                          "python": platform.python_version()}
    results["load_average_after"] = os.getloadavg()[0]
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    _plot(results, out.with_suffix(".png"))

    print(f"{'what':<34} {'env steps/s':>12} {'x single MuJoCo':>16} {'overhead':>9} {'peak RSS MB':>12}")
    rows = [("MuJoCo HalfCheetah-v5, single", results["mujoco_single"]),
            (f"MuJoCo SyncVectorEnv N={args.vector_envs}", results["mujoco_sync"]),
            (f"MuJoCo AsyncVectorEnv N={args.vector_envs}", results["mujoco_async"])]
    rows += [(f"DreamVectorEnv N={n}", r) for n, r in results["dream"].items()]
    rows += [("DreamVectorEnv N=1 num_threads=None", results["dream_num_threads_none"]["1"])]
    rows += [(f"  busy core, num_threads={k}", r) for k, r in results["dream_busy_core_n1"].items()]
    for name, r in rows:
        overhead = f"{100 * r['env_overhead']:.0f}%" if "env_overhead" in r else "-"
        print(f"{name:<34} {r['env_steps_per_s']:>12.0f} {r['env_steps_per_s'] / single:>16.1f} {overhead:>9} "
              f"{r['peak_rss_mb']:>12.0f}")
    for k, r in results["dream_busy_core_n1"].items():
        print(f"busy core N=1, num_threads={k}: {r['slowdown_vs_idle']:.2f}x slower than idle")
    for k, v in results["targets"].items():
        print(f"target {k}: {v['value']:.3g} (target {v['target']}) {'met' if v['met'] else 'MISSED'}")
    print(f"wrote {out}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = ["MuJoCo\nsingle", "MuJoCo\nSync", "MuJoCo\nAsync"] + [f"dream\nN={n}" for n in results["dream"]]
    vals = [results[k]["env_steps_per_s"] for k in ("mujoco_single", "mujoco_sync", "mujoco_async")]
    vals += [r["env_steps_per_s"] for r in results["dream"].values()]
    bare = [None, None, None] + [r["bare_forward_samples_per_s"] for r in results["dream"].values()]
    colors = ["#888"] * 3 + ["#2a7"] * len(results["dream"])
    extra = [("N=1\nthreads\nNone", results["dream_num_threads_none"]["1"], "#2a7")]
    extra += [(f"N=1 busy\nthreads\n{k}", r, "#c83") for k, r in results["dream_busy_core_n1"].items()]
    for label, r, color in extra:
        labels.append(label)
        vals.append(r["env_steps_per_s"])
        bare.append(r["bare_forward_samples_per_s"])
        colors.append(color)
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.bar(range(len(vals)), vals, color=colors, label="env steps/s (orange: other core busy)")
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
