"""Instruction-labelled Minari datasets of the tabletop suite: collect -> load_episodes with instructions, lossless
frames and bit-identical restores; Policy-protocol objects as collectors; the mixing of random episodes; the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import minari
import numpy as np
import pytest

from neural_gym.envs import (
    collect,
    get_physics_state,
    get_task,
    load_episodes,
    load_transitions,
    render_frame,
    set_physics_state,
)
from neural_gym.envs.tabletop import TabletopExpert


def _restore_and_replay(name: str, episode: Any, obs_mode: str, image_size: int = 64) -> None:
    """Every recorded physics state restores the recorded instruction, observation and frame, and replaying the
    recorded action from it reproduces the next ones bit for bit."""
    env = get_task(name).make(obs_mode=obs_mode, image_size=image_size)
    env.reset(seed=0)
    unwrapped = env.unwrapped
    for t in range(len(episode)):
        set_physics_state(env, episode.physics_states[t])
        assert unwrapped.instruction == episode.instruction
        np.testing.assert_array_equal(unwrapped.state_observation(), episode.observations[t])
        if episode.frames is not None:
            np.testing.assert_array_equal(render_frame(env), episode.frames[t])
        obs, reward, terminated, _, _ = unwrapped.step(episode.actions[t].astype(np.float32))
        state = obs["state"] if isinstance(obs, dict) else obs
        np.testing.assert_array_equal(state, episode.observations[t + 1])
        np.testing.assert_array_equal(get_physics_state(env), episode.physics_states[t + 1])
        if episode.frames is not None:
            np.testing.assert_array_equal(obs["pixels"], episode.frames[t + 1])
        assert reward == episode.rewards[t] and terminated == episode.terminations[t]
    env.close()


def test_dict_collection_round_trip(minari_root: Path) -> None:
    dataset_id = collect(
        "TabletopReach", 90, policy="expert", action_noise=0.3, obs_mode="dict", image_size=32, progress=False
    )
    assert dataset_id == "neural_gym/TabletopReach/expert-pixels32-v0"
    episodes = load_episodes(dataset_id, env_id="TabletopReach-v0")
    assert sum(len(ep) for ep in episodes) == 90 and len(episodes) >= 2
    assert sum(bool(ep.terminations[-1]) for ep in episodes) >= 2  # the noisy expert reaches (a reset per episode)
    for episode in episodes:
        assert isinstance(episode.instruction, str) and episode.instruction
        assert episode.frames is not None and episode.frames.dtype == np.uint8
        assert episode.frames.shape == (len(episode) + 1, 32, 32, 3)
        assert episode.observations.shape == (len(episode) + 1, 54)
    _restore_and_replay("TabletopReach", episodes[0], "dict", image_size=32)

    # Minari itself reads the instruction back: per step in the Dict's Text entry, per episode in the metadata.
    dataset = minari.load_dataset(dataset_id)
    assert set(dataset.observation_space.spaces) == {"instruction", "pixels", "state"}
    first = next(dataset.iterate_episodes())
    assert first.observations["instruction"] == [episodes[0].instruction] * (len(episodes[0]) + 1)
    metadata = list(dataset.storage.get_episode_metadata([0]))[0]
    assert metadata["instruction"] == episodes[0].instruction and metadata["policy"] == "expert"
    with h5py.File(minari_root / dataset_id / "data" / "main_data.hdf5") as file:  # raw uint8 frames, no JPEG
        assert file["episode_0/observations/pixels"].dtype == np.uint8


def test_state_collection_keeps_instructions_and_transitions(minari_root: Path) -> None:
    dataset_id = collect("TabletopPush", 160, policy="expert", action_noise=0.3, seed=2, progress=False)
    episodes = load_episodes(dataset_id)
    assert all(isinstance(ep.instruction, str) and ep.frames is None for ep in episodes)
    _restore_and_replay("TabletopPush", episodes[-1], "state")
    data = load_transitions(dataset_id)
    task = get_task("TabletopPush")
    np.testing.assert_array_equal(task.reward_fn(data.observations, data.actions, data.next_observations), data.rewards)
    # A task without language has no instruction.
    assert load_episodes(collect("Reacher", 60, progress=False))[0].instruction is None


def test_instruction_mismatch_is_refused(minari_root: Path) -> None:
    dataset_id = collect("TabletopReach", 20, obs_mode="pixels", image_size=16, progress=False)
    dataset = minari.load_dataset(dataset_id)
    dataset.storage.update_episode_metadata([{"instruction": "touch the moon"}], [0])
    with pytest.raises(ValueError, match="one instruction per episode"):
        load_episodes(dataset_id)


class ChunkingExpert:
    """A Policy-protocol object: the scripted expert, repeated into chunks of 3, recording what it was given."""

    chunk_size = 3

    def __init__(self) -> None:
        self.expert = TabletopExpert("push")
        self.batches: list[Any] = []
        self.resets: list[int | None] = []

    def reset(self, seed: int | None = None) -> None:
        self.resets.append(seed)
        self.expert.reset()

    def act(self, obs: Any) -> np.ndarray:
        self.batches.append(obs)
        state = obs["state"] if isinstance(obs, dict) else obs
        action = self.expert(state[0])
        return np.repeat(action[None, None], self.chunk_size, axis=1) + np.array([0.0, 0.0, 0.0, 0.0])


def test_policy_protocol_object_is_given_batched_dict_observations(minari_root: Path) -> None:
    policy = ChunkingExpert()
    dataset_id = collect("TabletopPush", 40, policy=policy, obs_mode="dict", image_size=24, progress=False)
    assert dataset_id == "neural_gym/TabletopPush/policy-pixels24-v0"
    episodes = load_episodes(dataset_id)
    assert len(policy.batches) == 40 and len(policy.resets) == len(episodes)  # re-queried every step
    batch = policy.batches[0]
    assert set(batch) == {"pixels", "state", "instruction"}
    assert batch["pixels"].shape == (1, 24, 24, 3) and batch["pixels"].dtype == np.uint8
    assert batch["state"].shape == (1, 54) and batch["instruction"] == [episodes[0].instruction]
    assert all(isinstance(seed, int) for seed in policy.resets)
    # The executed action is the first of each chunk (no noise): the expert's own action.
    replay = TabletopExpert("push")
    for t in range(len(episodes[0])):
        np.testing.assert_array_equal(episodes[0].actions[t], replay(episodes[0].observations[t]))

    state_policy = ChunkingExpert()
    collect("TabletopPush", 5, policy=state_policy, dataset_id="tests/push-state-v0", progress=False)
    assert state_policy.batches[0].shape == (1, 54)


def test_policy_protocol_object_with_a_bad_chunk(minari_root: Path) -> None:
    class Bad(ChunkingExpert):
        def act(self, obs: Any) -> np.ndarray:
            return np.zeros((1, 2, 3))

    with pytest.raises(ValueError, match=r"\(1, H, 4\)"):
        collect("TabletopPush", 5, policy=Bad(), progress=False)
    assert not (minari_root / "neural_gym" / "TabletopPush" / "policy-v0").exists()  # nothing half written


def test_random_fraction_mixes_random_episodes(minari_root: Path) -> None:
    dataset_id = collect("TabletopReach", 400, policy="expert", random_fraction=0.5, seed=1, progress=False)
    dataset = minari.load_dataset(dataset_id)
    labels = [m["policy"] for m in dataset.storage.get_episode_metadata(dataset.episode_indices)]
    assert {"random", "expert"} <= set(labels)
    episodes = load_episodes(dataset_id)
    random_lengths = [len(ep) for ep, label in zip(episodes, labels, strict=True) if label == "random"]
    assert max(random_lengths) == 100 or len(random_lengths) == 1  # random play rarely reaches within 100 steps
    again = collect(
        "TabletopReach", 400, policy="expert", random_fraction=0.5, seed=1, dataset_id="tests/again-v0", progress=False
    )
    np.testing.assert_array_equal(load_transitions(again).actions, load_transitions(dataset_id).actions)
    with pytest.raises(ValueError, match="random_fraction"):
        collect("TabletopReach", 10, random_fraction=1.5, progress=False)


def test_cli_collect_line(minari_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from neural_gym.cli import main

    argv = ["collect", "TabletopPush", "--policy", "expert", "--action-noise", "0.3", "--obs-mode", "dict"]
    assert main([*argv, "--steps", "30", "--image-size", "16", "--quiet"]) == 0
    assert "neural_gym/TabletopPush/expert-pixels16-v0" in capsys.readouterr().out
    episodes = load_episodes("neural_gym/TabletopPush/expert-pixels16-v0")
    assert episodes[0].instruction and episodes[0].frames is not None and episodes[0].frames.shape[1:] == (16, 16, 3)
    assert main(["collect", "TabletopPush", "--task", "TabletopReach", "--steps", "5", "--quiet"]) == 2
    assert "two tasks" in capsys.readouterr().err
