"""The tabletop suite as registered tasks: names, gymnasium ids, TaskSpec.make in every observation mode (both env
checkers), setting a scene from a state observation, and the experts in the registry."""

from __future__ import annotations

import contextlib
import io

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from gymnasium.wrappers import FilterObservation
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from neural_gym.envs import EXPERTS, TASKS, expert, get_physics_state, get_task, task_names
from neural_gym.envs.tabletop import (
    MAX_EPISODE_STEPS,
    REWARD_FNS,
    SUCCESS_FNS,
    TASK_FAMILIES,
    TERMINATION_FNS,
    TabletopEnv,
    TabletopExpert,
    rules,
)

NAMES = list(TASK_FAMILIES)


def test_names_and_specs() -> None:
    assert NAMES == ["TabletopReach", "TabletopPush", "TabletopPickPlace"]
    assert all(name in TASKS and name in task_names() for name in NAMES)
    for name, family in TASK_FAMILIES.items():
        task = TASKS[name]
        assert task.name == name and task.env_id == f"{name}-v0" and task.renders_itself
        assert task.max_episode_steps == MAX_EPISODE_STEPS[family] == gym.spec(task.env_id).max_episode_steps
        assert gym.spec(task.env_id).kwargs == {"task": family}
        assert task.reward_fn is REWARD_FNS[family]
        assert task.termination_fn is TERMINATION_FNS[family] and task.success_fn is SUCCESS_FNS[family]
        assert gym.spec(f"neural_gym/{name}-v0").kwargs == {"task": name}  # the dream id


@pytest.mark.parametrize("alias", ["TabletopPush", "tabletoppush", "TabletopPush-v0", "neural_gym/TabletopPush-v0"])
def test_get_task_aliases(alias: str) -> None:
    assert get_task(alias) is TASKS["TabletopPush"]


def test_get_task_refuses_other_versions() -> None:
    with pytest.raises(ValueError, match="TabletopPush-v0"):
        get_task("TabletopPush-v5")


def test_cli_tasks_lists_the_suite() -> None:
    from neural_gym.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["tasks"]) == 0
    for name in NAMES:
        assert f"neural_gym/{name}-v0" in out.getvalue() and f"{name}-v0 " in out.getvalue()


@pytest.mark.parametrize("obs_mode", ["state", "pixels", "dict"])
@pytest.mark.parametrize("name", NAMES)
def test_make_passes_both_env_checkers(name: str, obs_mode: str) -> None:
    """gymnasium's check_env on the made env; SB3's on it too, except that SB3 has no Text space: in dict mode it
    refuses the instruction, and passes once the instruction is filtered out."""
    env = get_task(name).make(obs_mode=obs_mode, image_size=32)
    gym_check_env(env.unwrapped, skip_render_check=obs_mode == "state")
    if obs_mode == "dict":
        with pytest.raises(AssertionError, match="instruction"):
            sb3_check_env(env, warn=False)
        sb3_check_env(FilterObservation(env, ["pixels", "state"]), warn=False)
    else:
        sb3_check_env(env, warn=False)
    obs, info = env.reset(seed=0)
    assert isinstance(info["instruction"], str) and obs in env.observation_space
    if obs_mode == "state":
        assert obs.shape == (rules.OBS_SIZE,)
    else:
        frame = obs if obs_mode == "pixels" else obs["pixels"]
        assert frame.shape == (32, 32, 3) and frame.dtype == np.uint8
    if obs_mode == "dict":
        assert obs["instruction"] == info["instruction"]
    env.close()


def test_make_frame_size_and_camera() -> None:
    task = get_task("TabletopReach")
    env = task.make(render_mode="rgb_array", width=48, height=40)  # what the dream renderer passes
    env.reset(seed=0)
    assert env.render().shape == (40, 48, 3)
    env.close()
    free = task.make(obs_mode="pixels", camera=-1)
    fixed = task.make(obs_mode="pixels")
    assert not np.array_equal(free.reset(seed=0)[0], fixed.reset(seed=0)[0])
    free.close()
    fixed.close()
    with pytest.raises(ValueError, match="image_size"):
        task.make(obs_mode="pixels", width=48)
    with pytest.raises(ValueError, match="overhead"):
        task.make(obs_mode="pixels", camera="nope")
    with pytest.raises(ValueError, match="obs_mode"):
        task.make(obs_mode="rgb")


def _observation_after_expert_steps(name: str, steps: int, seed: int) -> np.ndarray:
    env = get_task(name).make()
    obs, _ = env.reset(seed=seed)
    act = expert(name)
    for _ in range(steps):
        obs, *_ = env.step(act(obs))
    env.close()
    return obs


@pytest.mark.parametrize("name", NAMES)
def test_set_state_from_obs_round_trip(name: str) -> None:
    task = get_task(name)
    obs = _observation_after_expert_steps(name, 25, seed=4)
    for obs_mode in ("state", "dict"):
        env = task.make(obs_mode=obs_mode)
        first, _ = env.reset(seed=9)
        task.set_state_from_obs(env, obs)
        unwrapped = env.unwrapped
        assert isinstance(unwrapped, TabletopEnv)
        np.testing.assert_allclose(unwrapped.state_observation(), obs, rtol=0, atol=1e-12)
        assert unwrapped.instruction  # an instruction of the observed object (and goal)
        if obs_mode == "dict":
            frame = env.render()
            assert frame.shape == (64, 64, 3) and not np.array_equal(frame, first["pixels"])
        # What the observation lacks is zero: angular velocities of the gripper and objects.
        qvel = unwrapped.data.qvel
        for joint in ("gripper", "obj0", "obj1", "obj2"):
            adr = int(unwrapped.model.jnt_dofadr[unwrapped.model.joint(joint).id])
            np.testing.assert_array_equal(qvel[adr + 3 : adr + 6], 0.0)
        env.close()


def test_physics_state_from_obs_does_not_touch_the_env_and_rejects_bad_obs() -> None:
    env = TabletopEnv("push")
    obs, _ = env.reset(seed=0)
    before = get_physics_state(env)
    state = env.physics_state_from_obs(obs + 0.01)
    assert state.shape == (env.physics_state_size(),)
    np.testing.assert_array_equal(get_physics_state(env), before)
    with pytest.raises(ValueError, match=r"\(54,\)"):
        env.physics_state_from_obs(obs[:-1])
    bad = obs.copy()
    bad[0] = np.inf
    with pytest.raises(ValueError, match="finite"):
        get_task("TabletopPush").set_state_from_obs(env, bad)
    env.close()


def test_experts_in_the_registry() -> None:
    for name, family in TASK_FAMILIES.items():
        assert name in EXPERTS
        controller = expert(name)
        assert isinstance(controller, TabletopExpert) and controller.task == family and controller.action_noise == 0


def test_expert_restarts_on_a_new_layout() -> None:
    """Between episodes the expert resets itself when the layout changes, even without reset() (drift and paired
    evaluation call it with observations only)."""
    env = TabletopEnv("pick_place")
    controller = TabletopExpert("pick_place")
    solved = 0
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        terminated = truncated = False
        while not (terminated or truncated):
            obs, _, terminated, truncated, _ = env.step(controller(obs))
        solved += int(terminated)
        assert controller.phase != "approach"  # left mid-task or retreating: the next layout must restart it
    assert solved >= 2
    env.close()


def test_objects_stay_on_the_table_under_random_play() -> None:
    """The rim keeps pushed objects on the table, so every object coordinate stays bounded (a dream's data too)."""
    env = TabletopEnv("push")
    rng = np.random.default_rng(0)
    positions = []
    for seed in range(4):
        env.reset(seed=seed)
        for _ in range(150):
            obs, *_ = env.step(rng.uniform(-1, 1, 4).astype(np.float32))
            positions.append(obs[rules.OBJECT_POSE_SLICE].reshape(3, 7)[:, :3])
    env.close()
    xyz = np.stack(positions)
    assert np.all(np.abs(xyz[..., :2]) < 0.3) and np.all(xyz[..., 2] > 0.0) and np.all(xyz[..., 2] < 0.3)


def _make_dict_push() -> gym.Env:
    return gym.make("TabletopPush-v0", obs_mode="dict")


def _async_instructions(shared_memory: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Instructions of a 2-env AsyncVectorEnv (spawned workers: forking after EGL rendering can hang) and of the same
    envs in a SyncVectorEnv, after the same seeded reset."""
    sync = gym.vector.SyncVectorEnv([_make_dict_push] * 2)
    expected = tuple(sync.reset(seed=0)[0]["instruction"])
    sync.close()
    vec = gym.vector.AsyncVectorEnv([_make_dict_push] * 2, shared_memory=shared_memory, context="spawn")
    try:
        got = tuple(vec.reset(seed=0)[0]["instruction"])
    finally:
        vec.close()
    return got, expected


def test_async_vector_env_without_shared_memory_keeps_instructions() -> None:
    """What the README advises for dict observations: ``AsyncVectorEnv(..., shared_memory=False)``."""
    got, expected = _async_instructions(shared_memory=False)
    assert got == expected and all(got)


@pytest.mark.xfail(strict=True, reason="gymnasium 1.4's shared-memory AsyncVectorEnv returns Text observations blank")
def test_async_vector_env_with_shared_memory_keeps_instructions() -> None:
    got, expected = _async_instructions(shared_memory=True)
    assert got == expected
