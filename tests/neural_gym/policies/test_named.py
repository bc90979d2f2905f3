"""load_policy: keywords pass through, saved SB3 models load, anything else is refused clearly."""

from __future__ import annotations

import numpy as np
import pytest
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
