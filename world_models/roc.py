"""AUROC and the ROC curve of a score for a binary event, in NumPy only.

They live here, below ``neural_gym``, so that ``neural_gym.world_models.calibration`` (which may not import
``neural_gym``) and the reports in ``neural_gym`` share one copy; ``neural_gym.metrics`` re-exports both.

Example:
    >>> auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
"""

from __future__ import annotations

import numpy as np


def _scores(scores: np.ndarray | list[float]) -> np.ndarray:
    try:
        return np.asarray(scores, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as err:
        raise ValueError(f"scores must be numeric, got {type(scores).__name__}") from err


def _binary(labels: np.ndarray | list[bool], n: int) -> np.ndarray:
    lab = np.asarray(labels).reshape(-1)
    if lab.size != n:
        raise ValueError(f"scores and labels must have the same number of values, got {n} and {lab.size}")
    if lab.dtype != np.bool_:
        if not np.isin(lab, (0, 1)).all():
            raise ValueError(f"labels must be booleans or 0/1, got values {np.unique(lab)[:6]}")
        lab = lab.astype(bool)
    return lab


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values`` (1-D), tied values sharing the mean of their ranks.

    Raises:
        ValueError: NaN values (they have no rank).
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if np.isnan(v).any():
        raise ValueError("ranks need values without NaN")
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    before = np.cumsum(counts) - counts  # values strictly below each distinct value
    return (before + (counts + 1) / 2.0)[inverse.reshape(-1)]


def auroc(scores: np.ndarray | list[float], labels: np.ndarray | list[bool]) -> float:
    """Area under the ROC curve of ``scores`` for the event ``labels`` (the probability that a random positive scores
    above a random negative, ties counting one half).

    Computed as ``U / (n_pos · n_neg)`` with ``U = Σ rank(positives) − n_pos (n_pos + 1) / 2`` the Mann–Whitney
    statistic of the positives (average ranks for ties).

    Args:
        scores: ``[N]`` finite scores (``+inf`` allowed: it ranks above every finite score).
        labels: ``[N]`` booleans or 0/1.

    Returns:
        AUROC in ``[0, 1]``; ``NaN`` when only one class is present (AUROC is undefined; callers flag it).

    Raises:
        ValueError: different lengths, NaN scores, or labels that are not binary.
    """
    s = _scores(scores)
    lab = _binary(labels, s.size)
    if np.isnan(s).any():
        raise ValueError("auroc needs scores without NaN")
    n_pos, n_neg = int(lab.sum()), int((~lab).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    u = float(average_ranks(s)[lab].sum()) - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def roc_curve(scores: np.ndarray | list[float], labels: np.ndarray | list[bool]) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct score cut-off (highest first), starting at ``(0, 0)``.

    Hand-written because NumPy has no ROC curve and scikit-learn is not a dependency; tied scores form one point, so
    the trapezoid area under these points equals :func:`auroc`.

    Returns:
        ``(fpr, tpr)``; both ``[0, 1]``-valued and non-decreasing. Empty arrays when only one class is present.

    Raises:
        ValueError: different lengths or labels that are not binary.
    """
    s = _scores(scores)
    lab = _binary(labels, s.size)
    n_pos, n_neg = int(lab.sum()), int((~lab).sum())
    if n_pos == 0 or n_neg == 0:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(-s, kind="stable")
    s_sorted, l_sorted = s[order], lab[order]
    last_of_tie = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    tp = np.cumsum(l_sorted)[last_of_tie]
    fp = np.cumsum(~l_sorted)[last_of_tie]
    return np.r_[0.0, fp / n_neg], np.r_[0.0, tp / n_pos]


__all__ = ["auroc", "average_ranks", "roc_curve"]
