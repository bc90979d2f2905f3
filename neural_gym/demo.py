"""The main job: train an SB3 agent inside the dream, then judge it in MuJoCo."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neural_gym.envs import get_task

from .evaluate import PairedEpisodes, paired_episodes
from .vector_env import DreamVectorEnv


@dataclass
class DemoResult:
    """What the demo measured.

    Attributes:
        task: the task trained on.
        algo: the SB3 algorithm.
        timesteps: dream steps of training.
        train_seconds: wall time of training.
        agent: paired dream/real episodes of the trained agent.
        random: paired dream/real episodes of a uniform random policy (the floor).
        plot: path of the PNG written.
        json: path of the JSON written.
    """

    task: str
    algo: str
    timesteps: int
    train_seconds: float
    agent: PairedEpisodes
    random: PairedEpisodes
    plot: Path
    json: Path

    def table(self) -> str:
        """A plain-text table of dream vs real returns."""
        lines = [
            f"{self.algo} trained for {self.timesteps} steps inside the dream of {self.task} ({self.train_seconds:.0f} s)",
            "",
            f"{'policy':<10} {'dream return':>18} {'MuJoCo return':>18} {'dream len':>10} {'real len':>9}",
        ]
        for name, p in (("agent", self.agent), ("random", self.random)):
            s = p.summary()
            lines.append(
                f"{name:<10} {s['dream_return_mean']:>10.1f} ± {s['dream_return_std']:<5.1f} "
                f"{s['real_return_mean']:>10.1f} ± {s['real_return_std']:<5.1f} "
                f"{s['dream_length_mean']:>10.1f} {s['real_length_mean']:>9.1f}"
            )
        ends = self.agent.summary()["dream_end"]
        lines.append("")
        lines.append("agent's dream episodes ended by: " + ", ".join(f"{k} {v}" for k, v in ends.items()))
        return "\n".join(lines)


def run_demo(
    task: str = "InvertedPendulum",
    *,
    algo: str = "PPO",
    timesteps: int = 60_000,
    num_envs: int = 16,
    eval_episodes: int = 10,
    seed: int = 0,
    checkpoint: str | None = None,
    out_dir: str | Path = "outputs/demo",
    device: str = "auto",
    progress: bool = True,
) -> DemoResult:
    """Train ``algo`` inside ``neural_gym/<task>-v0`` and evaluate it in MuJoCo from paired start states.

    Args:
        task: ground-truth task (its shipped checkpoint is the dream).
        algo: ``"PPO"`` or ``"SAC"``.
        timesteps: dream steps to train for.
        num_envs: parallel dream envs (one model forward pass steps them all).
        eval_episodes: paired episodes for the evaluation.
        seed: seeds the dream, the agent and the evaluation.
        checkpoint: another world model to dream with.
        out_dir: where the plot and JSON go.
        device: device for the world model and the agent.
        progress: progress bars.
    """
    from stable_baselines3 import PPO, SAC

    spec = get_task(task)
    algos: dict[str, Any] = {"PPO": PPO, "SAC": SAC}
    if algo.upper() not in algos:
        raise ValueError(f"algo must be one of {sorted(algos)}, got {algo!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    venv = DreamVectorEnv(spec.name, checkpoint, num_envs=num_envs, device=device).to_sb3()
    venv.seed(seed)
    cls = algos[algo.upper()]
    kwargs: dict[str, Any] = {"seed": seed, "device": "cpu" if device == "auto" else device, "verbose": 0}
    if cls is PPO:
        kwargs.update(n_steps=max(64, 2048 // num_envs), batch_size=256, n_epochs=10, learning_rate=3e-4)
    agent = cls("MlpPolicy", venv, **kwargs)
    t0 = time.perf_counter()
    agent.learn(total_timesteps=timesteps, progress_bar=progress)
    train_seconds = time.perf_counter() - t0
    venv.close()

    def policy(obs: np.ndarray) -> np.ndarray:
        return agent.predict(obs, deterministic=True)[0]

    common = {"checkpoint": checkpoint, "episodes": eval_episodes, "seed": seed + 10_000, "progress": progress}
    trained = paired_episodes(spec.name, policy, **common)
    rand = paired_episodes(spec.name, "random", **common)
    plot = out / f"demo_{spec.name}.png"
    _plot(spec.name, algo.upper(), trained, rand, plot)
    js = out / f"demo_{spec.name}.json"
    payload = {
        "task": spec.name,
        "algo": algo.upper(),
        "timesteps": timesteps,
        "num_envs": num_envs,
        "seed": seed,
        "train_seconds": train_seconds,
        "agent": {**trained.summary(), "real_returns": trained.real_returns.tolist(), "dream_returns": trained.dream_returns.tolist()},
        "random": {**rand.summary(), "real_returns": rand.real_returns.tolist(), "dream_returns": rand.dream_returns.tolist()},
    }
    tmp = js.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(js)
    agent.save(out / f"{algo.lower()}_{spec.name}")
    return DemoResult(spec.name, algo.upper(), timesteps, train_seconds, trained, rand, plot, js)


def _plot(task: str, algo: str, agent: PairedEpisodes, rand: PairedEpisodes, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    names = ["random", f"{algo} (dream-trained)"]
    for k, (label, attr) in enumerate((("dream", "dream_returns"), ("MuJoCo", "real_returns"))):
        vals = [getattr(rand, attr), getattr(agent, attr)]
        ax1.bar(np.arange(2) + (k - 0.5) * 0.38, [v.mean() for v in vals], 0.38, yerr=[v.std() for v in vals],
                label=label, capsize=4)
    ax1.set_xticks(range(2), names)
    ax1.set_ylabel("episode return")
    ax1.set_title(f"{task}: dream vs MuJoCo")
    ax1.legend()
    for p, name, marker in ((rand, "random", "x"), (agent, algo, "o")):
        ax2.scatter(p.real_returns, p.dream_returns, label=name, marker=marker)
    lo = min(np.min(agent.real_returns), np.min(rand.real_returns), np.min(agent.dream_returns), np.min(rand.dream_returns))
    hi = max(np.max(agent.real_returns), np.max(rand.real_returns), np.max(agent.dream_returns), np.max(rand.dream_returns))
    ax2.plot([lo, hi], [lo, hi], "k--", lw=1, label="dream = MuJoCo")
    ax2.set_xlabel("MuJoCo return")
    ax2.set_ylabel("dream return (same start state)")
    ax2.set_title("paired episodes")
    ax2.legend()
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
