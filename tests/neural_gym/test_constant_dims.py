"""Episode-constant dims: the tabletop tasks name them, the ground truth keeps them, the Dream envs hold them."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch

import neural_gym  # noqa: F401  (registers the dream ids)
from neural_gym.engine import make_engine
from neural_gym.envs import TASKS, get_task
from neural_gym.envs.tabletop import rules
from neural_gym.world_models import load_checkpoint

HELD = list(rules.EPISODE_CONSTANT_DIMS)
TABLETOP = ("TabletopReach", "TabletopPush", "TabletopPickPlace")
ENGINE_KW = dict(
    start="env",
    on_uncertain="penalize",  # never cut: the episode runs its full length
    uncertainty_threshold=None,
    penalty=0.0,
    halt_penalty=0.0,
    reward=None,
    termination="learned",
    propagation="member",
    max_episode_steps=None,
    device="cpu",
)


@pytest.fixture(scope="module")
def reach_model():
    return load_checkpoint("zoo:TabletopReach", task="TabletopReach", device="cpu")


def test_tabletop_tasks_name_the_goal_and_target_dims():
    assert list(range(38, 53)) == HELD
    for name in TABLETOP:
        assert get_task(name).episode_constant_dims == rules.EPISODE_CONSTANT_DIMS


def test_other_tasks_have_none():
    for name, task in TASKS.items():
        if name not in TABLETOP:
            assert task.episode_constant_dims == (), name


@pytest.mark.parametrize("name", TABLETOP)
def test_ground_truth_keeps_them_constant(name):
    env = get_task(name).make()
    obs, _ = env.reset(seed=3)
    start = obs.copy()
    rng = np.random.default_rng(0)
    moved = False
    for _ in range(60):
        obs, _, terminated, truncated, _ = env.step(rng.uniform(env.action_space.low, env.action_space.high))
        np.testing.assert_array_equal(obs[HELD], start[HELD])
        moved |= not np.array_equal(obs[rules.GRIPPER_SLICE], start[rules.GRIPPER_SLICE])
        if terminated or truncated:
            break
    env.close()
    assert moved


def test_dream_holds_them_bit_for_bit_over_a_whole_episode():
    env = gym.make("neural_gym/TabletopReach-v0", on_uncertain="penalize", device="cpu")
    obs, _ = env.reset(seed=1)
    start = obs.copy()
    env.action_space.seed(0)
    for _ in range(100):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert obs[HELD].tobytes() == start[HELD].tobytes()
        if terminated or truncated:
            break
    others = np.setdiff1d(np.arange(rules.OBS_SIZE), HELD)
    assert not np.array_equal(obs[others], start[others])  # the rest of the dream moves
    env.close()


def test_vector_dream_holds_each_envs_own_start_across_resets():
    venv = gym.make_vec("neural_gym/TabletopReach-v0", num_envs=3, on_uncertain="penalize", device="cpu")
    ground = get_task("TabletopReach").make()
    given = np.stack([ground.reset(seed=s)[0] for s in (10, 11, 12)])
    ground.close()
    obs, _ = venv.reset(seed=0, options={"obs": given})
    np.testing.assert_array_equal(obs, given)
    start = obs.copy()
    ended = np.zeros(3, dtype=bool)
    restarts = 0
    rng = np.random.default_rng(0)
    for _ in range(150):  # past the 100-step limit: every env starts a second episode
        obs, _, terminated, truncated, _ = venv.step(rng.uniform(-1, 1, size=(3, 4)))
        # NEXT_STEP autoreset: the step after an episode ends returns the next episode's first observation
        start[ended] = obs[ended]
        restarts += int(ended.sum())
        assert obs[:, HELD].tobytes() == start[:, HELD].tobytes()
        ended = terminated | truncated
    assert restarts >= 3
    assert not np.array_equal(start[:, HELD], given[:, HELD])  # the new episodes hold their own start values
    venv.close()


def test_without_the_field_the_engine_serves_the_models_own_predictions(reach_model):
    """Default behaviour unchanged: a task without episode-constant dims gets exactly the model's rollout."""
    plain = dataclasses.replace(get_task("TabletopReach"), episode_constant_dims=())
    engine = make_engine(plain, 2, checkpoint=reach_model, **ENGINE_KW)
    rng = np.random.default_rng(4)
    engine.reset(np.ones(2, dtype=bool), [np.random.default_rng(1), np.random.default_rng(2)])
    state = torch.as_tensor(engine.obs, dtype=torch.float32)
    member = torch.as_tensor(engine.members)
    start = engine.obs.copy()
    for _ in range(20):
        actions = rng.uniform(-1, 1, size=(2, 4))
        out = engine.step(actions)
        with torch.inference_mode():
            state = reach_model.step(state, torch.as_tensor(actions, dtype=torch.float32), member=member).state
        np.testing.assert_array_equal(out.obs, state.double().numpy())
    assert not np.array_equal(out.obs[:, HELD], start[:, HELD])  # unheld, they drift
    engine.close()


def test_dims_outside_the_observation_are_refused(reach_model):
    bad = dataclasses.replace(get_task("TabletopReach"), episode_constant_dims=(53, 54))
    with pytest.raises(ValueError, match="episode_constant_dims"):
        make_engine(bad, 1, checkpoint=reach_model, **ENGINE_KW)


def test_the_next_prediction_starts_from_the_held_values(reach_model):
    """The ensemble's carry is the observation: it is held too, so the dream equals a rollout held by hand."""
    engine = make_engine("TabletopReach", 2, checkpoint=reach_model, **ENGINE_KW)
    rng = np.random.default_rng(4)
    engine.reset(np.ones(2, dtype=bool), [np.random.default_rng(1), np.random.default_rng(2)])
    start = torch.as_tensor(engine.obs, dtype=torch.float32)
    state = start.clone()
    member = torch.as_tensor(engine.members)
    for _ in range(20):
        actions = rng.uniform(-1, 1, size=(2, 4))
        out = engine.step(actions)
        with torch.inference_mode():
            state = reach_model.step(state, torch.as_tensor(actions, dtype=torch.float32), member=member).state
            state[:, HELD] = start[:, HELD]
        others = np.setdiff1d(np.arange(rules.OBS_SIZE), HELD)
        np.testing.assert_array_equal(out.obs[:, others], state.double().numpy()[:, others])
    engine.close()


def test_dims_that_are_not_contiguous_are_held_too(reach_model):
    dims = (3, 40, 47)
    spec = dataclasses.replace(get_task("TabletopReach"), episode_constant_dims=dims)
    engine = make_engine(spec, 2, checkpoint=reach_model, **ENGINE_KW)
    engine.reset(np.ones(2, dtype=bool), np.random.default_rng(5))
    start = engine.obs.copy()
    rng = np.random.default_rng(6)
    for _ in range(30):
        out = engine.step(rng.uniform(-1, 1, size=(2, 4)))
    assert out.obs[:, dims].tobytes() == start[:, dims].tobytes()
    assert not np.array_equal(out.obs[:, 39], start[:, 39])  # a goal coordinate not named still drifts
    engine.close()
