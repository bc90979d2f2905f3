"""The world action model as a policy inside every shipped TabletopReach dream, beside MuJoCo, from the same starts.

The issue asks that the WAM's policy mode be judged by the policy-evaluation harness in MuJoCo and inside every
dream. This runs :func:`neural_gym.evaluate.evaluate_policies` (seen instructions, seeds from 1000, each 8-action
chunk run open loop) for the scripted expert, ``WAMPolicy`` with zero start noise with imagination off and on, and a
uniform random policy, in each shipped TabletopReach dream: the state ensemble, the WAM itself (forward mode), the
latent model from frames and the video model (pixel dreams: the policies read the frame judge's probed state, and
success is the frame judge's verdict; see the README's policy-evaluation section). Per dream and policy: success in
MuJoCo and in the dream (Wilson 95 %), the per-episode agreement, and how the dream episodes ended.

    OMP_NUM_THREADS=1 python benchmarks/wam_dreams.py [--episodes 20] [--pixel-episodes 10]

Writes ``benchmarks/results/wam_dreams.json`` (folded into ``wam.json`` by ``benchmarks/wam.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
TASK = "TabletopReach"
DREAMS = {
    "ensemble": ("zoo:TabletopReach", False),
    "wam": ("zoo:TabletopReach-wam", False),
    "latent-pixels": ("zoo:TabletopReach-latent-pixels", True),
    "video": ("zoo:TabletopReach-video", True),
}
POLICIES = {
    "expert": "expert",
    "wam": "wam:zoo:TabletopReach-wam?sample_noise=0",
    "wam-imagine": "wam:zoo:TabletopReach-wam?imagine=1&sample_noise=0",
    "random": "random",
}


def main(argv: list[str] | None = None) -> int:
    """Run every policy in every dream; write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=20, help="paired episodes per policy in state dreams (20)")
    parser.add_argument("--pixel-episodes", type=int, default=10, help="the same in pixel dreams (10)")
    parser.add_argument("--dreams", default=",".join(DREAMS), help="comma-separated dreams to run")
    parser.add_argument("--out", default=str(RESULTS / "wam_dreams.json"))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    from neural_gym.evaluate import evaluate_policies
    from neural_gym.json_values import json_safe
    from neural_gym.threads import torch_threads
    from neural_gym.world_models.checkpoint import atomic_write

    out: dict[str, Any] = {
        "task": TASK,
        "policies": POLICIES,
        "command": " ".join(["python", "benchmarks/wam_dreams.py", *(sys.argv[1:] if argv is None else argv)]),
        "dreams": {},
    }
    started = time.perf_counter()
    with torch_threads(1):
        for name in [d for d in args.dreams.split(",") if d]:
            checkpoint, pixels = DREAMS[name]
            t0 = time.perf_counter()
            result = evaluate_policies(
                POLICIES,
                TASK,
                episodes=args.pixel_episodes if pixels else args.episodes,
                checkpoint=checkpoint,
                device="cpu",
                progress=not args.quiet,
            )
            report = result.report(n_boot=200)
            out["dreams"][name] = {
                "checkpoint": checkpoint,
                "judge": report["judge"],
                "episodes": report["episodes"],
                "per_policy": {
                    p: {k: v[k] for k in ("real", "dream", "inconclusive", "dream_end", "episode_agreement")}
                    for p, v in report["per_policy"].items()
                },
                "wall_s": round(time.perf_counter() - t0, 1),
            }
            for p, v in report["per_policy"].items():
                print(
                    f"{name}: {p} MuJoCo {v['real']['successes']}/{v['real']['n']}, dream {v['dream']['successes']}/"
                    f"{v['dream']['n']}, agreement {v['episode_agreement']:.2f}, ends {v['dream_end']}",
                    flush=True,
                )
    out["total_s"] = round(time.perf_counter() - started, 1)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps(json_safe(out), indent=2) + "\n").encode())
    print(f"wrote {path} in {out['total_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
