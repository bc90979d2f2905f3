"""Demonstrations for behaviour cloning: episodes with frames, states, actions and an instruction, and chunk targets.

:func:`collect_dataset_demos` records expert episodes as a local Minari dataset with the project's collector
(:func:`neural_gym.envs.collect`, ``obs_mode="dict"``) and reads them back (:func:`load_demos`, i.e.
:func:`neural_gym.envs.load_episodes` episodes with frames and an ``instruction``); the ladder trains on these.
:func:`collect_demos` is an in-memory shortcut without a dataset: it rolls :class:`~neural_gym.envs.tabletop.TabletopEnv`
with the scripted :class:`~neural_gym.envs.tabletop.TabletopExpert` and keeps every step's frame, state and action.

Chunk targets (:func:`chunk_targets`): the target of step ``t`` is actions ``t .. t + H - 1``; past the episode's
last action the chunk is padded by repeating the last action, and the mask is 0 on those padded entries (the losses
ignore them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from neural_gym.envs.tabletop import TASK_FAMILIES
from neural_gym.progress import progress_bar


class DemoLike(Protocol):
    """What training reads from an episode (``neural_gym.envs.Episode`` with an instruction, or :class:`Demo`)."""

    frames: np.ndarray | None
    observations: np.ndarray
    actions: np.ndarray
    instruction: str


@dataclass
class Demo:
    """One demonstration episode.

    Attributes:
        frames: ``(T + 1, S, S, 3)`` uint8, ``frames[t]`` seen before ``actions[t]``.
        observations: ``(T + 1, 54)`` float64 state observations.
        actions: ``(T, 4)`` float32 actions.
        instruction: The episode's instruction.
        success: Whether the episode ended in success.
    """

    frames: np.ndarray
    observations: np.ndarray
    actions: np.ndarray
    instruction: str
    success: bool = True

    def __len__(self) -> int:
        return len(self.actions)


def collect_demos(
    task: str,
    episodes: int,
    *,
    seed: int = 0,
    action_noise: float = 0.0,
    split: str = "train",
    image_size: int = 64,
    successful_only: bool = True,
    progress: bool = True,
) -> list[Demo]:
    """Roll the scripted expert in the tabletop env and record ``episodes`` demonstrations.

    Episode ``i`` resets with seed ``seed + i`` (skipping failures when ``successful_only``, with further seeds, so the
    result always holds ``episodes`` demos). The expert's noise is seeded with ``seed``.

    Args:
        task: Tabletop family (``"reach"``, ``"push"``, ``"pick_place"``).
        episodes: Number of demonstrations (>= 1).
        seed: First reset seed.
        action_noise: Std of the Gaussian noise on the expert's actions (the recorded action is the noisy one).
        split: Instruction split of the env.
        image_size: Frame side.
        successful_only: Keep only successful episodes.
        progress: Show a progress bar.

    Raises:
        ValueError: For ``episodes < 1``, an unknown task or split, or when 10x as many tries give too few successes.
    """
    from neural_gym.envs.tabletop import TabletopEnv, TabletopExpert

    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}.")
    env = TabletopEnv(task=task, split=split, obs_mode="dict", image_size=image_size)
    expert = TabletopExpert(task, action_noise=action_noise, seed=seed)
    demos: list[Demo] = []
    tries = 0
    bar = progress_bar(total=episodes, desc=f"demos {task}", unit="episode", enabled=progress)
    try:
        while len(demos) < episodes:
            if tries >= 10 * episodes:
                raise ValueError(f"Only {len(demos)} successful {task} demos in {tries} tries; lower action_noise.")
            obs, _ = env.reset(seed=seed + tries)
            tries += 1
            expert.reset()
            frames, states, actions = [obs["pixels"]], [obs["state"]], []
            done, info = False, {}
            while not done:
                action = expert(obs)
                obs, _, terminated, truncated, info = env.step(action)
                frames.append(obs["pixels"])
                states.append(obs["state"])
                actions.append(action)
                done = terminated or truncated
            success = bool(info.get("is_success", False))
            if successful_only and not success:
                continue
            demos.append(
                Demo(
                    frames=np.stack(frames),
                    observations=np.stack(states).astype(np.float64),
                    actions=np.stack(actions).astype(np.float32),
                    instruction=str(info["instruction"]),
                    success=success,
                )
            )
            bar.update(1)
    finally:
        bar.close()
        env.close()
    return demos


TABLETOP_TASKS: dict[str, str] = {family: name for name, family in TASK_FAMILIES.items()}
"""Registered task name of each tabletop family."""
STEPS_PER_EPISODE: dict[str, int] = {"reach": 25, "push": 60, "pick_place": 100}
"""Transitions :func:`collect_dataset_demos` records per wanted episode (above the expert's mean episode length)."""


def collect_dataset_demos(
    task: str,
    episodes: int,
    *,
    dataset_id: str,
    seed: int = 0,
    action_noise: float = 0.0,
    image_size: int = 64,
    overwrite: bool = True,
    progress: bool = True,
) -> list[Any]:
    """Collect expert episodes of a tabletop family into a local dataset and return its first ``episodes`` complete,
    successful ones.

    :func:`neural_gym.envs.collect` records ``episodes * STEPS_PER_EPISODE[task]`` transitions with the scripted expert
    (``seed`` seeds resets and noise); episodes cut by the end of the collection or ending in failure are skipped.

    Raises:
        ValueError: For an unknown family, ``episodes < 1``, or too few successful episodes in the collection.
    """
    from neural_gym.envs import collect

    if task not in TABLETOP_TASKS:
        raise ValueError(f"Unknown tabletop family {task!r}; expected one of {sorted(TABLETOP_TASKS)}.")
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}.")
    collect(
        TABLETOP_TASKS[task],
        episodes * STEPS_PER_EPISODE[task],
        policy="expert",
        seed=seed,
        dataset_id=dataset_id,
        action_noise=action_noise,
        obs_mode="dict",
        image_size=image_size,
        overwrite=overwrite,
        progress=progress,
    )
    good = [e for e in load_demos(dataset_id) if len(e.terminations) and bool(np.asarray(e.terminations)[-1])]
    if len(good) < episodes:
        raise ValueError(
            f"Dataset {dataset_id} holds {len(good)} successful complete episodes, fewer than the {episodes} asked for."
        )
    return good[:episodes]


def load_demos(dataset_id: str) -> list[Any]:
    """Episodes of a local dataset, checked for what behaviour cloning needs (frames and an instruction).

    Raises:
        FileNotFoundError: When the dataset is not there.
        ValueError: When its episodes have no frames or no instruction.
    """
    from neural_gym.envs import load_episodes

    episodes = load_episodes(dataset_id)
    if not episodes:
        raise ValueError(f"Dataset {dataset_id} holds no episodes.")
    first = episodes[0]
    if getattr(first, "frames", None) is None:
        raise ValueError(f"Dataset {dataset_id} has no frames; collect it with obs_mode='dict' (pixels and state).")
    if not isinstance(getattr(first, "instruction", None), str):
        raise ValueError(f"Dataset {dataset_id} has no instructions; collect it from a tabletop task.")
    return episodes


def check_demos(demos: Sequence[DemoLike], image_size: int) -> None:
    """Raise ``ValueError`` naming the first episode that does not fit behaviour cloning at ``image_size``."""
    if not demos:
        raise ValueError("Behaviour cloning needs at least one episode; got none.")
    for i, d in enumerate(demos):
        frames, obs, actions = d.frames, np.asarray(d.observations), np.asarray(d.actions)
        if frames is None or np.asarray(frames).shape[1:] != (image_size, image_size, 3):
            shape = None if frames is None else np.asarray(frames).shape
            raise ValueError(f"Episode {i}: frames of shape {shape}; expected (T + 1, {image_size}, {image_size}, 3).")
        if actions.ndim != 2 or len(actions) < 1 or len(obs) != len(actions) + 1 or len(frames) != len(obs):
            raise ValueError(
                f"Episode {i}: {len(frames)} frames, {len(obs)} observations, {len(actions)} actions; expected "
                "T + 1, T + 1 and T >= 1."
            )
        if not isinstance(d.instruction, str) or not d.instruction.strip():
            raise ValueError(f"Episode {i} has no instruction.")


def chunk_targets(actions: np.ndarray, chunk_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Targets ``(T, H, A)`` (actions ``t .. t + H - 1``, the last action repeated past the end) and mask ``(T, H)``.

    Args:
        actions: ``(T, A)`` actions of one episode.
        chunk_size: ``H``.

    Returns:
        The targets (float32) and the mask (float32, 1 on real actions, 0 on the repeated padding).
    """
    actions = np.asarray(actions, dtype=np.float32)
    t = len(actions)
    idx = np.arange(t)[:, None] + np.arange(chunk_size)[None, :]
    mask = (idx < t).astype(np.float32)
    return actions[np.minimum(idx, t - 1)], mask
