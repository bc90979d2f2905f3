"""Read the local Minari datasets that :func:`neural_gym.envs.collect.collect` writes, as episodes or flat transitions.

Pixel datasets (``collect(..., obs_mode="pixels")``) store dict observations ``{"pixels", "state"}``. They load as
episodes whose ``observations`` are the state vectors and whose ``frames`` are the uint8 frames; :class:`Transitions`
(flat rows for state models) carry the states only, so frames come from :func:`load_episodes`.

Tasks with language (the tabletop suite): ``Episode.instruction`` is the episode's instruction, read from the Minari
episode metadata ``"instruction"`` that :func:`neural_gym.envs.collect.collect` writes in every observation mode (pixel
datasets also hold it per step in the observation's ``"instruction"`` Text entry, which must agree); ``None`` for
tasks without language.

Example:
    >>> data = load_transitions("neural_gym/HalfCheetah/random-v0")
    >>> train, held_out = data.split(0.1, seed=0)
    >>> train.observations.shape, train.physics_states.shape
    >>> episodes = load_episodes("neural_gym/Reacher/random-pixels64-v0")
    >>> episodes[0].frames.shape, episodes[0].frames.dtype     # ((51, 64, 64, 3), dtype('uint8'))
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neural_gym.envs.observations import PIXELS_KEY, STATE_KEY

PHYSICS_STATE_KEY = "physics_state"
"""Key of the physics state in each step's ``info`` of a collected dataset."""
INSTRUCTION_KEY = "instruction"
"""Key of the instruction in episode metadata and in the dict observations of tasks with language."""


class DatasetAlignmentError(ValueError):
    """Arrays of a dataset do not line up (lengths, shapes, non-finite values, or broken episode continuity)."""


class DatasetTaskError(ValueError):
    """A dataset was recorded on another environment than the task it is used for."""


@dataclass
class Episode:
    """One episode, aligned as Minari stores it.

    ``observations[t]`` is the observation before ``actions[t]``; ``observations[t + 1]`` the one after it.

    Attributes:
        id: Episode id within the dataset.
        observations: ``(T + 1, O)`` float64.
        actions: ``(T, A)`` float64.
        rewards: ``(T,)`` float64.
        terminations: ``(T,)`` bool.
        truncations: ``(T,)`` bool.
        physics_states: ``(T + 1, S)`` float64, the physics state whose observation is ``observations[t]``, or
            ``None`` if the dataset did not record them.
        frames: ``(T + 1, H, W, 3)`` uint8, ``frames[t]`` the rendered frame of the state ``observations[t]`` (pixel
            datasets), or ``None``.
        instruction: The episode's language instruction (tasks with language), or ``None``.
    """

    id: int
    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminations: np.ndarray
    truncations: np.ndarray
    physics_states: np.ndarray | None = None
    frames: np.ndarray | None = None
    instruction: str | None = None

    def __len__(self) -> int:
        """Number of transitions ``T``."""
        return len(self.actions)

    def validate(self) -> None:
        """Check that the arrays line up.

        Raises:
            DatasetAlignmentError: Naming the episode id and the offending lengths (or, for frames, the shape or
                dtype).
        """
        n_obs, n_act = len(self.observations), len(self.actions)
        lengths = {
            "rewards": len(self.rewards),
            "terminations": len(self.terminations),
            "truncations": len(self.truncations),
        }
        if n_act == 0:
            raise DatasetAlignmentError(f"Episode {self.id} has no transitions.")
        if n_obs != n_act + 1:
            raise DatasetAlignmentError(
                f"Episode {self.id}: expected len(observations) == len(actions) + 1, got {n_obs} observations "
                f"and {n_act} actions."
            )
        for key, n in lengths.items():
            if n != n_act:
                raise DatasetAlignmentError(f"Episode {self.id}: {n_act} actions but {n} {key}.")
        if self.physics_states is not None and len(self.physics_states) != n_obs:
            raise DatasetAlignmentError(
                f"Episode {self.id}: {len(self.physics_states)} physics states for {n_obs} observations "
                "(expected one per observation)."
            )
        if self.frames is not None:
            if self.frames.ndim != 4 or self.frames.shape[-1] != 3:
                raise DatasetAlignmentError(
                    f"Episode {self.id}: frames must be (T + 1, H, W, 3), got shape {self.frames.shape}."
                )
            if len(self.frames) != n_obs:
                raise DatasetAlignmentError(
                    f"Episode {self.id}: {len(self.frames)} frames for {n_obs} observations (expected one per "
                    "observation)."
                )
            if self.frames.dtype != np.uint8:
                raise DatasetAlignmentError(f"Episode {self.id}: frames must be uint8, got {self.frames.dtype}.")


@dataclass
class Transitions:
    """Flat ``(s, a, r, s')`` rows of one or more episodes, rows of each episode consecutive and in time order.

    State only: the frames of pixel datasets are not copied into rows (that would store each frame twice); read
    them per episode with :func:`load_episodes` (``Episode.frames``).

    Attributes:
        observations: ``(N, O)`` float64.
        actions: ``(N, A)`` float64.
        rewards: ``(N,)`` float64.
        next_observations: ``(N, O)`` float64.
        terminations: ``(N,)`` bool.
        truncations: ``(N,)`` bool.
        episode_ids: ``(N,)`` int64.
        physics_states: ``(N, S)`` float64, the state before the action (whose observation is ``observations[i]``),
            or ``None``.
        dataset_id: The Minari id the rows came from, if any.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray
    terminations: np.ndarray
    truncations: np.ndarray
    episode_ids: np.ndarray
    physics_states: np.ndarray | None = None
    dataset_id: str | None = None

    def __len__(self) -> int:
        """Number of transitions ``N``."""
        return len(self.observations)

    def validate(self) -> None:
        """Check shapes, finiteness and continuity within episodes.

        Continuity: for consecutive rows ``i, i + 1`` of the same episode, ``next_observations[i]`` must equal
        ``observations[i + 1]`` exactly (they are the same recorded observation).

        Raises:
            DatasetAlignmentError: Saying which array, episode and step is off.
        """
        n = len(self.observations)
        if self.observations.ndim != 2 or self.next_observations.shape != self.observations.shape:
            raise DatasetAlignmentError(
                f"observations {self.observations.shape} and next_observations {self.next_observations.shape} "
                "must both be (N, O)."
            )
        if self.actions.ndim != 2 or len(self.actions) != n:
            raise DatasetAlignmentError(f"actions must be ({n}, A), got {self.actions.shape}.")
        for key in ("rewards", "terminations", "truncations", "episode_ids"):
            shape = getattr(self, key).shape
            if shape != (n,):
                raise DatasetAlignmentError(f"{key} must have shape ({n},), got {shape}.")
        if self.physics_states is not None and (self.physics_states.ndim != 2 or len(self.physics_states) != n):
            raise DatasetAlignmentError(f"physics_states must be ({n}, S), got {self.physics_states.shape}.")

        steps = self._steps_within_episode()
        for key in ("observations", "actions", "rewards", "next_observations", "physics_states"):
            values = getattr(self, key)
            if values is None:
                continue
            bad = ~np.isfinite(values.reshape(n, -1)).all(axis=1)
            if bad.any():
                i = int(np.argmax(bad))
                raise DatasetAlignmentError(
                    f"{key} is not finite at row {i} (episode {self.episode_ids[i]}, step {steps[i]})."
                )

        same_episode = self.episode_ids[1:] == self.episode_ids[:-1]
        ended_early = same_episode & (self.terminations[:-1] | self.truncations[:-1])
        if ended_early.any():
            i = int(np.argmax(ended_early))
            raise DatasetAlignmentError(
                f"Episode {self.episode_ids[i]} ends (terminated or truncated) at step {steps[i]} (row {i}) but has "
                "more rows after it."
            )
        broken = same_episode & ~(self.next_observations[:-1] == self.observations[1:]).all(axis=1)
        if broken.any():
            i = int(np.argmax(broken))
            gap = np.abs(self.next_observations[i] - self.observations[i + 1]).max()
            raise DatasetAlignmentError(
                f"Episode {self.episode_ids[i]} is not continuous at step {steps[i]} (row {i}): next_observations[{i}] "
                f"!= observations[{i + 1}] (max abs difference {gap:.3g})."
            )

    def _steps_within_episode(self) -> np.ndarray:
        """Index of each row within its run of equal episode ids."""
        n = len(self.episode_ids)
        starts = np.ones(n, dtype=bool)
        starts[1:] = self.episode_ids[1:] != self.episode_ids[:-1]
        start_index = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
        return np.arange(n) - start_index

    def subset(self, rows: np.ndarray) -> Transitions:
        """Rows selected by an index array or bool mask (order kept as given).

        Args:
            rows: Integer indices or a bool mask of length ``N``.

        Returns:
            A new :class:`Transitions` with copies of the selected rows.
        """
        return Transitions(
            observations=self.observations[rows],
            actions=self.actions[rows],
            rewards=self.rewards[rows],
            next_observations=self.next_observations[rows],
            terminations=self.terminations[rows],
            truncations=self.truncations[rows],
            episode_ids=self.episode_ids[rows],
            physics_states=None if self.physics_states is None else self.physics_states[rows],
            dataset_id=self.dataset_id,
        )

    def split(self, holdout_fraction: float, seed: int) -> tuple[Transitions, Transitions]:
        """Split into ``(train, held_out)`` by whole episodes.

        ``round(holdout_fraction * n_episodes)`` episodes, chosen at random with ``seed``, are held out, clamped to
        at least one and at most ``n_episodes - 1`` when ``holdout_fraction > 0``. With a single episode there is no
        whole-episode split, so its last ``round(holdout_fraction * N)`` rows (at least one) are held out instead.

        Args:
            holdout_fraction: Fraction in ``[0, 1)`` to hold out.
            seed: Seed of the episode shuffle.

        Returns:
            ``(train, held_out)``, each with rows in their original order.

        Raises:
            ValueError: If ``holdout_fraction`` is outside ``[0, 1)`` or there are fewer than two rows to split.
        """
        if not 0.0 <= holdout_fraction < 1.0:
            raise ValueError(f"holdout_fraction must be in [0, 1), got {holdout_fraction}.")
        n = len(self)
        if holdout_fraction == 0.0:
            return self.subset(np.arange(n)), self.subset(np.arange(0))
        episodes = np.unique(self.episode_ids)
        if len(episodes) == 1:
            if n < 2:
                raise ValueError(f"Cannot split {n} transition(s).")
            n_hold = min(max(1, round(holdout_fraction * n)), n - 1)
            hold = np.zeros(n, dtype=bool)
            hold[n - n_hold :] = True
        else:
            n_hold = min(max(1, round(holdout_fraction * len(episodes))), len(episodes) - 1)
            rng = np.random.default_rng(seed)
            held_episodes = rng.choice(episodes, size=n_hold, replace=False)
            hold = np.isin(self.episode_ids, held_episodes)
        return self.subset(~hold), self.subset(hold)

    @classmethod
    def from_episodes(cls, episodes: Sequence[Episode], dataset_id: str | None = None) -> Transitions:
        """Flatten episodes into transitions.

        Args:
            episodes: Validated-or-not episodes (each is validated here).
            dataset_id: Recorded on the result.

        Returns:
            The transitions (state only, ``Episode.frames`` are left out); ``physics_states`` is ``None`` unless every
            episode has them.

        Raises:
            DatasetAlignmentError: If an episode is misaligned.
            ValueError: If ``episodes`` is empty.
        """
        if len(episodes) == 0:
            raise ValueError("No episodes to build transitions from.")
        for episode in episodes:
            episode.validate()
        first = episodes[0]
        for episode in episodes[1:]:
            for key in ("observations", "actions"):
                if getattr(episode, key).shape[1:] != getattr(first, key).shape[1:]:
                    raise DatasetAlignmentError(
                        f"Episode {episode.id}: {key} of shape {getattr(episode, key).shape[1:]} per step, but episode "
                        f"{first.id} has {getattr(first, key).shape[1:]}."
                    )
        with_states = all(ep.physics_states is not None for ep in episodes)
        return cls(
            observations=np.concatenate([ep.observations[:-1] for ep in episodes]).astype(np.float64),
            actions=np.concatenate([ep.actions for ep in episodes]).astype(np.float64),
            rewards=np.concatenate([ep.rewards for ep in episodes]).astype(np.float64),
            next_observations=np.concatenate([ep.observations[1:] for ep in episodes]).astype(np.float64),
            terminations=np.concatenate([ep.terminations for ep in episodes]).astype(bool),
            truncations=np.concatenate([ep.truncations for ep in episodes]).astype(bool),
            episode_ids=np.concatenate([np.full(len(ep), ep.id, dtype=np.int64) for ep in episodes]),
            physics_states=(
                np.concatenate([ep.physics_states[:-1] for ep in episodes]).astype(np.float64)  # type: ignore[index]
                if with_states
                else None
            ),
            dataset_id=dataset_id,
        )


def datasets_root() -> Path:
    """The folder Minari keeps local datasets in: ``MINARI_DATASETS_PATH``, default ``~/.minari/datasets``.

    Unlike Minari's own lookup, this creates nothing.
    """
    root = os.environ.get("MINARI_DATASETS_PATH")
    return Path(root) if root is not None else Path(os.path.expanduser("~")) / ".minari" / "datasets"


def dataset_path(dataset_id: str) -> Path:
    """The folder of a local Minari dataset (where :func:`neural_gym.envs.collect.collect` writes ``dataset_id``).

    Args:
        dataset_id: Minari id ``(namespace/)name-v<version>``, e.g. ``"neural_gym/HalfCheetah/random-v0"``.

    Returns:
        ``datasets_root() / dataset_id`` (it may not exist).

    Raises:
        ValueError: For a malformed dataset id.
    """
    from minari.dataset.minari_dataset import parse_dataset_id

    parse_dataset_id(dataset_id)
    return datasets_root() / dataset_id


def _read_metadata(dataset_id: str) -> dict[str, Any]:
    """The ``data/metadata.json`` Minari keeps beside a local dataset (JSON, never pickle)."""
    path = dataset_path(dataset_id) / "data" / "metadata.json"
    try:
        text = path.read_text()
    except FileNotFoundError as error:
        raise FileNotFoundError(_missing_dataset_message(dataset_id)) from error
    try:
        metadata = json.loads(text)
    except json.JSONDecodeError as error:
        raise DatasetAlignmentError(f"Dataset {dataset_id!r}: {path} is not valid JSON ({error}).") from error
    if not isinstance(metadata, dict):
        raise DatasetAlignmentError(
            f"Dataset {dataset_id!r}: {path} holds {type(metadata).__name__}, expected an object."
        )
    return metadata


def dataset_env_id(dataset_id: str) -> str | None:
    """The gymnasium id of the environment a local dataset was recorded on.

    Read from Minari's metadata: the recording env's ``env_spec`` (what :func:`neural_gym.envs.collect.collect`
    stores), else the ``eval_env_spec``.

    Args:
        dataset_id: Minari id.

    Returns:
        E.g. ``"HalfCheetah-v5"``, or ``None`` when the dataset records no environment.

    Raises:
        FileNotFoundError: If the dataset is not in ``MINARI_DATASETS_PATH``.
        DatasetAlignmentError: If the metadata is unreadable.
    """
    metadata = _read_metadata(dataset_id)
    for key in ("env_spec", "eval_env_spec"):
        raw = metadata.get(key)
        if not raw:
            continue
        try:
            spec = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as error:
            raise DatasetAlignmentError(
                f"Dataset {dataset_id!r}: metadata {key!r} is not valid JSON ({error})."
            ) from error
        env_id = spec.get("id") if isinstance(spec, dict) else None
        if env_id:
            return str(env_id)
    return None


def check_dataset_env(dataset_id: str, env_id: str) -> None:
    """Refuse a dataset recorded on another environment than ``env_id``.

    Args:
        dataset_id: Minari id.
        env_id: The task's gymnasium id, e.g. ``"Walker2d-v5"``.

    Raises:
        DatasetTaskError: If the dataset was recorded on another environment (even one with the same dimensions).
        FileNotFoundError: If the dataset is not in ``MINARI_DATASETS_PATH``.

    Warns:
        UserWarning: If the dataset records no environment (it cannot be checked).
    """
    recorded = dataset_env_id(dataset_id)
    if recorded is None:
        warnings.warn(
            f"Dataset {dataset_id!r} records no environment (no env_spec in its Minari metadata), so it cannot be "
            f"checked against {env_id}.",
            UserWarning,
            stacklevel=2,
        )
    elif recorded != env_id:
        raise DatasetTaskError(
            f"Dataset {dataset_id!r} was recorded on {recorded}, not on {env_id}: it is data of another task. Use a "
            f"dataset collected on {env_id} (`neural-gym collect --task {env_id.split('-v')[0]}`)."
        )


def _missing_dataset_message(dataset_id: str) -> str:
    root = os.environ.get("MINARI_DATASETS_PATH", os.path.join("~", ".minari", "datasets") + " (default)")
    return (
        f"Dataset {dataset_id!r} not found under MINARI_DATASETS_PATH={root}. Create it with "
        "`neural-gym collect --task <Task> ...` (or neural_gym.envs.collect(...)), or point MINARI_DATASETS_PATH at the folder "
        "that holds it."
    )


def load_episodes(dataset_id: str, *, env_id: str | None = None) -> list[Episode]:
    """Load every episode of a local Minari dataset.

    Args:
        dataset_id: Minari id, e.g. ``"neural_gym/HalfCheetah/random-v0"``.
        env_id: If given, the gymnasium id the dataset must have been recorded on (see :func:`check_dataset_env`).

    Returns:
        The episodes in stored order, arrays as float64/bool; ``physics_states`` from the ``"physics_state"`` info
        when recorded. For pixel datasets (dict observations ``{"pixels", "state"}``, plus ``"instruction"`` for tasks
        with language) ``observations`` are the states and ``frames`` the uint8 frames, as stored. ``instruction``
        from the episode metadata (or the per-step text), else ``None``.

    Raises:
        FileNotFoundError: If the dataset is not in ``MINARI_DATASETS_PATH``.
        DatasetAlignmentError: If an episode's arrays do not line up (names the dataset, the episode id and the
            lengths).
        DatasetTaskError: If ``env_id`` is given and the dataset was recorded on another environment.
        TypeError: If the observations are a dict other than ``{"pixels", "state"}`` (optionally with
            ``"instruction"``), or the actions a dict.
    """
    import minari

    if env_id is not None:
        check_dataset_env(dataset_id, env_id)

    try:
        dataset = minari.load_dataset(dataset_id)
    except FileNotFoundError as error:
        raise FileNotFoundError(_missing_dataset_message(dataset_id)) from error

    metadata = dict(
        zip(dataset.episode_indices, dataset.storage.get_episode_metadata(dataset.episode_indices), strict=True)
    )
    episodes = []
    for data in dataset.iterate_episodes():
        observations = data.observations
        actions = data.actions
        frames = None
        instruction = metadata.get(data.id, {}).get(INSTRUCTION_KEY)
        if instruction is not None:
            instruction = str(instruction)
        if isinstance(observations, dict):
            if set(observations) - {INSTRUCTION_KEY} != {PIXELS_KEY, STATE_KEY}:
                raise TypeError(
                    f"Dataset {dataset_id!r} has dict observations with keys {sorted(observations)}; expected flat "
                    f"Box arrays or the pixel datasets' {{{PIXELS_KEY!r}, {STATE_KEY!r}}} (and {INSTRUCTION_KEY!r})."
                )
            if INSTRUCTION_KEY in observations:
                texts = {str(text) for text in observations[INSTRUCTION_KEY]}
                if len(texts) != 1 or (instruction is not None and texts != {instruction}):
                    raise DatasetAlignmentError(
                        f"Dataset {dataset_id!r}: episode {data.id} has instructions {sorted(texts)} in its observations "
                        f"and {instruction!r} in its metadata; expected one instruction per episode."
                    )
                instruction = texts.pop()
            frames = np.asarray(observations[PIXELS_KEY])  # kept uint8 as stored (validate() checks the dtype)
            observations = observations[STATE_KEY]
        if isinstance(actions, dict):
            raise TypeError(f"Dataset {dataset_id!r} has dict actions; expected a flat Box array.")
        infos = data.infos if isinstance(data.infos, dict) else {}
        states = infos.get(PHYSICS_STATE_KEY)
        episode = Episode(
            id=int(data.id),
            observations=np.asarray(observations, dtype=np.float64),
            actions=np.asarray(actions, dtype=np.float64).reshape(len(actions), -1),
            rewards=np.asarray(data.rewards, dtype=np.float64),
            terminations=np.asarray(data.terminations, dtype=bool),
            truncations=np.asarray(data.truncations, dtype=bool),
            physics_states=None if states is None else np.asarray(states, dtype=np.float64),
            frames=frames,
            instruction=instruction,
        )
        try:
            episode.validate()
        except DatasetAlignmentError as error:
            raise DatasetAlignmentError(f"Dataset {dataset_id!r}: {error}") from error
        episodes.append(episode)
    return episodes


def load_transitions(dataset_id: str, *, env_id: str | None = None) -> Transitions:
    """Load a local Minari dataset as validated flat transitions.

    Args:
        dataset_id: Minari id, e.g. ``"neural_gym/HalfCheetah/random-v0"``.
        env_id: If given, the gymnasium id the dataset must have been recorded on (see :func:`check_dataset_env`).

    Returns:
        ``Transitions.from_episodes(load_episodes(dataset_id))``, validated.

    Raises:
        FileNotFoundError: If the dataset is not in ``MINARI_DATASETS_PATH``.
        DatasetAlignmentError: If the data do not line up (the message names the dataset, and the episode and step).
        DatasetTaskError: If ``env_id`` is given and the dataset was recorded on another environment.
    """
    episodes = load_episodes(dataset_id, env_id=env_id)
    try:
        transitions = Transitions.from_episodes(episodes, dataset_id=dataset_id)
        transitions.validate()
    except DatasetAlignmentError as error:
        raise DatasetAlignmentError(f"Dataset {dataset_id!r}: {error}") from error
    return transitions
