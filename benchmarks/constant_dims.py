"""Do the reach dream's episode-constant dims drift, and do they drive its uncertainty cut-offs?

Plays real MuJoCo episodes of the reach family with a few policies (seeds ``--seed ..``), then rolls the shipped dream
(``zoo:TabletopReach``; episode ``i`` follows elite ``i mod E``, as a dream episode follows one) open loop from each episode's real start state with the episode's real
actions, and reports per observation dim: the error of the dream against the real state (in units of the training
observations' std) at a few horizons, and each dim's share of the calibrated disagreement measure (``ensemble_std``:
``sqrt(mean_d Var_e[mu_ed])``, so dim ``d``'s share is ``Var_e[mu_ed] / sum_d Var_e[mu_ed]``) over all steps and over
the steps above the calibrated threshold. It also replays each rollout with the episode-constant dims
(:attr:`~neural_gym.envs.TaskSpec.episode_constant_dims`, or the tabletop layout's goal positions and target
one-hots when the task has none set) held at their start values, to count the cut-offs with and without them.

    OMP_NUM_THREADS=1 python benchmarks/constant_dims.py [--episodes 20] [--seed 1000] [--out PATH]

Writes ``benchmarks/results/constant_dims.json`` (temp file + rename) and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
import torch  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
HORIZONS = (1, 8, 25, 50, 99)
WEAK_VLA = "reach-regression-300demos-300steps"


def _constant_dims(task: Any) -> list[int]:
    dims = getattr(task, "episode_constant_dims", None)
    if dims:
        return list(dims)
    from neural_gym.envs.tabletop import rules

    return list(range(rules.GOAL_SLICE.start, rules.TARGET_GOAL_SLICE.stop))


def real_episodes(policy_name: str, episodes: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(states [T + 1, 54], actions [T, A])`` of ``episodes`` real reach episodes played by one policy."""
    from neural_gym.envs.tabletop import TabletopEnv
    from neural_gym.policies.chunking import ChunkExecutor
    from neural_gym.policies.protocol import stack_observations
    from neural_gym.policies.vla import load_vla
    from neural_gym.policies.vla.evaluate import REFERENCES, reference_policy

    if policy_name in REFERENCES:
        policy = reference_policy(policy_name, "reach", seed=seed)
    else:
        policy = load_vla(f"zoo:{policy_name}", seed=seed)
    out = []
    for i in range(episodes):
        env = TabletopEnv(task="reach", obs_mode="dict", image_size=64)
        obs, _ = env.reset(seed=seed + i)
        executor = ChunkExecutor(policy, 1, query="all")
        executor.reset(seed=seed + i)
        states, actions = [obs["state"].copy()], []
        while True:
            action = executor.act(stack_observations([obs]))[0]
            obs, _, terminated, truncated, _ = env.step(action)
            actions.append(np.asarray(action, dtype=np.float64))
            states.append(obs["state"].copy())
            if terminated or truncated:
                break
        env.close()
        out.append((np.stack(states), np.stack(actions)))
    return out


def rollout(
    model: Any, states: np.ndarray, actions: np.ndarray, hold: list[int] | None, member: int
) -> dict[str, np.ndarray]:
    """Open-loop dream rollout following elite ``member`` (as a dream episode does) from ``states[0]`` with
    ``actions``, holding the ``hold`` dims at their start values; the elites' per-dim spread of every step too."""
    obs = torch.as_tensor(states[:1], dtype=torch.float32)
    start = obs.clone()
    member_t = torch.tensor([member])
    preds, spreads = [], []
    with torch.inference_mode():
        for t in range(len(actions)):
            act = torch.as_tensor(actions[t : t + 1], dtype=torch.float32)
            mean_n, _, _ = model.forward_members(obs, act)  # (E, 1, O + 1) normalized delta and reward
            spreads.append((mean_n - mean_n.mean(0)).square().mean(0)[0].double().numpy())  # Var_e per dim
            obs = model.step(obs, act, member=member_t).state
            if hold:
                obs[:, hold] = start[:, hold]
            preds.append(obs[0].double().numpy())
    return {"pred": np.stack(preds), "var": np.stack(spreads)}


def measure(episodes: int, seed: int, policies: list[str]) -> dict[str, Any]:
    from neural_gym.envs import get_task
    from neural_gym.world_models import load_checkpoint

    task = get_task("TabletopReach")
    model = load_checkpoint("zoo:TabletopReach", task="TabletopReach")
    model.eval()
    threshold = model.spec.calibration.threshold
    obs_std = model.obs_std.double().numpy()
    const = _constant_dims(task)
    n_obs = model.obs_dim
    report: dict[str, Any] = {
        "checkpoint": "zoo:TabletopReach",
        "measure": model.spec.calibration.measure,
        "threshold": threshold,
        "constant_dims": const,
        "episodes": episodes,
        "seed": seed,
        "policies": {},
    }
    for name in policies:
        eps = real_episodes(name, episodes, seed)
        errs = {h: [] for h in HORIZONS}
        const_drift = {h: [] for h in HORIZONS}
        share_all, share_cut, var_sum_cut = [], [], np.zeros(n_obs + 1)
        cut = {"free": [], "held_measure_without": [], "held_measure_with": []}
        for i, (states, actions) in enumerate(eps):
            member = i % model.num_members
            free = rollout(model, states, actions, None, member)
            held = rollout(model, states, actions, const, member)
            real = states[1:]
            err = np.abs(free["pred"] - real) / obs_std
            for h in HORIZONS:
                if h <= len(actions):
                    errs[h].append(err[h - 1])
                    const_drift[h].append(np.abs(free["pred"][h - 1, const] - states[0, const]).max())
            var = free["var"]  # (T, O + 1)
            total = var.sum(1)
            share_all.extend(var[:, const].sum(1) / total)
            above = np.sqrt(var.mean(1)) > threshold
            if above.any():
                share_cut.extend(var[above][:, const].sum(1) / total[above])
                var_sum_cut += var[above].sum(0)
            for key, run, drop in (
                ("free", free, False),
                ("held_measure_without", held, True),
                ("held_measure_with", held, False),
            ):
                v = run["var"].copy()
                if drop:
                    v[:, const] = 0.0  # a held dim is exact: no spread (root-mean over all dims kept)
                u = np.sqrt(v.mean(1))
                hit = np.flatnonzero(u > threshold)
                cut[key].append(int(hit[0]) + 1 if hit.size else None)
        # One step from every real state (what calibration measures on held-out data): the measure with and
        # without the constant dims' spread.
        with torch.inference_mode():
            obs_all = torch.as_tensor(np.concatenate([s[:-1] for s, _ in eps]), dtype=torch.float32)
            act_all = torch.as_tensor(np.concatenate([a for _, a in eps]), dtype=torch.float32)
            mean_n, _, _ = model.forward_members(obs_all, act_all)
            var1 = (mean_n - mean_n.mean(0)).square().mean(0).double().numpy()
        u_with = np.sqrt(var1.mean(1))
        var1[:, const] = 0.0
        u_without = np.sqrt(var1.mean(1))
        mean_err = {str(h): np.mean(errs[h], axis=0) for h in HORIZONS if errs[h]}
        top = np.argsort(-var_sum_cut)[:10]
        report["policies"][name] = {
            "episodes": len(eps),
            "mean_length": float(np.mean([len(a) for _, a in eps])),
            "error_in_obs_std": {
                h: {
                    "constant_dims_mean": float(e[const].mean()),
                    "other_dims_mean": float(np.delete(e, const).mean()),
                    "per_dim": [round(float(x), 4) for x in e],
                }
                for h, e in mean_err.items()
            },
            "constant_dims_max_abs_drift": {str(h): float(np.mean(v)) for h, v in const_drift.items() if v},
            "constant_dims_share_of_disagreement": {
                "all_steps_mean": float(np.mean(share_all)),
                "steps_above_threshold_mean": float(np.mean(share_cut)) if share_cut else None,
                "steps_above_threshold": len(share_cut),
            },
            "top_dims_above_threshold": [
                {"dim": int(d), "share": float(var_sum_cut[d] / var_sum_cut.sum())}
                for d in top
                if var_sum_cut.sum() > 0
            ],
            "one_step_from_real_states": {
                "transitions": len(u_with),
                "measure_with_constant_dims": {
                    q: float(np.quantile(u_with, float(q))) for q in ("0.5", "0.99", "0.999")
                },
                "measure_without_constant_dims": {
                    q: float(np.quantile(u_without, float(q))) for q in ("0.5", "0.99", "0.999")
                },
            },
            "cut_step": cut,
            "cut_share": {k: float(np.mean([c is not None for c in v])) for k, v in cut.items()},
        }
    return report


def summary(report: dict[str, Any]) -> str:
    lines = [f"{report['checkpoint']} threshold {report['threshold']:.3f}; constant dims {report['constant_dims']}"]
    for name, p in report["policies"].items():
        lines.append(f"{name}: {p['episodes']} episodes, mean length {p['mean_length']:.1f}")
        for h, e in p["error_in_obs_std"].items():
            lines.append(
                f"  step {h:>3s}: error/std constant dims {e['constant_dims_mean']:.4f}, others {e['other_dims_mean']:.4f}"
                f"; max |drift| of constant dims {p['constant_dims_max_abs_drift'][h]:.4f} (raw)"
            )
        s = p["constant_dims_share_of_disagreement"]
        lines.append(
            f"  constant dims' share of Var_e: all steps {s['all_steps_mean']:.3f}, steps above threshold "
            f"{s['steps_above_threshold_mean']} ({s['steps_above_threshold']} steps)"
        )
        lines.append(
            "  top dims above threshold: "
            + ", ".join(f"{t['dim']}:{t['share']:.2f}" for t in p["top_dims_above_threshold"])
        )
        o = p["one_step_from_real_states"]
        lines.append(
            "  one step from real states, measure quantiles 0.5/0.99/0.999 with constant dims "
            + "/".join(f"{v:.4f}" for v in o["measure_with_constant_dims"].values())
            + ", without "
            + "/".join(f"{v:.4f}" for v in o["measure_without_constant_dims"].values())
        )
        lines.append("  episodes cut: " + ", ".join(f"{k} {v:.2f}" for k, v in p["cut_share"].items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=20, help="real episodes per policy")
    parser.add_argument("--seed", type=int, default=1000, help="seed of the first episode")
    parser.add_argument("--policies", nargs="+", default=["noisy-expert", WEAK_VLA, "random"])
    parser.add_argument("--out", type=Path, default=RESULTS / "constant_dims.json")
    args = parser.parse_args(argv)
    from neural_gym.threads import torch_threads
    from neural_gym.world_models.checkpoint import atomic_write

    with torch_threads(1):
        report = measure(args.episodes, args.seed, args.policies)
    report["command"] = " ".join(
        ["python", "benchmarks/constant_dims.py", *(argv if argv is not None else sys.argv[1:])]
    )
    atomic_write(args.out, json.dumps(report, indent=1).encode())
    print(summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
