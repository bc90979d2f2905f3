"""The ``wam`` family end to end: ``neural-gym train --family wam`` on a collected tabletop dataset, then the checkpoint
inside the Dream envs (``checkpoint=`` picks the family): the gymnasium and SB3 env checkers, seeded dreams, the
task's known success rule, bad actions."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import neural_gym
from neural_gym import DreamEnv, DreamVectorEnv
from neural_gym.cli import main
from neural_gym.envs import collect
from neural_gym.world_models import load_checkpoint, read_spec
from neural_gym.world_models.wam import WAMModel

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def checkpoint(minari_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny wam checkpoint trained by the CLI on 1500 noisy-expert TabletopReach steps (a few seconds)."""
    dataset_id = collect(
        "TabletopReach", 1500, policy="expert", action_noise=0.5, seed=0, dataset_id="test/TabletopReach/wam-v0",
        progress=False,
    )  # fmt: skip
    out = tmp_path_factory.mktemp("wam") / "reach-wam.safetensors"
    argv = ["train", "--task", "TabletopReach", "--dataset-id", dataset_id, "--out", str(out), "--family", "wam"]
    assert main([*argv, "--preset", "debug", "--steps", "40", "--batch-size", "32", "--device", "cpu", "--quiet"]) == 0
    return out


def test_the_cli_writes_a_wam_checkpoint_with_its_command(checkpoint):
    spec = read_spec(checkpoint)
    assert spec.family == "wam" and spec.task == "TabletopReach" and spec.obs_shape == (54,)
    assert "--family wam" in spec.provenance["command"]
    assert spec.provenance["dataset_id"] == "test/TabletopReach/wam-v0"
    assert isinstance(load_checkpoint(checkpoint, task="TabletopReach", family="wam", device="cpu"), WAMModel)


def test_the_dream_env_passes_the_gymnasium_and_sb3_checkers(checkpoint):
    env = DreamEnv("TabletopReach", checkpoint=str(checkpoint), device="cpu")
    assert isinstance(env.model, WAMModel)
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(env, warn=True)
    env.close()
    env = gym.make("neural_gym/TabletopReach-v0", checkpoint=str(checkpoint), device="cpu", start="dataset")
    obs, _ = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert obs.shape == (54,) and np.isfinite(reward)
    assert {"uncertainty", "uncertainty_exceeded", "model_error", "is_success"} <= set(info)
    env.close()


def test_wam_dreams_repeat_under_a_seed(checkpoint):
    def roll(seed: int) -> np.ndarray:
        venv = DreamVectorEnv("TabletopReach", checkpoint=str(checkpoint), num_envs=3, device="cpu")
        obs, _ = venv.reset(seed=seed)
        out = [obs]
        for a in np.linspace(-1, 1, 4):
            obs, *_ = venv.step(np.full((3, 4), a))
            out.append(obs)
        venv.close()
        return np.stack(out)

    np.testing.assert_array_equal(roll(1), roll(1))
    assert not np.array_equal(roll(1), roll(2))


def test_bad_actions_are_refused_by_the_wam_dream(checkpoint):
    env = DreamEnv("TabletopReach", checkpoint=str(checkpoint), device="cpu")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"expected an action of shape \(4,\)"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        env.step(np.full(4, np.nan))
    env.close()


def test_a_wam_checkpoint_for_reach_is_refused_for_push(checkpoint):
    with pytest.raises(neural_gym.CheckpointError, match="is for task TabletopReach"):
        DreamEnv("TabletopPush", checkpoint=str(checkpoint), device="cpu")


def test_the_learned_reward_head_and_mean_propagation_serve_the_dream(checkpoint):
    env = DreamEnv(
        "TabletopReach", checkpoint=str(checkpoint), device="cpu", reward="learned", termination="learned",
        propagation="mean",
    )  # fmt: skip
    env.reset(seed=0)
    for _ in range(3):
        obs, reward, terminated, truncated, info = env.step(np.zeros(4))
        assert np.isfinite(obs).all() and np.isfinite(reward) and not info["model_error"]
    env.close()
