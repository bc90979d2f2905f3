"""Ground-truth success of a policy in MuJoCo: the tabletop env, batched over envs, seeded.

:func:`evaluate_in_mujoco` runs ``episodes`` episodes of a tabletop family, ``num_envs`` at a time. Episode ``i``
resets with seed ``seed + i``, so two policies evaluated with the same seed face the same instructions and layouts.
Each wave of ``num_envs`` episodes starts with ``policy.reset(seed=seed + first episode of the wave)``.

**Chunk execution: open loop, whole chunk.** The policy is queried on the whole wave (one row per env, always in the
same order; a finished env's row repeats its last observation and its actions are ignored), and each env executes all
``H`` actions of its chunk before the next query (a policy with ``H = 1`` is queried every step). Every policy in the
ladder is scored this way.

Success is ``info["is_success"]`` at the episode's end (the env terminates on success; otherwise the family's time
limit truncates it). The interval is Wilson's 95 % score interval.

Reference policies (:func:`reference_policy`): ``"expert"`` (the scripted :class:`~neural_gym.envs.tabletop
.TabletopExpert`, one per env row), ``"noisy-expert"`` (the same with Gaussian action noise of std
:data:`NOISY_EXPERT_NOISE`) and ``"random"`` (uniform actions), each seeded.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from neural_gym.metrics import success_interval
from neural_gym.policies.chunking import ChunkExecutor
from neural_gym.policies.protocol import Policy, stack_observations
from neural_gym.progress import progress_bar


@dataclass
class EvalResult:
    """Outcome of :func:`evaluate_in_mujoco`.

    Attributes:
        task: Tabletop family.
        split: Instruction split.
        episodes: Episodes run.
        successes: Episodes that ended in success.
        success_rate: ``successes / episodes``.
        ci_low: Lower end of the Wilson 95 % interval.
        ci_high: Upper end.
        mean_length: Mean episode length (env steps).
        seed: Seed of the first episode.
        wall_s: Seconds the evaluation took.
        per_episode: Success of each episode, in seed order.
    """

    task: str
    split: str
    episodes: int
    successes: int
    success_rate: float
    ci_low: float
    ci_high: float
    mean_length: float
    seed: int
    wall_s: float
    per_episode: list[bool]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields."""
        return asdict(self)


REFERENCES: tuple[str, ...] = ("expert", "noisy-expert", "random")
"""Names :func:`reference_policy` accepts."""
NOISY_EXPERT_NOISE = 1.5
"""Action noise std of the ``"noisy-expert"`` reference."""


def reference_policy(name: str, task: str, seed: int = 0) -> Policy:
    """The scripted expert, a noisy expert (noise std :data:`NOISY_EXPERT_NOISE`) or uniform random actions.

    They are :class:`neural_gym.policies.adapters.ExpertPolicy` (one scripted expert per batch row) and
    :class:`~neural_gym.policies.adapters.RandomPolicy`, seeded with ``seed``.

    Raises:
        ValueError: For a name not in :data:`REFERENCES`.
    """
    if name not in REFERENCES:
        raise ValueError(f"Unknown reference policy {name!r}; expected one of {REFERENCES}.")
    from gymnasium import spaces

    from neural_gym.policies.adapters import ExpertPolicy, RandomPolicy

    if name == "random":
        return RandomPolicy(spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32), seed=seed)
    return ExpertPolicy(task, action_noise=NOISY_EXPERT_NOISE if name == "noisy-expert" else 0.0, seed=seed)


def evaluate_in_mujoco(
    policy: Policy,
    task: str,
    episodes: int = 50,
    *,
    seed: int = 1000,
    split: str = "train",
    num_envs: int = 25,
    image_size: int = 64,
    max_episode_steps: int | None = None,
    progress: bool = True,
) -> EvalResult:
    """Success rate of ``policy`` in ground-truth MuJoCo (see the module doc for the execution rule).

    Args:
        policy: Any :class:`~neural_gym.policies.Policy` reading dict observations.
        task: Tabletop family.
        episodes: Episodes to run (seeds ``seed .. seed + episodes - 1``).
        seed: Seed of the first episode (default 1000: apart from the demos' seeds 0, 1, ...).
        split: ``"train"`` (seen instructions), ``"heldout"`` or ``"all"``.
        num_envs: Envs stepped per wave (the policy's batch size).
        image_size: Frame side of the observations.
        max_episode_steps: Time limit (``None``: the family's default).
        progress: Show a progress bar over episodes.

    Raises:
        ValueError: For ``episodes`` or ``num_envs`` below 1, or an unknown task or split.
        neural_gym.policies.PolicyError: When the policy returns something that is not a valid chunk.
    """
    from neural_gym.envs.tabletop import TabletopEnv

    if episodes < 1 or num_envs < 1:
        raise ValueError(f"episodes and num_envs must be >= 1, got {episodes}, {num_envs}.")
    envs = [
        TabletopEnv(task=task, split=split, obs_mode="dict", image_size=image_size, max_episode_steps=max_episode_steps)
        for _ in range(min(num_envs, episodes))
    ]
    start = time.perf_counter()
    results: list[bool] = []
    lengths: list[int] = []
    bar = progress_bar(total=episodes, desc=f"eval {task}", unit="episode", enabled=progress)
    try:
        for first in range(0, episodes, len(envs)):
            wave = envs[: min(len(envs), episodes - first)]
            obs = [env.reset(seed=seed + first + i)[0] for i, env in enumerate(wave)]
            # The whole wave is queried together ("all") and every row runs its chunk to the end before the next.
            executor = ChunkExecutor(policy, len(wave), query="all")
            executor.reset(seed=seed + first)
            active = [True] * len(wave)
            success = [False] * len(wave)
            length = [0] * len(wave)
            while any(active):
                actions = executor.act(stack_observations(obs))
                for i, env in enumerate(wave):
                    if not active[i]:
                        continue  # a finished env's row repeats its last observation; its action is ignored
                    obs[i], _, terminated, truncated, info = env.step(actions[i])
                    length[i] += 1
                    if terminated or truncated:
                        active[i] = False
                        success[i] = bool(info["is_success"])
            results.extend(success)
            lengths.extend(length)
            bar.update(len(wave))
    finally:
        bar.close()
        for env in envs:
            env.close()
    k = int(sum(results))
    _, low, high = success_interval(k, episodes)
    return EvalResult(
        task=task,
        split=split,
        episodes=episodes,
        successes=k,
        success_rate=k / episodes,
        ci_low=low,
        ci_high=high,
        mean_length=float(np.mean(lengths)),
        seed=int(seed),
        wall_s=round(time.perf_counter() - start, 2),
        per_episode=results,
    )
