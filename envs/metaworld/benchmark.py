"""Figures of the Meta-World ground truth: the scripted experts' success rate per MT10 task, and env throughput.

Run it (in the Meta-World venv that ``make test-metaworld`` builds)::

    MUJOCO_GL=egl OMP_NUM_THREADS=1 .venv-metaworld/bin/python -m neural_gym.envs.metaworld.benchmark \\
        --episodes 20 --out benchmarks/results/metaworld.json

It prints one line per task and writes the figures as JSON (atomically) when ``--out`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from neural_gym.envs.metaworld.env import MetaWorldEnv
from neural_gym.envs.metaworld.expert import expert_success_rate
from neural_gym.envs.metaworld.instructions import MT10_TASKS, check_task


def throughput(
    task: str = "push-v3", steps: int = 500, frames: int = 100, image_size: int = 64, seed: int = 0
) -> dict[str, float]:
    """Env steps per second in ``state`` mode (random actions) and 64x64 frames per second (:meth:`render_frame`).

    Raises:
        ValueError: For an unknown task or non-positive counts.
    """
    if steps < 1 or frames < 1:
        raise ValueError(f"steps and frames must be >= 1, got {steps} and {frames}.")
    env = MetaWorldEnv(task, image_size=image_size)
    rng = np.random.default_rng(seed)
    try:
        env.reset(seed=seed)
        start = time.perf_counter()
        for _ in range(steps):
            _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, size=4).astype(np.float32))
            if terminated or truncated:
                env.reset()
        steps_per_s = steps / (time.perf_counter() - start)
        env.render_frame()  # the first frame makes the GL context
        start = time.perf_counter()
        for _ in range(frames):
            env.render_frame()
        frames_per_s = frames / (time.perf_counter() - start)
    finally:
        env.close()
    return {"steps_per_s": steps_per_s, "frames_per_s": frames_per_s}


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure and print the figures; the command line is described by ``--help``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(MT10_TASKS), help="MT10 tasks (default: all ten)")
    parser.add_argument("--episodes", type=int, default=20, help="expert episodes per task (reset seeds seed..)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--action-noise", type=float, default=0.0, help="Gaussian noise std added to expert actions")
    parser.add_argument("--out", type=Path, default=None, help="write the figures here as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    for task in args.tasks:
        check_task(task)
    success = {}
    for task in args.tasks:
        rate = expert_success_rate(
            task, episodes=args.episodes, seed=args.seed, action_noise=args.action_noise, show_progress=not args.quiet
        )
        success[task] = rate
        print(f"{task:26s} expert success {rate:.2f} ({round(rate * args.episodes)}/{args.episodes})", flush=True)
    speed = throughput(seed=args.seed)
    print(f"push-v3 state steps/s {speed['steps_per_s']:.0f}; 64x64 frames/s {speed['frames_per_s']:.1f}")
    payload = {
        "expert_success": success,
        "episodes": args.episodes,
        "seed": args.seed,
        "action_noise": args.action_noise,
        "success_rule": "info['is_success'] at any step of the 500-step episode",
        **speed,
        "mujoco": mujoco.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, MUJOCO_GL={os.environ.get('MUJOCO_GL')}",
    }
    if args.out is not None:
        _write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
