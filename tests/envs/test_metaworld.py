"""Meta-World MT10 ground truth (the optional ``metaworld`` extra): env checkers in every observation mode, the
instructions, exact replay and rendering from a restored state, the experts, and bad input.

Meta-World pins mujoco 3.3.0, so these tests run for real in the venv ``make test-metaworld`` builds; elsewhere all but
the ImportError test are skipped with the install hint.
"""

from __future__ import annotations

import subprocess
import sys
from types import ModuleType

import gymnasium as gym
import numpy as np
import pytest

HINT = 'Meta-World is an optional extra: pip install "neural-gym[metaworld]" (or run `make test-metaworld`)'


@pytest.fixture(scope="module")
def mw() -> ModuleType:
    """``neural_gym.envs.metaworld``, or a skip with the install hint where Meta-World is missing."""
    pytest.importorskip("metaworld", reason=HINT)
    import neural_gym.envs.metaworld as module

    return module


def _rollout(env: gym.Env, actions: list[np.ndarray]) -> list[tuple]:
    return [env.step(action) for action in actions]


def _same_step(a: tuple, b: tuple) -> bool:
    (obs_a, rew_a, term_a, trunc_a, info_a), (obs_b, rew_b, term_b, trunc_b, info_b) = a, b
    if isinstance(obs_a, dict):
        same_obs = obs_a.keys() == obs_b.keys() and all(np.array_equal(obs_a[k], obs_b[k]) for k in obs_a)
    else:
        same_obs = np.array_equal(obs_a, obs_b)
    same_info = info_a.keys() == info_b.keys() and all(np.array_equal(info_a[k], info_b[k]) for k in info_a)
    return same_obs and rew_a == rew_b and term_a == term_b and trunc_a == trunc_b and same_info


def test_import_error_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['metaworld'] = None\n"
        "try:\n    import neural_gym.envs.metaworld\nexcept ImportError as e:\n    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert 'pip install "neural-gym[metaworld]"' in result.stdout


@pytest.mark.parametrize("obs_mode", ["state", "pixels", "dict"])
@pytest.mark.parametrize("task", ["reach-v3", "door-open-v3"])
def test_gymnasium_env_checker(mw: ModuleType, task: str, obs_mode: str) -> None:
    from gymnasium.utils.env_checker import check_env

    env = mw.make(task, obs_mode=obs_mode, render_mode="rgb_array").unwrapped
    try:
        check_env(env, skip_render_check=False)
    finally:
        env.close()


@pytest.mark.parametrize("obs_mode", ["state", "pixels", "dict"])
def test_sb3_env_checker(mw: ModuleType, obs_mode: str) -> None:
    """SB3 takes no string observations: in dict mode it is checked on the frame and the state (the instruction is
    constant per task, so an SB3 agent loses nothing by not reading it)."""
    from gymnasium.wrappers import FilterObservation
    from stable_baselines3.common.env_checker import check_env

    env = mw.MetaWorldEnv("push-v3", obs_mode=obs_mode)
    checked = FilterObservation(env, ["pixels", "state"]) if obs_mode == "dict" else env
    try:
        check_env(checked, warn=True)
    finally:
        env.close()


def test_instructions_are_fixed_per_task(mw: ModuleType) -> None:
    assert set(mw.INSTRUCTIONS) == set(mw.MT10_TASKS) and len(mw.MT10_TASKS) == 10
    assert len(set(mw.INSTRUCTIONS.values())) == 10
    for task in ("reach-v3", "window-close-v3"):
        env = mw.MetaWorldEnv(task, obs_mode="dict")
        try:
            text_space = env.observation_space["instruction"]
            assert isinstance(text_space, gym.spaces.Text)
            first, _ = env.reset(seed=0)
            later, *_ = env.step(env.action_space.sample())
            again, _ = env.reset(seed=5)
            assert first["instruction"] == later["instruction"] == again["instruction"] == mw.INSTRUCTIONS[task]
            assert text_space.contains(first["instruction"])
            assert first["pixels"].shape == (64, 64, 3) and first["pixels"].dtype == np.uint8
            assert first["state"].shape == (39,)
        finally:
            env.close()
    assert mw.instruction("reach-v3") == "Reach a goal position"


@pytest.mark.parametrize("task", ["reach-v3", "push-v3", "pick-place-v3", "door-open-v3", "drawer-open-v3",
                                  "drawer-close-v3", "button-press-topdown-v3", "peg-insert-side-v3",
                                  "window-open-v3", "window-close-v3"])  # fmt: skip
def test_replay_from_restored_state_is_exact(mw: ModuleType, task: str) -> None:
    """A fresh env of the task (reset to another placement) restored to a mid-episode state replays bit for bit."""
    source, target = mw.MetaWorldEnv(task), mw.MetaWorldEnv(task)
    expert = mw.MetaWorldExpert(task, action_noise=0.3, seed=1)
    try:
        obs, _ = source.reset(seed=3)
        target.reset(seed=99)
        for _ in range(25):
            obs, *_ = source.step(expert(obs))
        state = source.get_physics_state()
        assert state.shape == (source.physics_state_size(),) and state.dtype == np.float64
        actions, recorded = [], []
        for _ in range(30):
            actions.append(expert(obs))
            recorded.append(source.step(actions[-1]))
            obs = recorded[-1][0]
        target.set_physics_state(state)
        replayed = _rollout(target, actions)
        assert all(_same_step(a, b) for a, b in zip(recorded, replayed, strict=True))
        assert np.array_equal(source.get_physics_state(), target.get_physics_state())
    finally:
        source.close()
        target.close()


@pytest.mark.parametrize("task", ["pick-place-v3", "window-open-v3"])
def test_restored_state_renders_the_same_frame_and_replays_pixels(mw: ModuleType, task: str) -> None:
    source, target = mw.MetaWorldEnv(task, obs_mode="dict"), mw.MetaWorldEnv(task, obs_mode="dict")
    rng = np.random.default_rng(0)
    try:
        obs, _ = source.reset(seed=1)
        target.reset(seed=2)
        for _ in range(10):
            obs, *_ = source.step(rng.uniform(-1, 1, 4).astype(np.float32))
        state, frame = source.get_physics_state(), obs["pixels"]
        actions = [rng.uniform(-1, 1, 4).astype(np.float32) for _ in range(8)]
        recorded = _rollout(source, actions)
        target.set_physics_state(state)
        assert np.array_equal(target.render_frame(), frame)
        assert all(_same_step(a, b) for a, b in zip(recorded, _rollout(target, actions), strict=True))
        source.set_physics_state(state)  # and in the env it came from, after it moved on
        assert np.array_equal(source.render_frame(), frame)
    finally:
        source.close()
        target.close()


def test_project_state_and_frame_functions_dispatch_to_the_env(mw: ModuleType) -> None:
    from neural_gym.envs import get_physics_state, physics_state_size, render_frame, set_physics_state

    env = mw.make("drawer-close-v3", obs_mode="pixels")  # through gym.make's wrappers
    try:
        assert env.unwrapped.render_mode == "rgb_array"
        first, _ = env.reset(seed=0)
        state = get_physics_state(env)
        assert state.shape == (physics_state_size(env),)
        for _ in range(5):
            env.step(env.action_space.sample())
        set_physics_state(env, state)
        assert np.array_equal(render_frame(env), first)
    finally:
        env.close()


def test_rendering_does_not_change_the_trajectory(mw: ModuleType) -> None:
    plain, rendered = mw.MetaWorldEnv("push-v3"), mw.MetaWorldEnv("push-v3", obs_mode="dict")
    rng = np.random.default_rng(0)
    try:
        a, _ = plain.reset(seed=4)
        b, _ = rendered.reset(seed=4)
        assert np.array_equal(a, b["state"])
        for _ in range(20):
            action = rng.uniform(-1, 1, 4).astype(np.float32)
            a, reward_a, *_ = plain.step(action)
            rendered.render_frame()  # an extra frame between steps changes nothing either
            b, reward_b, *_ = rendered.step(action)
            assert np.array_equal(a, b["state"]) and reward_a == reward_b
    finally:
        plain.close()
        rendered.close()


def test_reset_is_seeded_and_leaves_the_global_rng_alone(mw: ModuleType) -> None:
    env = mw.MetaWorldEnv("reach-v3")
    before = np.random.get_state()[1].copy()
    try:
        first, _ = env.reset(seed=7)
        other, _ = env.reset(seed=8)
        again, _ = env.reset(seed=7)
        for _ in range(3):
            env.step(env.action_space.sample())
    finally:
        env.close()
    assert np.array_equal(first, again) and not np.array_equal(first[-3:], other[-3:])  # the goal moved
    assert np.array_equal(np.random.get_state()[1], before)


def test_success_reward_and_truncation(mw: ModuleType) -> None:
    env = mw.MetaWorldEnv("reach-v3")
    try:
        _, info = env.reset(seed=0)
        assert info == {"is_success": False}
        steps = 0
        truncated = False
        while not truncated:
            _, reward, terminated, truncated, info = env.step(np.zeros(4, dtype=np.float32))
            steps += 1
            assert not terminated and 0.0 <= reward <= 10.0
            assert info["is_success"] == bool(info["success"])
        assert steps == mw.MAX_EPISODE_STEPS
        with pytest.raises(RuntimeError, match="reset"):
            env.step(np.zeros(4, dtype=np.float32))
    finally:
        env.close()


@pytest.mark.parametrize("task", ["reach-v3", "button-press-topdown-v3"])
def test_expert_succeeds(mw: ModuleType, task: str) -> None:
    assert mw.expert_success_rate(task, episodes=3, seed=0, show_progress=False) == 1.0


def test_expert_noise_and_observation_left_alone(mw: ModuleType) -> None:
    env = mw.MetaWorldEnv("door-open-v3", obs_mode="dict")
    try:
        obs, _ = env.reset(seed=0)
        kept = obs["state"].copy()
        clean = mw.MetaWorldExpert("door-open-v3")(obs)
        assert np.array_equal(obs["state"], kept)  # Meta-World's door policy edits what it parses: not ours
        assert np.array_equal(clean, mw.MetaWorldExpert("door-open-v3")(obs))
        observations = [obs]
        for _ in range(9):
            observations.append(env.step(mw.MetaWorldExpert("door-open-v3")(observations[-1]))[0])
        experts = [mw.MetaWorldExpert("door-open-v3", action_noise=0.5, seed=s) for s in (0, 0, 1)]
        noisy = np.array([[act(o) for o in observations] for act in experts])  # [expert, step, 4]
        clean = np.array([mw.MetaWorldExpert("door-open-v3")(o) for o in observations])
        assert np.array_equal(noisy[0], noisy[1]) and not np.array_equal(noisy[0], noisy[2])
        assert not np.array_equal(noisy[0], clean) and np.all(np.abs(noisy) <= 1.0)
        with pytest.raises(ValueError, match="39-dim state"):
            mw.MetaWorldExpert("door-open-v3")(obs["pixels"])
        with pytest.raises(ValueError, match="action_noise"):
            mw.MetaWorldExpert("door-open-v3", action_noise=-1.0)
    finally:
        env.close()


def test_gymnasium_ids_and_no_dream_ids(mw: ModuleType) -> None:
    env = gym.make("MetaWorld-reach-v3", obs_mode="pixels")
    try:
        assert env.spec is not None and env.spec.max_episode_steps == mw.MAX_EPISODE_STEPS
        obs, _ = env.reset(seed=0)
        assert obs.shape == (64, 64, 3)
    finally:
        env.close()
    env = gym.make("neural_gym.envs.metaworld:MetaWorld-drawer-open-v3")
    env.close()
    assert all(mw.env_id(task) in gym.registry for task in mw.MT10_TASKS)
    import neural_gym  # noqa: F401 - registers the dream ids

    assert not [name for name in gym.registry if name.startswith("neural_gym/") and "MetaWorld" in name]


def test_bad_input_is_refused(mw: ModuleType) -> None:
    with pytest.raises(ValueError, match="MT10"):
        mw.MetaWorldEnv("hammer-v3")
    with pytest.raises(ValueError, match="obs"):
        mw.MetaWorldEnv("reach-v3", obs_mode="rgb")
    with pytest.raises(ValueError, match="camera"):
        mw.MetaWorldEnv("reach-v3", camera="nope")
    env = mw.MetaWorldEnv("reach-v3")
    try:
        with pytest.raises(RuntimeError, match="reset"):
            env.step(np.zeros(4, dtype=np.float32))
        env.reset(seed=0)
        with pytest.raises(ValueError, match="4 finite"):
            env.step(np.zeros(3, dtype=np.float32))
        with pytest.raises(ValueError, match="4 finite"):
            env.step(np.array([0, 0, np.nan, 0], dtype=np.float32))
        with pytest.raises(ValueError, match="size"):
            env.set_physics_state(np.zeros(5))
        bad = env.get_physics_state()
        bad[0] = np.inf
        with pytest.raises(ValueError, match="non-finite"):
            env.set_physics_state(bad)
    finally:
        env.close()
