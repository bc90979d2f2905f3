"""Pixel and dict observation modes: spaces, env checkers, sizes and cameras, argument errors, frames of restored states."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from neural_gym.envs import (
    OBS_MODES,
    PIXELS_KEY,
    STATE_KEY,
    TASKS,
    get_physics_state,
    get_task,
    render_frame,
    set_physics_state,
)
from neural_gym.envs.observations import camera_kwargs, image_hw, state_space


@pytest.fixture(scope="module", autouse=True)
def _headless_rendering() -> Iterator[None]:
    """Skip this module where MuJoCo cannot render headless (no EGL/OSMesa)."""
    try:
        env = get_task("InvertedPendulum").make(obs_mode="pixels", image_size=8)
    except Exception as error:  # noqa: BLE001 - any GL failure means this machine cannot render headless
        pytest.skip(f"headless MuJoCo rendering unavailable (MUJOCO_GL={os.environ.get('MUJOCO_GL')}): {error}")
    env.close()
    yield


def _steps(env: gym.Env, n: int, seed: int = 0) -> list:
    """Observations of ``reset(seed)`` and ``n`` seeded random steps (restarting after an episode ends)."""
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    out = [obs]
    for _ in range(n):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        out.append(obs)
        if terminated or truncated:
            obs, _ = env.reset()
    return out


# ------------------------------------------------------------------------------------------------ spaces and modes


def test_obs_modes() -> None:
    assert OBS_MODES == ("state", "pixels", "dict")


@pytest.mark.parametrize("name", [n for n, t in TASKS.items() if not t.renders_itself])  # tabletop: own tests
def test_pixel_and_dict_spaces(name: str) -> None:
    task = get_task(name)
    state_env = task.make()
    expected_state = state_env.observation_space
    state_env.close()

    env = task.make(obs_mode="pixels")
    assert env.observation_space == gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    assert env.render_mode == "rgb_array"
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8 and obs in env.observation_space
    assert obs.std() > 0  # not a blank frame
    env.close()

    env = task.make(obs_mode="dict")
    assert isinstance(env.observation_space, gym.spaces.Dict)
    assert list(env.observation_space.spaces) == [PIXELS_KEY, STATE_KEY]
    assert env.observation_space[PIXELS_KEY] == gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    assert env.observation_space[STATE_KEY] == expected_state
    assert state_space(env) == expected_state
    obs, _ = env.reset(seed=0)
    assert obs[PIXELS_KEY].dtype == np.uint8 and obs[STATE_KEY].dtype == np.float64
    env.close()


def test_state_mode_is_unchanged() -> None:
    env = get_task("Reacher").make()
    reference = gym.make("Reacher-v5")
    assert env.observation_space == reference.observation_space
    np.testing.assert_array_equal(env.reset(seed=3)[0], reference.reset(seed=3)[0])
    assert env.render_mode is None
    env.close()
    reference.close()


@pytest.mark.parametrize("name", ["InvertedPendulum", "Reacher"])
@pytest.mark.parametrize("obs_mode", ["pixels", "dict"])
def test_env_checkers_pass(name: str, obs_mode: str) -> None:
    env = get_task(name).make(obs_mode=obs_mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both checkers warn about unbounded state boxes, wrappers, action ranges
        gymnasium_check_env(env)  # render check included: the env declares only "rgb_array"
        sb3_check_env(env)
    env.close()


def test_render_returns_the_observed_frame() -> None:
    env = get_task("Reacher").make(obs_mode="pixels")
    last = _steps(env, 3)[-1]
    np.testing.assert_array_equal(env.render(), last)
    env.close()


# ------------------------------------------------------------------------------------------------- size and camera


def test_image_size_int_and_pair() -> None:
    task = get_task("Reacher")
    env = task.make(obs_mode="pixels", image_size=32)
    assert env.reset(seed=0)[0].shape == (32, 32, 3)
    env.close()
    env = task.make(obs_mode="dict", image_size=(48, 80))
    assert env.observation_space[PIXELS_KEY].shape == (48, 80, 3)
    assert env.reset(seed=0)[0][PIXELS_KEY].shape == (48, 80, 3)
    env.close()
    assert image_hw(np.int64(16)) == (16, 16)
    assert image_hw([24, 40]) == (24, 40)


def test_default_cameras() -> None:
    wrapped = {name for name, task in TASKS.items() if not task.renders_itself}
    assert wrapped == {"InvertedPendulum", "Reacher", "HalfCheetah", "Hopper", "Pusher", "Walker2d"}
    for name in ("TabletopReach", "TabletopPush", "TabletopPickPlace"):
        assert TASKS[name].camera == "overhead"  # the tabletop scene's fixed camera
    for name in ("HalfCheetah", "Hopper", "Walker2d"):
        assert TASKS[name].camera == "track"
    for name in ("InvertedPendulum", "Reacher", "Pusher"):
        assert isinstance(TASKS[name].camera, dict)
    assert TASKS["Reacher"].camera["elevation"] == -90.0  # top down


def test_inverted_pendulum_visible_over_the_whole_rail() -> None:
    env = get_task("InvertedPendulum").make(obs_mode="pixels")
    env.reset(seed=0)
    pole, cart = {}, {}
    for x in (-1.0, 0.0, 1.0):  # the slider's range
        env.unwrapped.set_state(np.array([x, 0.2]), np.zeros(2))  # tilted as far as an episode allows
        frame = render_frame(env).astype(int)
        r, g, b = frame[..., 0], frame[..., 1], frame[..., 2]
        pole[x] = int(((g > 80) & (b > 80) & (r < 60)).sum())  # cyan pole
        cart[x] = int(((r > 80) & (g > 80) & (b < 60)).sum())  # yellow cart
    assert pole[0.0] > 10 and cart[0.0] > 5, (pole, cart)
    for x in (-1.0, 1.0):  # as much of cart and pole in frame at the ends of the rail as in the middle
        assert pole[x] >= 0.8 * pole[0.0] and cart[x] >= 0.8 * cart[0.0], (pole, cart)
    env.close()


def test_reacher_frame_shows_arm_and_target() -> None:
    env = get_task("Reacher").make(obs_mode="pixels")
    frame, _ = env.reset(seed=0)
    red = (frame[..., 0] > 90) & (frame[..., 1] < 60) & (frame[..., 2] < 60)  # the target
    arm = (frame[..., 2] > frame[..., 0] + 30) & (frame[..., 1] > frame[..., 0])  # blue-green links
    assert red.sum() >= 2 and arm.sum() >= 30, (red.sum(), arm.sum())
    env.close()


def test_camera_options() -> None:
    task = get_task("Hopper")
    frames = {}
    for label, camera in (
        ("default", None),
        ("name", "track"),
        ("id", 0),
        ("free", {"distance": 5.0, "elevation": -30.0, "lookat": np.array([0.0, 0.0, 1.0])}),
    ):
        env = task.make(obs_mode="pixels", camera=camera)
        frames[label] = env.reset(seed=0)[0]
        env.close()
    np.testing.assert_array_equal(frames["default"], frames["name"])  # Hopper's default is the "track" camera
    np.testing.assert_array_equal(frames["name"], frames["id"])
    assert not np.array_equal(frames["name"], frames["free"])
    assert camera_kwargs({"lookat": np.zeros(3)}) == {"default_camera_config": {"lookat": [0.0, 0.0, 0.0]}}


def test_camera_in_state_mode_picks_the_render_camera() -> None:
    task = get_task("Reacher")
    env = task.make("rgb_array", camera=task.camera, width=64, height=64)
    pixel_env = task.make(obs_mode="pixels")
    assert env.observation_space.shape == (10,)
    env.reset(seed=0)
    frame, _ = pixel_env.reset(seed=0)
    np.testing.assert_array_equal(render_frame(env), frame)
    env.close()
    pixel_env.close()


# ---------------------------------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("obs_mode", ["rgb", "Pixels", "", None])
def test_unknown_obs_mode(obs_mode: object) -> None:
    with pytest.raises(ValueError, match=r"obs_mode.*'state', 'pixels', 'dict'"):
        get_task("Reacher").make(obs_mode=obs_mode)  # type: ignore[arg-type]


@pytest.mark.parametrize("image_size", [0, -4, 64.0, True, "64", (64,), (64, 0), (64, 64, 3), None])
def test_bad_image_size(image_size: object) -> None:
    with pytest.raises(ValueError, match=r"image_size must be a positive int .*\(height, width\)"):
        get_task("Reacher").make(obs_mode="pixels", image_size=image_size)  # type: ignore[arg-type]


@pytest.mark.parametrize("render_mode", ["human", "depth_array", "rgbd_tuple"])
def test_other_render_modes_refused_with_pixels(render_mode: str) -> None:
    with pytest.raises(ValueError, match=r"render_mode='rgb_array'.*got render_mode="):
        get_task("Reacher").make(render_mode, obs_mode="pixels")


def test_render_mode_rgb_array_is_accepted_with_pixels() -> None:
    env = get_task("Reacher").make("rgb_array", obs_mode="dict")
    assert env.render_mode == "rgb_array"
    env.close()


def test_render_kwargs_clash_with_image_size_and_camera() -> None:
    with pytest.raises(ValueError, match=r"image_size= and camera= instead of \['height', 'width'\]"):
        get_task("Reacher").make(obs_mode="pixels", width=32, height=32)
    with pytest.raises(ValueError, match="camera_name"):
        get_task("Reacher").make(obs_mode="dict", camera_name="track")


def test_bad_cameras() -> None:
    task = get_task("Reacher")
    with pytest.raises(ValueError, match=r"no camera named 'side'; its cameras: none"):
        task.make(obs_mode="pixels", camera="side")
    with pytest.raises(ValueError, match=r"Unknown camera config keys \['zoom'\].*MjvCamera"):
        task.make(obs_mode="pixels", camera={"zoom": 2.0})
    with pytest.raises(ValueError, match="Camera id 3 out of range"):
        get_task("Hopper").make(obs_mode="pixels", camera=3)
    with pytest.raises(TypeError, match="camera must be None, a default_camera_config dict"):
        task.make(obs_mode="pixels", camera=1.5)  # type: ignore[arg-type]


def test_render_frame_needs_an_rgb_env() -> None:
    env = get_task("Reacher").make()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"obs_mode='pixels' or 'dict'"):
        render_frame(env)
    env.close()


# -------------------------------------------------------------------------------- frames of restored physics states


@pytest.mark.parametrize("name", ["InvertedPendulum", "Reacher", "Hopper"])  # free cameras and a tracking camera
def test_render_frame_after_restore_is_bit_identical(name: str) -> None:
    """set_physics_state + render_frame gives exactly the frame the env returned at that step.

    It holds because the pixel modes run ``mj_forward`` before rendering (``RenderCurrentState``): a plain
    gymnasium MuJoCo env renders body positions from the start of the last sub-step and would differ.
    """
    task = get_task(name)
    env = task.make(obs_mode="dict")
    obs, _ = env.reset(seed=1)
    env.action_space.seed(1)
    records = [(get_physics_state(env), obs[PIXELS_KEY].copy(), obs[STATE_KEY].copy())]
    for _ in range(6):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        records.append((get_physics_state(env), obs[PIXELS_KEY].copy(), obs[STATE_KEY].copy()))
        if terminated or truncated:
            break

    other = task.make(obs_mode="pixels")  # another env (and renderer) of the same task
    other.reset(seed=99)
    for state, frame, _ in reversed(records):
        set_physics_state(env, state)
        np.testing.assert_array_equal(render_frame(env), frame)
        set_physics_state(other, state)
        np.testing.assert_array_equal(render_frame(other), frame)
    env.close()
    other.close()


def test_physics_state_replay_on_wrapped_envs() -> None:
    """get/set_physics_state go through env.unwrapped: restoring and replaying reproduces frames and states."""
    env = get_task("Reacher").make(obs_mode="dict")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(6, 2)).astype(np.float32)
    start = get_physics_state(env)
    first = [env.step(a)[0] for a in actions]
    set_physics_state(env, start)
    second = [env.step(a)[0] for a in actions]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a[PIXELS_KEY], b[PIXELS_KEY])
        np.testing.assert_array_equal(a[STATE_KEY], b[STATE_KEY])
    env.close()


def test_pixel_mode_leaves_the_dynamics_unchanged() -> None:
    """The mj_forward before each render does not change the trajectory: state observations match state mode."""
    task = get_task("Reacher")
    state_env, dict_env = task.make(), task.make(obs_mode="dict")
    a = _steps(state_env, 60, seed=2)
    b = _steps(dict_env, 60, seed=2)
    for obs, dict_obs in zip(a, b, strict=True):
        np.testing.assert_array_equal(obs, dict_obs[STATE_KEY])
    state_env.close()
    dict_env.close()


def test_set_state_from_obs_on_dict_env() -> None:
    task = get_task("InvertedPendulum")
    env = task.make(obs_mode="dict")
    obs, _ = env.reset(seed=0)
    moved = obs[STATE_KEY].copy()
    moved[0] = 0.5
    task.set_state_from_obs(env, moved)
    np.testing.assert_array_equal(env.unwrapped._get_obs(), moved)
    assert not np.array_equal(render_frame(env), obs[PIXELS_KEY])
    env.close()


# ------------------------------------------------------------------------------------------------------- MUJOCO_GL


@pytest.mark.parametrize(("preset", "expected"), [(None, "egl"), ("osmesa", "osmesa")])
def test_mujoco_gl_default_without_display(preset: str | None, expected: str) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "DISPLAY")}
    if preset is not None:
        environ["MUJOCO_GL"] = preset
    code = "import os, envs; print(os.environ['MUJOCO_GL'])"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], env=environ, cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == expected


def test_renders_survive_other_pixel_envs_opening_and_closing():
    # gymnasium's offscreen viewer does not re-make its GL context current and leaves its MjrContext to the garbage
    # collector; without envs' fixes a live env rendered black frames after another pixel env was closed.
    import gc

    live = get_task("Reacher").make(obs_mode="pixels")
    obs, _ = live.reset(seed=0)
    before = render_frame(live)
    for seed in range(3):
        other = get_task("InvertedPendulum").make(obs_mode="pixels")
        other.reset(seed=seed)
        other.step(other.action_space.sample())
        other.close()
        del other
        gc.collect()
        np.testing.assert_array_equal(render_frame(live), before)
    assert before.max() > 0
    live.close()


def test_pixel_observations_are_contiguous_for_torch():
    env = get_task("Reacher").make(obs_mode="pixels")
    obs, _ = env.reset(seed=0)
    nxt, *_ = env.step(env.action_space.sample())
    for frame in (obs, nxt):
        assert frame.flags["C_CONTIGUOUS"] and all(s > 0 for s in frame.strides)
    import torch

    torch.as_tensor(nxt)  # raises on negative strides
    env.close()
