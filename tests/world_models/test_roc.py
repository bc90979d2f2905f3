"""The NumPy AUROC below neural_gym agrees with SciPy's Mann–Whitney U and is the one neural_gym.metrics serves."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from neural_gym import metrics
from neural_gym.world_models import roc


def test_auroc_matches_scipy_mann_whitney_with_ties_and_inf() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        scores = rng.integers(0, 6, size=150).astype(float)
        scores[rng.random(150) < 0.05] = np.inf
        labels = rng.random(150) < 0.2 + 0.1 * np.minimum(scores, 5)
        u = stats.mannwhitneyu(scores[labels], scores[~labels], alternative="two-sided", method="asymptotic").statistic
        assert roc.auroc(scores, labels) == pytest.approx(u / (labels.sum() * (~labels).sum()), abs=1e-12)


def test_average_ranks_and_one_copy() -> None:
    assert roc.average_ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [3.5, 1.0, 3.5, 2.0]
    with pytest.raises(ValueError, match="NaN"):
        roc.average_ranks(np.array([1.0, np.nan]))
    assert metrics.auroc is roc.auroc and metrics.roc_curve is roc.roc_curve
