"""Scoring shared by every observation kind: intervals, horizon summaries and the uncertainty-vs-truth figures.

:func:`score_uncertainty` holds a model's per-step disagreement against its per-step error, whatever the error is
(normalized RMSE of states, minus the PSNR of frames, ...), from the pairs ``(disagreement of step j, error after
step j)`` of every valid step of every start:

- **Spearman** of disagreement and error;
- **AUROC** of disagreement for the event "error > τ" (NaN — with ``auroc_note`` saying why — when every step or no
  step had it);
- **justified share**: of the steps whose disagreement exceeded the calibrated threshold (the Dream env's cut-off
  rule), the share whose error was > τ; ``first_cutoff_justified`` counts only the first such step of each start
  (where the Dream env cuts);
- **trusted horizon**: per start, the steps before the error first exceeds τ, beside the **dream horizon**, the steps
  before the disagreement first exceeds the threshold; both censored at the last valid step;
- optionally **cumulative**: Spearman and AUROC of the disagreement summed over the steps so far (a diagnostic).

Every interval is a seeded percentile bootstrap over start states.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from neural_gym.world_models import WorldModel

from .. import metrics


def interval(point: Any, lo: Any, hi: Any) -> dict[str, Any]:
    """``{"value", "low", "high"}`` as JSON-ready lists (or numbers)."""
    return {"value": np.asarray(point).tolist(), "low": np.asarray(lo).tolist(), "high": np.asarray(hi).tolist()}


def horizon_summary(steps: np.ndarray, censored: np.ndarray, counts: np.ndarray, level: float) -> dict[str, Any]:
    """Median (with a bootstrap interval from ``counts``), mean and censored share of per-start horizons."""
    boot = [np.median(np.repeat(steps, c.astype(np.int64))) for c in counts]
    lo, hi = np.percentile(boot, [100 * (1 - level) / 2, 100 * (1 + level) / 2]) if len(boot) else (np.nan, np.nan)
    return {
        "median": float(np.median(steps)),
        "low": float(lo),
        "high": float(hi),
        "mean": float(np.mean(steps)),
        "censored_share": float(np.mean(censored)),
        "per_start": steps.astype(int).tolist(),
        "censored": censored.astype(bool).tolist(),
    }


def calibrated_threshold(model: WorldModel, notes: list[str]) -> float:
    """The checkpoint's calibrated cut-off threshold, or NaN with a note when it has none."""
    try:
        return float(model.spec.calibration.threshold)
    except KeyError:
        notes.append("the checkpoint has no calibrated threshold: cut-off figures are undefined")
        return float("nan")


def score_uncertainty(
    disagreement: np.ndarray,
    error: np.ndarray,
    valid: np.ndarray,
    threshold: float,
    tau: float,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    *,
    count_key: str = "error_above_tau",
    unit: str = "step",
    event: str | None = None,
    cumulative: bool = True,
    dream_without_threshold: Literal["censored"] | None = "censored",
) -> dict[str, Any] | None:
    """Disagreement against the true per-step error (see the module docstring).

    Args:
        disagreement: ``[n, H]`` the model's calibrated disagreement per step (NaN: none).
        error: ``[n, H]`` the per-step error, larger = worse (finite where ``valid``).
        valid: ``[n, H]`` steps that happened in ground truth (a prefix of each row).
        threshold: the calibrated cut-off (NaN: none).
        tau: error above which a step is wrong.
        n_boot: bootstrap resamples (over starts).
        level: coverage of the intervals.
        seed: seed of the bootstrap.
        count_key: JSON key of the number of wrong steps.
        unit: what a step is called in the notes (``"step"``, ``"frame"``).
        event: how "error > τ" reads in the notes (default ``"error > tau={tau}"``).
        cumulative: add the cumulative-disagreement diagnostic.
        dream_without_threshold: without a threshold, ``"censored"`` reports every start as never cut (dream
            horizon ``-1``, censored); ``None`` reports no dream horizon.

    Returns:
        JSON-ready figures, or ``None`` when no valid step has a finite disagreement.
    """
    dis = np.asarray(disagreement, dtype=np.float64)
    err = np.asarray(error, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    pairs = valid & np.isfinite(dis)
    if not pairs.any():
        return None
    n = dis.shape[0]
    event = event or f"error > tau={tau}"

    def pooled(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = pairs[idx]
        return dis[idx][m], err[idx][m]

    def spearman_of(idx: np.ndarray) -> float:
        return metrics.spearman(*pooled(idx))

    def auroc_of(idx: np.ndarray) -> float:
        d, e = pooled(idx)
        return metrics.auroc(d, e > tau)

    d_all, e_all = pooled(np.arange(n))
    positives = int((e_all > tau).sum())
    out: dict[str, Any] = {"pairs": int(d_all.size), count_key: positives}
    keys = ("value", "low", "high")
    out["spearman"] = dict(
        zip(keys, metrics.bootstrap_ci(spearman_of, n, n_boot=n_boot, level=level, seed=seed), strict=True)
    )
    out["auroc"] = dict(
        zip(keys, metrics.bootstrap_ci(auroc_of, n, n_boot=n_boot, level=level, seed=seed), strict=True)
    )
    if positives == 0:
        out["auroc_note"] = f"undefined: no {unit} had {event} (one class only)"
    elif positives == d_all.size:
        out["auroc_note"] = f"undefined: every {unit} had {event} (one class only)"
    else:
        out["auroc_note"] = None
    if cumulative:
        summed = np.cumsum(np.where(pairs, dis, 0.0), axis=1)[pairs]  # same order as d_all
        out["cumulative"] = {"spearman": metrics.spearman(summed, e_all), "auroc": metrics.auroc(summed, e_all > tau)}

    counts = metrics.bootstrap_counts(n, n_boot, np.random.default_rng(seed))
    wrong = err > tau
    has_threshold = bool(np.isfinite(threshold))
    if has_threshold:
        cut = pairs & (dis > threshold)
        share = metrics.ratio_of_sums((cut & wrong).sum(1), cut.sum(1), counts, level)
        out["justified_share"] = interval(*share) | {"cutoffs": int(cut.sum())}
        out["justified_note"] = None if cut.any() else "undefined: the disagreement never exceeded the threshold"
        has_cut = np.asarray(cut.any(1))
        first_wrong = has_cut & wrong[np.arange(n), cut.argmax(1)]
        out["first_cutoff_justified"] = interval(*metrics.ratio_of_sums(first_wrong, has_cut, counts, level)) | {
            "starts_cut": int(has_cut.sum())
        }
        dream, dream_cens = metrics.first_exceedance(np.where(pairs, dis, -np.inf), threshold, valid)
    else:
        out["justified_share"] = out["first_cutoff_justified"] = None
        out["justified_note"] = "undefined: no calibrated threshold"
        dream, dream_cens = np.full(n, -1), np.ones(n, dtype=bool)
    trusted, trusted_cens = metrics.first_exceedance(err, tau, valid)
    out["trusted_horizon"] = horizon_summary(trusted, trusted_cens, counts, level)
    keep_dream = has_threshold or dream_without_threshold == "censored"
    out["dream_horizon"] = horizon_summary(dream, dream_cens, counts, level) if keep_dream else None
    exceeded = ~trusted_cens
    out["cut_no_later_than_error"] = (
        float(np.mean(dream[exceeded] <= trusted[exceeded])) if exceeded.any() and has_threshold else None
    )
    return out


__all__ = ["calibrated_threshold", "horizon_summary", "interval", "score_uncertainty"]
