"""Every ``neural_gym/*`` id in gymnasium's registry makes a working env on its defaults (its shipped checkpoint),
single and vectorized, and passes gymnasium's ``check_env``."""

from __future__ import annotations

import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import neural_gym
from neural_gym import get_task
from neural_gym.registration import NAMESPACE

ADVISORY = re.compile(r"Box observation space (minimum|maximum) value is|For Box action spaces, we recommend")
"""check_env's space-design advice, which the MuJoCo ground truths get too (unbounded states, their own action
ranges): the dreams keep the ground truth's spaces on purpose."""

IDS = sorted(id_ for id_ in gym.registry if id_.startswith(f"{NAMESPACE}/"))
OPTIONAL_TASKS = neural_gym.envs.OPTIONAL_TASKS
"""Tasks behind optional extras (KukaReach: PyBullet)."""


def _skip_without_extra(id_: str) -> None:
    """Skip an optional-extra task's id (KukaReach: PyBullet) when its extra is not installed, with the install hint;
    the always-installed tasks never skip."""
    task = gym.spec(id_).kwargs["task"]
    if task not in OPTIONAL_TASKS:
        return
    try:
        get_task(task)
    except ImportError as error:
        pytest.skip(f"{id_} needs the optional {OPTIONAL_TASKS[task].extra!r} extra: {error}")


def test_registry_holds_every_task() -> None:
    """The loop below covers every task the package registers (the optional extras' included)."""
    assert set(neural_gym.ENV_IDS) <= set(IDS)
    assert "neural_gym/KukaReach-v0" in IDS


@pytest.mark.parametrize("id_", IDS)
def test_make_reset_step_check_env(id_: str) -> None:
    """``gym.make(id)`` on defaults resets, steps (resetting when an episode ends) and passes ``check_env`` without a
    checker warning beyond the space advice the ground truth gets too."""
    _skip_without_extra(id_)
    env = gym.make(id_)
    try:
        obs, info = env.reset(seed=0)
        assert env.observation_space.contains(obs)
        env.action_space.seed(0)
        for _ in range(5):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            assert env.observation_space.contains(obs) and np.isfinite(reward)
            if terminated or truncated:  # random actions may leave what the dream knows within a step or two
                obs, info = env.reset()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped, skip_render_check=True)  # rendering: test_render below
        checker = [str(w.message) for w in caught if "WARN" in str(w.message) and not ADVISORY.search(str(w.message))]
        assert not checker, checker
    finally:
        env.close()


NO_RENDER: dict[str, str] = {}
"""Known render failures (strict xfail: a fix shows up here as XPASS, to drop the entry)."""


@pytest.mark.parametrize(
    "id_",
    [
        pytest.param(i, marks=pytest.mark.xfail(raises=ValueError, strict=True, reason=NO_RENDER[i]))
        if i in NO_RENDER
        else i
        for i in IDS
    ],
)
def test_render_rgb_array(id_: str) -> None:
    """``gym.make(id, render_mode="rgb_array")`` renders a frame after reset and after a step (the render part of
    ``check_env``)."""
    _skip_without_extra(id_)
    env = gym.make(id_, render_mode="rgb_array")
    try:
        env.reset(seed=0)
        env.action_space.seed(0)  # the same actions every run
        for _ in range(2):
            frame = env.render()
            assert isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:  # a dream may cut its episode at once; render the next one's start
                env.reset()
    finally:
        env.close()


@pytest.mark.parametrize("id_", IDS)
def test_make_vec_on_defaults(id_: str) -> None:
    """``gym.make_vec(id, num_envs=2)`` on defaults (the native DreamVectorEnv) resets and steps."""
    _skip_without_extra(id_)
    envs = gym.make_vec(id_, num_envs=2)
    try:
        obs, _ = envs.reset(seed=0)
        assert obs.shape == envs.observation_space.shape
        obs, reward, terminated, truncated, _ = envs.step(envs.action_space.sample())
        assert envs.observation_space.contains(obs) and reward.shape == (2,)
    finally:
        envs.close()
