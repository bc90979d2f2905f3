"""Rollout calibration of the uncertainty cut-off: pure statistics over per-episode rollout records (NumPy only).

Input: :class:`RolloutRecords`, for ``E`` open-loop rollouts ("episodes") from real held-out states, per step one value
of each named candidate signal (one-step disagreement, derived signals) and of the true normalized error. Step ``j``
(0-based) of an episode is its ``j + 1``-th prediction. A prediction is *wrong* when its error exceeds ``τ``. The Dream
env's cut-off rule is assumed throughout: the episode is cut at the first step whose signal is *strictly above* the
threshold ``t``; the steps before it are *kept* (served to the user), that step and the later ones are not.

- Derived signals (:func:`running_sum`, :func:`running_max`, :func:`horizon_normalised`, :func:`with_derived`).
- Signal choice (:func:`choose_cutoff`): seeded split of the episodes into a choice set and a scoring set; the
  candidate with the best AUROC for "error > τ" on the choice set wins (ties: the simpler, earlier-listed signal); its
  threshold is :func:`conformal_threshold` on the choice set; AUROC, justified cut-offs and cut-off timing against the
  trusted horizon are reported on the scoring set (:func:`score_cutoff`).
- The guarantee (:func:`conformal_threshold`): conformal risk control over episodes (Angelopoulos, Bates, Fisch, Lei,
  Schuster, "Conformal Risk Control", ICLR 2024) on the share of wrong kept steps of an episode.
- What a checkpoint stores (:class:`RolloutCalibration`, in ``ModelSpec.calibration.rollout``): the chosen signal,
  its default threshold, the figures it was scored with, and the calibration episodes' risk curve
  (:func:`conformal_risk_curve`), from which :meth:`RolloutCalibration.threshold_for_risk` turns any ``alpha`` into
  exactly the threshold :func:`conformal_threshold` would choose (:func:`threshold_from_risk_curve`).

Assumptions stated once: episodes are exchangeable (the calibration episodes and a new episode are drawn alike, e.g.
rollouts from start states sampled i.i.d. from the same held-out data, with the same model and policy); all values are
finite; the error is a per-step scalar (e.g. normalized RMSE over dimensions). No global RNG is touched: splits use
``numpy.random.default_rng(seed)``.

Example:
    >>> rng = np.random.default_rng(0)
    >>> sig = [np.abs(rng.normal(size=20)) for _ in range(40)]
    >>> rec = RolloutRecords(error=[np.cumsum(s) / 4 for s in sig], signals={"d": sig})
    >>> res = conformal_threshold(with_derived(rec, "d"), "d_sum", tau=1.0, alpha=0.2)
    >>> res.meets_alpha, res.bound <= 0.2
    (True, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from neural_gym.world_models.roc import auroc

#: Suffixes :func:`with_derived` appends to a base signal's name, simplest first (the tie-break order of
#: :func:`choose_cutoff` when candidates are left to it).
DERIVED_SUFFIXES: tuple[str, ...] = ("_max", "_sum", "_sum_per_sqrt_step")


def _episode_arrays(values: Sequence[np.ndarray] | Sequence[Sequence[float]], name: str) -> tuple[np.ndarray, ...]:
    if isinstance(values, np.ndarray) and values.ndim == 1:
        raise ValueError(f"{name} must be a sequence of per-episode arrays, got one 1-D array")
    out = []
    for i, v in enumerate(values):
        try:
            a = np.array(v, dtype=np.float64)  # a copy: records do not alias the caller's arrays
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name}: episode {i} must be numeric") from err
        if a.ndim != 1 or a.size == 0:
            raise ValueError(f"{name}: episode {i} must be a non-empty 1-D array of steps, got shape {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{name}: episode {i} has non-finite values (NaN/inf); records must be finite")
        a.setflags(write=False)
        out.append(a)
    return tuple(out)


@dataclass(frozen=True)
class RolloutRecords:
    """Per-episode, per-step candidate signals and the true error of ``E`` rollouts.

    Episodes may have different lengths (a rollout ends at the ground truth's termination); within an episode every
    signal has as many steps as the error. Arrays are copied, made read-only and stored as float64.

    Attributes:
        error: ``E`` arrays ``[T_i]``, the true normalized error of each step.
        signals: name → ``E`` arrays ``[T_i]``, the candidate signal at each step (larger = less trusted).

    Raises:
        ValueError: fewer than 2 episodes, no signal, an empty or blank signal name, non-finite values, an episode
            that is empty or not 1-D, or a signal whose episode count or per-episode lengths differ from the error's.
    """

    error: tuple[np.ndarray, ...]
    signals: Mapping[str, tuple[np.ndarray, ...]]

    def __post_init__(self) -> None:
        error = _episode_arrays(self.error, "error")
        if len(error) < 2:
            raise ValueError(f"need at least 2 episodes (calibration is over episodes), got {len(error)}")
        if not isinstance(self.signals, Mapping) or not self.signals:
            raise ValueError("signals must be a non-empty mapping of name -> per-episode arrays")
        lengths = [a.size for a in error]
        signals: dict[str, tuple[np.ndarray, ...]] = {}
        for name, values in self.signals.items():
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"signal names must be non-empty strings, got {name!r}")
            arrays = _episode_arrays(values, f"signal {name!r}")
            if len(arrays) != len(error):
                raise ValueError(f"signal {name!r} has {len(arrays)} episodes, the error has {len(error)}")
            for i, (a, n) in enumerate(zip(arrays, lengths, strict=True)):
                if a.size != n:
                    raise ValueError(f"signal {name!r}: episode {i} has {a.size} steps, its error has {n}")
            signals[name] = arrays
        object.__setattr__(self, "error", error)
        object.__setattr__(self, "signals", signals)

    @property
    def n_episodes(self) -> int:
        """Number of episodes ``E``."""
        return len(self.error)

    @property
    def lengths(self) -> np.ndarray:
        """``[E]`` steps per episode."""
        return np.array([a.size for a in self.error], dtype=np.int64)

    def signal(self, name: str) -> tuple[np.ndarray, ...]:
        """The per-episode arrays of one signal.

        Raises:
            KeyError: an unknown name (the message lists the known ones).
        """
        if name not in self.signals:
            raise KeyError(f"unknown signal {name!r}; the records hold {sorted(self.signals)}")
        return self.signals[name]

    def subset(self, episodes: Sequence[int] | np.ndarray) -> RolloutRecords:
        """The records of the given episode indices (in that order; at least 2)."""
        idx = [int(i) for i in np.asarray(episodes, dtype=np.int64).reshape(-1)]
        if any(not 0 <= i < self.n_episodes for i in idx):
            raise ValueError(f"episode indices must lie in [0, {self.n_episodes}), got {idx}")
        return RolloutRecords(
            error=tuple(self.error[i] for i in idx),
            signals={k: tuple(v[i] for i in idx) for k, v in self.signals.items()},
        )

    def with_signals(self, new: Mapping[str, Sequence[np.ndarray]]) -> RolloutRecords:
        """A copy with more (or replaced) signals."""
        return RolloutRecords(error=self.error, signals={**self.signals, **new})


# ------------------------------------------------------------------------------------------------------ derived signals
def _per_episode(values: Sequence[np.ndarray]) -> list[np.ndarray]:
    return list(_episode_arrays(values, "values"))


def running_sum(values: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per episode, ``S_j = Σ_{k ≤ j} x_k``: the accumulated one-step signal (error that compounds grows with it)."""
    return [np.cumsum(a) for a in _per_episode(values)]


def running_max(values: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per episode, ``M_j = max_{k ≤ j} x_k``: the worst one-step signal so far (never decreases, so a cut-off on it
    is a cut-off on the first exceedance of the base signal)."""
    return [np.maximum.accumulate(a) for a in _per_episode(values)]


def horizon_normalised(values: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per episode, ``x_j / sqrt(j + 1)`` (step ``j`` is 0-based, so ``j + 1`` predictions have been made).

    Meant for the running sum: if the error after ``h`` steps is a random walk whose increments have spread
    proportional to the one-step disagreement ``d_k``, its spread is ``sqrt(Σ d_k²)``, and for slowly varying ``d``
    that is ``S_h / sqrt(h)``. ``running_sum / sqrt(h)`` thus tracks a diffusive error, where the plain running sum
    grows like ``h`` and over-cuts long rollouts. (Subtracting a per-horizon calibration median was the alternative;
    it needs every horizon to be populated in calibration and does not extend past the longest calibration episode.)
    """
    return [a / np.sqrt(np.arange(1, a.size + 1)) for a in _per_episode(values)]


def with_derived(records: RolloutRecords, base: str) -> RolloutRecords:
    """``records`` plus ``{base}_max``, ``{base}_sum`` and ``{base}_sum_per_sqrt_step`` (see :data:`DERIVED_SUFFIXES`).

    Raises:
        KeyError: ``base`` is not a signal of ``records``.
    """
    x = records.signal(base)
    s = running_sum(x)
    return records.with_signals({f"{base}_max": running_max(x), f"{base}_sum": s,
                                 f"{base}_sum_per_sqrt_step": horizon_normalised(s)})  # fmt: skip


# --------------------------------------------------------------------------------------------------------- the guarantee
def _check_tau(tau: float) -> float:
    if not (isinstance(tau, int | float) and math.isfinite(tau)):
        raise ValueError(f"tau must be a finite number, got {tau!r}")
    return float(tau)


def _check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, int | float) and 0.0 < alpha < 1.0):
        raise ValueError(f"alpha must lie in (0, 1) (the tolerated expected share of wrong kept steps), got {alpha!r}")
    return float(alpha)


def kept_steps(signal: np.ndarray, threshold: float | np.ndarray) -> np.ndarray:
    """Steps kept before the first step whose ``signal`` is strictly above ``threshold`` (all steps when none is).

    Args:
        signal: ``[T]`` one episode's signal.
        threshold: a scalar or an array of thresholds.

    Returns:
        The kept count(s), integer, shaped like ``threshold``; non-decreasing in the threshold.
    """
    m = np.maximum.accumulate(np.asarray(signal, dtype=np.float64))
    return np.searchsorted(m, threshold, side="right")


def _prefix_losses(error: np.ndarray, signal: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For one episode: ``(lengths, raw, monotone)`` over the prefix lengths ``k = 0..T`` the cut-off rule can keep.

    ``raw[k]`` is the share of the first ``k`` steps that are wrong (0 for ``k = 0``); ``monotone[k]`` is the largest
    ``raw[k']`` over the keepable ``k' ≤ k``. Lengths inside a run of equal running-max values cannot be kept (every
    threshold keeps the whole run or none of it) and get ``raw = monotone = NaN``.
    """
    m = np.maximum.accumulate(signal)
    wrong = np.cumsum(error > tau)
    k = np.arange(1, signal.size + 1)
    keepable = np.r_[m[1:] > m[:-1], True]
    raw = np.r_[0.0, np.where(keepable, wrong / k, np.nan)]
    monotone = np.fmax.accumulate(raw)
    monotone[1:][~keepable] = np.nan
    return np.r_[0, k], raw, monotone


def episode_losses(
    records: RolloutRecords,
    signal: str,
    tau: float,
    thresholds: np.ndarray | Sequence[float],
    *,
    monotone: bool = False,
) -> np.ndarray:
    """``[E, G]`` per-episode loss ``L_i(t)`` at each threshold ``t``: the share of the episode's kept steps that are
    wrong (``error > tau``); 0 when nothing is kept (the first step already exceeds ``t``).

    ``L_i`` lies in ``[0, 1]`` but is **not** monotone in ``t`` in general: the kept prefix grows with ``t``, but the
    share of wrong steps in a growing prefix can fall (a wrong first step followed by right ones). Conformal risk
    control needs a loss non-decreasing in ``t``, so ``monotone=True`` returns the monotone envelope
    ``L̃_i(t) = max_{t' ≤ t} L_i(t')`` (over every real ``t'``, which depends on episode ``i`` alone), the smallest
    non-decreasing loss above ``L_i``; it also lies in ``[0, 1]``, and ``L̃_i ≥ L_i``.

    Raises:
        KeyError: an unknown signal.
        ValueError: a non-finite ``tau`` or NaN thresholds.
    """
    tau = _check_tau(tau)
    t = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if np.isnan(t).any():
        raise ValueError("thresholds must not be NaN")
    sig = records.signal(signal)
    out = np.empty((records.n_episodes, t.size))
    for i, (e, s) in enumerate(zip(records.error, sig, strict=True)):
        _, raw, mono = _prefix_losses(e, s, tau)
        out[i] = (mono if monotone else raw)[kept_steps(s, t)]
    return out


@dataclass(frozen=True)
class ConformalThreshold:
    """The result of :func:`conformal_threshold`.

    Attributes:
        signal: the signal the threshold applies to (cut at the first step with ``signal > threshold``).
        threshold: ``t̂``; ``-inf`` means "cut before the first step" (nothing kept).
        tau: the error above which a step is wrong.
        alpha: the asked-for bound on the expected per-episode share of wrong kept steps.
        meets_alpha: false when not even cutting at once meets ``alpha`` (``alpha < 1/(n+1)``); ``threshold`` is then
            ``-inf``.
        n_episodes: calibration episodes ``n``.
        bound: ``(n/(n+1)) R̂_n(t̂) + 1/(n+1)``, the quantity held ``≤ alpha`` (``R̂_n`` the mean monotone loss).
        mean_loss: mean over calibration episodes of the per-episode share of wrong kept steps at ``t̂`` (raw loss).
        mean_monotone_loss: ``R̂_n(t̂)``, the same for the monotone envelope the guarantee is proved on.
        pooled_wrong_share: wrong kept steps / kept steps, pooled over calibration episodes (``NaN`` if none kept); for
            reference only, **not** what is guaranteed (long episodes weigh more in it).
        kept_share: kept steps / all steps, pooled over calibration episodes (how much of the rollouts survives).
        mean_kept_steps: mean kept steps per calibration episode.
    """

    signal: str
    threshold: float
    tau: float
    alpha: float
    meets_alpha: bool
    n_episodes: int
    bound: float
    mean_loss: float
    mean_monotone_loss: float
    pooled_wrong_share: float
    kept_share: float
    mean_kept_steps: float


def conformal_threshold(records: RolloutRecords, signal: str, tau: float, alpha: float) -> ConformalThreshold:
    """Threshold on ``signal`` with a conformal risk control guarantee on the share of wrong kept steps.

    Loss: for episode ``i`` and threshold ``t``, ``L_i(t)`` = the share of its kept steps (those before the signal
    first exceeds ``t``) whose true error exceeds ``tau``; an episode whose first step already exceeds ``t`` keeps
    none and has loss 0. ``L_i ∈ [0, 1]``. The kept prefix only grows with ``t``, but a share over a growing prefix
    can fall, so ``L_i`` itself is not monotone; the procedure runs on its monotone envelope
    ``L̃_i(t) = max_{t' ≤ t} L_i(t')`` (:func:`episode_losses` with ``monotone=True``), which is non-decreasing, in
    ``[0, 1]``, depends on episode ``i`` alone and bounds ``L_i`` from above.

    Choice: ``t̂`` = the largest ``t`` on the grid ``{-inf} ∪ {observed running-max values of signal}`` with
    ``(n/(n+1)) R̂_n(t) + 1/(n+1) ≤ alpha``, ``R̂_n`` the mean of ``L̃_i`` over the ``n`` calibration episodes.
    The grid depends on the data, but it is contained in the grid of the ``n + 1`` episodes, where the same rule on
    all ``n + 1`` (a symmetric choice) is at least ``t̂``; that is all the proof needs.

    Guarantee (CRC, Theorem 1 of Angelopoulos et al., with loss bound ``B = 1``): for a new episode exchangeable with
    the ``n`` calibration episodes, ``E[L_{n+1}(t̂)] ≤ E[L̃_{n+1}(t̂)] ≤ alpha``, the expectation over the
    calibration episodes and the new one. It bounds the *expected per-episode share* of wrong kept steps, not the
    pooled share over all kept steps (returned as ``pooled_wrong_share`` for reference), and not any single episode.

    Args:
        records: the calibration episodes (all of them are used; ``n = records.n_episodes``).
        signal: name of the signal to threshold.
        tau: error above which a step is wrong.
        alpha: tolerated expected share, in ``(0, 1)``.

    Returns:
        A :class:`ConformalThreshold`. When no grid point meets ``alpha`` (only when ``alpha < 1/(n+1)``, since
        cutting at once has loss 0), ``threshold = -inf`` (cut at once) and ``meets_alpha = False``.

    Raises:
        KeyError: an unknown signal.
        ValueError: ``alpha`` outside ``(0, 1)`` or a non-finite ``tau``.
    """
    alpha, tau = _check_alpha(alpha), _check_tau(tau)
    sig = records.signal(signal)
    n = records.n_episodes
    grid = np.r_[-np.inf, np.unique(np.concatenate([np.maximum.accumulate(s) for s in sig]))]
    risk = episode_losses(records, signal, tau, grid, monotone=True).mean(axis=0)
    bound = n / (n + 1) * risk + 1.0 / (n + 1)
    ok = np.flatnonzero(bound <= alpha + 1e-12)  # risk is non-decreasing: ok is a prefix of the grid
    meets = ok.size > 0
    j = int(ok[-1]) if meets else 0
    t_hat = float(grid[j])
    kept = np.array([kept_steps(s, t_hat) for s in sig], dtype=np.int64)
    wrong = np.array([int((e[:k] > tau).sum()) for e, k in zip(records.error, kept, strict=True)])
    raw = episode_losses(records, signal, tau, [t_hat])[:, 0]
    return ConformalThreshold(
        signal=signal,
        threshold=t_hat,
        tau=tau,
        alpha=alpha,
        meets_alpha=meets,
        n_episodes=n,
        bound=float(bound[j]),
        mean_loss=float(raw.mean()),
        mean_monotone_loss=float(risk[j]),
        pooled_wrong_share=float(wrong.sum() / kept.sum()) if kept.sum() else float("nan"),
        kept_share=float(kept.sum() / records.lengths.sum()),
        mean_kept_steps=float(kept.mean()),
    )


def conformal_risk_curve(records: RolloutRecords, signal: str, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """The calibration episodes' risk curve ``R̂_n(t)`` in compressed form: all :func:`conformal_threshold` needs.

    ``R̂_n(t)`` is the mean over episodes of the monotone loss ``L̃_i(t)`` (:func:`episode_losses` with
    ``monotone=True``), evaluated on :func:`conformal_threshold`'s grid ``{-inf} ∪ {observed running-max values}``.
    It is a non-decreasing step function, so only the *last* grid point of each run of equal values can ever be
    the chosen threshold; those points (finite ones only; ``R̂_n(-inf) = 0`` is implied) and their risk are returned.
    :func:`threshold_from_risk_curve` on them returns exactly :func:`conformal_threshold`'s threshold for every
    ``alpha``, so a checkpoint can store the curve (a sufficient statistic of the per-episode losses) instead of
    every episode's signal and error.

    Args:
        records: the calibration episodes.
        signal: name of the signal to threshold.
        tau: error above which a step is wrong.

    Returns:
        ``(thresholds, risk)``: strictly increasing finite grid points and ``R̂_n`` at each, non-decreasing in
        ``[0, 1]``.

    Raises:
        KeyError: an unknown signal.
        ValueError: a non-finite ``tau``.
    """
    tau = _check_tau(tau)
    sig = records.signal(signal)
    grid = np.r_[-np.inf, np.unique(np.concatenate([np.maximum.accumulate(s) for s in sig]))]
    risk = episode_losses(records, signal, tau, grid, monotone=True).mean(axis=0)
    run_end = np.r_[risk[1:] > risk[:-1], True]
    run_end[0] = False  # -inf: its risk is 0 by definition, never stored
    return grid[run_end], risk[run_end]


def threshold_from_risk_curve(
    thresholds: np.ndarray | Sequence[float], risk: np.ndarray | Sequence[float], n_episodes: int, alpha: float
) -> tuple[float, bool]:
    """:func:`conformal_threshold`'s choice from a stored :func:`conformal_risk_curve`.

    ``t̂`` = the largest point ``t`` of ``{-inf} ∪ thresholds`` with ``(n/(n+1)) R̂_n(t) + 1/(n+1) ≤ alpha``
    (``R̂_n(-inf) = 0``). Non-decreasing in ``alpha``.

    Args:
        thresholds: the curve's grid points (strictly increasing, finite).
        risk: ``R̂_n`` at each (non-decreasing).
        n_episodes: calibration episodes ``n`` the curve was computed on.
        alpha: tolerated expected share of wrong kept steps, in ``(0, 1)``.

    Returns:
        ``(threshold, meets_alpha)``: ``(-inf, False)`` when even cutting at once misses ``alpha``
        (``alpha < 1/(n+1)``); ``-inf`` with ``True`` means "cut at once" meets it but nothing more does.

    Raises:
        ValueError: ``alpha`` outside ``(0, 1)``, ``n_episodes < 1``, or curves of different lengths.
    """
    alpha = _check_alpha(alpha)
    if isinstance(n_episodes, bool) or int(n_episodes) != n_episodes or n_episodes < 1:
        raise ValueError(f"n_episodes must be a positive integer, got {n_episodes!r}")
    t = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    r = np.asarray(risk, dtype=np.float64).reshape(-1)
    if t.shape != r.shape:
        raise ValueError(f"thresholds and risk must have the same length, got {t.size} and {r.size}")
    n = int(n_episodes)
    grid, curve = np.r_[-np.inf, t], np.r_[0.0, r]
    ok = np.flatnonzero(n / (n + 1) * curve + 1.0 / (n + 1) <= alpha + 1e-12)  # a prefix: the curve is monotone
    if ok.size == 0:
        return float("-inf"), False
    return float(grid[ok[-1]]), True


def _finite(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        raise ValueError(f"{what} must be a finite number, got {x!r}")
    return float(x)


def _json_figures(d: Any, what: str) -> dict[str, Any]:
    """``d`` checked to be a dict of JSON values whose numbers are finite (``None`` stands for undefined)."""
    if not isinstance(d, Mapping):
        raise ValueError(f"{what} must be a dict, got {type(d).__name__}")

    def check(v: Any, where: str) -> None:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{where} is {v!r}; store undefined figures as None (JSON has no NaN/inf)")
        if isinstance(v, Mapping):
            for k, x in v.items():
                check(x, f"{where}[{k!r}]")
        elif isinstance(v, list | tuple):
            for i, x in enumerate(v):
                check(x, f"{where}[{i}]")
        elif not (v is None or isinstance(v, str | bool | int | float)):
            raise ValueError(
                f"{where} must be a JSON value (str, number, bool, None, list, dict), got {type(v).__name__}"
            )

    for k, v in d.items():
        if not isinstance(k, str):
            raise ValueError(f"{what} keys must be strings, got {k!r}")
        check(v, f"{what}[{k!r}]")
    return dict(d)


@dataclass
class RolloutCalibration:
    """A cut-off signal and threshold chosen on held-out rollouts, with what it was scored on (in a checkpoint).

    Stored as ``ModelSpec.calibration.rollout`` (absent in checkpoints calibrated on one-step values only). The Dream
    env cuts an episode at the first step whose ``signal`` is strictly above the threshold: ``threshold`` by default,
    or :meth:`threshold_for_risk` of a user's ``uncertainty_risk=α``.

    Attributes:
        signal: the cut-off signal (``"disagreement"``, ``"disagreement_max"``, ``"disagreement_sum"``,
            ``"disagreement_sum_per_sqrt_step"``; see :func:`with_derived`).
        threshold: the default cut-off, :meth:`threshold_for_risk` of ``alpha``.
        alpha: the level of the default cut-off.
        tau: the error above which a step counts as wrong.
        error: the per-step error ``tau`` applies to (e.g. ``"nrmse"``: normalized RMSE of the state).
        n_calibration_episodes: the episodes the risk curve was computed on (``n`` of the guarantee).
        risk_thresholds: the risk curve's grid points (:func:`conformal_risk_curve`), strictly increasing.
        risk_values: ``R̂_n`` at each grid point, non-decreasing in ``[0, 1]``.
        candidate_auroc: each candidate signal's AUROC on the calibration episodes (``None``: undefined).
        scores: figures of the chosen cut-off on the scoring episodes (AUROC, justified share, timing against the
            trusted horizon, realized rate), beside the one-step rule's; ``None`` marks an undefined figure.
        scored_on: what the figures come from (task, held-out data or its collection, episodes, horizon, seeds).

    Raises:
        ValueError: a field of the wrong kind, a non-finite number, a curve that is not sorted and monotone, or a
            ``threshold`` that is not the curve's threshold at ``alpha``.
    """

    signal: str
    threshold: float
    alpha: float
    tau: float
    error: str
    n_calibration_episodes: int
    risk_thresholds: list[float]
    risk_values: list[float]
    candidate_auroc: dict[str, float | None] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)
    scored_on: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.signal, str) or not self.signal.strip():
            raise ValueError(f"signal must be a non-empty string, got {self.signal!r}")
        if not isinstance(self.error, str) or not self.error.strip():
            raise ValueError(f"error must name the per-step error tau applies to, got {self.error!r}")
        self.threshold = _finite(self.threshold, "threshold")
        self.alpha = _check_alpha(self.alpha)
        self.tau = _finite(self.tau, "tau")
        n = self.n_calibration_episodes
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n_calibration_episodes must be a positive integer, got {n!r}")
        t = [_finite(x, "risk_thresholds entry") for x in self.risk_thresholds]
        r = [_finite(x, "risk_values entry") for x in self.risk_values]
        if len(t) != len(r):
            raise ValueError(f"risk_thresholds and risk_values differ in length ({len(t)} and {len(r)})")
        if any(b <= a for a, b in zip(t[:-1], t[1:], strict=True)):
            raise ValueError("risk_thresholds must be strictly increasing")
        if any(not 0.0 <= x <= 1.0 for x in r) or any(b < a for a, b in zip(r[:-1], r[1:], strict=True)):
            raise ValueError("risk_values must be non-decreasing and lie in [0, 1]")
        self.risk_thresholds, self.risk_values = t, r
        for name, value in self.candidate_auroc.items():
            if value is not None:
                self.candidate_auroc[name] = _finite(value, f"candidate_auroc[{name!r}]")
        self.scores = _json_figures(self.scores, "scores")
        self.scored_on = _json_figures(self.scored_on, "scored_on")
        expected, meets = threshold_from_risk_curve(t, r, n, self.alpha)
        if not meets or expected != self.threshold:
            raise ValueError(
                f"threshold {self.threshold!r} is not the risk curve's conformal threshold at alpha={self.alpha} "
                f"({expected!r}); the stored calibration contradicts itself"
            )

    def threshold_for_risk(self, alpha: float) -> float:
        """The split-conformal threshold for a user's risk ``alpha`` (:func:`threshold_from_risk_curve`).

        Guarantee: for a new episode exchangeable with the calibration episodes (its start drawn like theirs, same
        model, data and policy), the expected share of its kept steps whose true error exceeds ``tau`` is at most
        ``alpha`` (conformal risk control; see :func:`conformal_threshold`). Non-decreasing in ``alpha``.

        Raises:
            ValueError: ``alpha`` outside ``(0, 1)``; ``alpha < 1/(n+1)`` (too few calibration episodes to promise
                it); or an ``alpha`` that only "cut before the first step" meets.
        """
        alpha = _check_alpha(alpha)
        n = self.n_calibration_episodes
        t, meets = threshold_from_risk_curve(self.risk_thresholds, self.risk_values, n, alpha)
        if not meets:
            raise ValueError(
                f"uncertainty_risk={alpha} is below 1/(n+1) = {1 / (n + 1):.4f} for the {n} calibration episodes of "
                "this checkpoint: no threshold can promise it; ask for a larger risk or calibrate on more episodes"
            )
        if not math.isfinite(t):
            raise ValueError(
                f"uncertainty_risk={alpha} is only met by cutting every episode before its first step (the model's "
                f"first predictions already exceed tau={self.tau} too often); ask for a larger risk"
            )
        return t

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RolloutCalibration:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: missing or unknown fields, or any problem :class:`RolloutCalibration` refuses.
        """
        if not isinstance(d, Mapping):
            raise ValueError(f"a rollout calibration must be a dict, got {type(d).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown rollout calibration fields {sorted(unknown)}; expected {sorted(names)}")
        try:
            return cls(**d)
        except TypeError as err:
            raise ValueError(f"malformed rollout calibration: {err}") from err


# -------------------------------------------------------------------------------------------- signal choice and scoring
def pooled_auroc(records: RolloutRecords, signal: str, tau: float) -> float:
    """AUROC of ``signal`` for the event ``error > tau`` over every step of every episode (``NaN`` with one class)."""
    tau = _check_tau(tau)
    return auroc(np.concatenate(records.signal(signal)), np.concatenate(records.error) > tau)


def within_step_auroc(records: RolloutRecords, signal: str, tau: float, min_per_class: int = 1) -> float:
    """AUROC of ``signal`` for ``error > tau`` among episodes *at the same step*, averaged over steps.

    :func:`pooled_auroc` pools every step of every episode, so a signal that merely grows with the step index scores
    high wherever the error grows with it too. This one compares episodes only with each other at equal steps: at
    each step ``h`` with at least ``min_per_class`` wrong and right episodes it takes the AUROC of the signal across
    the episodes still running, and it averages those with weights ``n_wrong(h) · n_right(h)`` (the pairs each
    compares), i.e. the probability that of two episodes at the same step, the wrong one has the higher signal
    (ties count half). A step counter scores exactly 0.5 here. ``NaN`` when no step has both classes.

    Raises:
        KeyError: an unknown signal.
        ValueError: a non-finite ``tau`` or ``min_per_class < 1``.
    """
    tau = _check_tau(tau)
    if isinstance(min_per_class, bool) or int(min_per_class) != min_per_class or min_per_class < 1:
        raise ValueError(f"min_per_class must be a positive integer, got {min_per_class!r}")
    sig = records.signal(signal)
    total, weight = 0.0, 0.0
    for h in range(int(records.lengths.max())):
        running = [i for i, length in enumerate(records.lengths) if length > h]
        wrong = np.array([records.error[i][h] > tau for i in running])
        n_wrong = int(wrong.sum())
        n_right = len(running) - n_wrong
        if n_wrong < min_per_class or n_right < min_per_class:
            continue
        w = float(n_wrong * n_right)
        total += w * auroc(np.array([sig[i][h] for i in running]), wrong)
        weight += w
    return total / weight if weight else math.nan


@dataclass(frozen=True)
class CutoffScore:
    """How a threshold on a signal cuts held-out episodes (:func:`score_cutoff`).

    Attributes:
        auroc: AUROC of the signal for ``error > tau`` over all steps (``NaN`` with one class).
        n_cutoffs: episodes the threshold cuts (some step's signal exceeds it).
        justified_share: of those, the share whose cut step (the first step above the threshold, where the dream cuts)
            is wrong (``NaN`` with no cut-off).
        n_wrong_episodes: episodes with a trusted horizon (some step is wrong).
        cut_no_later_share: of those, the share whose dream horizon (steps kept) is ``≤`` the trusted horizon (steps
            before the first wrong step), i.e. no wrong step was served (``NaN`` if no episode went wrong).
        cut_no_earlier_than_half_share: of those, the share whose dream horizon is ``≥`` half the trusted horizon (the
            cut did not throw away most of the trustworthy steps).
    """

    auroc: float
    n_cutoffs: int
    justified_share: float
    n_wrong_episodes: int
    cut_no_later_share: float
    cut_no_earlier_than_half_share: float


def score_cutoff(records: RolloutRecords, signal: str, threshold: float, tau: float) -> CutoffScore:
    """Score the cut-off ``signal > threshold`` against the true error on ``records`` (see :class:`CutoffScore`).

    Raises:
        KeyError: an unknown signal.
        ValueError: a non-finite ``tau`` or a NaN threshold.
    """
    tau = _check_tau(tau)
    if math.isnan(threshold):
        raise ValueError("threshold must not be NaN")
    sig = records.signal(signal)
    dream = np.array([int(kept_steps(s, threshold)) for s in sig])
    cut = dream < records.lengths
    justified = [bool(e[k] > tau) for e, k, c in zip(records.error, dream, cut, strict=True) if c]
    wrong_any = np.array([bool((e > tau).any()) for e in records.error])
    trusted = np.array([int(np.argmax(e > tau)) for e in records.error])  # valid where wrong_any
    d, h = dream[wrong_any], trusted[wrong_any]
    nan = float("nan")
    return CutoffScore(
        auroc=pooled_auroc(records, signal, tau),
        n_cutoffs=int(cut.sum()),
        justified_share=float(np.mean(justified)) if justified else nan,
        n_wrong_episodes=int(wrong_any.sum()),
        cut_no_later_share=float(np.mean(d <= h)) if d.size else nan,
        cut_no_earlier_than_half_share=float(np.mean(d >= h / 2.0)) if d.size else nan,
    )


@dataclass(frozen=True)
class CutoffChoice:
    """The result of :func:`choose_cutoff`.

    Attributes:
        signal: the chosen signal.
        choice_auroc: candidate → AUROC on the choice set (``NaN`` with one class), in candidate order.
        threshold: :func:`conformal_threshold` of the chosen signal on the choice set.
        score: :func:`score_cutoff` of that threshold on the scoring set.
        choice_episodes: indices (into the input records) of the choice set.
        scoring_episodes: indices of the scoring set.
    """

    signal: str
    choice_auroc: dict[str, float]
    threshold: ConformalThreshold
    score: CutoffScore
    choice_episodes: tuple[int, ...]
    scoring_episodes: tuple[int, ...]


def split_episodes(n_episodes: int, choice_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of ``range(n_episodes)`` into (choice, scoring) index arrays, each sorted and with ≥ 2 episodes.

    Raises:
        ValueError: fewer than 4 episodes or ``choice_share`` outside ``(0, 1)``.
    """
    if n_episodes < 4:
        raise ValueError(f"a choice/scoring split needs at least 4 episodes (2 each), got {n_episodes}")
    if not 0.0 < choice_share < 1.0:
        raise ValueError(f"choice_share must lie in (0, 1), got {choice_share}")
    n_choice = min(max(round(choice_share * n_episodes), 2), n_episodes - 2)
    perm = np.random.default_rng(seed).permutation(n_episodes)
    return np.sort(perm[:n_choice]), np.sort(perm[n_choice:])


def choose_cutoff(
    records: RolloutRecords,
    tau: float,
    alpha: float,
    candidates: Sequence[str] | None = None,
    *,
    choice_share: float = 0.5,
    seed: int = 0,
) -> CutoffChoice:
    """Pick a signal and its threshold on a choice set of episodes; score them on the other episodes.

    The candidate with the highest AUROC for ``error > tau`` over the choice set's steps wins; ties (equal AUROC)
    go to the earlier candidate, so list candidates simplest first. A candidate whose AUROC is undefined (the choice
    set has one class only) cannot win; if all are undefined the first candidate is taken. The threshold is
    :func:`conformal_threshold` of the winner on the choice set, so its guarantee holds for episodes exchangeable with
    the choice set, including the scoring set (which had no say in the choice).

    Args:
        records: all episodes (at least 4).
        tau: error above which a step is wrong.
        alpha: the conformal level (see :func:`conformal_threshold`).
        candidates: signal names, simplest first; default every signal in ``records`` in insertion order.
        choice_share: share of episodes in the choice set.
        seed: seed of the split.

    Raises:
        KeyError: an unknown candidate.
        ValueError: an empty candidate list, fewer than 4 episodes, ``choice_share`` or ``alpha`` outside ``(0, 1)``.
    """
    names = list(records.signals) if candidates is None else list(candidates)
    if not names:
        raise ValueError("candidates must name at least one signal")
    for name in names:
        records.signal(name)
    choice_idx, score_idx = split_episodes(records.n_episodes, choice_share, seed)
    choice, scoring = records.subset(choice_idx), records.subset(score_idx)
    aurocs = {name: pooled_auroc(choice, name, tau) for name in names}
    best = names[0]
    for name in names:
        a, b = aurocs[name], aurocs[best]
        if not math.isnan(a) and (math.isnan(b) or a > b):
            best = name
    threshold = conformal_threshold(choice, best, tau, alpha)
    return CutoffChoice(
        signal=best,
        choice_auroc=aurocs,
        threshold=threshold,
        score=score_cutoff(scoring, best, threshold.threshold, tau),
        choice_episodes=tuple(int(i) for i in choice_idx),
        scoring_episodes=tuple(int(i) for i in score_idx),
    )


__all__ = [
    "DERIVED_SUFFIXES",
    "ConformalThreshold",
    "CutoffChoice",
    "CutoffScore",
    "RolloutCalibration",
    "RolloutRecords",
    "choose_cutoff",
    "conformal_risk_curve",
    "conformal_threshold",
    "episode_losses",
    "horizon_normalised",
    "kept_steps",
    "pooled_auroc",
    "running_max",
    "running_sum",
    "score_cutoff",
    "split_episodes",
    "threshold_from_risk_curve",
    "with_derived",
    "within_step_auroc",
]
