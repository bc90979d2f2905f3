"""load_policy: keywords pass through, saved SB3 models load, anything else is refused clearly."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3 import PPO

from neural_gym.policies import load_policy


def test_keywords_pass_through():
    assert load_policy("random") == "random"
    assert load_policy("recorded", keywords=("recorded",)) == "recorded"


def test_saved_model_loads(tmp_path):
    agent = PPO("MlpPolicy", "Pendulum-v1", n_steps=64, batch_size=64, seed=0, device="cpu")
    agent.save(tmp_path / "agent")
    loaded = load_policy(str(tmp_path / "agent"), "PPO")  # without .zip, as SB3 itself accepts
    obs = np.zeros(3, dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], agent.predict(obs, deterministic=True)[0])


def test_bad_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match="neither one of"):
        load_policy(str(tmp_path / "missing.zip"))
    (tmp_path / "agent.zip").write_bytes(b"")
    with pytest.raises(ValueError, match="unknown algo"):
        load_policy(str(tmp_path / "agent.zip"), "DQNX")


def test_resolve_keywords_and_models(tmp_path):
    from neural_gym.policies import ExpertPolicy, RandomPolicy, SB3Policy, resolve_policy

    random = resolve_policy("random", task="push", seed=0)
    assert isinstance(random, RandomPolicy) and random.action_dim == 4
    assert resolve_policy("random", task="InvertedPendulum").action_dim == 1
    expert = resolve_policy("expert", task="reach", action_noise=0.2, seed=1)
    assert isinstance(expert, ExpertPolicy) and expert.action_noise == 0.2
    agent = PPO("MlpPolicy", "Pendulum-v1", n_steps=64, batch_size=64, seed=0, device="cpu")
    agent.save(tmp_path / "agent.zip")
    policy = resolve_policy(str(tmp_path / "agent.zip"), algo="PPO")
    assert isinstance(policy, SB3Policy) and policy.act(np.zeros((2, 3), np.float32)).shape == (2, 1, 1)


def test_resolve_refuses_clearly(tmp_path):
    from neural_gym.policies import resolve_policy

    with pytest.raises(ValueError, match="needs the task"):
        resolve_policy("expert")
    with pytest.raises(ValueError, match="needs the task"):
        resolve_policy("random")
    with pytest.raises(ValueError, match="no scripted expert"):
        resolve_policy("expert", task="HalfCheetah")
    with pytest.raises(ValueError, match="not one of 'random', 'expert'"):
        resolve_policy(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="does not exist"):
        resolve_policy(str(tmp_path / "vla.safetensors"))


def test_resolve_remote(tmp_path):
    pytest.importorskip("websockets")
    pytest.importorskip("msgpack")
    from neural_gym.policies import PolicyServer, RandomPolicy, RemotePolicy, RemoteTimeoutError, resolve_policy

    with PolicyServer(RandomPolicy(spaces.Box(-1, 1, (2,), np.float32), seed=0), port=0).start() as server:
        policy = resolve_policy(server.url, timeout=5)
        assert isinstance(policy, RemotePolicy) and policy.act(np.zeros((1, 3))).shape == (1, 1, 2)
        policy.close()
    with pytest.raises(RemoteTimeoutError):
        resolve_policy(server.url, timeout=0.3)


def test_resolve_vla_checkpoint(tmp_path):
    """A ``.safetensors`` name goes to the VLA family's loader (skipped where that package is not installed)."""
    vla = pytest.importorskip("neural_gym.policies.vla")
    from neural_gym.policies import Policy, resolve_policy

    vocab = vla.Vocabulary.from_instructions(["push the red cube onto the blue square"])
    config = vla.VLAConfig(vocab_size=len(vocab), chunk_size=4, image_size=16, channels=4, embed_dim=8, hidden=16)
    path = vla.save_vla(vla.VLAPolicy(vla.VLANet(config), vocab), tmp_path / "tiny.safetensors")
    policy = resolve_policy(str(path), seed=0)
    assert isinstance(policy, Policy) and policy.chunk_size == 4
    obs = {
        "pixels": np.zeros((2, 16, 16, 3), np.uint8),
        "state": np.zeros((2, 54)),
        "instruction": ["push the red cube onto the blue square"] * 2,
    }
    assert policy.act(obs).shape == (2, 4, 4)
