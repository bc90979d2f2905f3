"""Physics-state save/restore reproduces recorded trajectories exactly."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from neural_gym.envs import get_physics_state, get_task, physics_state_size, set_physics_state

ALL_TASKS = ["InvertedPendulum", "Reacher", "HalfCheetah", "Hopper", "Pusher", "Walker2d"]


@pytest.mark.parametrize("name", ALL_TASKS)
def test_restore_and_replay_is_exact(name: str) -> None:
    task = get_task(name)
    env = task.make()
    env.reset(seed=5)
    rng = np.random.default_rng(5)
    space = env.action_space
    for _ in range(7):
        env.step(rng.uniform(space.low, space.high).astype(space.dtype))
    state = get_physics_state(env)
    assert state.dtype == np.float64 and state.shape == (physics_state_size(env),)

    actions = [rng.uniform(space.low, space.high).astype(space.dtype) for _ in range(15)]
    recorded = [env.step(a)[:2] for a in actions]

    # Replay in a different env instance that was reset elsewhere: the state alone must determine the future.
    replay_env = task.make()
    replay_env.reset(seed=99)
    replay_env.step(space.sample())
    set_physics_state(replay_env, state)
    np.testing.assert_array_equal(get_physics_state(replay_env), state)
    for action, (obs, reward) in zip(actions, recorded, strict=True):
        obs2, reward2, *_ = replay_env.step(action)
        np.testing.assert_array_equal(obs2, obs)
        assert reward2 == reward
    env.close()
    replay_env.close()


def test_set_physics_state_rejects_bad_state() -> None:
    env = get_task("Hopper").make()
    env.reset(seed=0)
    size = physics_state_size(env)
    with pytest.raises(ValueError, match=str(size)):
        set_physics_state(env, np.zeros(size + 1))
    bad = get_physics_state(env)
    bad[2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        set_physics_state(env, bad)
    env.close()


def test_non_mujoco_env_is_refused() -> None:
    env = gym.make("CartPole-v1")
    with pytest.raises(TypeError, match="MuJoCo"):
        get_physics_state(env)
    env.close()


class _OwnStateEnv(gym.Env):
    """A non-MuJoCo env that defines its own physics-state methods (as the PyBullet tasks do)."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float64)
    action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def __init__(self) -> None:
        self.x = np.zeros(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = self.np_random.normal(size=2)
        return self.x.copy(), {}

    def step(self, action):
        self.x = self.x + np.asarray(action, dtype=np.float64)
        return self.x.copy(), 0.0, False, False, {}

    def get_physics_state(self) -> np.ndarray:
        return self.x.copy()

    def set_physics_state(self, state: np.ndarray) -> None:
        self.x = np.array(state, dtype=np.float64)


def test_env_with_own_state_methods_is_dispatched_to_them() -> None:
    env = gym.wrappers.TimeLimit(_OwnStateEnv(), max_episode_steps=10)
    env.reset(seed=0)
    state = get_physics_state(env)
    assert state.dtype == np.float64 and physics_state_size(env) == 2  # size falls back to the state's length
    env.step(np.ones(2, dtype=np.float32))
    set_physics_state(env, state)
    np.testing.assert_array_equal(get_physics_state(env), state)
    assert get_physics_state(env) is not env.unwrapped.x  # a copy
