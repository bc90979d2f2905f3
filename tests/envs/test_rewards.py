"""Known reward and termination rules agree with the real gymnasium envs, on NumPy and torch inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neural_gym.envs import TASKS, get_task
from neural_gym.envs.rewards import hopper_termination, never_terminates
from tests.envs.conftest import Rollout, random_rollout

_ROLLOUTS: dict[str, Rollout] = {}

# Episodes of these end by termination under random actions; the test needs both outcomes in the data.
TERMINATING = {"InvertedPendulum", "Hopper", "Walker2d"}


def _rollout(name: str) -> Rollout:
    if name not in _ROLLOUTS:
        _ROLLOUTS[name] = random_rollout(name, n_steps=250, seed=1)
    return _ROLLOUTS[name]


@pytest.mark.parametrize("name", [n for n, t in TASKS.items() if t.reward_fn is not None])
def test_reward_fn_matches_env(name: str) -> None:
    reward_fn = get_task(name).reward_fn
    assert reward_fn is not None
    data = _rollout(name)
    predicted = reward_fn(data.observations, data.actions, data.next_observations)
    assert isinstance(predicted, np.ndarray) and predicted.shape == data.rewards.shape
    np.testing.assert_allclose(predicted, data.rewards, rtol=0, atol=1e-6)

    tensors = [torch.as_tensor(x) for x in (data.observations, data.actions, data.next_observations)]
    predicted_t = reward_fn(*tensors)
    assert isinstance(predicted_t, torch.Tensor) and predicted_t.shape == (len(data.rewards),)
    np.testing.assert_allclose(predicted_t.numpy(), data.rewards, rtol=0, atol=1e-6)

    # float32 everything (what a learned model produces) stays close.
    predicted_32 = reward_fn(*[t.float() for t in tensors])
    assert predicted_32.dtype == torch.float32
    np.testing.assert_allclose(predicted_32.numpy(), data.rewards, rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", list(TASKS))
def test_termination_fn_matches_env(name: str) -> None:
    termination_fn = get_task(name).termination_fn
    assert termination_fn is not None
    data = _rollout(name)
    predicted = termination_fn(data.observations, data.actions, data.next_observations)
    assert predicted.dtype == bool and predicted.shape == data.terminations.shape
    np.testing.assert_array_equal(predicted, data.terminations)
    predicted_t = termination_fn(
        *[torch.as_tensor(x) for x in (data.observations, data.actions, data.next_observations)]
    )
    assert predicted_t.dtype == torch.bool
    np.testing.assert_array_equal(predicted_t.numpy(), data.terminations)
    if name in TERMINATING:
        assert data.terminations.any() and not data.terminations.all()


@pytest.mark.parametrize("name", list(TASKS))
def test_non_finite_next_obs_terminates(name: str) -> None:
    task = get_task(name)
    data = _rollout(name)
    next_obs = data.next_observations[:4].copy()
    next_obs[1, 2] = np.nan
    next_obs[3, -1] = np.inf
    assert task.termination_fn is not None
    done = task.termination_fn(data.observations[:4], data.actions[:4], next_obs)
    assert done[1] and done[3]
    done_t = task.termination_fn(*[torch.as_tensor(x) for x in (data.observations[:4], data.actions[:4], next_obs)])
    assert bool(done_t[1]) and bool(done_t[3])


def test_rules_accept_unbatched_input() -> None:
    data = _rollout("Reacher")
    reward_fn = get_task("Reacher").reward_fn
    assert reward_fn is not None
    one = reward_fn(data.observations[5], data.actions[5], data.next_observations[5])
    assert np.ndim(one) == 0
    np.testing.assert_allclose(one, data.rewards[5], atol=1e-6)
    assert never_terminates(data.observations[5], data.actions[5], data.next_observations[5]).shape == ()


def test_hopper_termination_boundaries_are_strict() -> None:
    obs = np.zeros((4, 11))
    obs[:, 0] = [0.7, 0.7001, 1.2, 1.2]
    obs[:, 1] = [0.0, 0.0, 0.2, 0.1999]
    np.testing.assert_array_equal(hopper_termination(obs, np.zeros((4, 3)), obs), [True, False, True, False])
