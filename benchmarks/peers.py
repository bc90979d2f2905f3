"""Env steps/s of ``DreamVectorEnv`` against mbrl-lib's ``ModelEnv`` and torchrl's ``ModelBasedEnvBase``.

Same machine, same run, same torch thread count, and the same ensemble in every engine: 7 members of which the 5
elites run, 4 x 200 SiLU hidden layers, HalfCheetah sizes (17 obs + 6 act in; obs delta + reward, mean and
log-variance, out), the elite mean propagated deterministically (neural_gym ``propagation="mean"``, mbrl
``propagation_method="expectation"``), learned reward, HalfCheetah's known termination (never ends), at N = 1, 64 and
1024 parallel envs. neural_gym plays the shipped ``zoo:HalfCheetah`` checkpoint; the peers have random weights (speed
does not depend on the values). Each measurement runs in a fresh process (``benchmarks/_peer_workers.py``).

Engines (``--engines``):

* ``neural_gym``: ``DreamVectorEnv(..., propagation="mean", num_threads=None, uncertainty_threshold=1e9)``, so it
  runs on the same thread count as the peers. It also computes the three ensemble-disagreement measures every step,
  which the peers do not.
* ``neural_gym_default``: the shipped defaults (``propagation="member"``, ``num_threads="auto"``: one thread up to
  256 envs).
* ``mbrl``: mbrl-lib 0.2.0 ``ModelEnv`` over ``OneDTransitionRewardModel(GaussianMLP)``, numpy float32 actions in and
  numpy out. mbrl refuses batches that are not multiples of the elite count, so it runs 5, 65, 1025 envs; its
  steps/s counts the N envs asked for, ``padded_env_steps_per_s`` every row (the target is also checked against the
  padded figure: ``met_vs_padded_mbrl``). It runs in its own venv (default ``benchmarks/.venv-mbrl``; created on
  first use, see :func:`ensure_mbrl_venv`).
* ``torchrl_bmm`` / ``torchrl_vmap``: a ``torchrl.envs.model_based.ModelBasedEnvBase`` subclass stepped with
  ``step_and_maybe_reset`` (torch float32 actions), over a batched-matmul ensemble (the same kernels as
  neural_gym's) or over tensordict's ``EnsembleModule`` (``torch.vmap``) of a torchrl ``MLP``.

Target: ``neural_gym`` ahead of every peer at every N. Written to ``benchmarks/results/peers.json`` and ``peers.png``.

    python benchmarks/peers.py [--seconds 3] [--threads T] [--sizes 1 64 1024]
    python benchmarks/peers.py --setup-only          # just create the mbrl venv
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
WORKER = HERE / "_peer_workers.py"
DEFAULT_MBRL_VENV = HERE / ".venv-mbrl"
ENGINES = ("neural_gym", "neural_gym_default", "mbrl", "torchrl_bmm", "torchrl_vmap")
PEERS = ("mbrl", "torchrl_bmm", "torchrl_vmap")
# What mbrl's ModelEnv path imports, found by importing it in a bare venv. mbrl 0.2.0 pins hydra-core==1.0.3 and
# omegaconf<2.1, which do not import on Python 3.11 (hydra 1.0's dataclasses have mutable defaults) and the only
# local torch 2.13.0 wheel is cp311, so the venv takes the hydra/omegaconf releases that support 3.11; ModelEnv and
# GaussianMLP use only ``hydra.utils.instantiate`` and ``OmegaConf.create`` from them.
MBRL_DEPS = ("numpy", "gymnasium==0.26.3", "hydra-core>=1.3,<1.4", "omegaconf>=2.3,<2.4", "termcolor", "tqdm")


def ensure_mbrl_venv(venv: Path, torch_spec: str) -> Path:
    """Create ``venv`` with torch, mbrl (``--no-deps``) and only what ``mbrl.models.ModelEnv`` imports; its python.

    Reuses the venv when ``venv/.installed`` exists. ``torch_spec`` is installed first and pinned in every later pip
    call, so nothing replaces it.
    """
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if stamp.exists() and python.exists():
        return python
    print(f"creating the mbrl-lib venv in {venv} (torch from {torch_spec!r}, mbrl --no-deps)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, torch_spec], check=True)
    subprocess.run([*pip, "--no-deps", "mbrl==0.2.0"], check=True)
    subprocess.run([*pip, torch_spec, *MBRL_DEPS], check=True)
    check = "import mbrl.models, mbrl.env.termination_fns; from mbrl.models import ModelEnv, GaussianMLP"
    subprocess.run([str(python), "-c", check], check=True)
    stamp.write_text("mbrl-lib venv for benchmarks/peers.py\n")
    return python


def _job(engine: str, n: int, seconds: float, threads: int, checkpoint: str) -> dict[str, Any]:
    job: dict[str, Any] = {"num_envs": n, "seconds": seconds, "threads": threads}
    if engine == "neural_gym":
        job.update(engine="neural_gym", propagation="mean", num_threads=None, checkpoint=checkpoint)
    elif engine == "neural_gym_default":
        job.update(engine="neural_gym", propagation="member", num_threads="auto", checkpoint=checkpoint)
    elif engine == "mbrl":
        job.update(engine="mbrl")
    else:
        job.update(engine="torchrl", ensemble=engine.removeprefix("torchrl_"))
    return job


def _run(python: Path | str, job: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One measurement in a fresh interpreter; ``{"skipped": reason}`` when it fails."""
    cmd = [str(python), str(WORKER), json.dumps(job)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"skipped": f"worker exited {proc.returncode}: " + " | ".join(tail)}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ahead(results: dict[str, Any], ours: str, sizes: list[int]) -> dict[str, Any]:
    """Per N: ``ours``'s steps/s against the fastest peer that ran, their ratio, and whether ``ours`` is ahead."""
    targets = {}
    for n in map(str, sizes):
        mine = results.get(ours, {}).get(n, {}).get("env_steps_per_s")
        peers = {
            p: results[p][n]["env_steps_per_s"] for p in PEERS if "env_steps_per_s" in results.get(p, {}).get(n, {})
        }
        best = max(peers, key=peers.__getitem__) if peers else None
        targets[n] = {
            ours: mine,
            "fastest_peer": best,
            "fastest_peer_steps_per_s": peers.get(best) if best else None,
            "ratio": mine / peers[best] if mine and best else None,
            "met": bool(mine and best and mine > peers[best]),
        }
        padded = results.get("mbrl", {}).get(n, {}).get("padded_env_steps_per_s")
        if padded is not None:
            targets[n]["mbrl_padded_steps_per_s"] = padded
            targets[n]["met_vs_padded_mbrl"] = bool(targets[n]["met"] and mine > padded)
    return targets


def _machine(threads: int) -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch_threads": threads,
    }


def _pip_freeze(python: Path) -> list[str]:
    out = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line and not line.startswith("#")]


def main() -> None:
    """Set up, measure every engine at every N in fresh processes, print, and write JSON + PNG."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 1024], help="numbers of parallel envs")
    parser.add_argument("--threads", type=int, default=None, help="torch threads in every worker (default: torch's)")
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--checkpoint", default="zoo:HalfCheetah")
    parser.add_argument("--mbrl-venv", type=Path, default=DEFAULT_MBRL_VENV)
    parser.add_argument("--torch-spec", default="torch==2.13.0", help="pip requirement for torch in the mbrl venv")
    parser.add_argument("--setup-only", action="store_true", help="create the mbrl venv and exit")
    parser.add_argument("--out", type=Path, default=RESULTS / "peers.json")
    args = parser.parse_args()

    mbrl_python: Path | None = None
    mbrl_error = None
    if "mbrl" in args.engines or args.setup_only:
        try:
            mbrl_python = ensure_mbrl_venv(args.mbrl_venv, args.torch_spec)
        except subprocess.CalledProcessError as err:
            mbrl_error = f"could not build the mbrl venv: {err}"
            print(mbrl_error)
    if args.setup_only:
        sys.exit(0 if mbrl_error is None else 1)

    import torch

    threads = args.threads or torch.get_num_threads()
    os.environ.setdefault("MUJOCO_GL", "egl")
    load_before = os.getloadavg()
    if load_before[0] > 0.5:
        print(
            f"warning: 1-minute load average is {load_before[0]:.2f} before the run; other processes will distort "
            "these timings"
        )
    timeout = 120 + 10 * args.seconds
    results: dict[str, Any] = {engine: {} for engine in args.engines}
    for n in args.sizes:  # engines interleaved per N so slow drifts of the machine hit them alike
        for engine in args.engines:
            if engine == "mbrl" and mbrl_python is None:
                results[engine][str(n)] = {"skipped": mbrl_error}
                continue
            python = mbrl_python if engine == "mbrl" else sys.executable
            r = _run(python, _job(engine, n, args.seconds, threads, args.checkpoint), timeout)  # type: ignore[arg-type]
            results[engine][str(n)] = r
            shown = f"{r['env_steps_per_s']:.0f} steps/s" if "env_steps_per_s" in r else r["skipped"]
            print(f"  {engine:<20} N={n:<5} {shown}", flush=True)

    targets = _ahead(results, "neural_gym", args.sizes)
    report: dict[str, Any] = {
        "task": "HalfCheetah (17 obs, 6 act)",
        "ensemble": {
            "members": 7,
            "elites_run": 5,
            "hidden": [200] * 4,
            "activation": "SiLU",
            "propagation": "elite mean, deterministic",
            "reward": "learned",
            "termination": "known, never",
        },
        "weights": {"neural_gym": f"trained ({args.checkpoint})", "peers": "random (last layer scaled by 0.01)"},
        "seconds_per_measurement": args.seconds,
        "torch_threads": threads,
        "load_average_before": load_before,
        "engines": results,
        "ahead_of_every_peer": targets,
        "target_met_at_every_n": all(t["met"] for t in targets.values()),
        # information only: the shipped defaults run N <= 256 on one thread, the peers on ``torch_threads``
        "default_ahead_of_every_peer": _ahead(results, "neural_gym_default", args.sizes),
        "machine": _machine(threads),
        "notes": {
            "mbrl": "batch rounded up to a multiple of 5 elites (mbrl refuses others); env_steps_per_s counts the N "
            "envs asked for, padded_env_steps_per_s every row. "
            "Venv deviates from mbrl's pins: hydra-core 1.3 / omegaconf 2.3 (hydra-core 1.0.3 fails to import "
            "on Python 3.11).",
            "torchrl": "torchrl has no probabilistic-ensemble dynamics model; torchrl_bmm gives ModelBasedEnvBase the "
            "same batched-matmul ensemble neural_gym uses, torchrl_vmap tensordict's EnsembleModule.",
            "neural_gym": "also computes its calibrated disagreement measure every step (the peers compute none).",
        },
    }
    if mbrl_python is not None:
        report["mbrl_venv_packages"] = _pip_freeze(mbrl_python)
    report["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    _plot(report, args.out.with_suffix(".png"))

    print(f"\n{'engine':<20}" + "".join(f"{'N=' + str(n):>14}" for n in args.sizes))
    for engine in args.engines:
        cells = [results[engine][str(n)].get("env_steps_per_s") for n in args.sizes]
        print(f"{engine:<20}" + "".join(f"{c:>14.0f}" if c else f"{'skipped':>14}" for c in cells))
    for n, t in targets.items():
        ratio = f"{t['ratio']:.2f}x" if t["ratio"] else "-"
        print(
            f"target N={n}: neural_gym vs fastest peer ({t['fastest_peer']}): {ratio} {'met' if t['met'] else 'MISSED'}"
        )
    print(
        f"torch threads {threads}; load average {load_before[0]:.2f} before, {report['load_average_after'][0]:.2f} "
        f"after; wrote {args.out}"
    )


def _plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    engines = list(report["engines"])
    sizes = list(report["ahead_of_every_peer"])
    width = 0.8 / len(engines)
    colors = {
        "neural_gym": "#2a7",
        "neural_gym_default": "#8d8",
        "mbrl": "#c55",
        "torchrl_bmm": "#46b",
        "torchrl_vmap": "#9ad",
    }
    fig, ax = plt.subplots(figsize=(8, 4))
    for j, engine in enumerate(engines):
        vals = [report["engines"][engine][n].get("env_steps_per_s", 0.0) for n in sizes]
        ax.bar(
            [i + (j - (len(engines) - 1) / 2) * width for i in range(len(sizes))],
            vals,
            width,
            label=engine,
            color=colors.get(engine),
        )
    ax.set_xticks(range(len(sizes)), [f"N={n}" for n in sizes])
    ax.set_yscale("log")
    ax.set_ylabel("env steps per second")
    ax.set_title(f"HalfCheetah-sized 7/5-member ensemble, CPU, {report['torch_threads']} torch threads")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
