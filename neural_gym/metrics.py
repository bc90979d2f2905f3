"""Metric functions every report uses (``docs/DESIGN.md``, "Metric definitions").

Pure NumPy/SciPy (scikit-image for frames), no global RNG.

- :func:`normalized_rmse` — ``sqrt(mean_d(((pred_d − true_d) / σ_d)²))`` (and per dimension).
- :func:`relative_l1` — RWM's ``Σ|ŝ − s| / Σ|s|`` over a window.
- :func:`spearman` — rank correlation of disagreement and true error.
- :func:`auroc` — area under the ROC curve of a score for a binary event (Mann–Whitney U; ties count one half).
- :func:`roc_curve` — the ROC points behind :func:`auroc`, for plots.
  (Both are defined in :mod:`neural_gym.world_models.roc`, NumPy only, and re-exported here.)
- :func:`justified_share` — share of uncertainty cut-offs at which the true error exceeded ``τ``.
- :func:`first_exceedance` — steps until a series first exceeds a threshold (trusted horizon, cut-off horizon).
- :func:`bootstrap_counts`, :func:`ratio_of_sums`, :func:`bootstrap_ci` — seeded percentile bootstrap over units
  (start states).
- :func:`success_interval` — a success rate with its Wilson score interval (SciPy's binomial test).
- :func:`psnr`, :func:`ssim` — per-frame PSNR (capped at :data:`PSNR_CAP_DB`) and SSIM of batches of RGB frames
  (scikit-image).

Agreement of the dream's and ground truth's verdicts on policies (correlations, MMRV, Cohen's κ, with bootstraps over
episodes and policies) lives in :mod:`neural_gym.evaluate.agreement`.

Undefined values. A statistic that is undefined for the data (AUROC with only one class, Spearman of a constant, a
share of zero cut-offs, a ratio over nothing) is returned as ``NaN``, never as an exception: a report over many
settings must not die because one setting had no positive step. Callers flag it (the drift report says why each
``NaN`` arose). Malformed input (mismatched shapes, non-finite scores, labels that are not 0/1) raises ``ValueError``.

Example:
    >>> auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    >>> float(normalized_rmse(np.array([1.0, 2.0]), np.array([0.0, 0.0]), np.array([1.0, 2.0])))
    1.0
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from scipy import stats
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from neural_gym.world_models.roc import auroc, roc_curve  # one copy, below neural_gym (re-exported here)

#: PSNR (dB) reported for identical frames, where the true value is ``+inf`` (see :func:`psnr`).
PSNR_CAP_DB = 100.0


def _as_float(x: np.ndarray | list[float] | float, name: str) -> np.ndarray:
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be numeric, got {type(x).__name__}") from err


def normalized_errors(pred: np.ndarray, true: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(pred − true) / std`` with ``std`` broadcast over the last axis.

    Raises:
        ValueError: shapes that do not match, or a ``std`` that is not positive and finite.
    """
    pred, true, std = _as_float(pred, "pred"), _as_float(true, "true"), _as_float(std, "std")
    if pred.shape != true.shape:
        raise ValueError(f"pred and true must have the same shape, got {pred.shape} and {true.shape}")
    if std.ndim != 1 or pred.ndim < 1 or std.shape[0] != pred.shape[-1]:
        raise ValueError(f"std must be a vector of {pred.shape[-1:]} values (one per dimension), got shape {std.shape}")
    if not (np.isfinite(std).all() and (std > 0).all()):
        raise ValueError(f"std must be positive and finite in every dimension, got {std}")
    return (pred - true) / std


def normalized_rmse(pred: np.ndarray, true: np.ndarray, std: np.ndarray, per_dim: bool = False) -> np.ndarray:
    """Normalized RMSE over the last axis: ``sqrt(mean_d(((pred_d − true_d) / σ_d)²))``.

    Args:
        pred: ``[..., D]`` predictions.
        true: ``[..., D]`` ground truth.
        std: ``[D]`` per-dimension std of the model's training data.
        per_dim: return ``|pred_d − true_d| / σ_d`` per dimension (``[..., D]``) instead of the mean over ``d``.

    Returns:
        ``[...]`` (or ``[..., D]`` with ``per_dim``).
    """
    z = normalized_errors(pred, true, std)
    return np.abs(z) if per_dim else np.sqrt(np.mean(z**2, axis=-1))


def relative_l1(pred: np.ndarray, true: np.ndarray) -> float:
    """RWM's relative L1 error ``Σ|ŝ − s| / Σ|s|`` over all elements (a trajectory window).

    Returns:
        The ratio; ``NaN`` when ``Σ|s| = 0``.
    """
    pred, true = _as_float(pred, "pred"), _as_float(true, "true")
    if pred.shape != true.shape:
        raise ValueError(f"pred and true must have the same shape, got {pred.shape} and {true.shape}")
    den = float(np.abs(true).sum())
    return float(np.abs(pred - true).sum() / den) if den > 0 else float("nan")


def _paired(
    x: np.ndarray | list[float], y: np.ndarray | list[float], xn: str, yn: str
) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_float(x, xn).reshape(-1), _as_float(y, yn).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"{xn} and {yn} must have the same number of values, got {x.size} and {y.size}")
    return x, y


def spearman(x: np.ndarray | list[float], y: np.ndarray | list[float]) -> float:
    """Spearman rank correlation (``scipy.stats.spearmanr``; ties get average ranks).

    Returns:
        The correlation; ``NaN`` with fewer than 3 pairs or when either input is constant.

    Raises:
        ValueError: different lengths or non-finite values.
    """
    x, y = _paired(x, y, "x", "y")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("spearman needs finite values")
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


def justified_share(disagreement: np.ndarray, error: np.ndarray, threshold: float, tau: float) -> tuple[float, int]:
    """Of the steps where ``disagreement > threshold`` (an uncertainty cut-off), the share where ``error > tau``.

    Args:
        disagreement: ``[N]`` disagreement at each step.
        error: ``[N]`` true normalized error at the same steps.
        threshold: the calibrated cut-off.
        tau: the error above which a prediction is wrong.

    Returns:
        ``(share, cutoffs)``; ``share`` is ``NaN`` when there is no cut-off.
    """
    d, e = _paired(disagreement, error, "disagreement", "error")
    cut = d > threshold
    n = int(cut.sum())
    return (float((e[cut] > tau).mean()) if n else float("nan")), n


def first_exceedance(
    values: np.ndarray, threshold: float, valid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Steps before each row of ``values`` first exceeds ``threshold``.

    Args:
        values: ``[N, H]`` a per-step series (column ``j`` is step ``j + 1``).
        threshold: the level.
        valid: ``[N, H]`` bool, a prefix of valid steps per row (steps after it are ignored); default all valid.

    Returns:
        ``(steps, censored)``, each ``[N]``: ``steps[i]`` is the number of valid steps before the first one above
        ``threshold`` (0 if the first step already exceeds it); when no valid step exceeds it, ``steps[i]`` is the
        number of valid steps and ``censored[i]`` is true (the true horizon is at least that).
    """
    v = _as_float(values, "values")
    if v.ndim != 2:
        raise ValueError(f"values must have shape [N, H], got {v.shape}")
    ok = np.ones(v.shape, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if ok.shape != v.shape:
        raise ValueError(f"valid must have the shape of values {v.shape}, got {ok.shape}")
    above = (v > threshold) & ok
    has = above.any(axis=1)
    steps = np.where(has, above.argmax(axis=1), ok.sum(axis=1))
    return steps.astype(np.int64), ~has


# ------------------------------------------------------------------------------------------------------------ bootstrap
def bootstrap_counts(n: int, n_boot: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """``[n_boot, n]`` how often each of ``n`` units is drawn in each bootstrap resample (multinomial counts).

    Args:
        n: number of units (start states).
        n_boot: number of resamples.
        seed: seed or generator of the resampling.
    """
    if n < 1 or n_boot < 1:
        raise ValueError(f"need n >= 1 and n_boot >= 1, got n={n}, n_boot={n_boot}")
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)


def _percentiles(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0, leaving out NaN resamples (all NaN → NaN)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    alpha = 100.0 * (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: nanpercentile warns and returns NaN
        return np.nanpercentile(samples, alpha, axis=0), np.nanpercentile(samples, 100.0 - alpha, axis=0)


def ratio_of_sums(
    numerators: np.ndarray,
    denominators: np.ndarray,
    counts: np.ndarray | None = None,
    level: float = 0.95,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``Σ_i num_i / Σ_i den_i`` over units ``i`` (axis 0) with a percentile bootstrap interval over the units.

    Args:
        numerators: ``[n, ...]`` per-unit numerators.
        denominators: ``[n, ...]`` per-unit denominators (broadcastable to ``numerators``).
        counts: ``[n_boot, n]`` from :func:`bootstrap_counts`; ``None`` → no interval (``NaN`` bounds).
        level: coverage of the interval.
        transform: applied to the ratio and to every resampled ratio (``np.sqrt`` turns a mean square into an RMS).

    Returns:
        ``(point, low, high)``, each ``[...]``; ``NaN`` where the denominator sums to 0.
    """
    num = _as_float(numerators, "numerators")
    den = np.broadcast_to(_as_float(denominators, "denominators"), num.shape)
    f = transform if transform is not None else (lambda x: x)
    with np.errstate(invalid="ignore", divide="ignore"):
        point = f(np.where(den.sum(0) > 0, num.sum(0) / np.where(den.sum(0) > 0, den.sum(0), 1.0), np.nan))
        if counts is None:
            nan = np.full(np.shape(point), np.nan)
            return point, nan, nan.copy()
        flat_num, flat_den = num.reshape(num.shape[0], -1), den.reshape(den.shape[0], -1)
        bn, bd = counts @ flat_num, counts @ flat_den  # (n_boot, K)
        boot = f(np.where(bd > 0, bn / np.where(bd > 0, bd, 1.0), np.nan))
    lo, hi = _percentiles(boot, level)
    return point, lo.reshape(num.shape[1:]), hi.reshape(num.shape[1:])


def bootstrap_ci(
    statistic: Callable[[np.ndarray], float], n: int, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Percentile bootstrap of any statistic of ``n`` units.

    Args:
        statistic: maps an index array into the units (a resample, with repeats) to a number (``NaN`` allowed).
        n: number of units.
        n_boot: resamples.
        level: coverage.
        seed: seed of the resampling.

    Returns:
        ``(point, low, high)``: the statistic on all units and the interval (resamples giving ``NaN`` are left out;
        all ``NaN`` → ``NaN`` bounds).

    Example:
        >>> x = np.arange(10.0)
        >>> point, lo, hi = bootstrap_ci(lambda idx: float(x[idx].mean()), 10, seed=0)
        >>> point, lo < point < hi
        (4.5, True)
    """
    if n < 1 or n_boot < 1:
        raise ValueError(f"need n >= 1 and n_boot >= 1, got n={n}, n_boot={n_boot}")
    rng = np.random.default_rng(seed)
    point = float(statistic(np.arange(n)))
    samples = np.array([statistic(rng.integers(0, n, size=n)) for _ in range(n_boot)], dtype=np.float64)
    lo, hi = _percentiles(samples[:, None], level)
    return point, float(lo[0]), float(hi[0])


def success_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """A success rate and its Wilson score interval (``scipy.stats.binomtest(...).proportion_ci(method="wilson")``).

    Wilson's interval stays inside ``[0, 1]`` and is not degenerate at 0 or ``n`` successes, where the normal
    approximation collapses to a point.

    Args:
        successes: episodes that succeeded, ``0 <= successes <= n``.
        n: episodes, ``>= 1``.
        level: coverage.

    Returns:
        ``(rate, low, high)``.

    Raises:
        ValueError: for counts outside ``0 <= successes <= n``, ``n < 1``, or a level outside ``(0, 1)``.

    Example:
        >>> rate, lo, hi = success_interval(0, 100)
        >>> rate, lo, round(hi, 3)
        (0.0, 0.0, 0.037)
    """
    if n < 1 or not 0 <= successes <= n or int(successes) != successes or int(n) != n:
        raise ValueError(f"need whole counts 0 <= successes <= n and n >= 1, got successes={successes}, n={n}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return int(successes) / int(n), float(max(ci.low, 0.0)), float(min(ci.high, 1.0))


# --------------------------------------------------------------------------------------------------------------- frames
def _frame_batch(pred: np.ndarray, true: np.ndarray, data_range: float) -> tuple[np.ndarray, np.ndarray]:
    """Validate two batches of RGB frames ``[N, H, W, 3]`` (or one frame ``[H, W, 3]``) as float64 arrays."""
    if not (np.isfinite(data_range) and data_range > 0):
        raise ValueError(f"data_range must be a positive number, got {data_range}")
    p, t = np.asarray(pred), np.asarray(true)
    if p.shape != t.shape:
        raise ValueError(f"pred and true must have the same shape [N, H, W, 3], got {p.shape} and {t.shape}")
    if p.ndim == 3:
        p, t = p[None], t[None]
    if p.ndim != 4 or p.shape[-1] != 3:
        raise ValueError(f"frames must have shape [N, H, W, 3] (or [H, W, 3]), got {np.asarray(pred).shape}")
    p, t = _as_float(p, "pred"), _as_float(t, "true")
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise ValueError("frames must be finite (a model that produced NaN/inf is a model error, not a frame)")
    return p, t


def psnr(pred: np.ndarray, true: np.ndarray, data_range: float = 255.0, cap_db: float = PSNR_CAP_DB) -> np.ndarray:
    """Peak signal-to-noise ratio of each frame, ``10 · log10(data_range² / MSE)`` over its pixels and channels.

    ``skimage.metrics.peak_signal_noise_ratio`` per frame. Identical frames (MSE 0) have PSNR ``+inf``; it is capped
    at ``cap_db`` (default :data:`PSNR_CAP_DB` = 100 dB, far above any imperfect 8-bit frame: one pixel off by one
    level in a 64×64 frame is ~89 dB), so means and bootstrap intervals stay finite. Never ``NaN``.

    Args:
        pred: ``[N, H, W, 3]`` (or ``[H, W, 3]``) predicted frames, uint8 or float in ``[0, data_range]``.
        true: the ground-truth frames, same shape.
        data_range: the range of pixel values (255 for 8-bit frames).
        cap_db: the value reported for identical frames (and the upper bound of every value).

    Returns:
        ``[N]`` PSNR in dB.

    Raises:
        ValueError: shapes that differ or are not RGB frames, non-finite pixels, a non-positive ``data_range``.

    Example:
        >>> a = np.zeros((2, 8, 8, 3), np.uint8); b = a.copy(); b[1] = 255
        >>> psnr(a, b).tolist()
        [100.0, 0.0]
    """
    p, t = _frame_batch(pred, true, data_range)
    out = np.empty(len(p))
    with np.errstate(divide="ignore"):  # MSE 0 -> +inf (then capped)
        for i in range(len(p)):
            out[i] = peak_signal_noise_ratio(t[i], p[i], data_range=data_range)
    return np.minimum(out, cap_db)


def ssim(pred: np.ndarray, true: np.ndarray, data_range: float = 255.0) -> np.ndarray:
    """Structural similarity of each frame (``skimage.metrics.structural_similarity``, ``channel_axis=-1``).

    scikit-image's defaults: a 7×7 uniform window, ``K1 = 0.01``, ``K2 = 0.03``, the mean over pixels and channels.
    Frames need to be at least 7 pixels on each side.

    Args:
        pred: ``[N, H, W, 3]`` (or ``[H, W, 3]``) predicted frames, uint8 or float in ``[0, data_range]``.
        true: the ground-truth frames, same shape.
        data_range: the range of pixel values (255 for 8-bit frames).

    Returns:
        ``[N]`` SSIM in ``[-1, 1]`` (1 for identical frames).

    Raises:
        ValueError: shapes that differ or are not RGB frames, frames smaller than 7×7, non-finite pixels.

    Example:
        >>> a = np.zeros((1, 8, 8, 3), np.uint8)
        >>> ssim(a, a).tolist()
        [1.0]
    """
    p, t = _frame_batch(pred, true, data_range)
    if min(p.shape[1:3]) < 7:
        raise ValueError(f"ssim needs frames of at least 7×7 pixels (its window), got {p.shape[1]}×{p.shape[2]}")
    return np.array(
        [structural_similarity(t[i], p[i], data_range=data_range, channel_axis=-1) for i in range(len(p))],
        dtype=np.float64,
    )


__all__ = [
    "PSNR_CAP_DB",
    "auroc",
    "bootstrap_ci",
    "bootstrap_counts",
    "first_exceedance",
    "justified_share",
    "normalized_errors",
    "normalized_rmse",
    "psnr",
    "ratio_of_sums",
    "relative_l1",
    "roc_curve",
    "spearman",
    "ssim",
]
