"""Dream RL: tiny offline and Dyna runs finish, agents load and act, runs resume, bad configurations are refused."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import PPO, SAC

from neural_gym.dream_rl import MixedReplayBuffer, train_dyna, train_offline
from neural_gym.dream_rl.cli import add_parser, run
from neural_gym.envs import collect

from .dream_rl_settings import DYNA, TINY


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)  # two torch threads on a busy 2-core box wait on each other


@pytest.fixture(scope="module")
def noisy_expert(minari_dir: Path) -> str:
    """2000 steps of InvertedPendulum's expert with heavy action noise (a medium-quality dataset)."""
    return collect(
        "InvertedPendulum",
        2000,
        policy="expert",
        action_noise=0.6,
        seed=0,
        dataset_id="test/IP/noisy-v0",
        progress=False,
    )


def _csv_steps(path: Path) -> list[int]:
    with open(path, newline="") as f:
        return [int(float(row["timesteps"])) for row in csv.DictReader(f)]


def _agent_path(out: Path) -> Path:
    """The agent of the generation ``state.json`` commits (``<out>/gen-NNNNNN/agent.zip``)."""
    return out / json.loads((out / "state.json").read_text())["generation"] / "agent.zip"


def _acts(agent_path: Path, cls: type) -> None:
    agent = cls.load(agent_path, device="cpu")
    action, _ = agent.predict(np.zeros(4, dtype=np.float32), deterministic=True)
    assert action.shape == (1,) and np.isfinite(action).all()


def test_offline_ppo_trains_in_dream_and_scores_in_mujoco(noisy_expert: str, tmp_path: Path) -> None:
    result = train_offline(
        "InvertedPendulum",
        noisy_expert,
        algo="PPO",
        total_timesteps=256,
        num_envs=8,
        horizon=20,
        on_uncertain="penalize",
        penalty=0.5,
        model_config=TINY,
        model_epochs=3,
        eval_freq=128,
        eval_episodes=2,
        eval_max_episode_steps=50,
        save_freq=128,
        out_dir=tmp_path,
        tensorboard=True,
        progress=False,
        agent_kwargs={"n_steps": 16, "batch_size": 64, "n_epochs": 1},
    )
    assert result.steps == 256 and result.real_steps == 0
    assert len(result.model.start_states) == 2000  # the dream starts from the dataset's states
    assert _csv_steps(tmp_path / "eval.csv") == [128, 256]
    for row in result.evaluations:  # every evaluation: both returns and the gap, absolute and as a share
        gap = row["dream_return_mean"] - row["real_return_mean"]
        assert row["dream_real_gap"] == pytest.approx(gap)
        assert row["dream_real_gap_share"] == pytest.approx(gap / abs(row["real_return_mean"]))
    with open(tmp_path / "eval.csv", newline="") as f:
        written = list(csv.DictReader(f))
    assert [float(r["dream_real_gap_share"]) for r in written] == pytest.approx(
        [r["dream_real_gap_share"] for r in result.evaluations]
    )
    assert json.loads((tmp_path / "state.json").read_text())["step"] == 256
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    _acts(_agent_path(tmp_path), PPO)


def test_dyna_sac_runs_then_resumes_from_saved_step(tmp_path: Path) -> None:
    first = train_dyna("InvertedPendulum", total_timesteps=300, out_dir=tmp_path, **DYNA)
    assert first.steps == 300 and first.model is not None
    assert first.agent.replay_buffer.model_buffer.size() > 0  # branched model rollouts were stored
    assert json.loads((tmp_path / "state.json").read_text())["step"] == 300
    assert _csv_steps(tmp_path / "eval.csv") == [150, 300]
    # an interruption after step 300: a new call with a larger budget continues from there, not from 0
    second = train_dyna("InvertedPendulum", total_timesteps=450, out_dir=tmp_path, resume=True, **DYNA)
    assert second.steps == 450
    assert json.loads((tmp_path / "state.json").read_text())["step"] == 450
    assert _csv_steps(tmp_path / "eval.csv") == [150, 300, 450]
    assert second.agent.replay_buffer.size() == 450  # the real replay buffer came back with the agent
    _acts(_agent_path(tmp_path), SAC)


def test_cli_offline_sac_resume(noisy_expert: str, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    base = [
        "dream-train",
        "--task",
        "InvertedPendulum",
        "--algo",
        "SAC",
        "--mode",
        "offline",
        "--dataset-id",
        noisy_expert,
    ]
    base += ["--num-envs", "4", "--horizon", "10", "--model-epochs", "2", "--eval-freq", "64", "--eval-episodes", "1"]
    base += ["--out", str(tmp_path), "--quiet"]
    assert run(parser.parse_args([*base, "--steps", "64"])) == 0
    assert json.loads((tmp_path / "state.json").read_text())["step"] == 64
    assert run(parser.parse_args([*base, "--steps", "128", "--resume"])) == 0
    assert json.loads((tmp_path / "state.json").read_text())["step"] == 128
    assert _csv_steps(tmp_path / "eval.csv") == [64, 128]
    _acts(_agent_path(tmp_path), SAC)


def test_mixed_buffer_samples_the_real_ratio() -> None:
    obs_space = spaces.Box(-1, 1, (3,), dtype=np.float32)
    act_space = spaces.Box(-1, 1, (1,), dtype=np.float32)
    buf = MixedReplayBuffer(100, obs_space, act_space, device="cpu", real_ratio=0.25, model_buffer_size=100)
    for _ in range(20):  # real rows have reward 1, imagined rows reward -1
        buf.add(np.zeros((1, 3)), np.zeros((1, 3)), np.zeros((1, 1)), np.ones(1), np.zeros(1), [{}])
    assert buf.sample(8).rewards.sum() == 8  # no imagined data yet: all real
    buf.add_model(np.zeros((20, 3)), np.zeros((20, 3)), np.zeros((20, 1)), -np.ones(20), np.zeros(20))
    rewards = buf.sample(64).rewards.flatten()
    assert len(rewards) == 64 and int((rewards > 0).sum()) == 16


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda out: train_dyna("NoSuchTask", out_dir=out), "NoSuchTask"),
        (lambda out: train_dyna("InvertedPendulum", algo="PPO", out_dir=out), "off-policy"),
        (lambda out: train_dyna("InvertedPendulum", algo="DQN", out_dir=out), "algo must be one of"),
        (lambda out: train_dyna("InvertedPendulum", real_ratio=1.5, out_dir=out), r"real_ratio must be in \[0, 1\]"),
        (lambda out: train_dyna("InvertedPendulum", real_ratio=-0.1, out_dir=out), "real_ratio"),
        (lambda out: train_dyna("InvertedPendulum", on_uncertain="ignore", out_dir=out), "on_uncertain"),
        (lambda out: train_offline("InvertedPendulum", out_dir=out), "dataset_id .* or a checkpoint"),
        (
            lambda out: train_offline("InvertedPendulum", checkpoint="zoo:InvertedPendulum", horizon=0, out_dir=out),
            "horizon",
        ),
    ],
)
def test_bad_configuration_is_refused(call: object, match: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=match):
        call(tmp_path)  # type: ignore[operator]


def test_resume_refuses_a_folder_of_another_run(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(
        json.dumps({"task": "InvertedPendulum", "mode": "offline", "algo": "PPO", "step": 5})
    )
    with pytest.raises(ValueError, match="mode='offline' saved, 'dyna' given"):
        train_dyna("InvertedPendulum", out_dir=tmp_path, resume=True)
