"""Task registry: names, aliases, gymnasium specs, and setting a scene from an observation."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from neural_gym.envs import TASKS, TaskSpec, get_task

ALL_TASKS = ["InvertedPendulum", "Reacher", "HalfCheetah", "Hopper", "Pusher", "Walker2d"]
"""The gymnasium MuJoCo v5 tasks (the tabletop suite has its own tests: test_tabletop_tasks.py)."""
TABLETOP_TASKS = ["TabletopReach", "TabletopPush", "TabletopPickPlace"]
X_EXCLUDED = {"HalfCheetah", "Hopper", "Walker2d"}


def test_registry_has_the_six_v5_tasks_and_the_tabletop_suite() -> None:
    assert sorted(TASKS) == sorted(ALL_TASKS + TABLETOP_TASKS)
    for name in ALL_TASKS:
        task = TASKS[name]
        assert isinstance(task, TaskSpec)
        assert task.name == name
        assert task.env_id == f"{name}-v5"
        assert task.max_episode_steps == gym.spec(task.env_id).max_episode_steps
        assert task.description
    assert TASKS["Reacher"].max_episode_steps == 50
    assert TASKS["Pusher"].max_episode_steps == 100
    assert TASKS["HalfCheetah"].max_episode_steps == 1000


def test_known_rules() -> None:
    exact_rewards = {name for name, task in TASKS.items() if task.reward_fn is not None}
    assert exact_rewards == {"InvertedPendulum", "Reacher", "Pusher", *TABLETOP_TASKS}
    assert all(task.termination_fn is not None for task in TASKS.values())


@pytest.mark.parametrize(
    "alias",
    [
        "HalfCheetah",
        "halfcheetah",
        "HALFCHEETAH",
        "HalfCheetah-v5",
        "halfcheetah-v5",
        "neural_gym/HalfCheetah-v0",
        "Neural_Gym/halfcheetah-v0",
        "neural_gym/HalfCheetah",
        " HalfCheetah ",
    ],
)
def test_get_task_aliases(alias: str) -> None:
    assert get_task(alias) is TASKS["HalfCheetah"]


@pytest.mark.parametrize("name", ["Ant", "HalfCheetah-v4", "other/HalfCheetah-v5", "", "Walker"])
def test_unknown_task_lists_known_ones(name: str) -> None:
    with pytest.raises(ValueError, match="Known tasks") as info:
        get_task(name)
    for known in ALL_TASKS:
        assert known in str(info.value)


def test_make_passes_kwargs() -> None:
    env = get_task("Hopper").make(max_episode_steps=7)
    assert env.spec is not None and env.spec.max_episode_steps == 7
    assert env.observation_space.shape == (11,)
    env.close()


def _consistent_obs_after_steps(task: TaskSpec, n_steps: int, seed: int) -> tuple[np.ndarray, float]:
    """Observation (recomputed after mj_forward so body positions match qpos) and root x after random steps."""
    env = task.make()
    env.reset(seed=seed)
    env.action_space.seed(seed)
    for _ in range(n_steps):
        env.step(env.action_space.sample())
    unwrapped = env.unwrapped
    mujoco.mj_forward(unwrapped.model, unwrapped.data)
    obs = unwrapped._get_obs().copy()
    x = float(unwrapped.data.qpos[0])
    env.close()
    return obs, x


@pytest.mark.parametrize("name", ALL_TASKS)
def test_set_state_from_obs_round_trip(name: str) -> None:
    task = get_task(name)
    obs, x = _consistent_obs_after_steps(task, n_steps=8, seed=3)
    env2 = task.make()
    reset_obs, _ = env2.reset(seed=11)

    # An observation straight from reset is consistent for every task.
    task.set_state_from_obs(env2, reset_obs, x_position=0.25)
    np.testing.assert_allclose(env2.unwrapped._get_obs(), reset_obs, rtol=0, atol=1e-8)

    task.set_state_from_obs(env2, obs, x_position=x)
    np.testing.assert_allclose(env2.unwrapped._get_obs(), obs, rtol=0, atol=1e-8)
    if name in X_EXCLUDED:
        assert env2.unwrapped.data.qpos[0] == x
    env2.close()


def test_set_state_from_obs_rejects_bad_input() -> None:
    task = get_task("Walker2d")
    env = task.make()
    obs, _ = env.reset(seed=0)
    with pytest.raises(ValueError, match=r"\(17,\)"):
        task.set_state_from_obs(env, obs[:-1])
    bad = obs.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        task.set_state_from_obs(env, bad)
    env.close()


def test_set_state_from_obs_renders() -> None:
    task = get_task("Pusher")
    env = task.make(render_mode="rgb_array", width=32, height=24)
    obs, _ = env.reset(seed=0)
    moved = obs.copy()
    moved[17:19] += 0.1  # move the object
    task.set_state_from_obs(env, moved)
    try:
        frame = env.render()
    except Exception as error:  # noqa: BLE001 - any GL failure means this machine cannot render headless
        pytest.skip(f"headless MuJoCo rendering unavailable: {error}")
    finally:
        env.close()
    assert frame.shape == (24, 32, 3)
    assert frame.dtype == np.uint8


@pytest.mark.parametrize("name", ALL_TASKS)
def test_x_velocity_index_points_at_root_x_velocity(name: str) -> None:
    task = get_task(name)
    if name not in X_EXCLUDED:
        assert task.x_velocity_index is None
        return
    assert task.x_velocity_index is not None
    env = task.make()
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(5):
        obs, *_ = env.step(env.action_space.sample())
    qvel_x = env.unwrapped.data.qvel[0]
    assert obs[task.x_velocity_index] == np.clip(qvel_x, -10, 10)  # Hopper/Walker2d clip velocities
    env.close()


def test_task_cameras_do_not_break_hashing_or_equality() -> None:
    task = TASKS["Reacher"]
    assert isinstance(task.camera, dict) and hash(task) == hash(task)
    assert task == get_task("Reacher-v5")


def test_make_obs_mode_keywords() -> None:
    env = get_task("InvertedPendulum").make(None, obs_mode="state", image_size=32, camera=None)
    assert env.observation_space.shape == (4,)  # state mode ignores image_size
    env.close()
    with pytest.raises(TypeError):
        get_task("InvertedPendulum").make(None, "pixels")  # type: ignore[misc]  # obs_mode is keyword-only
