"""Collection into Minari, loading back, alignment checks, splits, and policy wrapping."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import h5py
import minari
import numpy as np
import pytest

from neural_gym.envs import (
    DatasetAlignmentError,
    Episode,
    Transitions,
    as_policy,
    collect,
    get_task,
    load_episodes,
    load_transitions,
    physics_state_size,
    render_frame,
    set_physics_state,
)
from neural_gym.envs.collect import default_dataset_id


def test_collect_round_trip(minari_root: Path) -> None:
    dataset_id = collect("Reacher", 120, seed=0, progress=False)
    assert dataset_id == "neural_gym/Reacher/random-v0"
    assert (minari_root / "neural_gym" / "Reacher" / "random-v0").is_dir()

    episodes = load_episodes(dataset_id)
    assert [len(ep) for ep in episodes] == [50, 50, 20]  # time limit 50; the last episode cut at 120 steps
    assert [bool(ep.truncations[-1]) for ep in episodes] == [True, True, True]
    assert not any(ep.terminations.any() for ep in episodes)

    data = load_transitions(dataset_id)
    assert len(data) == 120 and data.dataset_id == dataset_id
    assert data.observations.dtype == np.float64 and data.observations.shape == (120, 10)
    assert data.actions.shape == (120, 2)
    np.testing.assert_array_equal(data.episode_ids, np.repeat([0, 1, 2], [50, 50, 20]))
    task = get_task("Reacher")
    assert task.reward_fn is not None
    np.testing.assert_allclose(
        task.reward_fn(data.observations, data.actions, data.next_observations), data.rewards, atol=1e-6
    )

    env = task.make()
    env.reset(seed=0)
    assert data.physics_states is not None
    assert data.physics_states.shape == (120, physics_state_size(env))
    # Restore the recorded state before rows 10 and 75 and replay the recorded actions: identical observations.
    for start in (10, 75):
        set_physics_state(env, data.physics_states[start])
        for i in range(start, start + 5):
            obs, reward, *_ = env.step(data.actions[i].astype(np.float32))
            np.testing.assert_array_equal(obs, data.next_observations[i])
            assert reward == pytest.approx(data.rewards[i], abs=1e-12)
    env.close()


def test_terminating_task_and_state_alignment(minari_root: Path) -> None:
    dataset_id = collect("Hopper", 150, seed=3, dataset_id="tests/hopper-v1", progress=False)
    episodes = load_episodes(dataset_id)
    assert sum(len(ep) for ep in episodes) == 150
    assert any(ep.terminations[-1] for ep in episodes)
    env = get_task("Hopper").make()
    env.reset(seed=0)
    for episode in episodes:
        assert episode.physics_states is not None and len(episode.physics_states) == len(episode) + 1
        # physics_states[t] is the state whose observation is observations[t] (Hopper's observation has no lag).
        for t in (0, len(episode)):
            set_physics_state(env, episode.physics_states[t])
            np.testing.assert_array_equal(env.unwrapped._get_obs(), episode.observations[t])
    env.close()


def test_same_seed_same_data(minari_root: Path) -> None:
    a = load_transitions(collect("InvertedPendulum", 60, seed=7, dataset_id="tests/a-v0", progress=False))
    b = load_transitions(collect("InvertedPendulum", 60, seed=7, dataset_id="tests/b-v0", progress=False))
    c = load_transitions(collect("InvertedPendulum", 60, seed=8, dataset_id="tests/c-v0", progress=False))
    for key in (
        "observations",
        "actions",
        "rewards",
        "next_observations",
        "terminations",
        "episode_ids",
        "physics_states",
    ):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert not np.array_equal(a.actions, c.actions)


def test_overwrite(minari_root: Path) -> None:
    dataset_id = collect("InvertedPendulum", 20, seed=0, progress=False)
    with pytest.raises(FileExistsError, match="overwrite"):
        collect("InvertedPendulum", 20, seed=1, progress=False)
    first = load_transitions(dataset_id)
    assert collect("InvertedPendulum", 30, seed=1, progress=False, overwrite=True) == dataset_id
    second = load_transitions(dataset_id)
    assert len(first) == 20 and len(second) == 30


def test_callable_policy_with_noise(minari_root: Path) -> None:
    dataset_id = collect("Reacher", 30, policy=lambda obs: np.zeros(2), action_noise=0.1, seed=0, progress=False)
    assert dataset_id == "neural_gym/Reacher/policy-v0"
    data = load_transitions(dataset_id)
    assert np.all(np.abs(data.actions) <= 1.0)
    assert 0.0 < np.abs(data.actions).mean() < 0.3


def test_bad_arguments(minari_root: Path) -> None:
    with pytest.raises(ValueError, match="Malformed dataset ID"):
        collect("Reacher", 5, dataset_id="no version", progress=False)
    with pytest.raises(ValueError, match="n_steps"):
        collect("Reacher", 0, progress=False)
    with pytest.raises(ValueError, match=r"expected \(2,\)"):
        collect("Reacher", 5, policy=lambda obs: np.zeros(3), progress=False)


def test_missing_dataset_explains_how_to_create(minari_root: Path) -> None:
    with pytest.raises(FileNotFoundError, match="MINARI_DATASETS_PATH") as info:
        load_transitions("neural_gym/Hopper/random-v0")
    assert "neural-gym collect --task" in str(info.value)


# ------------------------------------------------------------------------------------------- alignment and splits


def _toy_transitions(n_episodes: int = 4, length: int = 5) -> Transitions:
    episodes = []
    for e in range(n_episodes):
        obs = np.arange((length + 1) * 2, dtype=np.float64).reshape(length + 1, 2) + 100 * e
        truncations = np.zeros(length, dtype=bool)
        truncations[-1] = True
        episodes.append(
            Episode(
                e,
                obs,
                np.zeros((length, 1)),
                np.ones(length),
                np.zeros(length, bool),
                truncations,
                np.zeros((length + 1, 3)),
            )
        )
    return Transitions.from_episodes(episodes)


def test_transitions_from_episodes_and_validate() -> None:
    data = _toy_transitions()
    data.validate()
    assert len(data) == 20 and data.physics_states is not None and data.physics_states.shape == (20, 3)


def test_broken_continuity_names_episode_and_step() -> None:
    data = _toy_transitions()
    data.next_observations[11, 0] += 1.0  # episode 2, step 1
    with pytest.raises(DatasetAlignmentError, match=r"Episode 2 .*step 1"):
        data.validate()


def test_non_finite_and_shape_errors() -> None:
    data = _toy_transitions()
    data.rewards[7] = np.nan
    with pytest.raises(DatasetAlignmentError, match=r"rewards is not finite at row 7 \(episode 1, step 2\)"):
        data.validate()
    data = _toy_transitions()
    data.actions = data.actions[:-1]
    with pytest.raises(DatasetAlignmentError, match="actions"):
        data.validate()


def test_misaligned_episode_is_refused() -> None:
    obs = np.zeros((5, 2))
    bad = Episode(17, obs, np.zeros((5, 1)), np.zeros(5), np.zeros(5, bool), np.zeros(5, bool), None)
    with pytest.raises(DatasetAlignmentError, match=r"Episode 17.*5 observations and 5 actions"):
        bad.validate()
    with pytest.raises(DatasetAlignmentError, match="Episode 17"):
        Transitions.from_episodes([bad])


def test_split_by_whole_episodes() -> None:
    data = _toy_transitions(n_episodes=10)
    train, held = data.split(0.2, seed=0)
    train.validate()
    held.validate()
    assert len(np.unique(held.episode_ids)) == 2
    assert not set(train.episode_ids) & set(held.episode_ids)
    assert len(train) + len(held) == len(data)
    again, _ = data.split(0.2, seed=0)
    np.testing.assert_array_equal(again.episode_ids, train.episode_ids)
    # A single episode is split in time instead.
    one = _toy_transitions(n_episodes=1, length=10)
    train, held = one.split(0.3, seed=0)
    assert len(train) == 7 and len(held) == 3
    with pytest.raises(ValueError, match="holdout_fraction"):
        data.split(1.0, seed=0)


# ---------------------------------------------------------------------------------------------------- as_policy


def test_as_policy_random_is_seeded_and_in_bounds() -> None:
    space = gym.spaces.Box(-2.0, 2.0, shape=(3,), dtype=np.float32)
    global_state = np.random.get_state()[1].copy()
    a = [as_policy("random", space, seed=4)(np.zeros(1)) for _ in range(2)]
    np.testing.assert_array_equal(a[0], a[1])
    act = as_policy("random", space, seed=4)
    actions = np.stack([act(np.zeros(1)) for _ in range(50)])
    assert actions.dtype == np.float32 and np.all(np.abs(actions) <= 2.0)
    assert len(np.unique(actions[:, 0])) == 50
    np.testing.assert_array_equal(np.random.get_state()[1], global_state)


def test_as_policy_wrong_shape_callable() -> None:
    space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    act = as_policy(lambda obs: np.zeros(3), space)
    with pytest.raises(ValueError, match=r"shape \(3,\), expected \(2,\)"):
        act(np.zeros(4))
    with pytest.raises(ValueError, match="Unknown policy"):
        as_policy("expert", space)


def test_as_policy_predict_duck_typing() -> None:
    class Model:
        def predict(self, obs: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, None]:
            assert deterministic
            return np.full(2, 0.5), None

    space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    action = as_policy(Model(), space)(np.zeros(4))
    np.testing.assert_array_equal(action, np.full(2, 0.5, dtype=np.float32))
    assert action.dtype == np.float32


# ---------------------------------------------------------------------------------------------- pixel collection


def test_pixel_collection_round_trip(minari_root: Path) -> None:
    dataset_id = collect("Reacher", 100, obs_mode="pixels", seed=0, progress=False)
    assert dataset_id == "neural_gym/Reacher/random-pixels64-v0" == default_dataset_id("Reacher", obs_mode="pixels")
    episodes = load_episodes(dataset_id)
    assert [len(ep) for ep in episodes] == [50, 50]
    for episode in episodes:
        assert episode.frames is not None
        assert episode.frames.dtype == np.uint8 and episode.frames.shape == (51, 64, 64, 3)
        assert episode.observations.dtype == np.float64 and episode.observations.shape == (51, 10)

    # Stored raw (no JPEG): uint8 arrays in Minari's HDF5 file.
    dataset = minari.load_dataset(dataset_id)
    assert dataset.storage.metadata["jpeg_encoding"] is False
    (path,) = (minari_root / "neural_gym" / "Reacher" / "random-pixels64-v0" / "data").glob("*.hdf5")
    with h5py.File(path, "r") as file:
        stored = file["episode_0/observations/pixels"]
        assert stored.dtype == np.uint8 and stored.shape == (51, 64, 64, 3)

    # Same states, actions and rewards as a state collection with the same seed (the policy sees the state).
    states = load_episodes(collect("Reacher", 100, seed=0, progress=False))
    for pixel_ep, state_ep in zip(episodes, states, strict=True):
        np.testing.assert_array_equal(pixel_ep.observations, state_ep.observations)
        np.testing.assert_array_equal(pixel_ep.actions, state_ep.actions)
        np.testing.assert_array_equal(pixel_ep.physics_states, state_ep.physics_states)

    # The frames are exactly what the env returned: restore the recorded state, replay the recorded actions.
    env = get_task("Reacher").make(obs_mode="dict")
    env.reset(seed=0)
    episode = episodes[1]
    assert episode.physics_states is not None
    set_physics_state(env, episode.physics_states[0])
    np.testing.assert_array_equal(render_frame(env), episode.frames[0])
    for t in range(len(episode)):
        obs, *_ = env.step(episode.actions[t].astype(np.float32))
        np.testing.assert_array_equal(obs["pixels"], episode.frames[t + 1])
        np.testing.assert_array_equal(obs["state"], episode.observations[t + 1])
    env.close()

    # Flat transitions stay state-only.
    data = load_transitions(dataset_id)
    assert data.observations.shape == (100, 10) and not hasattr(data, "frames")


def test_pixel_collection_size_and_ids(minari_root: Path) -> None:
    dataset_id = collect("InvertedPendulum", 12, obs_mode="dict", image_size=(24, 40), seed=1, progress=False)
    assert dataset_id == "neural_gym/InvertedPendulum/random-pixels24x40-v0"
    frames = np.concatenate([ep.frames for ep in load_episodes(dataset_id)])  # type: ignore[misc]
    assert frames.shape[1:] == (24, 40, 3) and frames.dtype == np.uint8
    assert default_dataset_id("Hopper", "expert", "pixels", 96) == "neural_gym/Hopper/expert-pixels96-v0"
    assert default_dataset_id("Hopper", "expert") == "neural_gym/Hopper/expert-v0"
    with pytest.raises(ValueError, match="obs_mode"):
        collect("Reacher", 5, obs_mode="rgb", progress=False)
    with pytest.raises(ValueError, match="image_size"):
        collect("Reacher", 5, obs_mode="pixels", image_size=0, progress=False)
    assert not (minari_root / "neural_gym" / "Reacher").exists()


def test_episode_frames_alignment() -> None:
    obs = np.zeros((6, 2))
    args = (np.zeros((5, 1)), np.zeros(5), np.zeros(5, bool), np.ones(5, bool))
    Episode(3, obs, *args, frames=np.zeros((6, 8, 8, 3), np.uint8)).validate()
    with pytest.raises(DatasetAlignmentError, match=r"Episode 3: 5 frames for 6 observations"):
        Episode(3, obs, *args, frames=np.zeros((5, 8, 8, 3), np.uint8)).validate()
    with pytest.raises(DatasetAlignmentError, match=r"Episode 3: frames must be uint8"):
        Episode(3, obs, *args, frames=np.zeros((6, 8, 8, 3), np.float32)).validate()
    with pytest.raises(DatasetAlignmentError, match=r"Episode 3: frames must be \(T \+ 1, H, W, 3\)"):
        Episode(3, obs, *args, frames=np.zeros((6, 8, 8), np.uint8)).validate()
