"""protocol: batch size, instructions, chunk checks, and the row/stack helpers between env and batch observations."""

from __future__ import annotations

import numpy as np
import pytest

from neural_gym.policies import PolicyError, batch_size, check_chunk, instructions, obs_row, stack_observations


def test_stack_and_row_are_inverse():
    rows = [
        {"pixels": np.full((4, 4, 3), i, np.uint8), "state": np.arange(3.0) + i, "instruction": f"task {i}"}
        for i in range(3)
    ]
    batch = stack_observations(rows)
    assert batch["pixels"].shape == (3, 4, 4, 3) and batch["pixels"].dtype == np.uint8
    assert batch["instruction"] == ["task 0", "task 1", "task 2"]
    assert batch_size(batch) == 3
    for i, row in enumerate(rows):
        back = obs_row(batch, i)
        assert back["instruction"] == row["instruction"]
        np.testing.assert_array_equal(back["pixels"], row["pixels"])
        np.testing.assert_array_equal(back["state"], row["state"])
    np.testing.assert_array_equal(obs_row(stack_observations([np.zeros(2), np.ones(2)]), 1), np.ones(2))


def test_stack_refuses_mixed_rows():
    with pytest.raises(PolicyError, match="empty"):
        stack_observations([])
    with pytest.raises(PolicyError, match="shape"):
        stack_observations([np.zeros(2), np.zeros(3)])
    with pytest.raises(PolicyError, match="keys"):
        stack_observations([{"state": np.zeros(2)}, {"pixels": np.zeros(2)}])
    with pytest.raises(PolicyError, match="outside"):
        obs_row(np.zeros((2, 3)), 2)


def test_batch_and_instruction_checks():
    assert batch_size(np.zeros((5, 2))) == 5
    with pytest.raises(PolicyError, match=r"\(B, D\)"):
        batch_size(np.zeros(3))
    with pytest.raises(PolicyError, match="disagree"):
        batch_size({"state": np.zeros((2, 3)), "instruction": ["a"]})
    with pytest.raises(PolicyError, match="single string"):
        batch_size({"instruction": "a"})
    assert instructions({"instruction": ("a", "b")}) == ["a", "b"]
    with pytest.raises(PolicyError, match="rows \\[1\\]"):
        instructions({"instruction": ["a", " "]})


def test_check_chunk_accepts_single_actions_and_casts():
    out = check_chunk(np.ones((2, 3), np.float64), 2, 3)
    assert out.shape == (2, 1, 3) and out.dtype == np.float32
    with pytest.raises(PolicyError, match="empty action chunk"):
        check_chunk(np.ones((2, 0, 3)), 2, 3)
    with pytest.raises(PolicyError, match="infinite"):
        check_chunk(np.array([[[np.inf]]]), 1, 1)
