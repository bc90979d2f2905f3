"""The engine runs small batches on one torch thread and gives the previous setting back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neural_gym import DreamVectorEnv
from neural_gym.threads import AUTO_SINGLE_THREAD_MAX_BATCH, resolve_num_threads, torch_threads


@pytest.fixture
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def test_torch_threads_restores_the_previous_setting(two_threads):
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(KeyError), torch_threads(1):
        raise KeyError("boom")
    assert torch.get_num_threads() == 2
    with torch_threads(None):
        assert torch.get_num_threads() == 2


def test_resolve_num_threads():
    assert resolve_num_threads("auto", 1) == 1
    assert resolve_num_threads("auto", AUTO_SINGLE_THREAD_MAX_BATCH + 1) is None
    assert resolve_num_threads(None, 1) is None and resolve_num_threads(3, 1) == 3
    for bad in (0, -1, 1.5, True, "many"):
        with pytest.raises(ValueError, match="num_threads"):
            resolve_num_threads(bad, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize(("num_threads", "batch", "inside"), [("auto", 4, 1), (None, 4, 2), ("auto", 512, 2), (1, 512, 1)])
def test_engine_forward_runs_with_the_chosen_threads(pendulum_model, two_threads, num_threads, batch, inside):
    seen: list[int] = []
    step = pendulum_model.step

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return step(*args, **kwargs)

    envs = DreamVectorEnv("InvertedPendulum", pendulum_model, num_envs=batch, num_threads=num_threads)
    envs.reset(seed=0)
    pendulum_model.step = spy
    try:
        envs.step(np.zeros((batch, 1)))
    finally:
        del pendulum_model.step
    assert seen == [inside]
    assert torch.get_num_threads() == 2  # given back after the step
