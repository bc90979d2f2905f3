"""The MuJoCo tabletop suite: gymnasium compliance, exact restore and frames, instructions and splits, rules, experts."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from neural_gym.envs import get_physics_state, physics_state_size, set_physics_state
from neural_gym.envs.tabletop import (
    FAMILIES,
    GOALS,
    HELDOUT_COMBINATIONS,
    HELDOUT_REACH,
    OBJECTS,
    SUCCESS_FNS,
    TabletopEnv,
    TabletopExpert,
    rules,
)
from neural_gym.envs.tabletop import instructions as ins
from neural_gym.envs.tabletop.expert import expert_success_rate
from neural_gym.envs.tabletop.model import GOAL_HALF_SIZE, OBJECT_HALF_HEIGHT


@pytest.mark.parametrize("task", FAMILIES)
def test_env_checkers_pass_in_state_mode(task: str) -> None:
    env = TabletopEnv(task)
    gym_check_env(env)
    sb3_check_env(env, warn=True)
    assert env.observation_space == gym.spaces.Box(-np.inf, np.inf, (rules.OBS_SIZE,), np.float64)
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    env.close()


@pytest.mark.parametrize("obs_mode", ["pixels", "dict"])
def test_gymnasium_checker_passes_in_pixel_modes(obs_mode: str) -> None:
    env = TabletopEnv("pick_place", obs_mode=obs_mode)
    gym_check_env(env, skip_render_check=False)
    if obs_mode == "pixels":
        sb3_check_env(env, warn=True)
    obs, info = env.reset(seed=3)
    frame = obs if obs_mode == "pixels" else obs["pixels"]
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8 and frame.std() > 10
    if obs_mode == "dict":
        assert set(env.observation_space.spaces) == {"pixels", "state", "instruction"}
        assert isinstance(env.observation_space["instruction"], gym.spaces.Text)
        assert obs["instruction"] == info["instruction"] and obs["instruction"] in env.observation_space["instruction"]
        np.testing.assert_array_equal(obs["state"], env.state_observation())
    env.close()
    with pytest.raises(RuntimeError, match="closed"):
        env.render()


def _rollout(env: TabletopEnv, actions: np.ndarray) -> list[tuple]:
    out = []
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        frame = obs["pixels"].copy() if isinstance(obs, dict) else None
        state = obs["state"].copy() if isinstance(obs, dict) else obs.copy()
        out.append((state, frame, reward, terminated, truncated, info["instruction"], get_physics_state(env)))
        if terminated or truncated:
            break
    return out


@pytest.mark.parametrize("task", FAMILIES)
def test_restore_replays_bit_identically_and_renders_the_same_frame(task: str) -> None:
    env = TabletopEnv(task, obs_mode="dict")
    expert = TabletopExpert(task, action_noise=0.3, seed=1)
    obs, _ = env.reset(seed=5)
    for _ in range(12):  # into the episode: contacts, a moving gripper, maybe a grasp
        obs, *_ = env.step(expert(obs))
    state = get_physics_state(env)
    assert state.shape == (physics_state_size(env),)
    actions = np.concatenate([expert(obs)[None], np.random.default_rng(2).uniform(-1, 1, (15, 4)).astype(np.float32)])
    first = _rollout(env, actions)

    # A fresh env with another episode (other instruction and layout): restore, then replay.
    other = TabletopEnv(task, obs_mode="dict")
    other.reset(seed=99)
    set_physics_state(other, state)
    assert other.instruction == first[0][5]
    second = _rollout(other, actions)
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        assert a[2:6] == b[2:6]
        np.testing.assert_array_equal(a[6], b[6])

    # A restored state renders exactly the frame observed when the env got there.
    for state_obs, frame, *_, physics in (first[3], first[-1]):
        set_physics_state(other, physics)
        np.testing.assert_array_equal(other.render(), frame)
        np.testing.assert_array_equal(other.state_observation(), state_obs)
    env.close()
    other.close()


def test_set_physics_state_rejects_bad_states() -> None:
    env = TabletopEnv("push")
    env.reset(seed=0)
    state = get_physics_state(env)
    with pytest.raises(ValueError, match="size"):
        env.set_physics_state(state[:-1])
    bad = state.copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        env.set_physics_state(bad)
    bad = state.copy()
    bad[-6] = FAMILIES.index("reach")
    with pytest.raises(ValueError, match="family"):
        env.set_physics_state(bad)
    bad = state.copy()
    bad[-3] = 7  # goal index
    with pytest.raises(ValueError, match="instruction indices"):
        env.set_physics_state(bad)
    env.close()


def test_splits_and_instructions() -> None:
    for family in FAMILIES:
        train = set(ins.combinations(family, "train"))
        heldout = set(ins.combinations(family, "heldout"))
        assert train and heldout and not train & heldout
        assert train | heldout == set(ins.combinations(family, "all"))
    f = FAMILIES.index("push")
    assert ins.instruction_text(f, 0, 0, 1) == "push the red cube onto the blue square"
    assert ins.instruction_text(FAMILIES.index("reach"), 0, 0, -1) == "reach the red cube"
    assert (
        ins.instruction_text(FAMILIES.index("pick_place"), 0, 1, 0)
        == "pick up the green cylinder and place it on the yellow circle"
    )
    for split in ("train", "heldout"):
        for task in ("push", "reach"):
            env = TabletopEnv(task, split=split)
            for seed in range(12):
                _, info = env.reset(seed=seed)
                if task == "reach":
                    held = (info["object"], info["combination"][0]) in HELDOUT_REACH
                else:
                    held = (info["object"], info["goal"]) in HELDOUT_COMBINATIONS
                assert held == (split == "heldout"), info
                assert info["object"] in info["instruction"]
            env.close()
    with pytest.raises(ValueError, match="split"):
        TabletopEnv("push", split="test")
    with pytest.raises(ValueError, match="family"):
        TabletopEnv("stack")


def test_reset_layouts_are_seeded_and_valid() -> None:
    env = TabletopEnv("pick_place")
    a, info_a = env.reset(seed=4)
    b, info_b = env.reset(seed=4)
    np.testing.assert_array_equal(a, b)
    assert info_a["instruction"] == info_b["instruction"]
    c, _ = env.reset(seed=5)
    assert not np.array_equal(a, c)
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        objects = obs[rules.OBJECT_POSE_SLICE].reshape(3, 7)[:, :3]
        goals = obs[rules.GOAL_SLICE].reshape(3, 3)
        np.testing.assert_allclose(objects[:, 2], OBJECT_HALF_HEIGHT)
        assert not info["is_success"]
        d = np.linalg.norm(objects[:, None, :2] - goals[None, :, :2], axis=-1)
        assert d.min() > GOAL_HALF_SIZE * np.sqrt(2)  # no object starts on any goal region
    env.close()


def test_success_rules_on_constructed_observations() -> None:
    obs = np.zeros(rules.OBS_SIZE)
    obs[rules.TARGET_OBJECT_SLICE.start + 0] = 1.0  # red cube
    obs[rules.TARGET_GOAL_SLICE.start + 1] = 1.0  # blue square
    goals = np.array([[0.1, 0.1, 0.0006], [-0.1, 0.05, 0.0006], [0.1, -0.1, 0.0006]])
    obs[rules.GOAL_SLICE] = goals.ravel()
    pose = obs[rules.OBJECT_POSE_SLICE].reshape(3, 7)
    pose[:, 3] = 1.0
    pose[0, :3] = [-0.1 + 0.04, 0.05 + 0.04, OBJECT_HALF_HEIGHT[0]]  # in the square's corner, outside a disc
    obs[rules.OBJECT_POSE_SLICE] = pose.ravel()
    obs[rules.OPENING_INDEX] = 0.08
    obs[rules.GRIPPER_SLICE] = [0.0, 0.0, 0.15]
    none = np.zeros(4)
    assert SUCCESS_FNS["push"](obs, none, obs)
    assert not SUCCESS_FNS["pick_place"](obs, none, obs)  # never lifted
    lifted = obs.copy()
    lifted[rules.LIFTED_INDEX] = 1.0
    assert SUCCESS_FNS["pick_place"](lifted, none, lifted)
    held = lifted.copy()
    held[rules.OPENING_INDEX] = 0.04
    assert not SUCCESS_FNS["pick_place"](held, none, held)  # not released
    raised = lifted.copy()
    raised[rules.OBJECT_POSE_SLICE.start + 2] += 0.02
    assert not SUCCESS_FNS["push"](raised, none, raised) and not SUCCESS_FNS["pick_place"](raised, none, raised)
    disc = obs.copy()
    disc[rules.TARGET_GOAL_SLICE] = [0.0, 0.0, 1.0]
    disc[rules.GOAL_SLICE.start + 6 : rules.GOAL_SLICE.start + 8] = [-0.1, 0.05]  # a disc at the same centre
    assert not SUCCESS_FNS["push"](disc, none, disc)  # the corner is outside the circle
    near = obs.copy()
    near[rules.GRIPPER_SLICE] = pose[0, :3] + [0.0, 0.0, 0.025]
    assert SUCCESS_FNS["reach"](near, none, near)
    batch = np.stack([obs, lifted, held])
    np.testing.assert_array_equal(SUCCESS_FNS["pick_place"](batch, np.zeros((3, 4)), batch), [False, True, False])


def test_idle_gripper_never_succeeds_and_time_limit_truncates() -> None:
    env = TabletopEnv("reach")
    env.reset(seed=0)
    for step in range(1, 101):
        _, _, terminated, truncated, info = env.step(np.zeros(4, dtype=np.float32))
        assert not terminated and not info["is_success"]
        assert truncated == (step == 100)
    env.close()


@pytest.mark.parametrize("task", FAMILIES)
def test_expert_succeeds(task: str) -> None:
    """Measured over 50 seeded episodes per family without noise: 100% each; 90% of 20 is the floor here."""
    assert expert_success_rate(task, 20) >= 0.9


def test_expert_on_pixel_env_via_state_observation_and_noise() -> None:
    env = TabletopEnv("push", obs_mode="pixels", split="heldout")
    expert = TabletopExpert("push", action_noise=0.2, seed=0)
    env.reset(seed=1)
    expert.reset()
    for _ in range(150):
        _, _, terminated, truncated, info = env.step(expert(env.state_observation()))
        if terminated or truncated:
            break
    assert info["is_success"]
    with pytest.raises(ValueError, match="state observation"):
        expert(np.zeros((64, 64, 3), dtype=np.uint8))
    env.close()


def test_names() -> None:
    assert len(OBJECTS) == 3 and len(GOALS) == 3 and len(set(OBJECTS)) == 3
