"""Training the ``wam`` family on real tabletop transitions: inverse dynamics beats trivial baselines after a tiny run,
the run is reproducible under a seed, action-free clips are read without actions, bad data are refused."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from neural_gym.world_models.wam import WAM_MEASURES, WAMModel, train_wam
from tests.neural_gym.wam_fixtures import reach_episodes

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

TASK = {"task": "TabletopReach", "task_env_id": "TabletopReach-v0", "action_low": [-1.0] * 4, "action_high": [1.0] * 4}


@pytest.fixture(scope="module")
def trained() -> tuple[WAMModel, Any, int]:
    """A debug model after 400 steps on ~2500 noisy-expert reach transitions (about 10 s here)."""
    episodes = reach_episodes(100, seed=0)
    model, report = train_wam(
        episodes, **TASK, config="debug", steps=400, batch_size=64, lr=3e-3, seed=0, device="cpu", progress=False
    )
    return model, report, sum(len(e["actions"]) for e in episodes)


def test_inverse_dynamics_beats_trivial_baselines_after_a_tiny_run(trained):
    model, report, transitions = trained
    assert transitions >= 2000
    baseline = min(report.heldout_mean_action_mae, report.heldout_zero_action_mae)
    assert report.heldout_inverse_mae < 0.7 * baseline, report.summary()
    assert report.n_heldout_windows > 100 and report.n_train_episodes + report.n_heldout_episodes == 100


def test_the_trained_model_carries_its_calibration_and_provenance(trained):
    model, report, _ = trained
    cal = model.spec.calibration
    assert cal.measure == "ensemble_std" and set(cal.thresholds) == set(WAM_MEASURES)
    assert np.isfinite(cal.threshold) and cal.threshold > 0
    assert model.spec.provenance["report"]["heldout_inverse_mae"] == report.heldout_inverse_mae
    assert "reach" in model.config.vocab and len(model.start_obs) > 0
    assert all(np.isfinite(v) for v in (report.heldout_forward_nrmse, report.heldout_policy_mae))


def test_training_is_reproducible_under_a_seed():
    episodes = reach_episodes(6, seed=1)

    def run(seed: int) -> WAMModel:
        kw = {"config": "debug", "steps": 15, "batch_size": 32, "device": "cpu", "progress": False}
        return train_wam(episodes, **TASK, seed=seed, **kw)[0]

    a, b, c = run(0), run(0), run(1)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.backbone.obs_in[0].weight, c.backbone.obs_in[0].weight)
    assert a.spec.calibration.thresholds == b.spec.calibration.thresholds


def test_action_free_clips_are_read_without_their_actions():
    episodes = reach_episodes(4, seed=2)
    clips = [{"observations": e["observations"], "actions": np.full_like(e["actions"], np.nan)} for e in episodes]
    _, report = train_wam(
        episodes[:2], clips=clips, **TASK, config="debug", steps=10, batch_size=16, device="cpu", progress=False
    )
    assert report.n_train_clips == 4 and report.n_train_episodes == 1 and report.n_heldout_episodes == 1


def test_bad_data_are_refused():
    episodes = reach_episodes(2, seed=3)
    kw = {"config": "debug", "steps": 1, "device": "cpu", "progress": False}
    with pytest.raises(ValueError, match="at least 2 labelled episodes"):
        train_wam(episodes[:1], **TASK, **kw)
    bad = [dict(episodes[0], actions=episodes[0]["actions"][:, :3]), episodes[1]]
    with pytest.raises(ValueError, match=r"episode 0: actions must have shape \[T=\d+, A=4\]"):
        train_wam(bad, **TASK, **kw)
    bad = [dict(episodes[0], observations=np.full_like(episodes[0]["observations"], np.nan)), episodes[1]]
    with pytest.raises(ValueError, match="episode 0: observations, actions and rewards must be finite"):
        train_wam(bad, **TASK, **kw)
    with pytest.raises(ValueError, match=r"clip 0: observations must be \[T\+1 >= 2, 54\]"):
        train_wam(episodes, clips=[{"observations": np.zeros((5, 3))}], **TASK, **kw)
    with pytest.raises(ValueError, match="measure must be one of"):
        train_wam(episodes, **TASK, measure="vibes", **kw)
    with pytest.raises(ValueError, match="unknown wam preset"):
        train_wam(episodes, **TASK, **{**kw, "config": "huge"})
