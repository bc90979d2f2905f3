"""Paired dream/MuJoCo episodes: the MuJoCo return over the steps the dream served."""

from __future__ import annotations

import numpy as np
import pytest

from neural_gym.evaluate import paired_episodes
from neural_gym.world_models.zoo import available

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.mark.skipif("InvertedPendulum" not in available(), reason="the shipped InvertedPendulum ensemble is missing")
def test_real_return_over_the_served_steps() -> None:
    # InvertedPendulum pays 1 per step alive, so MuJoCo's return over the first n steps is min(n, its length).
    cut = paired_episodes("InvertedPendulum", "expert", episodes=4, seed=0, progress=False,
                          uncertainty_threshold=1e-9, uncertainty_signal="disagreement_sum")  # fmt: skip
    assert (cut.dream_lengths == 1).all() and set(cut.dream_end) == {"uncertainty"}  # cut at the first step
    np.testing.assert_array_equal(cut.real_returns_over_dream_steps, np.minimum(cut.dream_lengths, cut.real_lengths))
    assert (cut.real_returns > cut.real_returns_over_dream_steps).all()  # the expert balances far longer
    full = paired_episodes("InvertedPendulum", "expert", episodes=2, seed=0, progress=False, max_episode_steps=30)
    assert (full.dream_lengths == 30).all()  # uncut, as long as MuJoCo: the two returns are the same figure
    np.testing.assert_array_equal(full.real_returns_over_dream_steps, full.real_returns)
    s = cut.summary()
    assert s["real_return_over_dream_steps_mean"] == pytest.approx(float(cut.real_returns_over_dream_steps.mean()))
