"""The world action model (``wam`` family) on TabletopReach: forward-mode drift, policy-mode success, the ablation
the field asks for, and speed, all measured in one run.

* **Forward mode (drift).** The shipped ``zoo:TabletopReach-wam`` rolled open loop from held-out real start states with
  the recorded actions (:func:`neural_gym.drift.measure_drift`: normalized RMSE by horizon in units of the shipped
  WAM's training-observation std, bootstrap intervals over starts), beside copy-last, the shipped state ensemble
  ``zoo:TabletopReach`` (trained on the same data) and the three ablation models, on the same starts. Held-out data:
  the scripted expert with action noise 0.3, seed 1000 (the checkpoints trained on seed 0). The latent family has no
  state-vector checkpoint for this task (only ``TabletopReach-latent-pixels``, judged in frames by
  ``benchmarks/pixel_models.py``), so it is not in this table.
* **Policy mode (success in MuJoCo).** :func:`neural_gym.policies.vla.evaluate.evaluate_in_mujoco` as the VLA ladder
  runs it (seen instructions, seeds from 1000, 50 episodes, each chunk run open loop in full, Wilson 95 % intervals):
  ``WAMPolicy`` with imagination off and on and with sampled or zero start noise (``sample_noise``), for the shipped
  WAM and for the ablation models, beside the ladder's best VLA re-evaluated in the same run.
* **Ablation (same data, same budget).** Three WAMs trained on the ladder's best VLA's data and budget: its first 300
  successful expert demonstrations of ``neural_gym/TabletopReach/vla-expert-v0`` (3888 steps) and its 3000
  optimizer steps of batch 64 (``--steps`` fewer: then the same VLA run's ladder snapshot at that step count, when
  the ladder has one, is evaluated too, so the comparison stays at equal data and equal steps), ``objective`` ``actions`` (behaviour cloning: future held at max noise, loss on
  actions only), ``future`` (dynamics: actions clean, loss on the future only) and ``joint``. How the inputs and
  data differ from the VLA's: the WAM reads the whole 54-dim state vector (object and goal positions included) and
  the instruction, the VLA the 64x64 frame, the proprio ``state[:8]`` (grasp point, pad gap, their velocities) and
  the instruction; the WAM holds out ``--heldout-fraction`` of the episodes (for its calibration; the VLA trains on
  all 300); each family keeps its own learning rate (WAM 1e-3, the VLA's 2e-3). Each gets policy success in MuJoCo
  and dynamics error by horizon (in the drift table).
* **Speed.** Training optimizer steps/s of each ablation run (one torch thread, batch 64) and sampling calls/s of the
  shipped model: ``step`` at batch 1 and 64, ``act`` at batch 1 with imagination off and on.

* **The latent family.** A state-vector latent (RSSM, ``small`` preset, ``--latent-steps`` steps, seed 0) trained in
  the run on the shipped WAM's own training data (``neural_gym/TabletopReach/expert-v0``), in the drift measurement
  above (same held-out data, starts and seed) and in the re-grounding one.
* **Re-grounding (DreamZero's closed loop).** The shipped WAM, the ensemble, the latent model and copy-last rolled from held-out real
  states with a random policy on the real states, their context replaced with the real observations every
  ``k ∈ {1, 2, 4, 8, 16}`` steps (the WAM's chunk is 8): normalized RMSE at h = 16 and 32 against ``k``
  (:meth:`neural_gym.drift.DriftResult.regrounding`).

Folded in where their files exist: ``benchmarks/results/wam_recoverability.json`` (action recoverability, under
``recoverability``), ``data_engine.json`` (under ``data_engine``), this WAM's row of ``calibration_families.json``
(its rollout-calibrated cut-off, under ``calibration``) and ``wam_dreams.json`` (the WAM as a policy inside every
shipped dream, ``benchmarks/wam_dreams.py``, under ``policy_in_dreams``). ``--update`` re-measures only the latent comparison and the
re-grounding section and re-reads those files into the existing JSON (the ablation's ten minutes left out).

    OMP_NUM_THREADS=1 python benchmarks/wam.py                          # the full run
    OMP_NUM_THREADS=1 python benchmarks/wam.py --steps 200 --episodes 10 --drift-starts 16 --out /tmp/wam.json

Writes ``benchmarks/results/wam.json`` and ``wam.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
TASK = "TabletopReach"
FAMILY = "reach"
SHIPPED = "zoo:TabletopReach-wam"
ENSEMBLE = "zoo:TabletopReach"
DEMOS_DATASET = "neural_gym/TabletopReach/vla-expert-v0"
OBJECTIVES = ("actions", "future", "joint")
#: The held-out play every drift measurement here starts from (the checkpoints trained on seed 0).
HELDOUT: dict[str, Any] = {
    "heldout_policy": "expert",
    "heldout_action_noise": 0.3,
    "heldout_steps": 5000,
    "heldout_seed": 1000,
    "seed": 0,
    "device": "cpu",
}


def _best_vla() -> dict[str, Any]:
    """The ladder's best checkpoint by its recorded success (ties: more demos, then more steps) and its settings."""
    from neural_gym.policies.vla.checkpoint import ZOO_DIR

    ladder = json.loads((ZOO_DIR / "ladder.json").read_text())
    vlas = [e for e in ladder["entries"] if e.get("kind") == "vla"]
    best = max(vlas, key=lambda e: (e["result"]["success_rate"], e["demos"], e["train_steps"]))
    return best


def _same_budget_vla(best: dict[str, Any], steps: int) -> dict[str, Any] | None:
    """The ladder snapshot of the best VLA's run (same head and demos) trained for ``steps`` steps, if there is one."""
    from neural_gym.policies.vla.checkpoint import ZOO_DIR

    ladder = json.loads((ZOO_DIR / "ladder.json").read_text())
    for e in ladder["entries"]:
        same_run = e.get("kind") == "vla" and e.get("head") == best["head"] and e.get("demos") == best["demos"]
        if same_run and e.get("train_steps") == steps and e["name"] != best["name"]:
            return e
    return None


def _ladder_demos(n: int) -> list[Any]:
    """The first ``n`` complete successful episodes of the ladder's collection (as the ladder selects them)."""
    from neural_gym.policies.vla.data import load_demos

    good = [e for e in load_demos(DEMOS_DATASET) if len(e.terminations) and bool(np.asarray(e.terminations)[-1])]
    if len(good) < n:
        raise ValueError(f"{DEMOS_DATASET} holds {len(good)} successful episodes, fewer than {n}; run `make vla-zoo`.")
    return [
        {
            "observations": np.asarray(e.observations, dtype=np.float64),
            "actions": np.asarray(e.actions, dtype=np.float64),
            "rewards": np.asarray(e.rewards),
            "terminations": np.asarray(e.terminations),
            "instruction": e.instruction,
        }
        for e in good[:n]
    ]


def _train_ablation(
    demos: list[Any], steps: int, batch_size: int, heldout_fraction: float, progress: bool
) -> dict[str, Any]:
    from neural_gym.world_models.wam import train_wam

    out: dict[str, Any] = {}
    for objective in OBJECTIVES:
        model, report = train_wam(
            demos,
            task=TASK,
            task_env_id=f"{TASK}-v0",
            action_low=[-1.0] * 4,
            action_high=[1.0] * 4,
            config="small",
            steps=steps,
            batch_size=batch_size,
            heldout_fraction=heldout_fraction,
            objective=objective,
            seed=0,
            device="cpu",
            progress=progress,
            provenance={"dataset_id": DEMOS_DATASET, "demos": len(demos)},
        )
        out[objective] = {"model": model, "report": report}
    return out


def _policy_success(policy: Any, episodes: int, progress: bool) -> dict[str, Any]:
    from neural_gym.policies.vla.evaluate import evaluate_in_mujoco

    r = evaluate_in_mujoco(policy, FAMILY, episodes=episodes, seed=1000, split="train", progress=progress)
    return {
        "episodes": r.episodes,
        "successes": r.successes,
        "success_rate": r.success_rate,
        "ci_low": r.ci_low,
        "ci_high": r.ci_high,
        "mean_length": r.mean_length,
        "wall_s": round(r.wall_s, 2),
    }


def _calls_per_s(fn: Any, min_s: float = 1.0) -> float:
    fn()  # warm-up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_s:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def _sampling_speed(model: Any) -> dict[str, float]:
    import torch

    from neural_gym.envs.tabletop import TabletopEnv

    env = TabletopEnv(task=FAMILY)
    obs = np.stack([env.reset(seed=1000 + i)[0] for i in range(64)]).astype(np.float32)
    env.close()
    o64 = torch.as_tensor(obs)
    o1 = o64[:1]
    g = torch.Generator().manual_seed(0)
    a64, a1 = torch.zeros(64, 4), torch.zeros(1, 4)
    s64, s1 = model.initial_state(o64), model.initial_state(o1)
    with torch.inference_mode():
        return {
            "step_calls_per_s_batch1": _calls_per_s(lambda: model.step(s1, a1)),
            "step_calls_per_s_batch64": _calls_per_s(lambda: model.step(s64, a64)),
            "act_calls_per_s_batch1": _calls_per_s(lambda: model.act(o1, None, generator=g)),
            "act_imagine_calls_per_s_batch1": _calls_per_s(lambda: model.act(o1, None, imagine=True, generator=g)),
        }


def _drift(shipped: Any, ablation: dict[str, Any], starts: int, progress: bool) -> dict[str, Any]:
    from neural_gym.drift import measure_drift
    from neural_gym.world_models import load_checkpoint

    others = {"ensemble": load_checkpoint(ENSEMBLE, task=TASK, device="cpu")}
    others.update({f"ablation-{k}": v["model"] for k, v in ablation.items()})
    result = measure_drift(
        TASK,
        shipped,
        n_starts=starts,
        baselines=["copy_last", *others],
        baseline_models=others,
        **HELDOUT,
        progress=progress,
    )
    preds = result.base["predictors"]
    table = {("shipped-wam" if k == "wam" else k): {"nrmse": v["nrmse"]} for k, v in preds.items()}
    return {
        "horizons": result.meta["horizons"],
        "skipped_horizons": result.meta["skipped_horizons"],
        "n_starts": result.meta["n_starts"],
        "heldout": result.meta["heldout"],
        "units": "normalized RMSE, sqrt(mean_d(((pred_d - true_d) / sigma_d)^2)), sigma_d = the shipped WAM's "
        "training-observation std (constant dimensions 1); 95 % bootstrap interval over start states",
        "predictors": table,
        "wall_s": round(result.meta["wall_time_s"], 1),
    }


REGROUND_EVERY = (1, 2, 4, 8, 16)
REGROUND_HORIZONS = (1, 2, 4, 8, 16, 32)


LATENT_DATASET = "neural_gym/TabletopReach/expert-v0"  # the shipped WAM's and ensemble's training data


def _train_latent(steps: int, progress: bool) -> tuple[Any, dict[str, Any]]:
    """A state-vector latent (RSSM) model on the shipped WAM's own training data, ``small`` preset, seed 0."""
    from neural_gym.train import fit_latent

    t0 = time.perf_counter()
    model, report = fit_latent(
        TASK,
        LATENT_DATASET,
        obs="state",
        preset="small",
        steps=steps,
        seed=0,
        device="cpu",
        progress=progress,
        command=f"fit_latent('{TASK}', '{LATENT_DATASET}', obs='state', preset='small', steps={steps}, seed=0)",
    )
    info = {
        "dataset_id": LATENT_DATASET,
        "preset": "small",
        "steps": steps,
        "seed": 0,
        "wall_s": round(time.perf_counter() - t0, 1),
        "context_length": int(model.context_length),
    }
    return model.eval(), info


def _latent_drift(shipped: Any, latent: Any, starts: int, progress: bool) -> dict[str, Any]:
    """The main drift table's measurement (same held-out data, starts and seed) with the latent family beside."""
    from neural_gym.drift import measure_drift
    from neural_gym.world_models import load_checkpoint

    result = measure_drift(
        TASK,
        shipped,
        n_starts=starts,
        baselines=["copy_last", "ensemble", "latent"],
        baseline_models={"ensemble": load_checkpoint(ENSEMBLE, task=TASK, device="cpu"), "latent": latent},
        **HELDOUT,
        progress=progress,
    )
    preds = result.base["predictors"]
    return {
        "horizons": result.meta["horizons"],
        "n_starts": result.meta["n_starts"],
        "predictors": {("shipped-wam" if k == "wam" else k): {"nrmse": v["nrmse"]} for k, v in preds.items()},
        "notes": result.meta.get("notes", []),
    }


def _regrounding(shipped: Any, starts: int, progress: bool, latent: Any = None) -> dict[str, Any]:
    """Error against the re-grounding interval (DreamZero's closed loop): the shipped WAM, the state ensemble and
    copy-last from held-out real states with a random policy acting on the real states (the recorded noisy-expert
    windows are at most about 30 steps long), re-grounded on the real observations every ``k`` steps."""
    from neural_gym.drift import measure_drift
    from neural_gym.world_models import load_checkpoint

    result = measure_drift(
        TASK,
        shipped,
        n_starts=starts,
        horizons=REGROUND_HORIZONS,
        actions="random",
        reground_every=list(REGROUND_EVERY),
        baselines=["copy_last", "ensemble", *(["latent"] if latent is not None else [])],
        baseline_models={
            "ensemble": load_checkpoint(ENSEMBLE, task=TASK, device="cpu"),
            **({"latent": latent} if latent is not None else {}),
        },
        **HELDOUT,
        progress=progress,
    )
    rename = {"wam": "shipped-wam"}
    by_h = {}
    for h in REGROUND_HORIZONS[-2:]:
        reg = result.regrounding(horizon=h)
        by_h[str(h)] = {
            "intervals": reg["intervals"],
            "predictors": {rename.get(k, k): v for k, v in reg["predictors"].items()},
        }
    curves = {
        ("free" if k is None else f"every {k}"): {
            rename.get(n, n): result.setting(k, 0.0)["predictors"][n]["nrmse"]["value"] for n in result.predictors
        }
        for k in [None, *REGROUND_EVERY]
    }
    return {
        "horizons": result.meta["horizons"],
        "n_starts": result.meta["n_starts"],
        "actions": "random policy on the real states",
        "heldout": result.meta["heldout"],
        "chunk_size": int(shipped.config.chunk_size),
        "at_horizon": by_h,
        "curves": curves,
        "units": "normalized RMSE in the shipped WAM's training-observation std, 95 % bootstrap over start states",
        "wall_s": round(result.meta["wall_time_s"], 1),
    }


def _fold(out: dict[str, Any]) -> None:
    """The figures other benchmarks measured on this family, read from their result files where they exist."""
    recoverability = RESULTS / "wam_recoverability.json"
    out["recoverability"] = json.loads(recoverability.read_text()) if recoverability.exists() else None
    engine = RESULTS / "data_engine.json"
    out["data_engine"] = json.loads(engine.read_text()) if engine.exists() else None
    families = RESULTS / "calibration_families.json"
    row = None
    if families.exists():
        row = (json.loads(families.read_text()).get("checkpoints") or {}).get(SHIPPED.removeprefix("zoo:"))
    out["calibration"] = row
    dreams = RESULTS / "wam_dreams.json"
    out["policy_in_dreams"] = json.loads(dreams.read_text()) if dreams.exists() else None


def _plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reg = results.get("regrounding")
    fig, axes = plt.subplots(1, 3 if reg else 2, figsize=(18 if reg else 12, 4.5))
    ax1, ax2 = axes[0], axes[1]
    drift = results["drift"]
    h = drift["horizons"]
    for name, v in drift["predictors"].items():
        ax1.errorbar(h, v["nrmse"]["value"], yerr=None, marker="o", label=name)
        ax1.fill_between(h, v["nrmse"]["low"], v["nrmse"]["high"], alpha=0.15)
    ax1.set_xscale("log")
    ax1.set_xlabel("horizon (steps)")
    ax1.set_ylabel("normalized RMSE")
    ax1.set_title("forward mode: open-loop drift on held-out noisy-expert play")
    ax1.legend(fontsize=8)
    rows = results["policy"]
    names = list(rows)
    rate = np.array([rows[n]["success_rate"] for n in names])
    low = rate - np.array([rows[n]["ci_low"] for n in names])
    high = np.array([rows[n]["ci_high"] for n in names]) - rate
    ax2.barh(range(len(names)), rate, xerr=[low, high], color="tab:blue", alpha=0.7)
    ax2.set_yticks(range(len(names)), names, fontsize=8)
    ax2.set_xlim(0, 1)
    ax2.set_xlabel("success in MuJoCo (Wilson 95 %)")
    ax2.set_title(f"policy mode, {rows[names[0]]['episodes']} episodes each")
    if reg:
        ax3 = axes[2]
        h = max(reg["at_horizon"], key=int)
        at = reg["at_horizon"][h]
        ks = [reg["horizons"][-1] * 2 if k is None else k for k in at["intervals"]]  # "free" drawn past the last k
        for name, v in at["predictors"].items():
            ax3.plot(ks, v["value"], marker="o", label=name)
            ax3.fill_between(ks, v["low"], v["high"], alpha=0.15)
        ax3.axvline(reg["chunk_size"], color="grey", ls=":", lw=0.8)
        ax3.set_xscale("log", base=2)
        ax3.set_xticks(ks, [str(k) if k is not None else "free" for k in at["intervals"]])
        ax3.set_xlabel("re-grounding interval k (steps; dotted: the WAM's chunk)")
        ax3.set_ylabel(f"normalized RMSE at h={h}")
        ax3.set_title("re-grounded on the real observations every k steps")
        ax3.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _update(args: argparse.Namespace, progress: bool) -> int:
    """``--update``: the re-grounding section measured again and the folded results re-read; the rest kept."""
    from neural_gym.json_values import json_safe
    from neural_gym.threads import torch_threads
    from neural_gym.world_models import load_checkpoint
    from neural_gym.world_models.checkpoint import atomic_write

    path = Path(args.out)
    out = json.loads(path.read_text())
    with torch_threads(1):
        shipped = load_checkpoint(args.checkpoint, task=TASK, family="wam", device="cpu")
        latent, info = _train_latent(args.latent_steps, progress)
        out["latent"] = {"training": info, "drift": _latent_drift(shipped, latent, args.drift_starts, progress)}
        out["regrounding"] = _regrounding(shipped, args.drift_starts, progress, latent)
    _fold(out)
    out["update_command"] = " ".join(["python", "benchmarks/wam.py", "--update", f"--latent-steps {args.latent_steps}"])
    atomic_write(path, (json.dumps(json_safe(out), indent=2) + "\n").encode())
    _plot(out, path.with_suffix(".png"))
    for name, v in out["latent"]["drift"]["predictors"].items():
        h = out["latent"]["drift"]["horizons"]
        print(f"  drift {name}: " + " ".join(f"h{a}={x:.3f}" for a, x in zip(h, v["nrmse"]["value"], strict=True)))
    at = out["regrounding"]["at_horizon"]
    for h, row in at.items():
        for name, v in row["predictors"].items():
            cells = " ".join(
                f"{'free' if k is None else k}={x:.3f}" for k, x in zip(row["intervals"], v["value"], strict=True)
            )
            print(f"  h={h} {name}: {cells}")
    print(f"updated {path} and {path.with_suffix('.png')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="ablation optimizer steps (default: the VLA's)")
    parser.add_argument("--batch-size", type=int, default=None, help="ablation batch size (default: the VLA's)")
    parser.add_argument("--heldout-fraction", type=float, default=0.02, help="ablation held-out episodes (0.02)")
    parser.add_argument("--episodes", type=int, default=50, help="MuJoCo episodes per policy (default 50)")
    parser.add_argument("--drift-starts", type=int, default=64, help="held-out start states of the drift (64)")
    parser.add_argument("--checkpoint", default=SHIPPED, help=f"the WAM judged as shipped (default {SHIPPED})")
    parser.add_argument("--out", default=str(RESULTS / "wam.json"), help="JSON path (the PNG goes beside it)")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument(
        "--latent-steps", type=int, default=3000, help="optimizer steps of the latent model compared (3000)"
    )
    parser.add_argument(
        "--fold-only", action="store_true", help="only re-read the folded results into the existing JSON (seconds)"
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="only re-measure the latent comparison and the re-grounding section, and re-read the folded results",
    )
    args = parser.parse_args(argv)
    progress = not args.quiet
    os.environ.setdefault("MINARI_DATASETS_PATH", str(RESULTS.parent.parent / "data" / "minari"))  # as the Makefile
    if args.fold_only:
        from neural_gym.json_values import json_safe
        from neural_gym.world_models.checkpoint import atomic_write

        path = Path(args.out)
        out = json.loads(path.read_text())
        _fold(out)
        atomic_write(path, (json.dumps(json_safe(out), indent=2) + "\n").encode())
        print(f"re-read the folded results into {path}")
        return 0
    if args.update:
        return _update(args, progress)

    import torch

    from neural_gym.json_values import json_safe
    from neural_gym.policies.vla import load_vla
    from neural_gym.policies.wam import WAMPolicy
    from neural_gym.threads import torch_threads
    from neural_gym.world_models import load_checkpoint, read_spec
    from neural_gym.world_models.checkpoint import atomic_write

    started = time.perf_counter()
    best = _best_vla()
    vla_settings = json.loads(json.dumps(load_vla(f"zoo:{best['name']}").metadata, default=str))
    steps = args.steps or int(best["train_steps"])
    batch = args.batch_size or int(vla_settings.get("batch_size", 64))
    command = ["python", "benchmarks/wam.py", *(sys.argv[1:] if argv is None else argv)]
    out: dict[str, Any] = {"task": TASK, "command": " ".join(command)}
    with torch_threads(1):
        demos = _ladder_demos(int(best["demos"]))
        t0 = time.perf_counter()
        ablation = _train_ablation(demos, steps, batch, args.heldout_fraction, progress)
        shipped = load_checkpoint(args.checkpoint, task=TASK, family="wam", device="cpu")
        spec = read_spec(args.checkpoint)
        out["shipped"] = {
            "checkpoint": args.checkpoint,
            "command": spec.provenance.get("command"),
            "dataset_id": spec.provenance.get("dataset_id"),
            "train_report": spec.provenance.get("report"),
        }
        out["ablation_training"] = {
            "data": {
                "dataset_id": DEMOS_DATASET,
                "demos": len(demos),
                "steps": int(sum(len(d["actions"]) for d in demos)),
                "heldout_fraction": args.heldout_fraction,
                "vla": best["name"],
                "vla_demo_steps": best["demo_steps"],
            },
            "budget": {"steps": steps, "batch_size": batch, "preset": "small", "seed": 0},
            "wall_s": round(time.perf_counter() - t0, 1),
            "runs": {
                k: {
                    "train_steps_per_s": v["report"].steps_per_s,
                    "wall_s": round(v["report"].wall_time_s, 1),
                    "loss_terms": v["report"].loss_terms,
                    "heldout_forward_nrmse": v["report"].heldout_forward_nrmse,
                    "heldout_copy_last_nrmse": v["report"].heldout_copy_last_nrmse,
                    "heldout_policy_mae": v["report"].heldout_policy_mae,
                    "heldout_inverse_mae": v["report"].heldout_inverse_mae,
                    "heldout_mean_action_mae": v["report"].heldout_mean_action_mae,
                }
                for k, v in ablation.items()
            },
        }
        out["drift"] = _drift(shipped, ablation, args.drift_starts, progress)
        policies: dict[str, Any] = {}
        models = {"shipped-wam": shipped, **{f"ablation-{k}": v["model"] for k, v in ablation.items()}}
        for name, model in models.items():
            both = name in ("shipped-wam", "ablation-joint")  # the others never learned one part imagination chains
            for imagine in (False, True) if both else (False,):
                for noise in (True, False):
                    label = f"{name} imagine={'on' if imagine else 'off'}{'' if noise else ' zero-noise'}"
                    policies[label] = WAMPolicy(model, imagine=imagine, sample_noise=noise, seed=0)
        policies[f"vla {best['name']}"] = load_vla(f"zoo:{best['name']}")
        same_budget = _same_budget_vla(best, steps)
        if same_budget is not None:  # the same VLA run's snapshot at the ablation's step count
            policies[f"vla {same_budget['name']}"] = load_vla(f"zoo:{same_budget['name']}")
        out["policy"] = {name: _policy_success(p, args.episodes, progress) for name, p in policies.items()}
        out["policy_notes"] = (
            "imagine=on is run for the joint models only: the action-only model's future heads and the future-only "
            "model's action head are untrained, so chaining them measures nothing. 'zero-noise': WAMPolicy("
            "sample_noise=False), the sampler started from zero noise; the others sample it (seed 0). The VLA line is the ladder's best "
            f"checkpoint re-evaluated here (its ladder figure: {best['result']['success_rate']:.0%} of "
            f"{best['result']['episodes']})."
        )
        out["speed"] = {
            "train_steps_per_s": {k: v["report"].steps_per_s for k, v in ablation.items()},
            "train_batch_size": batch,
            "sampling_shipped": _sampling_speed(shipped),
            "sampling_steps": int(shipped.config.sampling_steps),
            "torch_threads": torch.get_num_threads(),
        }
        latent, info = _train_latent(args.latent_steps, progress)
        out["latent"] = {"training": info, "drift": _latent_drift(shipped, latent, args.drift_starts, progress)}
        out["regrounding"] = _regrounding(shipped, args.drift_starts, progress, latent)
    _fold(out)
    out["total_s"] = round(time.perf_counter() - started, 1)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps(json_safe(out), indent=2) + "\n").encode())
    _plot(out, path.with_suffix(".png"))
    print(f"wrote {path} and {path.with_suffix('.png')} in {out['total_s']:.0f} s")
    for name, r in out["policy"].items():
        print(f"  {name}: {r['successes']}/{r['episodes']} ({r['ci_low']:.2f}-{r['ci_high']:.2f})")
    for name, v in out["drift"]["predictors"].items():
        print(
            f"  drift {name}: "
            + " ".join(f"h{h}={x:.3f}" for h, x in zip(out["drift"]["horizons"], v["nrmse"]["value"], strict=True))
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
