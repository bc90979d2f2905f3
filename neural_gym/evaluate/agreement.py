"""How far the dream's verdicts on policies can be trusted: agreement of dream and ground truth (``docs/DESIGN.md``,
"Metric definitions").

``K`` policies are each played for ``M_k`` paired episodes (episode ``i`` of policy ``k`` starts from the same real
state in the dream and in MuJoCo). Pure NumPy/SciPy, no global RNG.

Per policy, over the ``K`` success rates ``dream`` and ``real`` (keyword-only, because the order matters for MMRV):

- :func:`pearson_r`, :func:`spearman_rho`, :func:`kendall_tau` — correlations of the two rate vectors (SciPy;
  Kendall's τ-b, which corrects for ties).
- :func:`mean_absolute_error` — ``mean_k |dream_k − real_k|``.
- :func:`exploitation_gap` — ``dream_k − real_k`` per policy (positive: the dream flatters the policy).
- :func:`mmrv` — SimplerEnv's mean maximum rank violation with the dream in the "sim" role.

Per episode, over paired boolean verdicts (optionally leaving out the dream episodes the uncertainty rule cut,
``inconclusive``):

- :func:`episode_agreement` — share of episodes where both worlds give the same verdict.
- :func:`cohen_kappa` — that agreement corrected for chance (Cohen's κ, written from its definition).
- :func:`inconclusive_share` — share of episodes marked inconclusive.

Intervals: :func:`bootstrap_over_episodes` resamples the episodes of every policy (stratified by policy; the resampling
is :func:`neural_gym.metrics.bootstrap_counts`); over policies the report uses :func:`neural_gym.metrics.bootstrap_ci`.
:func:`agreement_report` returns every figure with both intervals, with and without the inconclusive episodes, as a
JSON-ready dict.

Undefined values follow :mod:`neural_gym.metrics`: a statistic undefined for the data (a correlation of fewer than two
policies or of a constant vector, κ when both worlds give one and the same verdict on every episode) is ``NaN``, never
an exception, and the report says why in the figure's ``note``. Malformed input (mismatched lengths, non-finite rates,
verdicts that are not booleans or 0/1) raises ``ValueError``.

Example:
    >>> mmrv(dream=[0.8, 0.4], real=[0.3, 0.5])  # the dream ranks the pair wrongly; the real gap is 0.2
    0.2
    >>> cohen_kappa(dream=[1, 1, 0, 0], real=[1, 0, 0, 0])
    0.5
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats

from .. import metrics
from ..json_values import json_safe

#: The scalar figures of :func:`agreement_report`, in the order they are computed.
POLICY_FIGURES = ("pearson", "spearman", "kendall", "mae", "mmrv", "mean_gap")
EPISODE_FIGURES = ("agreement", "kappa")

ArrayLike = np.ndarray | Sequence[float] | Sequence[bool]


# ----------------------------------------------------------------------------------------------------------- validation
def _rates(dream: ArrayLike, real: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Two finite 1-D float vectors of the same length."""
    out = []
    for name, x in (("dream", dream), ("real", real)):
        try:
            a = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"{name} must be a vector of numbers (one rate per policy), got {type(x).__name__}"
            ) from err
        if a.ndim != 1:
            raise ValueError(f"{name} must be a vector (one rate per policy), got shape {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{name} must be finite (one rate per policy), got {a}")
        out.append(a)
    d, r = out
    if d.shape != r.shape:
        raise ValueError(f"dream and real must have one rate per policy each, got {d.size} and {r.size} values")
    return d, r


def _verdicts(x: ArrayLike, name: str) -> np.ndarray:
    """A 1-D bool vector from booleans or 0/1 numbers."""
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a vector of per-episode verdicts, got shape {a.shape}")
    if a.dtype == np.bool_:
        return a
    if a.size == 0:
        return np.zeros(0, dtype=bool)
    if a.dtype.kind not in "iuf" or not np.isin(a, (0, 1)).all():
        raise ValueError(f"{name} must hold booleans or 0/1 (success per episode), got values {np.unique(a)[:6]}")
    return a.astype(bool)


def _episodes(
    dream: ArrayLike, real: ArrayLike, inconclusive: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dream, real, keep)``: paired bool verdicts and the mask of conclusive episodes."""
    d, r = _verdicts(dream, "dream"), _verdicts(real, "real")
    if d.size != r.size:
        raise ValueError(f"dream and real must hold the same paired episodes, got {d.size} and {r.size} verdicts")
    if inconclusive is None:
        return d, r, np.ones(d.size, dtype=bool)
    c = _verdicts(inconclusive, "inconclusive")
    if c.size != d.size:
        raise ValueError(f"inconclusive must mark each of the {d.size} episodes, got {c.size} values")
    return d, r, ~c


# ----------------------------------------------------------------------------------------------------- per-policy rates
def _correlation_note(d: np.ndarray, r: np.ndarray) -> str | None:
    """Why a correlation of ``d`` and ``r`` is undefined (``None`` when it is defined)."""
    if d.size < 2:
        return f"undefined: {d.size} polic{'y' if d.size == 1 else 'ies'}, a correlation needs at least 2"
    if np.ptp(d) == 0:
        return "undefined: the dream gives every policy the same rate (constant vector)"
    if np.ptp(r) == 0:
        return "undefined: ground truth gives every policy the same rate (constant vector)"
    return None


def pearson_r(*, dream: ArrayLike, real: ArrayLike) -> float:
    """Pearson correlation of the per-policy rates, ``cov(dream, real) / (σ_dream · σ_real)`` (``scipy.stats.pearsonr``).

    Args:
        dream: ``[K]`` success rate of each policy in the dream.
        real: ``[K]`` success rate of the same policies in ground truth.

    Returns:
        ``r`` in ``[-1, 1]``; ``NaN`` with fewer than 2 policies or when either vector is constant.

    Raises:
        ValueError: different lengths, not vectors, or non-finite values.
    """
    d, r = _rates(dream, real)
    if _correlation_note(d, r) is not None:
        return float("nan")
    return float(stats.pearsonr(d, r).statistic)


def spearman_rho(*, dream: ArrayLike, real: ArrayLike) -> float:
    """Spearman rank correlation of the per-policy rates: Pearson's ``r`` of their ranks (ties get average ranks;
    ``scipy.stats.spearmanr``).

    Returns:
        ``ρ`` in ``[-1, 1]``; ``NaN`` with fewer than 2 policies or when either vector is constant.

    Raises:
        ValueError: different lengths, not vectors, or non-finite values.
    """
    d, r = _rates(dream, real)
    if _correlation_note(d, r) is not None:
        return float("nan")
    return float(stats.spearmanr(d, r).statistic)


def kendall_tau(*, dream: ArrayLike, real: ArrayLike) -> float:
    """Kendall's τ-b of the per-policy rates (``scipy.stats.kendalltau``): ``(P − Q) / sqrt((P + Q + T_d)(P + Q +
    T_r))`` with ``P`` concordant and ``Q`` discordant pairs of policies, ``T_d`` / ``T_r`` pairs tied only in the
    dream / only in ground truth (without ties, ``(P − Q) / (K(K − 1)/2)``).

    Returns:
        ``τ`` in ``[-1, 1]``; ``NaN`` with fewer than 2 policies or when either vector is constant.

    Raises:
        ValueError: different lengths, not vectors, or non-finite values.
    """
    d, r = _rates(dream, real)
    if _correlation_note(d, r) is not None:
        return float("nan")
    return float(stats.kendalltau(d, r, variant="b").statistic)


def mean_absolute_error(*, dream: ArrayLike, real: ArrayLike) -> float:
    """``mean_k |dream_k − real_k|`` over the policies.

    Returns:
        The mean; ``NaN`` for zero policies.

    Raises:
        ValueError: different lengths, not vectors, or non-finite values.
    """
    d, r = _rates(dream, real)
    return float(np.abs(d - r).mean()) if d.size else float("nan")


def exploitation_gap(*, dream: ArrayLike, real: ArrayLike) -> np.ndarray:
    """``dream_k − real_k`` per policy: how much the dream overrates each policy (a policy that exploits the model's
    errors succeeds in the dream and fails in ground truth; negative values: the dream underrates it).

    Returns:
        ``[K]`` float64.

    Raises:
        ValueError: different lengths, not vectors, or non-finite values.
    """
    d, r = _rates(dream, real)
    return d - r


def mmrv(*, dream: ArrayLike, real: ArrayLike) -> float:
    """Mean maximum rank violation (SimplerEnv's ``mean_maximum_rank_violation``, the dream in the "sim" role):

    ``MMRV = (1/K) Σ_i max_j |real_i − real_j| · 1[(dream_i > dream_j) ≠ (real_i > real_j)]``

    For each policy ``i``, the largest real success-rate gap to a policy ``j`` that the dream orders differently from
    ground truth; the mean over ``i``. Comparisons are strict: a tie in one world and not in the other is a violation
    (the policy with the higher rate sees it), a tie in both is not. The penalty is the *real* gap, so the two
    arguments do not commute (SimplerEnv's function takes ``(perf_sim, perf_real)``); they are keyword-only here.

    Args:
        dream: ``[K]`` success rate of each policy in the dream.
        real: ``[K]`` success rate of the same policies in ground truth.

    Returns:
        MMRV in ``[0, max real gap]`` (0: the dream ranks every pair as ground truth does); ``NaN`` with fewer than 2
        policies (no pair to rank; SimplerEnv would report 0).

    Raises:
        ValueError: different lengths, not vectors, or non-finite values.
    """
    d, r = _rates(dream, real)
    if d.size < 2:
        return float("nan")
    violated = (d[:, None] > d[None, :]) != (r[:, None] > r[None, :])
    penalty = np.where(violated, np.abs(r[:, None] - r[None, :]), 0.0)
    return float(penalty.max(axis=1).mean())


# ----------------------------------------------------------------------------------------------------------- episodes
def _table(d: np.ndarray, r: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``[n11, n10, n01, n00]``: counts of (dream, real) verdicts over the kept episodes."""
    d, r = d[keep], r[keep]
    return np.array([(d & r).sum(), (d & ~r).sum(), (~d & r).sum(), (~d & ~r).sum()], dtype=np.float64)


def _agreement_of(t: np.ndarray) -> float:
    n = t.sum()
    return float((t[0] + t[3]) / n) if n > 0 else float("nan")


def _kappa_of(t: np.ndarray) -> float:
    n = t.sum()
    if n <= 0:
        return float("nan")
    p_o = (t[0] + t[3]) / n
    p_d, p_r = (t[0] + t[1]) / n, (t[0] + t[2]) / n
    p_e = p_d * p_r + (1.0 - p_d) * (1.0 - p_r)
    # p_e = 1 exactly when both worlds give one and the same verdict on every episode (all n in one diagonal cell).
    if t[0] == n or t[3] == n:
        return float("nan")
    return float((p_o - p_e) / (1.0 - p_e))


def _kappa_note(t: np.ndarray) -> str | None:
    if t.sum() <= 0:
        return "undefined: no conclusive episode"
    if t[0] == t.sum():
        return "undefined: both worlds call every episode a success (chance agreement is 1)"
    if t[3] == t.sum():
        return "undefined: both worlds call every episode a failure (chance agreement is 1)"
    return None


def episode_agreement(*, dream: ArrayLike, real: ArrayLike, inconclusive: ArrayLike | None = None) -> float:
    """Share of paired episodes where the dream's verdict equals ground truth's: ``p_o = (n11 + n00) / n`` over the
    episodes not marked ``inconclusive``.

    Args:
        dream: ``[M]`` success (bool or 0/1) of each episode in the dream.
        real: ``[M]`` success of the same episodes in ground truth.
        inconclusive: ``[M]`` bool, dream episodes to leave out (those the uncertainty rule cut); default none.

    Returns:
        The share in ``[0, 1]``; ``NaN`` when no episode is left.

    Raises:
        ValueError: different lengths, not vectors, or verdicts that are not booleans or 0/1.
    """
    return _agreement_of(_table(*_episodes(dream, real, inconclusive)))


def cohen_kappa(*, dream: ArrayLike, real: ArrayLike, inconclusive: ArrayLike | None = None) -> float:
    """Cohen's κ of the paired verdicts: ``κ = (p_o − p_e) / (1 − p_e)``, with ``p_o`` the observed agreement and
    ``p_e = p_d · p_r + (1 − p_d)(1 − p_r)`` the agreement expected by chance from the success rates ``p_d`` (dream)
    and ``p_r`` (ground truth), over the episodes not marked ``inconclusive``. Symmetric in its arguments.

    κ = 1: perfect agreement; 0: no better than chance (also whenever exactly one world gives one verdict throughout);
    negative: worse than chance.

    Args:
        dream: ``[M]`` success (bool or 0/1) of each episode in the dream.
        real: ``[M]`` success of the same episodes in ground truth.
        inconclusive: ``[M]`` bool, dream episodes to leave out; default none.

    Returns:
        κ in ``[-1, 1]``; ``NaN`` when ``p_e = 1`` (both worlds call every episode a success, or both call every one
        a failure) or no episode is left.

    Raises:
        ValueError: different lengths, not vectors, or verdicts that are not booleans or 0/1.
    """
    return _kappa_of(_table(*_episodes(dream, real, inconclusive)))


def inconclusive_share(inconclusive: ArrayLike) -> float:
    """Share of episodes marked inconclusive (``NaN`` for zero episodes).

    Raises:
        ValueError: not a vector of booleans or 0/1.
    """
    c = _verdicts(inconclusive, "inconclusive")
    return float(c.mean()) if c.size else float("nan")


# ---------------------------------------------------------------------------------------------------------- bootstrap
def bootstrap_over_episodes(
    statistic: Callable[[list[np.ndarray]], np.ndarray | float],
    sizes: Sequence[int],
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile bootstrap over the paired episodes of every policy (stratified: each policy keeps its ``M_k``).

    Each resample draws, for every policy ``k`` in turn, ``M_k`` of its episodes with replacement
    (:func:`neural_gym.metrics.bootstrap_counts`, one generator seeded with ``seed``); a pair stays a pair.

    Args:
        statistic: maps ``K`` index arrays (into each policy's episodes, with repeats) to a number or a vector of
            numbers (``NaN`` allowed).
        sizes: ``[K]`` episodes per policy, each ``>= 1``.
        n_boot: resamples.
        level: coverage.
        seed: seed of the resampling.

    Returns:
        ``(point, low, high)``, each shaped like the statistic: its value on all episodes and the percentile interval
        (resamples giving ``NaN`` are left out; all ``NaN`` → ``NaN`` bounds).

    Raises:
        ValueError: no policy, a policy with no episode, ``n_boot < 1`` or a level outside ``(0, 1)``.
    """
    sizes = [int(m) for m in sizes]
    if not sizes or min(sizes) < 1:
        raise ValueError(f"need at least one policy and at least one episode per policy, got sizes {sizes}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    counts = [metrics.bootstrap_counts(m, n_boot, rng).astype(np.int64) for m in sizes]
    point = np.asarray(statistic([np.arange(m) for m in sizes]), dtype=np.float64)
    samples = np.empty((n_boot, *point.shape))
    for b in range(n_boot):
        idx = [np.repeat(np.arange(m), c[b]) for m, c in zip(sizes, counts, strict=True)]
        samples[b] = np.asarray(statistic(idx), dtype=np.float64)
    low, high = metrics._percentiles(samples.reshape(n_boot, -1), level)  # the same NaN rule as metrics.bootstrap_ci
    return point, low.reshape(point.shape), high.reshape(point.shape)


# ------------------------------------------------------------------------------------------------------------- report
class _Episodes:
    """The K policies' paired verdicts as bool arrays (validated), with per-policy tables for a choice of episodes."""

    def __init__(
        self,
        dream: Sequence[ArrayLike] | np.ndarray,
        real: Sequence[ArrayLike] | np.ndarray,
        inconclusive: Sequence[ArrayLike] | np.ndarray | None,
    ) -> None:
        if isinstance(dream, (str, bytes)) or isinstance(real, (str, bytes)):
            raise ValueError("dream and real must be sequences of per-episode verdicts, one per policy")
        if len(dream) != len(real):
            raise ValueError(f"dream and real must hold the same policies, got {len(dream)} and {len(real)}")
        if len(dream) == 0:
            raise ValueError("need at least one policy")
        if inconclusive is not None and len(inconclusive) != len(dream):
            raise ValueError(f"inconclusive must hold one mask per policy ({len(dream)}), got {len(inconclusive)}")
        self.d, self.r, self.keep = [], [], []
        for k in range(len(dream)):
            try:
                d, r, keep = _episodes(dream[k], real[k], None if inconclusive is None else inconclusive[k])
            except ValueError as err:
                raise ValueError(f"policy {k}: {err}") from err
            if d.size == 0:
                raise ValueError(f"policy {k} has no episode")
            self.d.append(d)
            self.r.append(r)
            self.keep.append(keep)

    @property
    def sizes(self) -> list[int]:
        return [d.size for d in self.d]

    def tables(self, idx: Sequence[np.ndarray], conclusive: bool) -> tuple[np.ndarray, np.ndarray]:
        """``[K, 4]`` verdict tables over the chosen episodes (conclusive ones only, if asked) and ``[K]`` real rates
        over all chosen episodes."""
        t = np.empty((len(idx), 4))
        real_rate = np.empty(len(idx))
        for k, i in enumerate(idx):
            keep = self.keep[k][i] if conclusive else np.ones(i.size, dtype=bool)
            t[k] = _table(self.d[k][i], self.r[k][i], keep)
            real_rate[k] = self.r[k][i].mean()
        return t, real_rate


def _dream_rates(t: np.ndarray) -> np.ndarray:
    n = t.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (t[:, 0] + t[:, 1]) / np.where(n > 0, n, 1.0), np.nan)


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks ``1..K`` with ties sharing their average rank (what ``scipy.stats.rankdata`` gives)."""
    less = (x[None, :] < x[:, None]).sum(1)
    equal = (x[None, :] == x[:, None]).sum(1)
    return less + (equal + 1) / 2.0


def _pearson_of(d: np.ndarray, r: np.ndarray) -> float:
    dc, rc = d - d.mean(), r - r.mean()
    return float(np.clip(dc @ rc / np.sqrt((dc @ dc) * (rc @ rc)), -1.0, 1.0))


def _kendall_b_of(d: np.ndarray, r: np.ndarray) -> float:
    upper = np.triu_indices(d.size, 1)
    sd, sr = np.sign(d[:, None] - d[None, :])[upper], np.sign(r[:, None] - r[None, :])[upper]
    return float((sd * sr).sum() / np.sqrt(np.count_nonzero(sd) * np.count_nonzero(sr)))


def _policy_figures(dream_rate: np.ndarray, real_rate: np.ndarray) -> np.ndarray:
    """The :data:`POLICY_FIGURES` over the policies with a defined dream rate.

    The bootstrap calls this thousands of times, so the three correlations are computed here from their definitions
    in NumPy (SciPy's per-call overhead is ~0.5 ms); ``tests/neural_gym/evaluate/test_agreement.py`` checks that they
    equal :func:`pearson_r`, :func:`spearman_rho` and :func:`kendall_tau`.
    """
    ok = np.isfinite(dream_rate)
    d, r = dream_rate[ok], real_rate[ok]
    if _correlation_note(d, r) is None:
        corr = [_pearson_of(d, r), _pearson_of(_average_ranks(d), _average_ranks(r)), _kendall_b_of(d, r)]
    else:
        corr = [float("nan")] * 3
    return np.array(
        [
            *corr,
            mean_absolute_error(dream=d, real=r),
            mmrv(dream=d, real=r),
            float((d - r).mean()) if d.size else float("nan"),
        ]
    )


def _figures(t: np.ndarray, real_rate: np.ndarray) -> np.ndarray:
    """Every scalar figure of one block, from per-policy tables ``[K, 4]`` and real rates ``[K]``."""
    pooled = t.sum(0)
    return np.r_[_policy_figures(_dream_rates(t), real_rate), _agreement_of(pooled), _kappa_of(pooled)]


def _notes(t: np.ndarray, real_rate: np.ndarray) -> dict[str, str | None]:
    dream_rate = _dream_rates(t)
    ok = np.isfinite(dream_rate)
    d, r = dream_rate[ok], real_rate[ok]
    corr = _correlation_note(d, r)
    rank = None if d.size >= 2 else f"undefined: {d.size} polic{'y' if d.size == 1 else 'ies'}, no pair to rank"
    empty = None if d.size else "undefined: no policy has a conclusive episode"
    notes: dict[str, str | None] = {"pearson": corr, "spearman": corr, "kendall": corr}
    notes |= {"mae": empty, "mmrv": rank, "mean_gap": empty}
    pooled = t.sum(0)
    notes["agreement"] = None if pooled.sum() > 0 else "undefined: no conclusive episode"
    notes["kappa"] = _kappa_note(pooled)
    if not ok.all():
        left = ", ".join(str(k) for k in np.flatnonzero(~ok))
        for name in POLICY_FIGURES:
            if notes[name] is None:
                notes[name] = f"policies {left} left out: every dream episode of theirs was inconclusive"
    return notes


def _block(eps: _Episodes, conclusive: bool, n_boot: int, level: float, seed: int) -> dict[str, Any]:
    """Figures, per-policy rates and both intervals of one choice of episodes."""
    k = len(eps.sizes)
    names = (*POLICY_FIGURES, *EPISODE_FIGURES)
    every = [np.arange(m) for m in eps.sizes]
    t_all, real_all = eps.tables(every, conclusive)

    def over_episodes(idx: list[np.ndarray]) -> np.ndarray:
        t, real_rate = eps.tables(idx, conclusive)
        dream_rate = _dream_rates(t)
        per_policy_agreement = [_agreement_of(row) for row in t]
        return np.r_[_figures(t, real_rate), dream_rate, real_rate, dream_rate - real_rate, per_policy_agreement]

    point, e_lo, e_hi = bootstrap_over_episodes(over_episodes, eps.sizes, n_boot=n_boot, level=level, seed=seed)
    notes = _notes(t_all, real_all)
    figures: dict[str, Any] = {}
    # bootstrap_ci draws the same resamples for every figure (same seed): compute all figures of a resample once.
    cache: dict[bytes, np.ndarray] = {}

    def over_policies(idx: np.ndarray) -> np.ndarray:
        key = idx.tobytes()
        if key not in cache:
            cache[key] = _figures(t_all[idx], real_all[idx])
        return cache[key]

    for j, name in enumerate(names):

        def one(idx: np.ndarray, j: int = j) -> float:
            return float(over_policies(idx)[j])

        _, p_lo, p_hi = metrics.bootstrap_ci(one, k, n_boot=n_boot, level=level, seed=seed)
        figures[name] = {
            "value": point[j],
            "interval_over_episodes": [e_lo[j], e_hi[j]],
            "interval_over_policies": [p_lo, p_hi],
            "note": notes[name],
        }
    s = len(names)
    per_policy = []
    for i in range(k):
        cols = [s + i, s + k + i, s + 2 * k + i, s + 3 * k + i]
        per_policy.append(
            {
                "episodes": int(t_all[i].sum()),
                **{
                    key: {"value": point[c], "interval_over_episodes": [e_lo[c], e_hi[c]]}
                    for key, c in zip(("dream_rate", "real_rate", "gap", "agreement"), cols, strict=True)
                },
            }
        )
    return {"episodes": int(t_all.sum()), "figures": figures, "per_policy": per_policy}


def agreement_report(
    *,
    dream: Sequence[ArrayLike] | np.ndarray,
    real: Sequence[ArrayLike] | np.ndarray,
    inconclusive: Sequence[ArrayLike] | np.ndarray | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Every agreement figure of ``K`` policies' paired episodes, with bootstrap intervals, as a JSON-ready dict.

    Two blocks, ``"all_episodes"`` (inconclusive dream episodes counted with the verdict the dream gave them) and
    ``"conclusive_only"`` (inconclusive episodes left out of the dream's rates and of the per-episode figures; the
    real rates stay over all episodes, since ground truth's verdict on a policy does not depend on the dream's
    uncertainty rule). Each block holds:

    - ``figures``: :data:`POLICY_FIGURES` (``pearson``, ``spearman``, ``kendall``, ``mae``, ``mmrv``; ``mean_gap`` =
      mean exploitation gap) over the per-policy rates, and :data:`EPISODE_FIGURES` (``agreement``, ``kappa``) over
      the episodes of all policies pooled; each ``{"value", "interval_over_episodes", "interval_over_policies",
      "note"}`` (``note``: why a value is undefined, else ``null``).
    - ``per_policy``: per policy ``episodes`` (counted in this block) and ``dream_rate``, ``real_rate``, ``gap``,
      ``agreement``, each with its interval over episodes.

    Intervals are seeded percentile bootstraps: over episodes (:func:`bootstrap_over_episodes`: every policy's
    paired episodes resampled, all rates and figures recomputed) and over policies
    (:func:`neural_gym.metrics.bootstrap_ci`: the ``K`` policies resampled with their episodes). A policy whose dream
    episodes are all inconclusive has no dream rate and is left out of the per-policy figures of
    ``"conclusive_only"`` (the note says so). ``NaN`` is written as ``null``.

    Args:
        dream: ``K`` vectors (or a ``[K, M]`` array) of per-episode success in the dream, booleans or 0/1.
        real: the same episodes' success in ground truth, same lengths.
        inconclusive: ``K`` bool vectors marking the dream episodes the uncertainty rule cut; default none.
        n_boot: bootstrap resamples.
        level: coverage of the intervals.
        seed: seed of both bootstraps.

    Returns:
        ``{"policies", "episodes", "inconclusive": {"episodes", "share", "per_policy"}, "n_boot", "level", "seed",
        "all_episodes", "conclusive_only"}``.

    Raises:
        ValueError: no policy, a policy without episodes, dream and real with different policies or episode counts,
            verdicts or masks that are not booleans or 0/1, ``n_boot < 1``, or a level outside ``(0, 1)``.
    """
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a whole number >= 1, got {n_boot}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    eps = _Episodes(dream, real, inconclusive)
    cut = [int((~keep).sum()) for keep in eps.keep]
    total = sum(eps.sizes)
    out = {
        "policies": len(eps.sizes),
        "episodes": total,
        "inconclusive": {"episodes": sum(cut), "share": sum(cut) / total, "per_policy": cut},
        "n_boot": int(n_boot),
        "level": float(level),
        "seed": int(seed),
        "all_episodes": _block(eps, False, int(n_boot), level, seed),
        "conclusive_only": _block(eps, True, int(n_boot), level, seed),
    }
    return json_safe(out)


__all__ = [
    "EPISODE_FIGURES",
    "POLICY_FIGURES",
    "agreement_report",
    "bootstrap_over_episodes",
    "cohen_kappa",
    "episode_agreement",
    "exploitation_gap",
    "inconclusive_share",
    "kendall_tau",
    "mean_absolute_error",
    "mmrv",
    "pearson_r",
    "spearman_rho",
]
