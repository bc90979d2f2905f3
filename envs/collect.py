"""Collect ground-truth transitions into a local Minari dataset, with the physics state of every step.

Pixel collection (``obs_mode="pixels"``) stores dict observations ``{"pixels": (H, W, 3) uint8, "state": ...}``: the
rendered frame beside the true state, so a model can train on either and evaluation keeps the state. Frames are stored
raw (``jpeg_encoding=False``: uint8 arrays in Minari's HDF5 file, lossless) and equal, bit for bit, the frames the env
returned and :func:`neural_gym.envs.observations.render_frame` of the recorded physics state.

Instructions (tasks with language, the tabletop suite, whose ``reset`` info has ``"instruction"``): every episode's
instruction is stored as Minari *episode metadata* (``{"instruction": str}`` on the episode's HDF5 group, read back by
:func:`neural_gym.envs.dataset.load_episodes` as ``Episode.instruction``), in every observation mode. Pixel datasets of
those tasks also keep it per step inside the dict observation: Minari 0.5.4 stores a ``gymnasium.spaces.Text`` inside a
``Dict`` space (a variable-length UTF-8 string dataset) when it is given a list of strings, so their observation space
is ``Dict({"instruction": Text, "pixels": Box, "state": Box})``. Each episode's metadata also says which policy played
it (``"policy"``: ``"random"`` for the episodes of ``random_fraction``, else the policy's label).

Example:
    >>> from neural_gym.envs import collect, load_episodes, load_transitions
    >>> dataset_id = collect("HalfCheetah", 10_000, seed=0)      # "neural_gym/HalfCheetah/random-v0"
    >>> data = load_transitions(dataset_id)
    >>> pixel_id = collect("Reacher", 1_000, obs_mode="pixels")   # "neural_gym/Reacher/random-pixels64-v0"
    >>> frames = load_episodes(pixel_id)[0].frames                # (51, 64, 64, 3) uint8
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import gymnasium as gym
import minari
import mujoco
import numpy as np
from minari.data_collector.episode_buffer import EpisodeBuffer
from minari.dataset.minari_dataset import parse_dataset_id
from minari.dataset.minari_storage import MinariStorage
from minari.namespace import create_namespace, list_local_namespaces

from neural_gym.durable import fsync_path, pid_alive
from neural_gym.envs.dataset import INSTRUCTION_KEY, PHYSICS_STATE_KEY, dataset_path
from neural_gym.envs.experts import expert
from neural_gym.envs.observations import (
    DEFAULT_IMAGE_SIZE,
    PIXELS_KEY,
    STATE_KEY,
    Camera,
    ImageSize,
    check_obs_mode,
    image_hw,
)
from neural_gym.envs.physics import get_physics_state
from neural_gym.envs.policies import PolicyLike, as_policy, policy_label
from neural_gym.envs.tasks import get_task
from neural_gym.progress import progress_bar

_FLUSH_STEPS = 20_000
"""Finished episodes are written to disk whenever this many steps are buffered (bounds memory)."""

_FLUSH_FRAME_BYTES = 256 * 2**20
"""In pixel collection, also flush whenever the buffered frames reach this many bytes."""

Observation = np.ndarray | dict[str, Any]
"""One observation as recorded: a state vector, or ``{"pixels", "state"}`` (plus ``"instruction"``, a ``str``, for tasks
with language) in pixel collection."""


def _copy_observation(observation: Observation) -> Observation:
    """An owned copy of one observation (frames and states are kept until the episode is written; strings as they are)."""
    if isinstance(observation, dict):
        return {key: value if isinstance(value, str) else np.array(value) for key, value in observation.items()}
    return np.array(observation)


def _stack_observations(observations: list[Observation]) -> Observation:
    """Stack per-step observations into ``(T + 1, ...)`` arrays per key for dict observations; text entries become a
    list of ``T + 1`` strings (what Minari's HDF5 storage writes for a ``Text`` space)."""
    first = observations[0]
    if isinstance(first, dict):
        return {
            key: [obs[key] for obs in observations]  # type: ignore[index]
            if isinstance(value, str)
            else np.stack([obs[key] for obs in observations])  # type: ignore[index]
            for key, value in first.items()
        }
    return np.stack(observations)  # type: ignore[arg-type]


class EpisodeRecorder:
    """Accumulates one episode as Minari stores it, with the physics state as each step's only ``info``.

    Why not ``minari.DataCollector``: its ``EpisodeBuffer.add_step_data`` needs jax (``minari[create]``), which this
    project does not depend on. Recording whole episodes here and handing them to Minari's public writers
    (``create_dataset_from_buffers`` / ``MinariDataset.update_dataset_from_buffer``) stores the same format. The
    info is replaced rather than kept because gymnasium's MuJoCo envs return different info keys from ``reset`` and
    ``step``, which Minari refuses to store together.

    ``physics_states[t]`` is read right after ``reset``/``step``, so it is the state whose observation is
    ``observations[t]``. Observations may be dicts (pixel collection); they are stacked per key.

    Args:
        episode_id: Sequential id within the dataset.
        seed: The seed the episode was reset with.
        env: The env being recorded (its physics state is read).
        observation: The observation returned by ``reset``.
        metadata: Minari episode metadata (the instruction, the policy that played it).
    """

    def __init__(
        self, episode_id: int, seed: int, env: gym.Env, observation: Observation, metadata: dict[str, str] | None = None
    ) -> None:
        self.episode_id = episode_id
        self.seed = seed
        self.metadata = dict(metadata or {})
        self._env = env
        self.observations: list[Observation] = [_copy_observation(observation)]
        self.physics_states: list[np.ndarray] = [get_physics_state(env)]
        self.actions: list[np.ndarray] = []
        self.rewards: list[float] = []
        self.terminations: list[bool] = []
        self.truncations: list[bool] = []

    def __len__(self) -> int:
        """Number of transitions recorded so far."""
        return len(self.actions)

    def add(
        self, action: np.ndarray, observation: Observation, reward: float, terminated: bool, truncated: bool
    ) -> None:
        """Record one ``env.step(action)`` and the physics state it led to."""
        self.actions.append(np.asarray(action))
        self.observations.append(_copy_observation(observation))
        self.physics_states.append(get_physics_state(self._env))
        self.rewards.append(float(reward))
        self.terminations.append(bool(terminated))
        self.truncations.append(bool(truncated))

    def to_buffer(self) -> EpisodeBuffer:
        """The episode as a Minari ``EpisodeBuffer``; an episode cut short (neither flag set) is marked truncated."""
        truncations = np.array(self.truncations, dtype=bool)
        if not (self.terminations[-1] or truncations[-1]):
            truncations[-1] = True
        return EpisodeBuffer(
            id=self.episode_id,
            seed=self.seed,
            observations=_stack_observations(self.observations),
            actions=np.stack(self.actions),
            rewards=np.array(self.rewards, dtype=np.float64),
            terminations=np.array(self.terminations, dtype=bool),
            truncations=truncations,
            infos={PHYSICS_STATE_KEY: np.stack(self.physics_states)},
        )


_STAGING_TAG = ".ng-staging-"
"""Folders ``.<name>.ng-staging-<pid>-<hex>`` beside a dataset hold a collection in progress (hidden from Minari)."""

_TRASH_TAG = ".ng-trash-"
"""Folders ``.<name>.ng-trash-<pid>`` beside a dataset hold the old one while ``overwrite`` swaps in the new one."""


def _fsync_tree(folder: Path) -> None:
    """Flush every file of ``folder`` and the folder entries themselves to disk (best effort)."""
    entries = sorted(folder.rglob("*"))
    for path in [*(p for p in entries if p.is_file()), *(p for p in entries if p.is_dir()), folder]:
        fsync_path(path)


def recover_dataset(dataset_id: str) -> None:
    """Repair what killed collections of ``dataset_id`` left beside it (run by :func:`collect` before it starts).

    * An old dataset moved aside by a run that died between its two renames (trash, and no dataset) is moved back.
    * The trash of a run that died after swapping in its new dataset is deleted.
    * Staging folders of runs whose process is gone are deleted.

    Folders of live processes are left alone. All these folders are hidden (their names start with ``.``), so Minari
    never lists them as datasets.

    Args:
        dataset_id: The Minari id.
    """
    final = dataset_path(dataset_id)
    parent = final.parent
    if not parent.is_dir():
        return
    pattern = re.compile(
        rf"^\.{re.escape(final.name)}(?:{re.escape(_STAGING_TAG)}(\d+)-[0-9a-f]+|{re.escape(_TRASH_TAG)}(\d+))$"
    )
    for entry in sorted(os.listdir(parent)):
        match = pattern.match(entry)
        if match is None:
            continue
        staging_pid, trash_pid = match.groups()
        pid = int(staging_pid or trash_pid)
        if pid_alive(pid):
            continue
        path = parent / entry
        if trash_pid is not None and not final.exists():
            os.rename(path, final)  # the old dataset was moved aside and the new one never arrived
            fsync_path(parent)
        else:
            shutil.rmtree(path, ignore_errors=True)


class DatasetWriter:
    """Writes finished episodes, chunk by chunk, into a hidden staging folder beside the dataset; :meth:`commit`
    moves the complete dataset into place.

    Staging: ``<parent>/.<name>.ng-staging-<pid>-<hex>/data`` is a Minari HDF5 storage written with Minari's
    ``MinariStorage`` (the metadata ``create_dataset_from_buffers`` would write, with the final ``dataset_id``). A
    process killed at any point leaves either the complete dataset or nothing at the final id, and never touches an
    old dataset before the new one is complete: :meth:`commit` renames the old dataset to a trash name, renames the
    staging folder to the final name, then deletes the trash (:func:`recover_dataset` finishes or undoes a swap that a
    kill interrupted).

    As a context manager it commits when the block ends normally and discards the staging folder when it raises
    (or when the commit itself fails), so every writer of a dataset is all or nothing::

        with DatasetWriter(dataset_id, env, dataset_metadata(dataset_id, env, "my producer", "what it holds")) as w:
            w.write(episodes)
    """

    def __init__(self, dataset_id: str, env: gym.Env, metadata: dict[str, Any]) -> None:
        self.dataset_id = dataset_id
        self.episodes_written = 0
        self.final = dataset_path(dataset_id)
        self.staging = self.final.with_name(f".{self.final.name}{_STAGING_TAG}{os.getpid()}-{secrets.token_hex(6)}")
        self._trash = self.final.with_name(f".{self.final.name}{_TRASH_TAG}{os.getpid()}")
        self._env = env
        self._metadata = metadata
        self._storage: MinariStorage | None = None

    def write(self, episodes: list[EpisodeRecorder]) -> None:
        """Store the episodes in the staging folder (ids must continue from the ones written before)."""
        buffers = [episode.to_buffer() for episode in episodes]
        if self._storage is None:
            data_path = self.staging / "data"
            data_path.mkdir(parents=True)
            self._storage = MinariStorage.new(
                data_path,
                observation_space=self._env.observation_space,
                action_space=self._env.action_space,
                env_spec=self._env.spec,
                jpeg_encoding=False,
            )
            self._storage.update_metadata(self._metadata)
        self._storage.update_episodes(buffers)
        with_metadata = [episode for episode in episodes if episode.metadata]
        if with_metadata:
            self._storage.update_episode_metadata(
                [episode.metadata for episode in with_metadata], [episode.episode_id for episode in with_metadata]
            )
        self.episodes_written += len(buffers)

    def commit(self) -> Path:
        """Move the complete staged dataset to its final id (replacing an old one); returns the dataset folder."""
        if self._storage is None:
            raise RuntimeError(f"nothing was written for dataset {self.dataset_id!r}; cannot commit it")
        namespace = parse_dataset_id(self.dataset_id)[0]
        if namespace is not None and namespace not in list_local_namespaces():
            create_namespace(namespace)
        _fsync_tree(self.staging)
        if self.final.exists():
            os.rename(self.final, self._trash)
        os.rename(self.staging, self.final)
        fsync_path(self.final.parent)
        shutil.rmtree(self._trash, ignore_errors=True)
        self._storage = None
        return self.final

    def discard(self) -> None:
        """Delete the staging folder, so a failed collection leaves nothing behind (an old dataset is untouched)."""
        shutil.rmtree(self.staging, ignore_errors=True)
        self._storage = None

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc_type is not None:
            self.discard()
            return
        try:
            self.commit()
        except BaseException:
            self.discard()
            raise


def dataset_metadata(
    dataset_id: str,
    eval_env: gym.Env | str,
    algorithm_name: str,
    description: str,
    author: str = "neural_gym",
    requirements: list[str] | None = None,
) -> dict[str, Any]:
    """The metadata ``minari.create_dataset_from_buffers`` records, for a dataset written through ``MinariStorage``
    (:class:`DatasetWriter`); ``requirements`` default to this MuJoCo's and Gymnasium's versions."""
    if requirements is None:
        requirements = [f"mujoco=={mujoco.__version__}", f"gymnasium=={gym.__version__}"]
    eval_spec = gym.spec(eval_env) if isinstance(eval_env, str) else eval_env.spec
    metadata: dict[str, Any] = {
        "dataset_id": dataset_id,
        "author": {author},
        "algorithm_name": algorithm_name,
        "description": description,
        "minari_version": minari.__version__,
        "requirements": requirements,
    }
    if eval_spec is not None:
        metadata["eval_env_spec"] = eval_spec.to_json()
    return metadata


def default_dataset_id(
    task: str, policy: PolicyLike = "random", obs_mode: str = "state", image_size: ImageSize = DEFAULT_IMAGE_SIZE
) -> str:
    """The dataset id :func:`collect` uses when none is given.

    ``neural_gym/<Task>/<random|expert|policy>-v0`` for state datasets; pixel datasets (``obs_mode`` ``"pixels"`` or
    ``"dict"``) add the frame size: ``neural_gym/<Task>/<label>-pixels64-v0`` (square) or ``...-pixels64x96-v0``
    (height x width).

    Args:
        task: Any name :func:`neural_gym.envs.tasks.get_task` accepts.
        policy: The policy (only its label matters).
        obs_mode: ``"state"``, ``"pixels"`` or ``"dict"``.
        image_size: Frame size of pixel datasets (int or ``(height, width)``).

    Returns:
        The Minari id (namespace ``neural_gym/<Task>``, version 0).

    Raises:
        ValueError: For an unknown task or ``obs_mode`` or a bad ``image_size``.
    """
    name = policy_label(policy)
    height, width = image_hw(image_size)
    if check_obs_mode(obs_mode) != "state":
        name += f"-pixels{height}" if height == width else f"-pixels{height}x{width}"
    return f"neural_gym/{get_task(task).name}/{name}-v0"


def collect(
    task: str,
    n_steps: int,
    *,
    policy: PolicyLike = "random",
    seed: int = 0,
    dataset_id: str | None = None,
    action_noise: float = 0.0,
    progress: bool = True,
    overwrite: bool = False,
    description: str | None = None,
    obs_mode: str = "state",
    image_size: ImageSize = DEFAULT_IMAGE_SIZE,
    camera: Camera | None = None,
    random_fraction: float = 0.0,
) -> str:
    """Run a policy in the ground-truth env and write exactly ``n_steps`` transitions as a local Minari dataset.

    Episodes run until they terminate or hit the time limit; the last one is cut after ``n_steps`` transitions in
    total and stored as truncated. Every step's ``info`` holds ``{"physics_state": ...}`` (see
    :mod:`neural_gym.envs.physics`), so any recorded state can be restored and replayed exactly. The dataset is written under
    ``MINARI_DATASETS_PATH`` (default ``~/.minari/datasets``) without JPEG encoding.

    Killed at any moment, a collection leaves either the complete dataset or nothing at ``dataset_id``: episodes are
    written to a hidden staging folder beside it (``.<name>.ng-staging-<pid>-<hex>``, which Minari does not list) and
    moved into place by renames only once complete. The next collection of the same id deletes stale staging folders
    and repairs an interrupted swap (see :func:`recover_dataset`).

    Pixel collection (``obs_mode`` ``"pixels"`` or ``"dict"``, the same dataset either way) records dict
    observations ``{"pixels": (H, W, 3) uint8, "state": <state vector>}`` from ``task.make(obs_mode="dict", ...)``
    (plus ``"instruction"`` for tasks with language, see the module doc): frames are stored losslessly (raw uint8, no
    JPEG) beside the true state. Load frames with :func:`neural_gym.envs.dataset.load_episodes` (``Episode.frames``,
    ``Episode.instruction``).

    What the policy is given: a Policy-protocol object (``.act(obs_batch) -> (B, H, A)`` and ``.reset(seed=None)``) the
    whole observation as a batch of one (``(1, D)`` states, or ``{"pixels": (1, H, W, 3), "state": (1, D),
    "instruction": [str]}`` in pixel collection); the first action of its chunk is executed and it is queried again
    every step, and ``reset(seed=<the episode's reset seed>)`` runs at every episode start. Every other policy is given
    the state vector; a callable's ``reset()`` (the scripted experts') runs at every episode start.

    All randomness comes from ``seed``: a ``np.random.SeedSequence(seed)`` is split into the env reset seeds, the
    random policy's generator, the action-noise generator and the generator that picks the ``random_fraction``
    episodes, so the same seed gives the same dataset.

    Args:
        task: Any name :func:`neural_gym.envs.tasks.get_task` accepts.
        n_steps: Number of transitions to record (>= 1).
        policy: ``"random"``, ``"expert"`` (the task's scripted expert, see :mod:`neural_gym.envs.experts`), a callable
            ``obs -> action``, an object with ``.predict`` (SB3 model), or a Policy-protocol object.
        seed: Seed of everything random.
        dataset_id: Minari id ``(namespace/)name-v<version>``; default ``neural_gym/<Task>/<random|policy>-v0``.
        action_noise: Standard deviation of Gaussian noise added to each action, as a fraction of half the action
            range; noisy actions are clipped to the action space.
        progress: Show a tqdm bar on a terminal, a plain progress line every 10 % or 30 s elsewhere.
        overwrite: Replace an existing dataset with the same id. The old dataset stays in place, untouched, until
            the new one is complete; then two renames swap them.
        description: Dataset description stored in Minari's metadata (a default one says what was collected).
        obs_mode: ``"state"`` (default), or ``"pixels"`` / ``"dict"`` to store frames beside the states.
        image_size: Frame size of pixel collection: an int (square) or ``(height, width)``; default 64.
        camera: Camera of pixel collection (see :meth:`neural_gym.envs.tasks.TaskSpec.make`); ``None`` for the task's default.
        random_fraction: Share in ``[0, 1]`` of episodes played by a uniform random policy instead of ``policy`` (each
            episode drawn independently, seeded), to mix wide coverage into expert data; action noise applies to both.

    Returns:
        The dataset id; its folder is :func:`neural_gym.envs.dataset.dataset_path` ``(dataset_id)``.

    Raises:
        FileExistsError: If the dataset exists and ``overwrite`` is False.
        ValueError: For a malformed dataset id, ``n_steps < 1``, negative ``action_noise``, ``random_fraction``
            outside ``[0, 1]``, an unknown ``obs_mode``, a bad ``image_size`` or camera, or a policy returning actions
            of the wrong shape.
    """
    spec = get_task(task)
    pixels = check_obs_mode(obs_mode) != "state"
    height, width = image_hw(image_size)
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}.")
    if not action_noise >= 0.0:
        raise ValueError(f"action_noise must be >= 0, got {action_noise}.")
    if not 0.0 <= random_fraction <= 1.0:
        raise ValueError(f"random_fraction must be in [0, 1], got {random_fraction}.")
    label = policy_label(policy)
    if dataset_id is None:
        dataset_id = default_dataset_id(spec.name, policy, obs_mode, (height, width))
    if isinstance(policy, str) and policy == "expert":
        policy = expert(spec.name)
    parse_dataset_id(dataset_id)  # raises ValueError with Minari's id syntax
    recover_dataset(dataset_id)  # undo or finish what a killed collection of this id left behind
    if os.path.exists(dataset_path(dataset_id)) and not overwrite:
        raise FileExistsError(
            f"Dataset {dataset_id!r} already exists at {dataset_path(dataset_id)}; pass overwrite=True "
            "(--overwrite) or choose another dataset_id."
        )

    reset_seq, policy_seq, noise_seq, mix_seq = np.random.SeedSequence(seed).spawn(4)
    reset_rng = np.random.default_rng(reset_seq)
    noise_rng = np.random.default_rng(noise_seq)
    mix_rng = np.random.default_rng(mix_seq)

    env = spec.make(obs_mode="dict", image_size=(height, width), camera=camera) if pixels else spec.make()
    space = env.action_space
    if not isinstance(space, gym.spaces.Box):
        raise TypeError(f"Expected a Box action space, got {space}.")
    policy_seed = int(policy_seq.generate_state(1)[0])
    act = as_policy(policy, space, seed=policy_seed)
    random_act = as_policy("random", space, seed=policy_seed + 1) if random_fraction > 0.0 else None
    half_range = (space.high.astype(np.float64) - space.low.astype(np.float64)) / 2.0

    flush_steps = _FLUSH_STEPS
    if pixels:
        flush_steps = max(1, min(_FLUSH_STEPS, _FLUSH_FRAME_BYTES // (height * width * 3)))
    if description is None:
        description = (
            f"{n_steps} transitions of {spec.env_id} under a {label} policy, seed {seed}, action_noise "
            f"{action_noise}"
            + (f", {random_fraction:g} of the episodes under a uniform random policy" if random_fraction > 0 else "")
            + f". infos['{PHYSICS_STATE_KEY}'][t] is the physics state (MuJoCo mjSTATE_INTEGRATION for MuJoCo tasks) "
            "whose observation is observations[t]."
        )
        if pixels:
            used_camera = spec.camera if camera is None else camera
            description += (
                f" Observations are dicts: '{PIXELS_KEY}' ({height}, {width}, 3) uint8 RGB frames (camera "
                f"{used_camera!r}, stored raw, no JPEG) of the state '{STATE_KEY}' (the task's observation vector)."
            )
    writer = DatasetWriter(
        dataset_id,
        env,
        metadata=dataset_metadata(
            dataset_id,
            eval_env=env if pixels else spec.env_id,
            algorithm_name=f"neural_gym.envs.collect ({label} policy)",
            description=description,
        ),
    )

    try:
        with writer:  # committed when complete, discarded on any error or interrupt
            steps = 0
            pending: list[EpisodeRecorder] = []
            desc = f"collect {spec.name}" + (f" ({height}x{width} pixels)" if pixels else "")
            with progress_bar(total=n_steps, enabled=progress, unit="step", desc=desc) as bar:
                while steps < n_steps:
                    reset_seed = int(reset_rng.integers(2**31 - 1))
                    obs, info = env.reset(seed=reset_seed)
                    player, player_label = act, label
                    if random_act is not None and mix_rng.random() < random_fraction:
                        player, player_label = random_act, "random"
                    player.reset(seed=reset_seed)
                    metadata = {"policy": player_label}
                    if isinstance(info.get(INSTRUCTION_KEY), str):
                        metadata[INSTRUCTION_KEY] = info[INSTRUCTION_KEY]
                    episode = EpisodeRecorder(writer.episodes_written + len(pending), reset_seed, env, obs, metadata)
                    done = False
                    while not done and steps < n_steps:
                        action = player(obs)
                        if action_noise > 0.0:
                            noise = noise_rng.normal(0.0, 1.0, size=space.shape) * action_noise * half_range
                            action = np.clip(action + noise, space.low, space.high).astype(space.dtype)
                        obs, reward, terminated, truncated, _ = env.step(action)
                        episode.add(action, obs, float(reward), terminated, truncated)
                        done = bool(terminated or truncated)
                        steps += 1
                        bar.update(1)
                    pending.append(episode)
                    if sum(len(e) for e in pending) >= flush_steps or steps >= n_steps:
                        writer.write(pending)
                        pending = []
    finally:
        env.close()
    return dataset_id
