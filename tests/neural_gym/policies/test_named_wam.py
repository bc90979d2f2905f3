"""``wam:<checkpoint>[?imagine=1][&sample_noise=0]``: a world action model's policy mode named on the command line
(and in ``evaluate_policies``): options, the task check, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neural_gym.policies import resolve_policy
from neural_gym.policies.wam import WAMPolicy
from neural_gym.world_models import CheckpointError, save_checkpoint
from tests.neural_gym.wam_fixtures import tiny_wam

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wam") / "reach-wam.safetensors"
    save_checkpoint(tiny_wam(), out)
    return out


@pytest.mark.parametrize(
    ("suffix", "imagine", "sample_noise"),
    [("", False, True), ("?imagine=1", True, True), ("?imagine=0&sample_noise=0", False, False),
     ("?sample_noise=false&imagine=TRUE", True, False)],
)  # fmt: skip
def test_the_options_set_the_policy(path, suffix, imagine, sample_noise):
    for task in ("reach", "TabletopReach", None):  # a family (as evaluate_policies passes), the task, or unchecked
        policy = resolve_policy(f"wam:{path}{suffix}", task=task, seed=3)
        assert isinstance(policy, WAMPolicy)
        assert (policy.imagine, policy.sample_noise) == (imagine, sample_noise)


def test_the_seed_reaches_the_sampler(path):
    obs = np.stack([reach_start()] * 2)
    a = resolve_policy(f"wam:{path}", task="reach", seed=3).act(obs)
    b = resolve_policy(f"wam:{path}", task="reach", seed=3).act(obs)
    c = resolve_policy(f"wam:{path}", task="reach", seed=4).act(obs)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def reach_start() -> np.ndarray:
    """The state observation of a TabletopReach reset (seed 0)."""
    from neural_gym.envs.tabletop import TabletopEnv

    env = TabletopEnv(task="reach")
    obs, _ = env.reset(seed=0)
    env.close()
    return obs


def test_bad_names_are_refused(path):
    with pytest.raises(ValueError, match="wam:<checkpoint>"):
        resolve_policy("wam:", task="reach")
    with pytest.raises(ValueError, match="each 0 or 1"):
        resolve_policy(f"wam:{path}?imagine=maybe", task="reach")
    with pytest.raises(ValueError, match="each 0 or 1"):
        resolve_policy(f"wam:{path}?steps=3", task="reach")
    with pytest.raises(ValueError, match="KEY=0"):
        resolve_policy(f"wam:{path}?imagine", task="reach")
    with pytest.raises(CheckpointError, match="TabletopPush|task"):  # a reach model asked to push
        resolve_policy(f"wam:{path}", task="push")
    with pytest.raises(CheckpointError, match="family"):  # the shipped state ensemble is no wam
        resolve_policy("wam:zoo:TabletopReach", task="reach")
    with pytest.raises(CheckpointError):
        resolve_policy(f"wam:{path.parent / 'missing.safetensors'}", task="reach")
