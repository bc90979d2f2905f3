"""Third-party clients of the native ``DreamVectorEnv``: every ``gymnasium.wrappers.vector`` wrapper that applies to a
Box-observation, Box-action env (in each autoreset mode it declares it supports), torchrl's ``GymWrapper`` and RL
Baselines3 Zoo with the shipped ``--conf-file`` hyperparameters."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import gymnasium.wrappers.vector as vw
import numpy as np
import pytest
import yaml
from gymnasium.vector import AutoresetMode, VectorEnv

import neural_gym

ENV_ID = "neural_gym/InvertedPendulum-v0"
NUM_ENVS = 3
MAX_STEPS = 4
"""A short time limit, so a dozen steps end every env's episode at least twice."""
N_STEPS = 12
ALL_MODES = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP, AutoresetMode.DISABLED)


@pytest.fixture(scope="module")
def shipped_model() -> Any:
    """The shipped InvertedPendulum ensemble, loaded once for the module (each env would load it again)."""
    from neural_gym.world_models import load_checkpoint

    return load_checkpoint("zoo:InvertedPendulum", task="InvertedPendulum", device="cpu")


def make_dream(model: Any, mode: AutoresetMode, num_envs: int = NUM_ENVS, **kwargs: Any) -> VectorEnv:
    """The native vector dream of InvertedPendulum on ``model`` (CPU) with a short time limit."""
    return gym.make_vec(
        ENV_ID,
        num_envs=num_envs,
        max_episode_steps=MAX_STEPS,
        autoreset_mode=mode,
        checkpoint=model,
        device="cpu",
        **kwargs,
    )


def _clip_to(low: float, high: float) -> Callable[[VectorEnv], VectorEnv]:
    """A vector ``TransformObservation`` that clips observations into the finite box ``[low, high]``."""

    def wrap(env: VectorEnv) -> VectorEnv:
        shape = env.single_observation_space.shape
        box = gym.spaces.Box(low, high, shape, np.float64)
        return vw.TransformObservation(env, lambda obs: np.clip(obs, low, high), single_observation_space=box)

    return wrap


Wrap = Callable[[VectorEnv, Path], VectorEnv]
"""``(env, tmp_path) -> wrapped env``."""


def env_only(wrap: Callable[[VectorEnv], VectorEnv]) -> Wrap:
    """A wrapper factory that needs no folder."""
    return lambda env, _folder: wrap(env)


@dataclass(frozen=True)
class Case:
    """How to apply one vector wrapper to the dream."""

    wrap: Wrap
    needs: str | None = None
    """A module the wrapper imports (the test skips without it)."""
    render: bool = False
    """Make the dream with ``render_mode="rgb_array"``."""
    broken: tuple[AutoresetMode, ...] = ()
    """Modes the wrapper accepts but cannot run in, on gymnasium's own vector envs too (strict xfail: a gymnasium fix
    shows up as a failure here, to drop the entry)."""


CASES: dict[str, Case] = {
    "VectorizeTransformObservation": Case(
        env_only(lambda env: vw.VectorizeTransformObservation(env, gym.wrappers.DtypeObservation, dtype=np.float32))
    ),
    "VectorizeTransformAction": Case(env_only(lambda env: vw.VectorizeTransformAction(env, gym.wrappers.ClipAction))),
    "VectorizeTransformReward": Case(
        env_only(lambda env: vw.VectorizeTransformReward(env, gym.wrappers.ClipReward, min_reward=-0.5, max_reward=0.5))
    ),
    "DictInfoToList": Case(env_only(vw.DictInfoToList)),
    "TransformObservation": Case(env_only(_clip_to(-10.0, 10.0))),
    "FlattenObservation": Case(env_only(vw.FlattenObservation)),
    "ReshapeObservation": Case(
        env_only(lambda env: vw.ReshapeObservation(env, (*env.single_observation_space.shape, 1)))
    ),
    # the dream's state box is unbounded; rescaling needs finite bounds, so clip first
    "RescaleObservation": Case(env_only(lambda env: vw.RescaleObservation(_clip_to(-10.0, 10.0)(env), -1.0, 1.0))),
    "DtypeObservation": Case(env_only(lambda env: vw.DtypeObservation(env, np.float32))),
    "NormalizeObservation": Case(env_only(vw.NormalizeObservation)),
    "TransformAction": Case(
        env_only(
            lambda env: vw.TransformAction(
                env,
                lambda act: 3.0 * act,
                single_action_space=gym.spaces.Box(-1.0, 1.0, env.single_action_space.shape, np.float32),
            )
        )
    ),
    "ClipAction": Case(env_only(vw.ClipAction)),
    "RescaleAction": Case(env_only(lambda env: vw.RescaleAction(env, -1.0, 1.0))),
    "TransformReward": Case(env_only(lambda env: vw.TransformReward(env, lambda r: 2.0 * r))),
    "ClipReward": Case(env_only(lambda env: vw.ClipReward(env, min_reward=-0.5, max_reward=0.5))),
    "NormalizeReward": Case(env_only(vw.NormalizeReward)),
    "RecordEpisodeStatistics": Case(env_only(vw.RecordEpisodeStatistics)),
    "RecordVideo": Case(
        lambda env, folder: vw.RecordVideo(
            env, video_folder=str(folder / "videos"), step_trigger=lambda t: t == 1, video_length=6
        ),
        needs="moviepy",
        render=True,
    ),
    # SAME_STEP's info["final_obs"] is an object array (gymnasium's format), which the DLPack conversion refuses
    "NumpyToTorch": Case(
        env_only(lambda env: vw.NumpyToTorch(env, device="cpu")),
        needs="array_api_compat",
        broken=(AutoresetMode.SAME_STEP,),
    ),
    "ArrayConversion": Case(
        env_only(lambda env: vw.ArrayConversion(env, env_xp=np, target_xp=np)),
        needs="array_api_compat",
        broken=(AutoresetMode.SAME_STEP,),
    ),
}
"""Every vector wrapper that applies to a state dream (Box observations, Box actions)."""

NOT_APPLICABLE: dict[str, str] = {
    "FilterObservation": "needs a Dict or Tuple observation space; the dreams observe a Box",
    "GrayscaleObservation": "needs RGB image observations (tested on a pixel dream below)",
    "ResizeObservation": "needs image observations (tested on a pixel dream below)",
    "HumanRendering": "opens a pygame window (render_mode 'human'); the dreams render 'rgb_array' and tests are headless",
    "JaxToNumpy": "converts a JAX env; the dreams are NumPy envs",
    "JaxToTorch": "converts a JAX env; the dreams are NumPy envs",
}


def test_every_vector_wrapper_is_classified() -> None:
    """A new gymnasium vector wrapper fails here until it is tested (CASES) or given a reason (NOT_APPLICABLE)."""
    known = set(CASES) | set(NOT_APPLICABLE)
    assert set(vw.__all__) == known, f"unclassified: {sorted(set(vw.__all__) - known)}"


def _random_actions(env: VectorEnv, rng: np.random.Generator, like: Any) -> Any:
    """Uniform actions in the env's action space, as a torch tensor when the env's observations are tensors. An
    unbounded space (``ClipAction``'s) gets actions up to twice the dream's own bounds, so clipping has work to do."""
    space = env.single_action_space
    base = env.unwrapped.single_action_space
    low = np.where(np.isfinite(space.low), space.low, 2.0 * base.low)
    high = np.where(np.isfinite(space.high), space.high, 2.0 * base.high)
    acts = rng.uniform(low, high, size=(env.num_envs, *space.shape)).astype(space.dtype)
    if isinstance(like, np.ndarray):
        return acts
    import torch

    return torch.as_tensor(acts)


def _as_numpy(x: Any) -> np.ndarray:
    return x.numpy() if hasattr(x, "numpy") and not isinstance(x, np.ndarray) else np.asarray(x)


def run_episodes(env: VectorEnv, mode: AutoresetMode, n_steps: int = N_STEPS, seed: int = 0) -> dict[str, Any]:
    """Reset, then step with random actions through several episode ends, resetting ended envs by hand under
    ``DISABLED``. Checks shapes and the observation space on the way; returns what the steps saw."""
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    assert _as_numpy(obs).shape == env.observation_space.shape
    ends = 0
    lengths: list[int] = []
    stats: list[int] = []
    own_len = np.zeros(env.num_envs, dtype=int)
    prev_done = np.zeros(env.num_envs, dtype=bool)
    for _ in range(n_steps):
        obs, reward, terminated, truncated, info = env.step(_random_actions(env, rng, obs))
        obs_np = _as_numpy(obs)
        assert obs_np.shape == env.observation_space.shape
        assert np.isfinite(obs_np).all()
        if not isinstance(info, list):  # DictInfoToList turns info into a list of dicts
            assert env.observation_space.contains(obs_np.astype(env.observation_space.dtype))
        done = _as_numpy(terminated) | _as_numpy(truncated)
        assert _as_numpy(reward).shape == (env.num_envs,)
        # what an episode length is under this mode: NEXT_STEP's autoreset step belongs to no episode
        counted = ~prev_done if mode == AutoresetMode.NEXT_STEP else np.ones(env.num_envs, dtype=bool)
        own_len[counted] += 1
        if done.any():
            ends += int(done.sum())
            lengths.extend(own_len[done].tolist())
            if isinstance(info, dict) and "episode" in info:
                stats.extend(info["episode"]["l"][done].tolist())
            own_len[done] = 0
        if mode == AutoresetMode.DISABLED and done.any():
            obs, _ = env.reset(options={"reset_mask": done.copy()})
            assert _as_numpy(obs).shape == env.observation_space.shape
            prev_done = np.zeros(env.num_envs, dtype=bool)
        else:
            prev_done = done
    return {"ends": ends, "lengths": lengths, "stats": stats}


# What gymnasium 1.4's wrappers declare: the observation wrappers (VectorObservationWrapper and its subclasses)
# refuse SAME_STEP, NormalizeObservation also refuses DISABLED; the others take every mode.
WRAPPER_MODES = [
    pytest.param(
        name,
        mode,
        id=f"{name}-{mode.name}",
        marks=[
            pytest.mark.xfail(
                raises=BufferError,
                strict=True,
                reason="gymnasium's array conversion cannot convert SAME_STEP's object-dtype final_obs "
                "(its SyncVectorEnv fails the same way)",
            )
        ]
        if mode in CASES[name].broken
        else [],
    )
    for name in sorted(CASES)
    for mode in ALL_MODES
]


@pytest.mark.parametrize(("name", "mode"), WRAPPER_MODES)
def test_vector_wrapper_on_native_dream(name: str, mode: AutoresetMode, tmp_path: Path, shipped_model: Any) -> None:
    """Each applicable wrapper runs on the native DreamVectorEnv through episode ends in every autoreset mode it
    accepts. A wrapper may refuse a mode (gymnasium's wrappers read ``metadata["autoreset_mode"]`` and raise
    ``ValueError``), never the default ``NEXT_STEP``."""
    case = CASES[name]
    if case.needs is not None and importlib.util.find_spec(case.needs) is None:
        pytest.skip(f"{name} needs {case.needs}, which is not installed")
    env = make_dream(shipped_model, mode, **({"render_mode": "rgb_array"} if case.render else {}))
    assert env.metadata["autoreset_mode"] == mode and env.unwrapped.autoreset_mode == mode
    try:
        wrapped = case.wrap(env, tmp_path)
    except ValueError as error:
        env.close()
        assert mode != AutoresetMode.NEXT_STEP, f"{name} refuses the default autoreset mode: {error}"
        assert "autoreset_mode" in str(error), error  # the wrapper's declared refusal, nothing else
        return
    try:
        seen = run_episodes(wrapped, mode)
    finally:
        wrapped.close()
    assert seen["ends"] >= NUM_ENVS, "every env should have ended an episode"
    assert all(1 <= n <= MAX_STEPS for n in seen["lengths"])
    if name == "RecordEpisodeStatistics":
        # its lengths agree with the dream's declared autoreset mode
        assert seen["stats"] == seen["lengths"]
    if name == "RecordVideo":
        assert list(tmp_path.glob("videos/*.mp4")), "RecordVideo wrote no video"


@pytest.mark.parametrize("name", ["GrayscaleObservation", "ResizeObservation"])
def test_image_wrappers_on_pixel_dream(name: str) -> None:
    """The image wrappers run on a pixel dream (the shipped latent model of 64x64 Reacher frames)."""
    if name == "ResizeObservation" and importlib.util.find_spec("cv2") is None:
        pytest.skip('ResizeObservation needs OpenCV (pip install "gymnasium[other]"), which is not installed')
    env = gym.make_vec(
        "neural_gym/Reacher-v0",
        num_envs=2,
        checkpoint="zoo:Reacher-latent-pixels",
        max_episode_steps=3,
        device="cpu",
    )
    assert env.single_observation_space.shape == (64, 64, 3)
    wrapped = vw.GrayscaleObservation(env) if name == "GrayscaleObservation" else vw.ResizeObservation(env, (32, 32))
    try:
        seen = run_episodes(wrapped, AutoresetMode.NEXT_STEP, n_steps=5)
    finally:
        wrapped.close()
    assert wrapped.single_observation_space.shape == ((64, 64) if name == "GrayscaleObservation" else (32, 32, 3))
    assert seen["ends"] >= 2


def test_wrappers_stack_on_native_dream(shipped_model: Any) -> None:
    """A typical stack (the one gymnasium's PPO examples use) on the dream in its default mode."""
    env = gym.make_vec(ENV_ID, num_envs=NUM_ENVS, max_episode_steps=MAX_STEPS, checkpoint=shipped_model, device="cpu")
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    env = vw.RecordEpisodeStatistics(env)
    env = vw.ClipAction(env)
    env = vw.NormalizeObservation(env)
    env = vw.TransformObservation(env, lambda obs: np.clip(obs, -10, 10))
    env = vw.NormalizeReward(env, gamma=0.99)
    env = vw.TransformReward(env, lambda r: np.clip(r, -10, 10))
    try:
        seen = run_episodes(env, AutoresetMode.NEXT_STEP)
    finally:
        env.close()
    assert seen["stats"] == seen["lengths"] and seen["ends"] >= NUM_ENVS


# ---------------------------------------------------------------------------------------------------- torchrl


TORCHRL_SKIP = 'torchrl is not installed (pip install "neural-gym[test]" or pip install torchrl)'


# torchrl's GymWrapper reads the vector env's ``autoreset_mode`` attribute and takes DISABLED (its preference: it
# resets the done sub-envs itself with ``reset_mask``) or SAME_STEP (it reads ``info["final_obs"]``).
@pytest.mark.parametrize("mode", [AutoresetMode.DISABLED, AutoresetMode.SAME_STEP], ids=lambda m: m.name)
def test_torchrl_gym_wrapper_check_env_specs(mode: AutoresetMode, shipped_model: Any) -> None:
    """``torchrl.envs.GymWrapper`` over ``gym.make_vec(...)`` passes ``check_env_specs``, and a rollout crosses
    episode ends."""
    pytest.importorskip("torchrl", reason=TORCHRL_SKIP)
    import torch
    from torchrl.envs import GymWrapper
    from torchrl.envs.utils import check_env_specs

    env = GymWrapper(make_dream(shipped_model, mode, num_envs=4), device="cpu")
    try:
        assert env.batch_size == torch.Size([4])
        check_env_specs(env, seed=0)
        rollout = env.rollout(3 * MAX_STEPS, break_when_any_done=False)
        assert rollout.batch_size == torch.Size([4, 3 * MAX_STEPS])
        assert rollout["next", "done"].any()
        assert torch.isfinite(rollout["next", "observation"]).all()
    finally:
        env.close()


def test_torchrl_refuses_next_step_autoreset(shipped_model: Any) -> None:
    """The default NEXT_STEP mode is declared, and torchrl reads it and refuses (rather than mis-tracking the
    autoreset step)."""
    pytest.importorskip("torchrl", reason=TORCHRL_SKIP)
    from torchrl.envs import GymWrapper

    env = make_dream(shipped_model, AutoresetMode.NEXT_STEP, num_envs=2)
    with pytest.raises(RuntimeError, match="SAME_STEP or DISABLED"):
        GymWrapper(env, device="cpu")
    env.close()


# ---------------------------------------------------------------------------------------------------- rl_zoo3


def test_rl_zoo_config_ships_every_task() -> None:
    """The shipped ``--conf-file`` YAMLs cover every registered id, and the helper finds them as package data."""
    for algo in ("ppo", "sac", "PPO"):
        path = neural_gym.rl_zoo_config(algo)
        assert path.is_file() and path.name == f"{algo.lower()}.yml"
        conf = yaml.safe_load(path.read_text())
        assert set(conf) == set(neural_gym.ENV_IDS)
        for id_, hp in conf.items():
            assert hp["policy"] == "MlpPolicy" and hp["n_timesteps"] > 0, id_
    with pytest.raises(ValueError, match="ships"):
        neural_gym.rl_zoo_config("dqn")


def test_rl_zoo3_trains_with_shipped_hyperparameters(tmp_path: Path) -> None:
    """``python -m rl_zoo3.train ... --conf-file <ours>`` runs a tiny PPO budget in the dream and records our
    hyperparameters (only n_envs/n_steps/batch_size/n_epochs shrunk for time) in its saved config.yml."""
    if importlib.util.find_spec("rl_zoo3") is None:
        pytest.skip('rl_zoo3 is not installed (pip install "neural-gym[rl-zoo]")')
    conf_file = neural_gym.rl_zoo_config("ppo")
    shrunk = {"n_envs": 1, "n_steps": 32, "batch_size": 32, "n_epochs": 1}
    cmd = [
        sys.executable, "-m", "rl_zoo3.train", "--algo", "ppo", "--env", ENV_ID, "--gym-packages", "neural_gym",
        "--conf-file", str(conf_file), "-n", "32", "--eval-freq", "-1", "--save-freq", "-1", "--seed", "0",
        "--device", "cpu", "--log-folder", str(tmp_path), "--log-interval", "-1",
        "--hyperparams", *(f"{k}:{v}" for k, v in shrunk.items()),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"Loading hyperparameters from: {conf_file}" in proc.stdout
    saved = list(tmp_path.glob("ppo/neural_gym-InvertedPendulum-v0_*/neural_gym-InvertedPendulum-v0/config.yml"))
    assert len(saved) == 1, sorted(str(p) for p in tmp_path.rglob("*"))
    used = dict(yaml.load(saved[0].read_text(), Loader=yaml.UnsafeLoader))  # an OrderedDict tag, our own tmp file
    ours = yaml.safe_load(conf_file.read_text())[ENV_ID]
    assert used == {**ours, **shrunk}
    assert list(saved[0].parent.glob("vecnormalize.pkl")), "normalize: true should have saved VecNormalize stats"
