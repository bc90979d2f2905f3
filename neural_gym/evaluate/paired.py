"""Run a policy in the dream and in ground truth from the same start states."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neural_gym.envs import as_policy, expert, get_task
from neural_gym.world_models import WorldModel

from ..dream_env import DreamEnv
from ..progress import progress_bar


@dataclass
class PairedEpisodes:
    """Returns of one policy over paired episodes (episode ``i`` starts from the same real state in both worlds).

    Attributes:
        real_returns: ``[K]`` returns in the ground-truth simulator.
        dream_returns: ``[K]`` returns in the dream.
        real_lengths: ``[K]`` episode lengths in ground truth.
        dream_lengths: ``[K]`` episode lengths in the dream.
        dream_end: ``[K]`` why each dream episode ended: ``"terminated"``, ``"time_limit"``, ``"uncertainty"`` or
            ``"model_error"``.
        real_returns_over_dream_steps: ``[K]`` the ground-truth return of the paired episode's first
            ``dream_lengths[i]`` steps (its whole return when it ended sooner): what MuJoCo gave over the steps the
            dream served. A dream cut off by its uncertainty serves fewer steps than MuJoCo plays, so its return
            falls short of the whole MuJoCo return even when every served step is right; this is the figure to hold
            it against. ``None`` for records made without it.
    """

    real_returns: np.ndarray
    dream_returns: np.ndarray
    real_lengths: np.ndarray
    dream_lengths: np.ndarray
    dream_end: list[str] = field(default_factory=list)
    real_returns_over_dream_steps: np.ndarray | None = None

    def summary(self) -> dict[str, Any]:
        """Means, standard deviations and end-reason counts, JSON-ready."""
        ends = {k: self.dream_end.count(k) for k in ("terminated", "time_limit", "uncertainty", "model_error")}
        return {
            "episodes": len(self.real_returns),
            "real_return_mean": float(self.real_returns.mean()),
            "real_return_std": float(self.real_returns.std()),
            "dream_return_mean": float(self.dream_returns.mean()),
            "dream_return_std": float(self.dream_returns.std()),
            "real_length_mean": float(self.real_lengths.mean()),
            "dream_length_mean": float(self.dream_lengths.mean()),
            "real_return_over_dream_steps_mean": None
            if self.real_returns_over_dream_steps is None
            else float(self.real_returns_over_dream_steps.mean()),
            "dream_end": ends,
        }


def paired_episodes(
    task: str,
    policy: Any,
    *,
    checkpoint: str | WorldModel | None = None,
    episodes: int = 10,
    seed: int = 0,
    max_episode_steps: int | None = None,
    progress: bool = True,
    **dream_kwargs: Any,
) -> PairedEpisodes:
    """Play ``policy`` for ``episodes`` paired episodes in ground truth and in the dream.

    Each episode's start state is drawn from the ground truth's reset distribution (seeded ``seed + i``) and the
    dream starts from exactly that observation. Models that read ``k > 1`` real steps (``context_length``) start from
    the ground truth's reset plus ``k - 1`` seeded random actions, and both worlds then play ``limit - (k - 1)`` steps;
    for models that observe frames the policy gets the ground truth's frames (``obs_mode="pixels"``) too.

    Args:
        task: ground-truth task name.
        policy: ``"random"``, ``"expert"`` (the task's scripted expert), a callable ``obs -> action``, or an SB3
            model (anything with ``.predict``).
        checkpoint: the world model (path, zoo name or model); default the shipped one.
        episodes: number of paired episodes.
        seed: base seed.
        max_episode_steps: time limit for both worlds (default the task's).
        progress: show a progress bar.
        **dream_kwargs: further :class:`DreamEnv` keyword arguments (``on_uncertain``, ``reward``, ...).
    """
    spec = get_task(task)
    dream = DreamEnv(spec.name, checkpoint, max_episode_steps=max_episode_steps, **dream_kwargs)
    engine = dream.engine
    k = engine.context_length
    # Burn-in models start after k - 1 real steps; both worlds then get the same number of steps.
    limit = (max_episode_steps or spec.max_episode_steps) - (k - 1)
    if limit < 1:
        raise ValueError(f"max_episode_steps must exceed the model's burn-in of {k - 1} steps")
    engine.max_episode_steps = limit
    # The policy sees the same kind of observation in both worlds: frames of the model's size for pixel models.
    real = spec.make(obs_mode="pixels", image_size=engine.obs_shape[:2]) if engine.pixels else spec.make()
    if isinstance(policy, str) and policy == "expert":
        policy = expert(spec.name)
    act = as_policy(policy, real.action_space, seed=seed)
    rows: list[tuple[float, float, int, int, str, float]] = []
    try:
        for i in progress_bar(range(episodes), desc=f"paired episodes ({spec.name})", unit="episode", enabled=progress):
            obs0, options = _start(real, seed + i, k)
            real_rewards = _play(real, act, obs0, limit)
            real_ret, real_len = float(np.sum(real_rewards)), len(real_rewards)
            obs, _ = dream.reset(seed=seed + i, options=options)
            dream_ret, dream_len, end = 0.0, 0, "time_limit"
            while True:
                obs, r, term, trunc, info = dream.step(act(obs))
                dream_ret += float(r)
                dream_len += 1
                if term or trunc:
                    if info["model_error"]:
                        end = "model_error"
                    elif term:
                        end = "terminated"
                    elif info["uncertainty_exceeded"]:
                        end = "uncertainty"
                    break
            rows.append((real_ret, dream_ret, real_len, dream_len, end, float(np.sum(real_rewards[:dream_len]))))
    finally:
        real.close()
        dream.close()
    cols = list(zip(*rows, strict=True)) if rows else [[], [], [], [], [], []]
    return PairedEpisodes(
        real_returns=np.asarray(cols[0], dtype=np.float64),
        dream_returns=np.asarray(cols[1], dtype=np.float64),
        real_lengths=np.asarray(cols[2], dtype=np.int64),
        dream_lengths=np.asarray(cols[3], dtype=np.int64),
        dream_end=list(cols[4]),
        real_returns_over_dream_steps=np.asarray(cols[5], dtype=np.float64),
    )


def _start(real: Any, seed: int, k: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Reset the ground truth (and play ``k - 1`` seeded random burn-in actions); the dream's reset options."""
    rng = np.random.default_rng(seed)
    low, high = real.action_space.low, real.action_space.high
    for attempt in range(100):
        obs, _ = real.reset(seed=seed + 1_000_003 * attempt)
        observations, actions, ended = [obs], [], False
        for _ in range(k - 1):
            actions.append(rng.uniform(low, high))
            obs, _, terminated, truncated, _ = real.step(actions[-1])
            observations.append(obs)
            ended = terminated or truncated
            if ended:
                break
        if not ended:
            if k == 1:
                return obs, {"obs": obs}
            return obs, {"obs": np.stack(observations), "actions": np.stack(actions)}
    raise RuntimeError(f"100 ground-truth episodes ended within the {k - 1} burn-in steps")


def _play(env: Any, act: Any, obs: np.ndarray, limit: int) -> list[float]:
    """The rewards of one ground-truth episode of at most ``limit`` steps."""
    rewards: list[float] = []
    while len(rewards) < limit:
        obs, r, term, trunc, _ = env.step(act(obs))
        rewards.append(float(r))
        if term or trunc:
            break
    return rewards
