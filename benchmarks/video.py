"""Video-family benchmark: dream frames/s against MuJoCo's own renderer, PSNR by horizon against copy-last, and
training cost.

For the shipped ``video`` checkpoint (``world_models/zoo/Reacher-video.safetensors``):

1. **Dream frames/s**: a batched ``DreamVectorEnv`` over the checkpoint (``start="dataset"``, random actions,
   autoresets included) at several ``num_envs``, against MuJoCo rendering the same task's frames at the model's size in
   its own pixel env (``task.make(obs_mode="pixels")``, one env), both measured in this run. Target: >= 5x.
2. **PSNR and SSIM at horizons 1, 5, 10, 25** against renders of the restored physics state, beside copy-last-frame,
   with controllability (true vs shuffled actions), state-probe error by horizon and uncertainty calibration, via
   :func:`neural_gym.drift.measure_frame_drift` on fresh held-out data (seed 1000); the full report (with a
   side-by-side video) goes to ``--out/video/<name>/``.
3. **Training wall time** on 2 CPU cores: read from the checkpoint's provenance (measured while it was trained, with
   the command beside it), with its held-out figures.

Writes ``video.json`` and ``video.png`` into ``--out`` (default ``benchmarks/results``).

    python benchmarks/video.py            # a few minutes on 2 CPU cores
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

import torch  # noqa: E402
from pixel_models import frames_per_s, pixel_drift, plot, to_json, training_figures  # noqa: E402


def main() -> None:
    """Run every part and write JSON + PNG."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="zoo:Reacher-video")
    p.add_argument("--num-envs", default="1,16,64", help="dream batch sizes for frames/s")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds per frames/s measurement")
    p.add_argument("--starts", type=int, default=32, help="held-out start states for the drift measurement")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: steady figures on a shared 2-core box)")
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.quiet
    t0 = time.perf_counter()
    name = Path(args.checkpoint.removeprefix("zoo:")).stem
    results: dict[str, Any] = {
        "checkpoint": args.checkpoint,
        "training": training_figures(args.checkpoint),
        "pixels": pixel_drift(args.checkpoint, args.starts, (1, 5, 10, 25), out / "video" / name, progress),
        "frames_per_s": frames_per_s(
            args.checkpoint, [int(n) for n in args.num_envs.split(",")], args.seconds, args.threads
        ),
    }
    results["wall_s"] = time.perf_counter() - t0
    results["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__}
    (out / "video.json").write_text(to_json(results))
    plot(results, name, out / "video.png")
    print(json.dumps({k: results[k] for k in ("frames_per_s", "pixels")}, indent=2, default=str))
    print(f"wrote {out / 'video.json'} and {out / 'video.png'}")


if __name__ == "__main__":
    main()
