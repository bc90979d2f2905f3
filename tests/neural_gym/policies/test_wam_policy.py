"""``WAMPolicy``: the world action model's policy mode behind the Policy protocol, through ChunkExecutor in MuJoCo and in
a dream, with the imagination switch, seeding and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from neural_gym import DreamVectorEnv
from neural_gym.envs.tabletop import TabletopEnv, TabletopExpert
from neural_gym.policies import ChunkExecutor, Policy, PolicyError, stack_observations
from neural_gym.policies.wam import WAMPolicy
from neural_gym.world_models import CheckpointError, save_checkpoint
from neural_gym.world_models.wam import WAMModel, train_wam

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def model() -> WAMModel:
    """A debug model after 20 steps on 6 noisy-expert reach episodes (plumbing, not quality)."""
    env = TabletopEnv(task="reach")
    expert = TabletopExpert("reach", action_noise=0.5, seed=0)
    episodes = []
    for i in range(6):
        obs, info = env.reset(seed=i)
        expert.reset()
        states, actions, done = [obs], [], False
        while not done:
            action = expert(obs)
            obs, _, terminated, truncated, info = env.step(action)
            states.append(obs)
            actions.append(action)
            done = terminated or truncated
        episodes.append(
            {"observations": np.stack(states), "actions": np.stack(actions), "instruction": info["instruction"]}
        )
    env.close()
    model, _ = train_wam(
        episodes, task="TabletopReach", task_env_id="TabletopReach-v0", action_low=[-1.0] * 4, action_high=[1.0] * 4,
        config="debug", steps=20, batch_size=16, device="cpu", progress=False,
    )  # fmt: skip
    return model


@pytest.fixture(scope="module")
def dict_batch() -> dict:
    env = TabletopEnv(task="reach", obs_mode="dict")
    rows = [env.reset(seed=s)[0] for s in range(3)]
    env.close()
    return stack_observations(rows)


def test_the_policy_implements_the_protocol(model, dict_batch):
    policy = WAMPolicy(model, seed=0)
    assert isinstance(policy, Policy) and policy.chunk_size == 8
    chunk = policy.act(dict_batch)
    assert chunk.shape == (3, 8, 4) and chunk.dtype == np.float32 and np.abs(chunk).max() <= 1.0
    assert policy.act(dict_batch["state"]).shape == (3, 8, 4)  # a bare state array reads no instruction


def test_the_seed_and_the_imagination_switch(model, dict_batch):
    policy = WAMPolicy(model, seed=0)
    policy.reset(seed=7)
    a = policy.act(dict_batch)
    policy.reset(seed=7)
    np.testing.assert_array_equal(a, policy.act(dict_batch))
    policy.reset(seed=8)
    assert not np.array_equal(a, policy.act(dict_batch))
    imagining = WAMPolicy(model, imagine=True, seed=7)
    assert imagining.imagine and not np.array_equal(a, imagining.act(dict_batch))
    quiet = WAMPolicy(model, sample_noise=False, seed=7)
    first = quiet.act(dict_batch)
    quiet.reset(seed=8)
    np.testing.assert_array_equal(first, quiet.act(dict_batch))  # zero start noise: the seed changes nothing
    assert not np.array_equal(first, a)


def test_chunk_executor_runs_the_policy_in_mujoco(model):
    envs = [TabletopEnv(task="reach", obs_mode="dict") for _ in range(2)]
    executor = ChunkExecutor(WAMPolicy(model, seed=0), num_envs=2, n_action_steps=4)
    obs = stack_observations([env.reset(seed=i)[0] for i, env in enumerate(envs)])
    executor.reset(seed=0)
    for _ in range(8):
        actions = executor.act(obs)
        assert actions.shape == (2, 4)
        obs = stack_observations([env.step(a)[0] for env, a in zip(envs, actions, strict=True)])
    assert executor.queries == 2  # 8 steps, 4 actions executed per chunk
    for env in envs:
        env.close()


def test_chunk_executor_runs_the_policy_inside_the_dream(model):
    venv = DreamVectorEnv("TabletopReach", model, num_envs=2, device="cpu", max_episode_steps=5)
    executor = ChunkExecutor(WAMPolicy(model, imagine=True, seed=0), num_envs=2, n_action_steps=2)
    obs, _ = venv.reset(seed=0)
    for _ in range(6):
        obs, reward, terminated, truncated, info = venv.step(executor.act(obs))
        executor.after_step(terminated, truncated)
        assert np.isfinite(obs).all() and np.isfinite(reward).all()
    venv.close()


def test_bad_input_is_refused(model, dict_batch, tmp_path):
    policy = WAMPolicy(model)
    with pytest.raises(PolicyError, match=r"built for state observations of size 54"):
        policy.act(np.zeros((2, 10)))
    with pytest.raises(PolicyError, match="finite"):
        policy.act(np.full((2, 54), np.nan))
    with pytest.raises(PolicyError, match="list of B strings"):
        policy.act({"state": dict_batch["state"][:1], "instruction": "reach the red cube"})
    with pytest.raises(TypeError, match="needs a WAMModel"):
        WAMPolicy(object())  # type: ignore[arg-type]
    with pytest.raises(CheckpointError, match="expected family wam"):
        WAMPolicy("zoo:TabletopReach", device="cpu")  # the shipped ensemble
    path = save_checkpoint(model, tmp_path / "wam.safetensors")
    assert WAMPolicy(path, device="cpu").act(dict_batch).shape == (3, 8, 4)
