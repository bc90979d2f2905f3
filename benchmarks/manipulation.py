"""The tabletop manipulation suite: speed, scripted-expert success, and the VLA ladder's ground-truth success.

In one run, on this machine:

1. **Speed** per task family: state steps/s (uniform random actions, resets included) and rendered 64x64 frames/s
   (``obs_mode="pixels"``, every step renders), single env. Targets: >= 1 000 state steps/s and >= 150 frames/s.
2. **Scripted experts** per family: success over ``--expert-episodes`` seeded episodes, without noise (target >= 95%)
   and with action noise 0.3 (the imperfect data the world models learn from), on the training and the held-out
   instructions, each with a Wilson 95% interval.
3. **The ladder** (``--ladder``, the shipped VLA checkpoints and the reference policies): ground-truth success of each
   over ``--ladder-episodes`` episodes (>= 100) on seen (``train``) and held-out instructions, with Wilson intervals,
   beside each checkpoint's training time from its metadata.

Written to ``benchmarks/results/manipulation.json`` and ``manipulation.png`` (all or nothing: temp file + rename).

    python benchmarks/manipulation.py [--seconds 3] [--expert-episodes 100] [--ladder --ladder-episodes 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
FAMILIES = ("reach", "push", "pick_place")
STATE_STEPS_TARGET = 1000.0
FRAMES_TARGET = 150.0
EXPERT_TARGET = 0.95


def _rate(env: Any, seconds: float, seed: int = 0) -> float:
    """Env steps per second over about ``seconds`` of uniform random actions (episodes reset as they end)."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    low, high = env.action_space.low, env.action_space.high
    n, t0 = 0, time.perf_counter()
    while n < 20 or time.perf_counter() - t0 < seconds:
        _, _, terminated, truncated, _ = env.step(rng.uniform(low, high).astype(np.float32))
        n += 1
        if terminated or truncated:
            env.reset()
    return n / (time.perf_counter() - t0)


def measure_speed(seconds: float) -> dict[str, Any]:
    """State steps/s and 64x64 frames/s of every family (single env)."""
    from neural_gym.envs.tabletop import TabletopEnv

    out: dict[str, Any] = {}
    for family in FAMILIES:
        state_env = TabletopEnv(family, obs_mode="state")
        pixel_env = TabletopEnv(family, obs_mode="pixels", image_size=64)
        out[family] = {"state_steps_per_s": _rate(state_env, seconds), "frames_per_s": _rate(pixel_env, seconds)}
        state_env.close()
        pixel_env.close()
        print(f"speed {family:<10} {out[family]['state_steps_per_s']:8.0f} state steps/s "
              f"{out[family]['frames_per_s']:6.0f} frames/s", flush=True)
    return out


def measure_experts(episodes: int, seed: int) -> dict[str, Any]:
    """Scripted-expert success per family, noise 0 and 0.3, train and held-out instructions, with Wilson intervals."""
    from neural_gym.envs.tabletop.expert import expert_success_rate
    from neural_gym.metrics import success_interval

    out: dict[str, Any] = {}
    for family in FAMILIES:
        out[family] = {}
        for noise in (0.0, 0.3):
            for split in ("train", "heldout"):
                rate = expert_success_rate(family, episodes, action_noise=noise, split=split, seed=seed)
                k = round(rate * episodes)
                _, lo, hi = success_interval(k, episodes)
                out[family][f"noise{noise}_{split}"] = {"success": rate, "ci95": [lo, hi], "episodes": episodes}
                print(f"expert {family:<10} noise {noise:.1f} {split:<7} {rate:6.1%} [{lo:.1%}, {hi:.1%}]", flush=True)
    return out


def _plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 3 if "ladder" in results else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4))
    speed = results["speed"]
    x = np.arange(len(FAMILIES))
    ax = axes[0]
    ax.bar(x - 0.2, [speed[f]["state_steps_per_s"] for f in FAMILIES], 0.4, label="state steps/s")
    ax.bar(x + 0.2, [speed[f]["frames_per_s"] for f in FAMILIES], 0.4, label="64x64 frames/s")
    ax.axhline(STATE_STEPS_TARGET, color="C0", ls="--", lw=1)
    ax.axhline(FRAMES_TARGET, color="C1", ls="--", lw=1)
    ax.set_xticks(x, FAMILIES)
    ax.set_ylabel("per second (single env)")
    ax.set_title("Tabletop speed (dashed: targets)")
    ax.legend()
    ax = axes[1]
    experts = results["experts"]
    for i, (key, label) in enumerate((("noise0.0_train", "expert"), ("noise0.3_train", "noise 0.3"),
                                      ("noise0.0_heldout", "expert, held-out"), ("noise0.3_heldout", "noise 0.3, held-out"))):
        vals = np.array([experts[f][key]["success"] for f in FAMILIES])
        ci = np.array([experts[f][key]["ci95"] for f in FAMILIES])
        ax.bar(x + (i - 1.5) * 0.2, vals, 0.2, yerr=[vals - ci[:, 0], ci[:, 1] - vals], capsize=2, label=label)
    ax.axhline(EXPERT_TARGET, color="k", ls="--", lw=1)
    ax.set_xticks(x, FAMILIES)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("success")
    ax.set_title("Scripted experts (Wilson 95%)")
    ax.legend(fontsize=7, loc="lower left")
    if "ladder" in results:
        _plot_ladder(axes[2], results["ladder"])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_ladder(ax: Any, ladder: dict[str, Any]) -> None:
    names = sorted(ladder["policies"], key=lambda n: ladder["policies"][n]["train"]["success"])  # a ladder, bottom up
    y = np.arange(len(names))
    for offset, split in ((-0.2, "train"), (0.2, "heldout")):
        vals = np.array([ladder["policies"][n][split]["success"] for n in names])
        ci = np.array([ladder["policies"][n][split]["ci95"] for n in names])
        ax.barh(y + offset, vals, 0.4, xerr=[vals - ci[:, 0], ci[:, 1] - vals], capsize=2,
                label="seen instructions" if split == "train" else "held-out instructions")
    ax.set_yticks(y, names, fontsize=7)
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("ground-truth success")
    ax.set_title(f"Ladder on {ladder['task']} (Wilson 95%)")
    ax.legend(fontsize=7)


def main(argv: list[str] | None = None) -> int:
    """Measure, print, and write JSON + PNG."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per speed measurement")
    parser.add_argument("--expert-episodes", type=int, default=100)
    parser.add_argument("--ladder", action="store_true", help="also evaluate the shipped VLA ladder")
    parser.add_argument("--ladder-episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1000, help="first episode seed (the ladder trained on seeds < 1000)")
    parser.add_argument("--out", type=Path, default=RESULTS / "manipulation.json", help="JSON path (PNG beside it)")
    args = parser.parse_args(argv)

    from neural_gym.threads import torch_threads

    results: dict[str, Any] = {"load_average_before": os.getloadavg()[0]}
    t0 = time.perf_counter()
    results["speed"] = measure_speed(args.seconds)
    results["experts"] = measure_experts(args.expert_episodes, args.seed)
    if args.ladder:
        with torch_threads(1):
            results["ladder"] = measure_ladder(args.ladder_episodes, args.seed)
    speed = results["speed"]
    results["targets"] = {
        "state_steps_per_s_min": {"value": min(s["state_steps_per_s"] for s in speed.values()),
                                  "target": STATE_STEPS_TARGET},
        "frames_per_s_min": {"value": min(s["frames_per_s"] for s in speed.values()), "target": FRAMES_TARGET},
        "expert_success_min": {"value": min(results["experts"][f]["noise0.0_train"]["success"] for f in FAMILIES),
                               "target": EXPERT_TARGET},
    }
    if "ladder" in results:
        levels = results["ladder"]["distinct_levels"]
        results["targets"]["ladder_distinct_levels_significant"] = {"value": levels["significant"], "target": 6}
        results["targets"]["ladder_distinct_levels_disjoint_ci"] = {"value": levels["disjoint_ci"], "target": 6}
    for target in results["targets"].values():
        target["met"] = bool(target["value"] >= target["target"])
    results["wall_s"] = time.perf_counter() - t0
    results["load_average_after"] = os.getloadavg()[0]
    results["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    results["command"] = " ".join(["python", "benchmarks/manipulation.py", *(argv if argv is not None else sys.argv[1:])])
    png = args.out.with_suffix(".png")
    tmp_png = png.with_name(f".{png.stem}.tmp-{os.getpid()}.png")
    png.parent.mkdir(parents=True, exist_ok=True)
    _plot(results, tmp_png)
    from neural_gym.world_models.checkpoint import atomic_write

    atomic_write(args.out, json.dumps(results, indent=2).encode())
    os.replace(tmp_png, png)
    for name, target in results["targets"].items():
        print(f"target {name}: {target['value']:.3g} (target {target['target']}) {'met' if target['met'] else 'MISSED'}")
    print(f"wrote {args.out} and {png}")
    return 0


def measure_ladder(episodes: int, seed: int) -> dict[str, Any]:
    """Ground-truth success of the shipped ladder and the reference policies, seen and held-out instructions.

    Every policy meets the same episodes (seeds ``seed, seed + 1, ...`` per split), through
    :func:`neural_gym.policies.vla.evaluate.evaluate_in_mujoco` (chunks executed open loop in full).
    """
    from neural_gym.policies.vla import load_vla, read_vla_info, zoo_names
    from neural_gym.policies.vla.evaluate import REFERENCES, evaluate_in_mujoco, reference_policy

    names = sorted(zoo_names(), key=lambda n: read_vla_info(f"zoo:{n}").get("train_wall_s", 0.0))
    families = {task for n in names for task in read_vla_info(f"zoo:{n}")["tasks"]}
    if len(families) != 1:
        raise ValueError(f"the ladder should cover one tabletop family, its checkpoints name {sorted(families)}")
    task = families.pop()
    policies: dict[str, Any] = {}
    for name in [*names, *REFERENCES]:
        if name in REFERENCES:
            policy, info = reference_policy(name, task, seed=seed), {}
        else:
            policy, info = load_vla(f"zoo:{name}"), read_vla_info(f"zoo:{name}")
        entry: dict[str, Any] = {"head": info.get("head", "reference"), "train_steps": info.get("train_steps"),
                                 "train_wall_s": info.get("train_wall_s"), "command": info.get("command")}
        for split in ("train", "heldout"):
            r = evaluate_in_mujoco(policy, task, episodes, seed=seed, split=split, progress=False)
            entry[split] = {"success": r.success_rate, "ci95": [r.ci_low, r.ci_high], "episodes": r.episodes,
                            "mean_length": r.mean_length, "wall_s": r.wall_s}
        policies[name] = entry
        print(f"ladder {name:<38} seen {entry['train']['success']:6.1%} [{entry['train']['ci95'][0]:.0%}, "
              f"{entry['train']['ci95'][1]:.0%}]  held-out {entry['heldout']['success']:6.1%}", flush=True)
    seen = sorted(p["train"]["success"] for p in policies.values())
    return {"task": task, "episodes": episodes, "seed": seed, "policies": policies,
            "distinct_levels": distinct_levels(policies, "train"),
            "distinct_levels_heldout": distinct_levels(policies, "heldout"), "seen_min": seen[0], "seen_max": seen[-1]}


def _successes(entry: dict[str, Any]) -> tuple[int, int]:
    return round(entry["success"] * entry["episodes"]), entry["episodes"]


def distinct_levels(policies: dict[str, Any], split: str = "train") -> dict[str, Any]:
    """How many clearly distinct success levels the policies form on ``split``, by two rules (both reported):

    - ``disjoint_ci``: the longest chain of policies whose Wilson 95% intervals are pairwise disjoint (interval
      scheduling: taking intervals by their upper end is optimal);
    - ``significant``: the longest chain, from the lowest rate up, in which each policy's success differs from the
      previous one's by Fisher's exact test at p < 0.05 (greedy: the next policy taken is the first one, by rate, that
      differs significantly from the last taken).
    """
    from scipy.stats import fisher_exact

    rows = sorted(((*_successes(p[split]), *p[split]["ci95"], name) for name, p in policies.items()),
                  key=lambda r: r[0] / r[1])
    disjoint, last_high = [], -1.0
    for _k, _n, low, high, name in sorted(rows, key=lambda r: r[3]):
        if low > last_high:
            disjoint.append(name)
            last_high = high
    significant = [rows[0][4]]
    last = rows[0]
    for row in rows[1:]:
        table = [[last[0], last[1] - last[0]], [row[0], row[1] - row[0]]]
        if fisher_exact(table).pvalue < 0.05:
            significant.append(row[4])
            last = row
    return {"disjoint_ci": len(disjoint), "disjoint_ci_chain": disjoint,
            "significant": len(significant), "significant_chain": significant}


if __name__ == "__main__":
    sys.exit(main())
