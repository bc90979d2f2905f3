"""Behaviour cloning: every head trains on real demos and acts with the right shape, dtype and range; chunk targets;
reproducibility under a seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neural_gym.policies.vla import HEADS, chunk_targets, train_vla

from .conftest import TINY, obs_batch, tiny_vla


def test_chunk_targets_repeat_the_last_action_and_mask_it() -> None:
    actions = np.arange(12, dtype=np.float32).reshape(3, 4)
    targets, mask = chunk_targets(actions, 4)
    assert targets.shape == (3, 4, 4) and mask.shape == (3, 4)
    np.testing.assert_array_equal(targets[1, 0], actions[1])
    np.testing.assert_array_equal(targets[1, 2], actions[2])
    np.testing.assert_array_equal(targets[1, 3], actions[2])  # padded by repeating the last action
    assert mask[1].tolist() == [1, 1, 0, 0]
    assert mask[0].tolist() == [1, 1, 1, 0]


@pytest.mark.parametrize("head", HEADS)
def test_each_head_acts_with_shape_dtype_and_range(tiny_policies: dict, demos: list, head: str) -> None:
    policy = tiny_policies[head]
    assert policy.head == head and policy.chunk_size == 8
    chunk = policy.act(obs_batch(demos, rows=3))
    assert chunk.shape == (3, 8, 4) and chunk.dtype == np.float32
    assert np.all(np.abs(chunk) <= 1.0) and np.all(np.isfinite(chunk))
    meta = policy.metadata
    assert meta["train_steps"] == 3 and meta["data"]["episodes"] == 4 and meta["command"] == "pytest"
    assert meta["tasks"] == ["reach"] and np.isfinite(meta["final_loss"])


def test_flow_sampling_is_reproducible_under_reset_seed(tiny_policies: dict, demos: list) -> None:
    policy, obs = tiny_policies["flow"], obs_batch(demos)
    policy.reset(seed=7)
    first = policy.act(obs)
    second = policy.act(obs)
    policy.reset(seed=7)
    np.testing.assert_array_equal(policy.act(obs), first)
    assert not np.array_equal(first, second)  # the noise stream moves on between calls


def test_training_is_reproducible_and_seed_dependent(demos: list) -> None:
    a, b, c = (tiny_vla(demos, "regression", steps=2, seed=s) for s in (3, 3, 4))
    for (name, pa), (_, pb) in zip(a.net.state_dict().items(), b.net.state_dict().items(), strict=True):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.net.head.weight, c.net.head.weight)


def test_training_refuses_bad_demos_and_settings(demos: list) -> None:
    with pytest.raises(ValueError, match="at least one episode"):
        train_vla([], steps=1, progress=False)
    with pytest.raises(ValueError, match="frames of shape"):
        train_vla(demos, steps=1, image_size=32, config=TINY, progress=False)
    with pytest.raises(ValueError, match="snapshot_steps"):
        train_vla(demos, steps=2, snapshot_steps=[5], config=TINY, progress=False)
    with pytest.raises(ValueError, match="Unknown head"):
        train_vla(demos, head="diffusion", steps=1, config=TINY, progress=False)


def test_snapshots_are_taken_at_the_requested_steps(demos: list) -> None:
    seen: list[tuple[int, int]] = []
    tiny_vla(
        demos,
        "bins",
        steps=3,
        snapshot_steps=[1, 3],
        on_snapshot=lambda s, p: seen.append((s, p.metadata["train_steps"])),
    )
    assert seen == [(1, 1), (3, 3)]
