"""How well the shipped tabletop dreams (``zoo:TabletopReach``, ``zoo:TabletopPush``, ``zoo:TabletopPickPlace``) predict
held-out noisy-expert play, and how often their success verdict agrees with MuJoCo's.

Held-out data: the scripted expert with action noise 0.3 (a fraction of the half action range, as ``collect``), seeds
``1000, 1001, ...`` (the checkpoints trained on seed 0 data with noise 0.4 and random episodes), no random episodes.
For each task:

* ``one_step_mse``: mean over transitions and state dimensions of ``((pred - next) / sigma)^2``, ``pred`` the ensemble
  mean's next observation from the real observation and action, ``sigma`` the model's training-observation std per
  dimension (constant dimensions read 1); ``copy_last_mse`` the same for predicting no change. Also
  ``checkpoint_holdout_mse``, the figure the checkpoint records (normalized delta targets on its own held-out episodes).
* ``step_success``: per step of those episodes, the task's exact success rule on the one-step prediction against the
  ground truth's ``is_success``: agreement over all steps, and recall / precision of the success steps.
* ``episode_success`` (open loop): the dream starts from the episode's real start observation and replays its recorded
  actions (ensemble mean, no uncertainty cut-off); the dream "succeeds" if the success rule holds at any step up to the
  real episode's length. Agreement of that verdict with the real episode's ``terminated``.
* ``closed_loop``: the noisy expert plays the Dream env (``gym.make("neural_gym/<Task>-v0")`` defaults: the shipped
  checkpoint, each episode following one elite, cut off when the calibrated disagreement is exceeded) and MuJoCo from
  the same start state (its own noise draws in each world); agreement of "the episode ended in success" (dream:
  terminated by the known success rule), and how the dream episodes ended.

Written to ``benchmarks/results/tabletop_dreams.json``:

    OMP_NUM_THREADS=1 python benchmarks/tabletop_dreams.py [--episodes 20] [--noise 0.3] [--checkpoints DIR --out F]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
TASKS = ("TabletopReach", "TabletopPush", "TabletopPickPlace")


def _real_episodes(name: str, episodes: int, noise: float, seed: int) -> list[dict[str, np.ndarray]]:
    """Noisy-expert episodes in MuJoCo: observations, actions, per-step success flags, terminated."""
    from neural_gym.envs import get_task
    from neural_gym.envs.tabletop import TASK_FAMILIES, TabletopExpert

    env = get_task(name).make()
    out = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        controller = TabletopExpert(TASK_FAMILIES[name], action_noise=noise, seed=seed + i)
        observations, actions, success = [obs], [], []
        terminated = truncated = False
        while not (terminated or truncated):
            action = controller(obs)
            obs, _, terminated, truncated, info = env.step(action)
            observations.append(obs)
            actions.append(action)
            success.append(bool(info["is_success"]))
        out.append(
            {
                "obs": np.stack(observations),
                "actions": np.stack(actions).astype(np.float64),
                "success": np.array(success),
                "terminated": bool(terminated),
            }
        )
    env.close()
    return out


def _measure(name: str, episodes: int, noise: float, seed: int, checkpoint: str) -> dict[str, Any]:
    import gymnasium as gym
    import torch

    from neural_gym.envs import get_task
    from neural_gym.envs.tabletop import TASK_FAMILIES, TabletopExpert
    from neural_gym.world_models.checkpoint import load_checkpoint

    task = get_task(name)
    model = load_checkpoint(checkpoint)
    model.eval()
    real = _real_episodes(name, episodes, noise, seed)
    sigma = model.obs_std.detach().cpu().numpy().astype(np.float64)

    # One step from every real transition.
    obs = np.concatenate([ep["obs"][:-1] for ep in real])
    nxt = np.concatenate([ep["obs"][1:] for ep in real])
    act = np.concatenate([ep["actions"] for ep in real])
    with torch.no_grad():
        pred = model.observe(model.step(torch.as_tensor(obs, dtype=torch.float32), torch.as_tensor(act)).state)
    pred = pred.cpu().numpy().astype(np.float64)
    real_success = np.concatenate([ep["success"] for ep in real])
    pred_success = np.asarray(task.success_fn(obs, act, pred), dtype=bool)
    both = int((pred_success & real_success).sum())

    # Open loop from each real start with the recorded actions.
    agree_open, dream_open = 0, []
    for ep in real:
        state = model.initial_state(torch.as_tensor(ep["obs"][:1], dtype=torch.float32))
        current = ep["obs"][:1]
        hit = False
        with torch.no_grad():
            for a in ep["actions"]:
                state = model.step(state, torch.as_tensor(a[None])).state
                nxt_obs = model.observe(state).cpu().numpy().astype(np.float64)
                hit = hit or bool(task.success_fn(current, a[None], nxt_obs)[0])
                current = nxt_obs
        dream_open.append(hit)
        agree_open += int(hit == ep["terminated"])

    # Closed loop: the noisy expert in the Dream env and in MuJoCo from the same start state.
    dream = gym.make(f"neural_gym/{name}-v0", checkpoint=checkpoint)
    ground = task.make()
    closed_agree, ends, dream_success, real_closed = 0, {"success": 0, "time_limit": 0, "uncertainty": 0}, 0, 0
    for i in range(episodes):
        obs0, _ = ground.reset(seed=seed + 500 + i)
        controller = TabletopExpert(TASK_FAMILIES[name], action_noise=noise, seed=seed + 500 + i)
        o, terminated, truncated = obs0, False, False
        while not (terminated or truncated):
            o, _, terminated, truncated, _ = ground.step(controller(o))
        real_ok = bool(terminated)
        controller = TabletopExpert(TASK_FAMILIES[name], action_noise=noise, seed=seed + 500 + i)
        o, _ = dream.reset(seed=i, options={"obs": obs0})
        terminated = truncated = False
        info: dict[str, Any] = {}
        while not (terminated or truncated):
            o, _, terminated, truncated, info = dream.step(controller(o))
        dream_ok = bool(terminated)
        ends["success" if dream_ok else "uncertainty" if info.get("uncertainty_exceeded") else "time_limit"] += 1
        closed_agree += int(dream_ok == real_ok)
        dream_success += int(dream_ok)
        real_closed += int(real_ok)
    dream.close()
    ground.close()

    spec = model.spec
    return {
        "checkpoint_holdout_mse": spec.provenance.get("best_holdout_mse"),
        "checkpoint_dataset": spec.provenance.get("dataset_id"),
        "transitions": len(obs),
        "one_step_mse": float(np.mean(((pred - nxt) / sigma) ** 2)),
        "copy_last_mse": float(np.mean(((obs - nxt) / sigma) ** 2)),
        "step_success": {
            "agreement": float(np.mean(pred_success == real_success)),
            "real_success_steps": int(real_success.sum()),
            "recall": both / max(int(real_success.sum()), 1),
            "precision": both / max(int(pred_success.sum()), 1),
        },
        "episode_success": {
            "episodes": episodes,
            "real_successes": int(sum(ep["terminated"] for ep in real)),
            "dream_successes": int(sum(dream_open)),
            "agreement": agree_open / episodes,
        },
        "closed_loop": {
            "episodes": episodes,
            "real_successes": real_closed,
            "dream_successes": dream_success,
            "agreement": closed_agree / episodes,
            "dream_end": ends,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=20, help="noisy-expert episodes per task (default 20)")
    parser.add_argument("--noise", type=float, default=0.3, help="expert action noise (default 0.3)")
    parser.add_argument("--seed", type=int, default=1000, help="first reset seed (default 1000)")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument(
        "--checkpoints", default=None, help="folder of <Task>.safetensors to measure instead of the shipped ones"
    )
    parser.add_argument("--out", default=str(RESULTS / "tabletop_dreams.json"), help="JSON path")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # a script, not library code: one thread, as the checkpoints were trained
    results: dict[str, Any] = {
        "settings": {
            "episodes": args.episodes,
            "noise": args.noise,
            "seed": args.seed,
            "torch_threads": 1,
            "checkpoints": args.checkpoints or "zoo",
        },
        "tasks": {},
    }
    for name in args.tasks:
        start = time.perf_counter()
        checkpoint = f"zoo:{name}" if args.checkpoints is None else str(Path(args.checkpoints) / f"{name}.safetensors")
        results["tasks"][name] = _measure(name, args.episodes, args.noise, args.seed, checkpoint)
        results["tasks"][name]["seconds"] = round(time.perf_counter() - start, 1)
        print(name, json.dumps(results["tasks"][name], indent=1))
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    from neural_gym.world_models.checkpoint import atomic_write

    atomic_write(path, (json.dumps(results, indent=2) + "\n").encode())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
