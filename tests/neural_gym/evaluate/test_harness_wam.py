"""A world action model in the paired policy evaluation, both ways: as the dream (a state model with one step of
context, through the state path: the scene draws its predicted states) and as a policy (``WAMPolicy``, imagination on
and off, named ``wam:<checkpoint>``) in MuJoCo and in a dream."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neural_gym.evaluate import DREAM_JUDGE, evaluate_policies
from neural_gym.policies.wam import WAMPolicy
from neural_gym.world_models import save_checkpoint
from neural_gym.world_models.zoo import available
from tests.neural_gym.wam_fixtures import tiny_wam

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

STEPS = 12  # a short time limit keeps each world's episodes to a second or two


@pytest.fixture(scope="module")
def path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wam") / "reach-wam.safetensors"
    save_checkpoint(tiny_wam(), out)
    return out


def _rows(result, name: str) -> tuple:
    p = result.policies[name]
    return (p.real_success.tolist(), p.real_lengths.tolist(), p.dream_success.tolist(), p.dream_lengths.tolist(),
            list(p.dream_end), p.inconclusive.tolist())  # fmt: skip


def test_a_wam_checkpoint_is_the_dream(path):
    result = evaluate_policies(
        {"expert": "expert", "random": "random"}, "TabletopReach", episodes=2, checkpoint=str(path),
        max_episode_steps=STEPS, device="cpu", progress=False,
    )  # fmt: skip
    report = result.report(n_boot=20)
    assert report["checkpoint"] == str(path) and report["judge"] == DREAM_JUDGE and report["burn_in"] == 0
    assert report["step0_identical"]  # the dream starts from the real state, instruction and frame
    assert result.uncertainty_threshold == pytest.approx(tiny_wam_threshold(path))
    for name in ("expert", "random"):
        p = result.policies[name]
        assert p.dream_lengths.max() <= STEPS and set(p.dream_end) <= {"success", "time_limit", "uncertainty"}


def tiny_wam_threshold(path: Path) -> float:
    from neural_gym.world_models import read_spec

    return float(read_spec(path).calibration.threshold)


def test_wam_policies_play_both_worlds_repeatably(path):
    policies = {"wam": f"wam:{path}", "wam-imagine": f"wam:{path}?imagine=1"}
    kwargs = dict(episodes=2, max_episode_steps=STEPS, device="cpu", progress=False)
    first = evaluate_policies(policies, "TabletopReach", checkpoint=str(path), **kwargs)
    again = evaluate_policies(policies, "TabletopReach", checkpoint=str(path), **kwargs)
    for name in policies:
        assert first.policies[name].step0_identical
        assert _rows(first, name) == _rows(again, name)  # seeded: the same verdicts, lengths and ends


def test_imagination_changes_the_chunks_the_harness_plays(path):
    """The two policies see the same step-0 observations; their first chunks differ (imagined futures change the
    conditional), so the switch reaches the harness."""
    model = WAMPolicy(str(path), device="cpu").model

    class FirstChunk:
        def __init__(self, imagine: bool) -> None:
            self.policy = WAMPolicy(model, imagine=imagine)
            self.chunk_size = self.policy.chunk_size
            self.first: np.ndarray | None = None

        def reset(self, seed: int | None = None) -> None:
            self.policy.reset(seed)

        def act(self, obs):
            chunk = self.policy.act(obs)
            if self.first is None:
                self.first = chunk
            return chunk

    off, on = FirstChunk(False), FirstChunk(True)
    evaluate_policies({"off": off, "on": on}, "TabletopReach", episodes=2, checkpoint=model, max_episode_steps=4,
                      device="cpu", progress=False)  # fmt: skip
    assert off.first is not None and on.first is not None and off.first.shape == on.first.shape == (2, 8, 4)
    assert not np.array_equal(off.first, on.first)


@pytest.mark.skipif("TabletopReach-wam" not in available(), reason="the shipped wam checkpoint is not in the zoo")
def test_the_shipped_wam_is_a_dream_and_a_policy():
    result = evaluate_policies(
        {"wam": "wam:zoo:TabletopReach-wam"}, "TabletopReach", episodes=2, checkpoint="zoo:TabletopReach-wam",
        max_episode_steps=STEPS, device="cpu", progress=False,
    )  # fmt: skip
    assert result.checkpoint == "zoo:TabletopReach-wam" and result.policies["wam"].step0_identical
