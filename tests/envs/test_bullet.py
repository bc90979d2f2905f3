"""The PyBullet KukaReach task: gymnasium compliance in every observation form, exact restore, exact reward, expert."""

from __future__ import annotations

import importlib
import sys

import pytest

pybullet = pytest.importorskip("pybullet", reason="PyBullet is an optional extra: pip install 'neural-gym[bullet]'")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from gymnasium.utils.env_checker import check_env as gym_check_env  # noqa: E402
from gymnasium.wrappers import AddRenderObservation  # noqa: E402
from stable_baselines3.common.env_checker import check_env as sb3_check_env  # noqa: E402

from neural_gym.envs import get_physics_state, physics_state_size, set_physics_state  # noqa: E402
from neural_gym.envs.bullet import KUKA_REACH, KukaReachEnv, KukaReachExpert, kuka_reach_reward  # noqa: E402
from neural_gym.envs.bullet.kuka_reach import PHYSICS_STATE_SIZE, SUCCESS_DISTANCE  # noqa: E402


def _make(obs_mode: str, **kwargs) -> gym.Env:
    """KukaReach in one observation form, built the way ``TaskSpec.make(obs_mode=...)`` does.

    The base env comes unwrapped from ``gym.make`` so that it has a spec (the checker then also tries each render
    mode) and no ``PassiveEnvChecker``/``OrderEnforcing`` layers.
    """
    if obs_mode == "state":
        return gym.make("KukaReach-v0", **kwargs).unwrapped
    env = gym.make("KukaReach-v0", render_mode="rgb_array", width=64, height=64, **kwargs).unwrapped
    return AddRenderObservation(env, render_only=obs_mode == "pixels", render_key="pixels", obs_key="state")


@pytest.mark.parametrize("obs_mode", ["state", "pixels", "dict"])
def test_env_checkers_pass(obs_mode: str) -> None:
    env = _make(obs_mode)
    gym_check_env(env, skip_render_check=False)
    sb3_check_env(env, warn=True)
    if obs_mode == "pixels":
        assert env.observation_space == gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    if obs_mode == "dict":
        assert set(env.observation_space.spaces) == {"pixels", "state"}
        assert env.observation_space["state"].shape == (20,)
    env.close()


def test_registered_id_and_task_spec() -> None:
    assert gym.spec("KukaReach-v0").max_episode_steps == KUKA_REACH.max_episode_steps
    env = KUKA_REACH.make(render_mode="rgb_array", width=48, height=32, default_camera_config={"distance": 1.5})
    assert env.spec is not None and env.spec.max_episode_steps == KUKA_REACH.max_episode_steps
    assert isinstance(env.unwrapped, KukaReachEnv)
    assert env.observation_space == gym.spaces.Box(-np.inf, np.inf, (20,), np.float64)
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (7,), np.float32)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (32, 48, 3) and frame.dtype == np.uint8
    env.close()
    with pytest.raises(ValueError, match="known keys"):
        KukaReachEnv(default_camera_config={"azimuth": 30.0})
    with pytest.raises(ValueError, match="render_mode"):
        KukaReachEnv(render_mode="human")


def test_frame_shows_arm_and_green_target() -> None:
    env = KukaReachEnv(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render().astype(int)
    green = (frame[..., 1] > 150) & (frame[..., 0] < 80) & (frame[..., 2] < 80)
    orange = (frame[..., 0] > 150) & (frame[..., 1] < 120) & (frame[..., 2] < 80)
    assert green.sum() >= 5 and orange.sum() >= 20
    env.close()


def test_seeded_reset_is_deterministic() -> None:
    env_a, env_b = KukaReachEnv(), KukaReachEnv()
    obs_a, _ = env_a.reset(seed=3)
    obs_b, _ = env_b.reset(seed=3)
    np.testing.assert_array_equal(obs_a, obs_b)
    assert not np.array_equal(env_a.reset(seed=4)[0], obs_a)
    action = np.full(7, 0.5, dtype=np.float32)
    env_a.reset(seed=3)
    np.testing.assert_array_equal(env_a.step(action)[0], env_b.step(action)[0])
    env_a.close()
    env_b.close()


def test_restore_and_replay_is_exact() -> None:
    env = gym.make("KukaReach-v0", render_mode="rgb_array")
    env.reset(seed=5)
    rng = np.random.default_rng(5)
    for _ in range(7):
        env.step(rng.uniform(-1, 1, 7).astype(np.float32))
    state = get_physics_state(env)
    assert state.dtype == np.float64 and state.shape == (physics_state_size(env),) == (PHYSICS_STATE_SIZE,)
    frame = env.render()
    # Large actions drive joints into their limits, where the limit constraints act: replay must stay exact.
    actions = [rng.uniform(-1.5, 1.5, 7).astype(np.float32) for _ in range(40)]
    recorded = [env.step(a)[:2] for a in actions]

    replay_env = gym.make("KukaReach-v0", render_mode="rgb_array")
    replay_env.reset(seed=99)
    replay_env.step(np.ones(7, dtype=np.float32))
    set_physics_state(replay_env, state)
    np.testing.assert_array_equal(get_physics_state(replay_env), state)
    np.testing.assert_array_equal(replay_env.render(), frame)
    for action, (obs, reward) in zip(actions, recorded, strict=True):
        obs2, reward2, *_ = replay_env.step(action)
        np.testing.assert_array_equal(obs2, obs)
        assert reward2 == reward
    env.close()
    replay_env.close()


def test_state_from_observation_round_trip() -> None:
    env = KukaReachEnv()
    env.reset(seed=2)
    obs, *_ = env.step(np.full(7, 0.3, dtype=np.float32))
    other = KukaReachEnv()
    other.reset(seed=8)
    other.set_physics_state(other.physics_state_from_obs(obs))
    np.testing.assert_array_equal(other.step(np.zeros(7))[0], env.step(np.zeros(7))[0])
    env.close()
    other.close()


def test_set_physics_state_rejects_bad_state() -> None:
    env = KukaReachEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="size 17"):
        set_physics_state(env, np.zeros(18))
    bad = env.get_physics_state()
    bad[3] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        env.set_physics_state(bad)
    env.close()


def test_reward_fn_matches_env() -> None:
    env = gym.make("KukaReach-v0")
    rng = np.random.default_rng(1)
    rows: dict[str, list[np.ndarray]] = {"o": [], "a": [], "r": [], "n": []}
    obs, _ = env.reset(seed=1)
    expert = KukaReachExpert()
    for i in range(120):
        # mix expert and random (some outside [-1, 1]) actions so both reward terms vary
        action = expert(obs) if i % 2 else rng.uniform(-1.3, 1.3, 7).astype(np.float32)
        next_obs, reward, *_ = env.step(action)
        for key, value in zip("oarn", (obs, action, reward, next_obs), strict=True):
            rows[key].append(np.asarray(value))
        obs = next_obs
    env.close()
    o, a, r, n = (np.stack(rows[k]) for k in "oarn")

    predicted = kuka_reach_reward(o, a, n)
    assert isinstance(predicted, np.ndarray) and predicted.shape == r.shape
    np.testing.assert_array_equal(predicted, r)
    tensors = [torch.as_tensor(x) for x in (o, a, n)]
    predicted_t = kuka_reach_reward(*tensors)
    assert isinstance(predicted_t, torch.Tensor) and predicted_t.shape == r.shape
    np.testing.assert_allclose(predicted_t.numpy(), r, rtol=0, atol=1e-12)
    predicted_32 = kuka_reach_reward(*[t.float() for t in tensors])
    assert predicted_32.dtype == torch.float32
    np.testing.assert_allclose(predicted_32.numpy(), r, rtol=0, atol=1e-5)
    assert KUKA_REACH.reward_fn is kuka_reach_reward
    assert KUKA_REACH.termination_fn is not None and not KUKA_REACH.termination_fn(o, a, n).any()


def test_envs_in_one_process_are_independent() -> None:
    rng = np.random.default_rng(0)
    actions = [rng.uniform(-1, 1, 7).astype(np.float32) for _ in range(10)]
    alone = KukaReachEnv()
    alone.reset(seed=0)
    expected = [alone.step(a)[0] for a in actions]
    alone.close()

    env_a, env_b = KukaReachEnv(), KukaReachEnv()
    env_a.reset(seed=0)
    env_b.reset(seed=1)
    for action, obs in zip(actions, expected, strict=True):
        env_b.step(-action)  # interleaved steps of another env must not leak into env_a
        np.testing.assert_array_equal(env_a.step(action)[0], obs)
    env_b.close()
    obs, *_ = env_a.step(np.zeros(7, dtype=np.float32))  # closing one env leaves the other working
    assert np.isfinite(obs).all()
    env_a.close()
    env_a.close()  # idempotent


@pytest.mark.parametrize(
    ("action", "match"),
    [
        (np.zeros(6, dtype=np.float32), r"shape \(7,\)"),
        (np.zeros((1, 7), dtype=np.float32), r"shape \(7,\)"),
        (np.array([0, 0, np.nan, 0, 0, 0, 0], dtype=np.float32), "finite"),
        (np.array([0, 0, 0, np.inf, 0, 0, 0]), "finite"),
        (np.array(["a"] * 7), "numeric"),
    ],
)
def test_bad_action_is_refused(action: np.ndarray, match: str) -> None:
    env = KukaReachEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=match) as info:
        env.step(action)
    assert "Box" in str(info.value)
    env.close()


def test_expert_reaches_the_target() -> None:
    env = gym.make("KukaReach-v0")
    act = KukaReachExpert()
    successes = 0
    for seed in range(10):
        obs, info = env.reset(seed=seed)
        assert not info["is_success"]
        for _ in range(40):
            obs, _, terminated, truncated, info = env.step(act(obs))
            assert not (terminated or truncated)
        successes += bool(info["is_success"])
        assert info["distance"] < SUCCESS_DISTANCE / 5  # it stays on the target
    assert successes == 10
    act.close()
    env.close()


def test_import_without_pybullet_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "neural_gym.envs.bullet" or m.startswith("neural_gym.envs.bullet.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pybullet", None)  # makes `import pybullet` raise ImportError
    with pytest.raises(ImportError, match=r'pip install "neural-gym\[bullet\]"'):
        importlib.import_module("neural_gym.envs.bullet")


def test_registry_knows_kuka_reach():
    from neural_gym.envs import OPTIONAL_TASKS, get_task, task_names
    from neural_gym.envs.bullet import KUKA_REACH_MAX_EPISODE_STEPS

    assert "KukaReach" in task_names()
    task = get_task("neural_gym/KukaReach-v0")
    assert task.name == "KukaReach" and get_task("kukareach-v0") is task
    assert OPTIONAL_TASKS["KukaReach"].max_episode_steps == KUKA_REACH_MAX_EPISODE_STEPS == task.max_episode_steps
    env = task.make(obs_mode="dict")
    obs, _ = env.reset(seed=0)
    assert obs["pixels"].shape == (64, 64, 3) and obs["state"].shape == (20,)
    env.close()


def test_success_rule_matches_the_env_and_reaches_the_dream():
    import numpy as np
    import torch

    from neural_gym import DreamEnv
    from neural_gym.envs import get_task
    from neural_gym.envs.bullet import KukaReachExpert
    from neural_gym.world_models import EnsembleConfig, EnsembleModel

    task = get_task("KukaReach")
    env = task.make()
    obs, _ = env.reset(seed=0)
    policy = KukaReachExpert()
    flags = []
    for _ in range(40):
        action = policy(obs)
        nxt, _, _, _, info = env.step(action)
        rule = task.success_fn(obs[None], action[None], nxt[None])
        assert bool(rule[0]) == info["is_success"]
        as_t = [torch.as_tensor(x[None]) for x in (obs, action, nxt)]
        assert bool(task.success_fn(*as_t)[0]) == info["is_success"]
        flags.append(info["is_success"])
        obs = nxt
    assert any(flags) and not all(flags)
    env.close()
    space = task.make().action_space
    model = EnsembleModel(
        task="KukaReach",
        task_env_id="KukaReach-v0",
        obs_dim=20,
        action_dim=7,
        action_low=space.low.tolist(),
        action_high=space.high.tolist(),
        config=EnsembleConfig(ensemble_size=2, num_elites=2, hidden_size=16, num_layers=1),
    )
    model.spec.calibration.thresholds = {"ensemble_std": 1e9}
    dream = DreamEnv("KukaReach", model)
    dream.reset(seed=0)
    _, _, _, _, info = dream.step(np.zeros(7))
    assert isinstance(info["is_success"], bool)


def test_set_state_from_obs_renders_a_predicted_state_like_the_ground_truth() -> None:
    """The dream draws a predicted KukaReach observation in the ground-truth scene (``render_mode="rgb_array"``)."""
    from neural_gym.envs import get_task

    task = get_task("KukaReach")
    truth = task.make(render_mode="rgb_array")
    scene = task.make(render_mode="rgb_array")
    try:
        obs, _ = truth.reset(seed=3)
        for _ in range(5):
            obs, *_ = truth.step(truth.action_space.sample())
        scene.reset(seed=11)
        task.set_state_from_obs(scene, obs)
        np.testing.assert_array_equal(scene.render(), truth.render())
    finally:
        truth.close()
        scene.close()
