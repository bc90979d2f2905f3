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

import torch  # noqa: E402
from pixel_models import frames_per_s, pixel_drift, plot, to_json, training_figures  # noqa: E402

from neural_gym.drift import measure_drift  # noqa: E402
from neural_gym.world_models import read_spec  # noqa: E402
from neural_gym.world_models.checkpoint import resolve_checkpoint_path  # noqa: E402


def state_drift(checkpoint: str, n_starts: int, progress: bool) -> dict[str, Any]:
    """Decoded-state normalized RMSE by horizon against copy-last and linear extrapolation, and controllability."""
    task = read_spec(resolve_checkpoint_path(checkpoint)).task
    result = measure_drift(
        task,
        checkpoint,
        n_starts=n_starts,
        horizons=(1, 5, 10, 25),
        baselines=("copy_last", "linear"),
        progress=progress,
    )
    hs = result.horizons
    out: dict[str, Any] = {"horizons": hs}
    for name in result.predictors:
        curve = result.base["predictors"][name]["nrmse"]["value"]  # one value per reported horizon
        out[name] = [float("nan") if curve[k] is None else float(curve[k]) for k in range(len(hs))]
    ctrl = result.controllability or {}
    if "difference" in ctrl:
        out["controllability_nrmse"] = [float(v) for v in ctrl["difference"]["value"]]
    out["uncertainty_auroc"] = (result.base.get("uncertainty") or {}).get("auroc")
    return out


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
    name = Path(args.pixel_checkpoint.removeprefix("zoo:")).stem
    results: dict[str, Any] = {
        "pixel_checkpoint": args.pixel_checkpoint,
        "training": {c: training_figures(c) for c in [args.pixel_checkpoint, *state_ckpts]},
        "state": {c: state_drift(c, args.starts, progress) for c in state_ckpts},
        "pixels": pixel_drift(args.pixel_checkpoint, args.starts, (1, 5, 10, 25), out / "latent" / name, progress),
        "frames_per_s": frames_per_s(
            args.pixel_checkpoint, [int(n) for n in args.num_envs.split(",")], args.seconds, args.threads
        ),
    }
    results["wall_s"] = time.perf_counter() - t0
    results["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__}
    (out / "latent.json").write_text(to_json(results))
    plot(results, name, out / "latent.png")
    print(json.dumps({k: results[k] for k in ("frames_per_s", "pixels", "state")}, indent=2, default=str))
    print(f"wrote {out / 'latent.json'} and {out / 'latent.png'}")


if __name__ == "__main__":
    main()
