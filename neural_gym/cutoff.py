"""The uncertainty cut-off of a Dream env: which signal, which threshold, and the per-env running state it needs.

A step is *uncertain* when the cut-off signal is strictly above the threshold (what then happens is the
``on_uncertain`` rule, :class:`~neural_gym.uncertainty.UncertaintyRule`). The signals (:data:`ENV_SIGNALS`) are the
one-step disagreement the model reports (``Prediction.disagreement``, the checkpoint's calibrated measure) and its
running forms along the episode, the same ones :func:`neural_gym.drift.rollout_records` records on held-out
rollouts, so a threshold chosen there applies here unchanged:

- ``"disagreement"`` — the step's own disagreement ``d_j``;
- ``"disagreement_max"`` — ``max_{k ≤ j} d_k`` (for ``"truncate"``/``"terminate"`` it cuts where ``"disagreement"``
  does; it differs under ``"penalize"``, whose penalty is ``λ`` times the signal);
- ``"disagreement_sum"`` — ``Σ_{k ≤ j} d_k``;
- ``"disagreement_sum_per_sqrt_step"`` — ``Σ_{k ≤ j} d_k / sqrt(j)``, ``j`` the steps predicted since the reset;
- ``"member_trajectories"`` (:data:`TRAJECTORY_SIGNAL`, opt-in) — how far apart every elite's *own* trajectory is
  after the step: each env carries every elite's state, propagated separately from the episode's start with the
  env's actions, and the signal is their spread in ``σ`` units (:class:`~neural_gym.member_trajectories.
  MemberTrajectories`, the same figure :func:`neural_gym.drift.rollout_records` records). The observation served is
  still the followed member's. Only for the ensemble family (:func:`env_signals`); it costs one more batched pass
  over the elites per step (measured in ``benchmarks/throughput.py``), so it runs only when asked for or when the
  checkpoint's rollout calibration chose it.

The running state is per env and starts afresh at each env's reset. :func:`resolve_cutoff` turns the env keywords and
the checkpoint's calibration into a :class:`Cutoff`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neural_gym.world_models import Calibration

#: The spread of whole member trajectories (each elite propagated on its own; ensemble family only).
TRAJECTORY_SIGNAL = "member_trajectories"
#: Families whose Dream envs compute :data:`TRAJECTORY_SIGNAL` (each elite's carry is its own observation).
TRAJECTORY_FAMILIES: tuple[str, ...] = ("ensemble",)
#: Cut-off signals a Dream env computes (simplest first; the names of :mod:`neural_gym.drift.records`).
ENV_SIGNALS: tuple[str, ...] = (
    "disagreement",
    "disagreement_max",
    "disagreement_sum",
    "disagreement_sum_per_sqrt_step",
    TRAJECTORY_SIGNAL,
)

CALIBRATE_HINT = (
    "calibrate it on held-out rollouts first: `neural-gym calibrate --task <Task> --checkpoint <in> --out <out>` "
    "or neural_gym.drift.calibrate_on_rollouts(...), then pass the calibrated checkpoint"
)


@dataclass(frozen=True)
class Cutoff:
    """The signal and threshold a Dream env cuts on, and where they come from.

    Attributes:
        signal: one of :data:`ENV_SIGNALS`.
        threshold: a step is uncertain when the signal is strictly above it.
        source: ``"one-step calibration"`` (the checkpoint's threshold on one-step held-out values),
            ``"rollout calibration"`` (the checkpoint's rollout-calibrated default), ``"uncertainty_risk"`` (the
            conformal threshold of a user's risk), ``"uncertainty_threshold"`` (set by the user) or ``"engine"`` (a
            :class:`~neural_gym.engine.DreamEngine` built directly with a rule and a signal).
        risk: the user's ``uncertainty_risk`` (``source == "uncertainty_risk"``), the level of the
            rollout-calibrated default (``"rollout calibration"``), else ``None``.
    """

    signal: str
    threshold: float
    source: str
    risk: float | None = None


def _check_signal(signal: str) -> str:
    if signal not in ENV_SIGNALS:
        raise ValueError(f"uncertainty_signal must be one of {ENV_SIGNALS}, got {signal!r}")
    return signal


def env_signals(family: str) -> tuple[str, ...]:
    """The cut-off signals a Dream env computes for a model of ``family`` (the candidates to calibrate among).

    Every family gets the one-step disagreement and its running forms; :data:`TRAJECTORY_SIGNAL` only the
    :data:`TRAJECTORY_FAMILIES`.

    Example:
        >>> env_signals("video")[-1], env_signals("ensemble")[-1]
        ('disagreement_sum_per_sqrt_step', 'member_trajectories')
    """
    if family in TRAJECTORY_FAMILIES:
        return ENV_SIGNALS
    return tuple(s for s in ENV_SIGNALS if s != TRAJECTORY_SIGNAL)


def resolve_cutoff(
    calibration: Calibration,
    *,
    threshold: float | None = None,
    risk: float | None = None,
    signal: str | None = None,
) -> Cutoff:
    """The cut-off from the env keywords and a checkpoint's calibration.

    - ``risk`` (``uncertainty_risk=α``): the split-conformal threshold of the checkpoint's rollout calibration for
      ``α`` (:meth:`~neural_gym.world_models.calibration.RolloutCalibration.threshold_for_risk`) on its signal.
      Guarantee, under exchangeability (a new episode starts from a state drawn like the calibration episodes'
      starts, with the same model, data distribution and policy as the calibration rollouts): the expected share of
      an episode's kept steps whose true error exceeds the calibration's ``tau`` is at most ``α``. A policy that
      differs from the calibration's (e.g. an agent exploiting the dream) breaks the assumption.
    - ``threshold`` (``uncertainty_threshold``): that value, on ``signal`` if given, else the checkpoint's cut-off
      signal (the rollout calibration's, or ``"disagreement"``).
    - neither: the rollout calibration's default (signal and threshold) when the checkpoint has one, else the
      one-step rule (``"disagreement"`` above ``calibration.threshold``), as checkpoints without it always did.

    Args:
        calibration: the checkpoint's ``spec.calibration``.
        threshold: a user-set threshold, or ``None``.
        risk: a user-set risk ``α`` in ``(0, 1)``, or ``None``.
        signal: a user-chosen signal of :data:`ENV_SIGNALS`, or ``None``.

    Raises:
        ValueError: both ``threshold`` and ``risk``; ``risk`` without a rollout calibration (the message says how to
            calibrate), outside ``(0, 1)``, too small for the calibration episodes, or with a ``signal`` other than
            the calibrated one; an unknown signal; a signal with no calibrated threshold and no ``threshold``.
    """
    if threshold is not None and risk is not None:
        raise ValueError(
            "pass uncertainty_threshold (a threshold you choose) or uncertainty_risk (a risk the threshold is "
            "calibrated for), not both"
        )
    if signal is not None:
        _check_signal(signal)
    rollout = calibration.rollout
    if rollout is not None and rollout.signal not in ENV_SIGNALS:
        raise ValueError(
            f"the checkpoint's rollout calibration cuts on {rollout.signal!r}, which a Dream env cannot compute "
            f"(it computes {ENV_SIGNALS}); recalibrate with one of those"
        )
    if risk is not None:
        if isinstance(risk, bool) or not isinstance(risk, int | float) or not 0.0 < risk < 1.0:
            raise ValueError(
                f"uncertainty_risk must be a number in (0, 1) (the tolerated expected share of kept steps whose "
                f"error exceeds tau), got {risk!r}"
            )
        if rollout is None:
            raise ValueError(
                f"uncertainty_risk needs a checkpoint calibrated on rollouts and this one is not; {CALIBRATE_HINT}"
            )
        if signal is not None and signal != rollout.signal:
            raise ValueError(
                f"uncertainty_risk calibrates the checkpoint's signal {rollout.signal!r}; uncertainty_signal="
                f"{signal!r} has no conformal calibration here (leave it unset, or pass uncertainty_threshold)"
            )
        return Cutoff(rollout.signal, rollout.threshold_for_risk(float(risk)), "uncertainty_risk", float(risk))
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
            raise ValueError(f"uncertainty_threshold must be a positive finite number, got {threshold!r}")
        chosen = signal or (rollout.signal if rollout is not None else "disagreement")
        return Cutoff(chosen, float(threshold), "uncertainty_threshold")
    if rollout is not None and signal in (None, rollout.signal):
        return Cutoff(rollout.signal, rollout.threshold, "rollout calibration", rollout.alpha)
    if signal in (None, "disagreement"):
        return Cutoff("disagreement", float(calibration.threshold), "one-step calibration")
    calibrated = "disagreement" + ("" if rollout is None else f" and {rollout.signal!r}")
    raise ValueError(
        f"the checkpoint has no calibrated threshold for uncertainty_signal={signal!r} (it calibrates {calibrated}); "
        f"pass uncertainty_threshold too, or {CALIBRATE_HINT}"
    )


class RunningSignal:
    """Per-env running state of a cut-off signal over ``num_envs`` episodes.

    For :data:`TRAJECTORY_SIGNAL` there is nothing to run: the engine passes the member spread as ``disagreement``
    and gets it back.

    Args:
        signal: one of :data:`ENV_SIGNALS`.
        num_envs: number of envs.

    Example:
        >>> run = RunningSignal("disagreement_sum", 2)
        >>> run.update(np.array([1.0, 2.0]), np.array([1, 1])).tolist()
        [1.0, 2.0]
        >>> run.reset(np.array([True, False]))
        >>> run.update(np.array([1.0, 2.0]), np.array([1, 2])).tolist()
        [1.0, 4.0]
    """

    def __init__(self, signal: str, num_envs: int) -> None:
        self.signal = _check_signal(signal)
        self._sum = np.zeros(num_envs, dtype=np.float64)
        self._max = np.full(num_envs, -np.inf, dtype=np.float64)

    def reset(self, mask: np.ndarray) -> None:
        """Forget the episodes of the envs selected by boolean (or index) ``mask``."""
        self._sum[mask] = 0.0
        self._max[mask] = -np.inf

    def update(self, disagreement: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """The signal after a step.

        Args:
            disagreement: ``[N]`` the step's one-step disagreement, or for :data:`TRAJECTORY_SIGNAL` the member
                spread (``inf`` where the model failed).
            steps: ``[N]`` steps predicted since each env's reset, this one included (``>= 1``).

        Returns:
            ``[N]`` float64 signal values.
        """
        d = np.asarray(disagreement, dtype=np.float64)
        self._sum += d
        np.maximum(self._max, d, out=self._max)
        if self.signal in ("disagreement", TRAJECTORY_SIGNAL):
            return d.copy()
        if self.signal == "disagreement_max":
            return self._max.copy()
        if self.signal == "disagreement_sum":
            return self._sum.copy()
        return self._sum / np.sqrt(np.asarray(steps, dtype=np.float64))


__all__ = [
    "CALIBRATE_HINT",
    "ENV_SIGNALS",
    "TRAJECTORY_FAMILIES",
    "TRAJECTORY_SIGNAL",
    "Cutoff",
    "RunningSignal",
    "env_signals",
    "resolve_cutoff",
]
