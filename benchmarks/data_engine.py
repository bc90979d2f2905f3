"""The data engine on TabletopReach: a VLA trained on dreamt demonstrations against one trained on as much real data.

* **Dreams.** :func:`neural_gym.dream_rl.dream_demos` with the shipped ``zoo:TabletopReach-wam``: ``--attempts``
  episodes from real resets (seeds 0, 1, ..., seen instructions), imagined with the WAM's ``imagine`` mode, labelled
  by its ``inverse`` mode, rendered by the real renderer and judged by the task's exact success rule (the kept share
  is over every attempt). Twice: with the sampler's noise drawn from the seeded generators (the first ``--demos``
  successful dreams are the dream data) and from zero noise (``sample_noise=False``; the successful dreams up to the
  same number of transitions). Each set is written with :func:`~neural_gym.dream_rl.export_minari`
  (``DREAM_DATASETS``) and its VLA trains on what :func:`neural_gym.policies.vla.load_demos` reads back.
* **Real data, same amount.** The first successful expert episodes of ``neural_gym/TabletopReach/vla-expert-v0`` (the
  ladder's demonstrations, ``make vla-zoo``) whose total transitions come closest to the dream data's (the
  comparison matches transitions, not only episodes); beside it, as a second reference, the first ``--demos`` real
  episodes (same episode count, fewer transitions: expert episodes are shorter).
* **Same VLA, same budget.** ``train_vla`` with one config and budget for every data set: head ``--head``
  (regression), ``--vla-steps`` optimizer steps (1500) of batch ``--batch-size`` (64), seed 0, one torch thread; once
  with the gripper proprio ``state[:8]`` (the ladder's config) and once without it (``use_proprio=False``: frame and
  instruction only; the real same-episodes reference only with it).
* **Ground truth.** :func:`neural_gym.policies.vla.evaluate.evaluate_in_mujoco` as the ladder runs it: ``--episodes``
  (50) episodes, seen instructions, seeds from 1000, chunks open loop, Wilson 95 % intervals.
* **Labels where the truth is known.** (a) *Replay*: each dream demo's labels played open loop in MuJoCo from the same
  reset; the grasp point's distance between the real and the imagined state by step, and the share of replays the
  real env calls successful. (b) *One step*: MuJoCo set to each imagined state (as the frames are rendered), one
  labelled action stepped; the grasp point's distance from the next imagined state, beside the distance the imagined
  step itself moved. (c) *Real transitions*: the inverse mode's action error on the real demos' transitions (truth:
  the expert's actions), beside predicting the mean real action.
* **Timings** of every phase.

    OMP_NUM_THREADS=1 python benchmarks/data_engine.py                       # the full run (about 20 min)
    OMP_NUM_THREADS=1 python benchmarks/data_engine.py --attempts 12 --demos 8 --vla-steps 50 --episodes 5 \
        --out /tmp/data_engine.json                                           # a smoke run

Writes ``benchmarks/results/data_engine.json`` and ``data_engine.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
FAMILY = "reach"
CHECKPOINT = "zoo:TabletopReach-wam"
REAL_DATASET = "neural_gym/TabletopReach/vla-expert-v0"
DREAM_DATASETS = {
    True: "neural_gym/TabletopReach/wam-dream-v0",
    False: "neural_gym/TabletopReach/wam-dream-zero-noise-v0",
}
"""Where each noise setting's dream demos are exported (sample_noise True / False)."""
DREAM_SEED = 0
EVAL_SEED = 1000


def _real_demos() -> list[Any]:
    """The ladder's real episodes, complete and successful, in stored order (as the ladder selects them)."""
    from neural_gym.policies.vla.data import load_demos

    return [e for e in load_demos(REAL_DATASET) if len(e.terminations) and bool(np.asarray(e.terminations)[-1])]


def _proprio(demos: list[Any]) -> dict[str, list[float]]:
    """Mean and std of the VLA's proprio ``state[:8]`` over every step a VLA trains on."""
    p = np.concatenate([np.asarray(d.observations)[:-1, :8] for d in demos])
    return {"mean": p.mean(axis=0).round(5).tolist(), "std": p.std(axis=0).round(5).tolist()}


def _matching_prefix(real: list[Any], transitions: int) -> list[Any]:
    """The first real episodes whose total transitions come closest to ``transitions`` (ties: fewer episodes)."""
    totals = np.cumsum([len(e.actions) for e in real])
    if totals[-1] < transitions:
        raise ValueError(f"{REAL_DATASET} holds {totals[-1]} transitions, fewer than the dream data's {transitions}.")
    m = int(np.argmin(np.abs(totals - transitions))) + 1
    return real[:m]


def _replay(demos: list[Any]) -> dict[str, Any]:
    """(a) Each demo's labels open loop in MuJoCo from its reset; (b) one labelled step from each imagined state."""
    from neural_gym.envs.tabletop import TabletopEnv
    from neural_gym.envs.tabletop.env import EXTRA_STATE_FIELDS

    env = TabletopEnv(task=FAMILY)
    elapsed = EXTRA_STATE_FIELDS.index("elapsed_steps") - len(EXTRA_STATE_FIELDS)
    longest = max(len(d) for d in demos)
    dist = np.full((len(demos), longest + 1), np.nan)
    replay_success, final = [], []
    one_step, moved = [], []
    for i, d in enumerate(demos):
        obs, _ = env.reset(seed=d.seed)
        dist[i, 0] = np.linalg.norm(obs[:3] - d.observations[0, :3])
        success = False
        for t, action in enumerate(d.actions):
            obs, _, terminated, truncated, info = env.step(action)
            dist[i, t + 1] = np.linalg.norm(obs[:3] - d.observations[t + 1, :3])
            success = success or bool(info["is_success"])
        replay_success.append(success)
        final.append(dist[i, len(d)])
        for t, action in enumerate(d.actions):
            ps = env.physics_state_from_obs(d.observations[t])
            ps[elapsed] = 0
            env.set_physics_state(ps)
            nxt, *_ = env.step(action)
            one_step.append(np.linalg.norm(nxt[:3] - d.observations[t + 1, :3]))
            moved.append(np.linalg.norm(d.observations[t + 1, :3] - d.observations[t, :3]))
    env.close()
    alive = ~np.isnan(dist)
    mean = np.nanmean(dist, axis=0)
    k = int(sum(replay_success))
    from neural_gym.metrics import success_interval

    _, low, high = success_interval(k, len(demos))
    return {
        "open_loop": {
            "grasp_point_distance_m_by_step": [round(float(x), 5) for x in mean],
            "episodes_alive_by_step": alive.sum(axis=0).tolist(),
            "final_distance_m": {"mean": float(np.mean(final)), "median": float(np.median(final))},
            "real_success": {"successes": k, "episodes": len(demos), "rate": k / len(demos), "ci": [low, high]},
            "note": "the labels of each dream demo stepped open loop in MuJoCo from the same reset; success as the "
            "real env judges it (reach: grasp point within 0.03 m of the instructed object) at any step",
        },
        "one_step": {
            "grasp_point_error_m": {"mean": float(np.mean(one_step)), "median": float(np.median(one_step))},
            "imagined_step_length_m": {"mean": float(np.mean(moved)), "median": float(np.median(moved))},
            "transitions": len(one_step),
            "note": "MuJoCo set to each imagined state (physics_state_from_obs, as the frames are rendered), one "
            "labelled action stepped; distance of the grasp point from the next imagined state, beside how far the "
            "imagined step moved it",
        },
    }


def _inverse_on_real(wam: Any, real: list[Any]) -> dict[str, Any]:
    """(c) The inverse mode's action error on real transitions (the same seeded noise as the engine's labels)."""
    import torch

    before = np.concatenate([e.observations[:-1] for e in real])
    after = np.concatenate([e.observations[1:] for e in real])
    truth = np.clip(np.concatenate([e.actions for e in real]), -1.0, 1.0)
    with torch.inference_mode():
        pred = wam.inverse(
            torch.as_tensor(before, dtype=torch.float32),
            torch.as_tensor(after, dtype=torch.float32),
            generator=torch.Generator().manual_seed(0),
        ).numpy()
    mae = np.abs(pred - truth).mean(axis=0)
    mean_action = np.abs(truth.mean(axis=0) - truth).mean(axis=0)
    return {
        "transitions": len(truth),
        "mae_per_dim": mae.round(4).tolist(),
        "mae": float(mae.mean()),
        "mean_action_mae": float(mean_action.mean()),
        "note": "inverse(o_t, o_t+1) on the real expert transitions of the real VLA's data (the WAM trained on "
        "neural_gym/TabletopReach/expert-v0, another collection); truth: the expert's actions; baseline: the mean "
        "real action",
    }


def _train_and_score(
    demos: list[Any], name: str, args: argparse.Namespace, data_info: dict[str, Any], use_proprio: bool = True
) -> dict:
    from neural_gym.policies.vla import train_vla
    from neural_gym.policies.vla.evaluate import evaluate_in_mujoco

    t0 = time.perf_counter()
    policy = train_vla(
        demos,
        head=args.head,
        steps=args.vla_steps,
        batch_size=args.batch_size,
        seed=0,
        use_proprio=use_proprio,
        tasks=(FAMILY,),
        data_info=data_info,
        progress=not args.quiet,
    )
    train_s = time.perf_counter() - t0
    r = evaluate_in_mujoco(policy, FAMILY, episodes=args.episodes, seed=EVAL_SEED, split="train", progress=False)
    print(f"  {name}: {r.successes}/{r.episodes} in MuJoCo", file=sys.stderr)
    return {
        "use_proprio": use_proprio,
        "episodes_of_data": len(demos),
        "transitions": int(sum(len(d.actions) for d in demos)),
        "train_wall_s": round(train_s, 1),
        "final_loss": policy.metadata.get("final_loss"),
        "mujoco": {
            "episodes": r.episodes,
            "successes": r.successes,
            "success_rate": r.success_rate,
            "ci_low": r.ci_low,
            "ci_high": r.ci_high,
            "mean_length": r.mean_length,
            "wall_s": r.wall_s,
        },
    }


def _plot(out: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(18, 4.8), gridspec_kw={"width_ratios": [1.6, 1, 1]})
    rows = out["vla"]
    names = list(rows)
    rate = np.array([rows[n]["mujoco"]["success_rate"] for n in names])
    low = rate - np.array([rows[n]["mujoco"]["ci_low"] for n in names])
    high = np.array([rows[n]["mujoco"]["ci_high"] for n in names]) - rate
    labels = [
        f"{n.replace(', ', chr(10))}\n{rows[n]['episodes_of_data']} ep, {rows[n]['transitions']} st" for n in names
    ]
    colors = ["tab:purple", "tab:pink", "tab:blue", "tab:gray", "tab:purple", "tab:pink", "tab:blue"]
    hatch = ["" if rows[n]["use_proprio"] else "//" for n in names]
    bars = ax1.bar(range(len(names)), rate, yerr=[low, high], color=colors[: len(names)])
    for bar, h in zip(bars, hatch, strict=True):
        bar.set_hatch(h)
    ax1.set_xticks(range(len(names)), labels, fontsize=6.5)
    ax1.set_ylim(0, 1.05)
    ax1.set_ylabel("success in MuJoCo (Wilson 95 %)")
    b = out["budget"]
    ax1.set_title(f"VLA ({b['head']}, {b['vla_steps']} steps x {b['batch_size']}), {b['eval_episodes']} episodes")
    for name, replay in out["labels"]["replay"].items():
        curve = np.array(replay["open_loop"]["grasp_point_distance_m_by_step"])
        alive = np.array(replay["open_loop"]["episodes_alive_by_step"]) >= 5
        ax2.plot(np.arange(len(curve))[alive], curve[alive] * 100, marker=".", label=name)
    ax2.axhline(3.0, color="tab:red", ls="--", lw=1, label="reach tolerance (3 cm)")
    ax2.set_xlabel("step of the dream demo (>= 5 episodes alive)")
    ax2.set_ylabel("grasp point, real vs imagined (cm)")
    ax2.set_title("inverse labels replayed open loop in MuJoCo")
    ax2.legend(fontsize=8)
    dreams = {k: v for k, v in out["dreams"].items() if isinstance(v, dict)}
    lengths = {f"dream, {k} (used)": v["lengths"]["kept"][: v["used"]] for k, v in dreams.items()}
    lengths["real expert (same transitions)"] = out["real"]["lengths"]
    bins = np.arange(0, max(max(v) for v in lengths.values()) + 3, 2)
    for name, values in lengths.items():
        ax3.hist(values, bins=bins, alpha=0.5, label=name)
    ax3.set_xlabel("episode length (steps)")
    ax3.set_ylabel("episodes")
    shares = ", ".join(f"{k} {v['kept_share']:.0%}" for k, v in dreams.items())
    ax3.set_title(f"kept share of dreams: {shares}", fontsize=9)
    ax3.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _dream_set(wam: Any, sample_noise: bool, args: argparse.Namespace, transitions: int | None) -> tuple:
    """Dream ``--attempts`` episodes, export the ones used, read them back; the demos used and their figures.

    The used ones: the first ``--demos`` successful dreams, or (``transitions`` given) the prefix of the successful
    dreams whose total transitions come closest to ``transitions``.
    """
    from neural_gym.dream_rl import dream_demos, export_minari
    from neural_gym.policies.vla.data import load_demos

    dataset_id = DREAM_DATASETS[sample_noise]
    dreamt = dream_demos(
        wam, FAMILY, n_episodes=args.attempts, seed=DREAM_SEED, keep="all", sample_noise=sample_noise,
        progress=not args.quiet,
    )  # fmt: skip
    kept = [d for d in dreamt.demos if d.success]
    if transitions is None:
        used = kept[: args.demos]
        if len(used) < args.demos:
            raise SystemExit(f"only {len(kept)} of {args.attempts} dreams succeeded; raise --attempts")
    else:
        totals = np.cumsum([len(d) for d in kept])
        if totals[-1] < transitions:
            raise SystemExit(f"the successful dreams hold {totals[-1]} < {transitions} transitions; raise --attempts")
        used = kept[: int(np.argmin(np.abs(totals - transitions))) + 1]
    t0 = time.perf_counter()
    export_minari(used, dataset_id, task=FAMILY, overwrite=True)
    export_s = time.perf_counter() - t0
    info = {
        "sample_noise": sample_noise,
        "attempted": dreamt.attempted,
        "successful": dreamt.successes,
        "kept_share": dreamt.success_share,
        "used": len(used),
        "used_transitions": int(sum(len(d) for d in used)),
        "dataset_id": dataset_id,
        "lengths": {"kept": [len(d) for d in kept], "failed": [len(d) for d in dreamt.demos if not d.success]},
        "label_jitter": float(np.mean([np.abs(np.diff(d.actions, axis=0)).mean() for d in used])),
        "proprio": _proprio(used),
        "settings": dreamt.settings,
        "wall_s": {**dreamt.wall_s, "export_minari": round(export_s, 2)},
    }
    return used, load_demos(dataset_id), info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attempts", type=int, default=160, help="dream episodes per noise setting (default 160)")
    parser.add_argument("--demos", type=int, default=100, help="successful sampled-noise dreams used (default 100)")
    parser.add_argument("--vla-steps", type=int, default=1500, help="VLA optimizer steps (default 1500)")
    parser.add_argument("--batch-size", type=int, default=64, help="VLA batch size (default 64)")
    parser.add_argument("--head", default="regression", help="VLA head (default regression)")
    parser.add_argument("--episodes", type=int, default=50, help="MuJoCo episodes per VLA (default 50)")
    parser.add_argument("--checkpoint", default=CHECKPOINT, help=f"the WAM (default {CHECKPOINT})")
    parser.add_argument("--out", default=str(RESULTS / "data_engine.json"), help="JSON path (the PNG goes beside it)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from neural_gym.json_values import json_safe
    from neural_gym.threads import torch_threads
    from neural_gym.world_models import load_checkpoint
    from neural_gym.world_models.checkpoint import atomic_write

    started = time.perf_counter()
    command = ["python", "benchmarks/data_engine.py", *(sys.argv[1:] if argv is None else argv)]
    out: dict[str, Any] = {"task": FAMILY, "command": " ".join(command), "checkpoint": args.checkpoint}
    with torch_threads(1):
        wam = load_checkpoint(args.checkpoint, task="TabletopReach", family="wam", device="cpu")
        used, dream_data, sampled = _dream_set(wam, True, args, None)
        transitions = sampled["used_transitions"]
        used_zero, dream_data_zero, zero = _dream_set(wam, False, args, transitions)
        out["dreams"] = {
            "sampled noise": sampled,
            "zero noise": zero,
            "note": "keep='all' so the failed dreams can be counted (kept_share = successful / attempted); the kept "
            "ones are exactly what keep='success' returns (tested). Sampled noise: the first --demos successful "
            "dreams; zero noise (sample_noise=False): the prefix of its successful dreams closest to the same "
            "transitions. label_jitter: mean |a_t+1 - a_t| of the labels (the real expert data's is in 'real').",
        }
        real = _real_demos()
        matched = _matching_prefix(real, transitions)
        out["real"] = {
            "dataset_id": REAL_DATASET,
            "episodes": len(matched),
            "transitions": int(sum(len(e.actions) for e in matched)),
            "lengths": [len(e.actions) for e in matched],
            "label_jitter": float(np.mean([np.abs(np.diff(e.actions, axis=0)).mean() for e in matched])),
            "proprio": _proprio(matched),
            "selection": "the first complete successful episodes whose total transitions come closest to the dream "
            "data's",
        }
        t0 = time.perf_counter()
        out["labels"] = {
            "replay": {"sampled noise": _replay(used), "zero noise": _replay(used_zero)},
            "inverse_on_real": _inverse_on_real(wam, matched),
        }
        out["labels"]["wall_s"] = round(time.perf_counter() - t0, 1)
        out["budget"] = {
            "head": args.head,
            "vla_steps": args.vla_steps,
            "batch_size": args.batch_size,
            "seed": 0,
            "eval_episodes": args.episodes,
            "eval_seed": EVAL_SEED,
            "split": "train",
            "torch_threads": torch.get_num_threads(),
        }

        def source(noise: bool) -> dict[str, Any]:
            return {"dataset_ids": [DREAM_DATASETS[noise]], "source": f"dream_demos({args.checkpoint!r})"}

        real_info = {"dataset_ids": [REAL_DATASET]}
        out["vla"] = {
            "dream, sampled noise": _train_and_score(dream_data, "dream sampled", args, source(True)),
            "dream, zero noise": _train_and_score(dream_data_zero, "dream zero-noise", args, source(False)),
            "real, same transitions": _train_and_score(matched, "real", args, real_info),
            "real, same episodes": _train_and_score(real[: args.demos], "real same episodes", args, real_info),
        }
        for name, data, info in (
            ("dream, sampled noise", dream_data, source(True)),
            ("dream, zero noise", dream_data_zero, source(False)),
            ("real, same transitions", matched, real_info),
        ):
            out["vla"][f"{name}, no proprio"] = _train_and_score(data, f"{name} no proprio", args, info, False)
        out["vla_notes"] = (
            "every VLA: the same config and budget; 'no proprio': train_vla(use_proprio=False), the frame and the "
            "instruction only. 'proprio' under dreams and real: mean and std of the VLA's proprio state[:8] (grasp "
            "point xyz, pad gap, their velocities) over each data set's steps"
        )
    out["total_s"] = round(time.perf_counter() - started, 1)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps(json_safe(out), indent=1) + "\n").encode())
    _plot(out, path.with_suffix(".png"))
    print(f"wrote {path} and {path.with_suffix('.png')} in {out['total_s']:.0f} s")
    for name, d in out["dreams"].items():
        if isinstance(d, dict):
            print(
                f"  dreams, {name}: {d['successful']}/{d['attempted']} kept, {d['used']} used ({d['used_transitions']})"
            )
    for name, r in out["vla"].items():
        m = r["mujoco"]
        print(f"  {name}: {m['successes']}/{m['episodes']} ({m['ci_low']:.2f}-{m['ci_high']:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
