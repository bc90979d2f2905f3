"""Calibrate a checkpoint's uncertainty cut-off on held-out rollouts, for the Dream env to use.

:func:`calibrate_on_rollouts` rolls the model open loop from real states of held-out episodes
(:func:`~neural_gym.drift.rollout_records`: the true error beside the cut-off signals a Dream env computes,
:data:`~neural_gym.cutoff.ENV_SIGNALS`), splits the episodes (seeded) into a calibration half and a scoring half,
chooses the signal with the best AUROC for "error > τ" and its split-conformal threshold on the calibration half
(:func:`~neural_gym.world_models.calibration.choose_cutoff`), and scores the cut-off on the scoring half
(:func:`calibrate_records`). The result, a :class:`~neural_gym.world_models.calibration.RolloutCalibration`, goes
into the checkpoint with :func:`set_rollout_calibration` and :func:`~neural_gym.world_models.save_checkpoint`
(``neural-gym calibrate`` does all of it). Dream envs built on that checkpoint then cut on the calibrated signal by
default and accept ``uncertainty_risk=α``.

Figures stored in ``scores`` (on the scoring episodes, which had no say in the choice): the chosen signal's AUROC, the
share of cut-offs whose cut step is wrong (``justified_share``), the shares of episodes cut no later than the
trusted horizon and no earlier than half of it, the realized rate (mean per-episode share of wrong kept steps, what
the conformal threshold bounds by ``alpha`` in expectation) and the kept share; and the same figures for the
checkpoint's one-step rule (``"disagreement"`` above ``spec.calibration.threshold``) on the same episodes, under
``one_step``.

Example:
    >>> from neural_gym.drift.calibrate import calibrate_on_rollouts, set_rollout_calibration
    >>> from neural_gym.world_models import load_checkpoint, save_checkpoint
    >>> model = load_checkpoint("zoo:Hopper", task="Hopper")                                    # doctest: +SKIP
    >>> cal = calibrate_on_rollouts("Hopper", model, n_episodes=64, horizon=100)               # doctest: +SKIP
    >>> save_checkpoint(set_rollout_calibration(model, cal), "runs/Hopper-calibrated.safetensors")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from neural_gym.cutoff import ENV_SIGNALS, TRAJECTORY_SIGNAL, env_signals
from neural_gym.json_values import json_safe
from neural_gym.world_models import WorldModel
from neural_gym.world_models.calibration import (
    RolloutCalibration,
    RolloutRecords,
    choose_cutoff,
    conformal_risk_curve,
    episode_losses,
    kept_steps,
    pooled_auroc,
    score_cutoff,
    threshold_from_risk_curve,
)

from .inputs import load_model
from .observation_kinds import FrameObservations, is_frame_shape
from .records import rollout_records
from .rollout import ActionSource

#: Default ``τ`` for state models: normalized RMSE above 1 (the error is as large as the data's own spread).
STATE_TAU = 1.0
#: Default PSNR (dB) below which a predicted frame counts as wrong (as the frame drift reports use).
FRAME_TAU_PSNR = 20.0


def default_tau(obs_shape: Sequence[int]) -> tuple[float, str]:
    """``(tau, error)`` for a model's observation shape: ``(1.0, "nrmse")`` for state vectors, and for frames the RMS
    pixel error (share of the pixel range) of PSNR = 20 dB, ``"rmse"``."""
    if is_frame_shape(tuple(obs_shape)):
        return FrameObservations.error_threshold(FRAME_TAU_PSNR), FrameObservations.error_metric
    return STATE_TAU, "nrmse"


def cutoff_figures(records: RolloutRecords, signal: str, threshold: float, tau: float) -> dict[str, Any]:
    """Scoring figures of one cut-off (``signal`` above ``threshold``) on ``records``, NaN where undefined.

    :func:`~neural_gym.world_models.calibration.score_cutoff`'s figures (AUROC, justified cut-offs, timing against the
    trusted horizon) with the threshold, the realized rate (mean per-episode share of kept steps with error > ``tau``),
    the pooled share of wrong kept steps, the kept share of all steps and the mean kept steps per episode. What
    :func:`calibrate_records` stores as ``scores``; apply it to other held-out records to score a stored cut-off out
    of sample.
    """
    score = dataclasses.asdict(score_cutoff(records, signal, threshold, tau))
    kept = np.array([int(kept_steps(s, threshold)) for s in records.signal(signal)])
    wrong = sum(int((e[:k] > tau).sum()) for e, k in zip(records.error, kept, strict=True))
    score.update(
        threshold=threshold,
        realized_rate=float(episode_losses(records, signal, tau, [threshold])[:, 0].mean()),
        pooled_wrong_share=wrong / kept.sum() if kept.sum() else math.nan,
        kept_share=float(kept.sum() / records.lengths.sum()),
        mean_kept_steps=float(kept.mean()),
    )
    return score


def calibrate_records(
    records: RolloutRecords,
    *,
    tau: float,
    alpha: float = 0.1,
    error: str = "nrmse",
    candidates: Sequence[str] | None = None,
    choice_share: float = 0.5,
    seed: int = 0,
    one_step_threshold: float | None = None,
    scored_on: Mapping[str, Any] | None = None,
) -> RolloutCalibration:
    """Choose, threshold and score a cut-off on rollout records (the statistics of :func:`calibrate_on_rollouts`).

    Args:
        records: held-out rollouts with the signals named in ``candidates`` (at least 4 episodes).
        tau: error above which a step is wrong.
        alpha: level of the stored default threshold (the Dream env's cut-off without ``uncertainty_risk``).
        error: name of the per-step error ``tau`` applies to (stored with it).
        candidates: signals to choose from, simplest first; default every :data:`~neural_gym.cutoff.ENV_SIGNALS`
            entry the records hold. Only signals a Dream env computes are allowed.
        choice_share: share of episodes in the calibration half.
        seed: seed of the split.
        one_step_threshold: the checkpoint's one-step threshold on ``"disagreement"``, scored on the same scoring
            episodes for comparison (``scores["one_step"]``); ``None`` leaves it out.
        scored_on: what the records come from (stored as given, with the split added).

    Returns:
        The calibration (see :class:`~neural_gym.world_models.calibration.RolloutCalibration`).

    Raises:
        ValueError: a candidate the Dream env cannot compute or the records lack, fewer than 4 episodes, ``alpha``
            or ``choice_share`` outside ``(0, 1)``, or an ``alpha`` no threshold meets on the calibration half (too
            small for its ``n`` episodes, or only met by cutting before the first step).
    """
    names = [s for s in ENV_SIGNALS if s in records.signals] if candidates is None else list(candidates)
    if not names:
        raise ValueError(
            f"the records hold none of the Dream env's signals {ENV_SIGNALS}; got {sorted(records.signals)}"
        )
    for name in names:
        if name not in ENV_SIGNALS:
            raise ValueError(
                f"candidate {name!r} is not a signal a Dream env computes (it computes {ENV_SIGNALS}); a cut-off on it "
                "could not be used"
            )
        if name not in records.signals:
            raise ValueError(f"candidate {name!r} is not in the records (they hold {sorted(records.signals)})")
    choice = choose_cutoff(records, tau, alpha, names, choice_share=choice_share, seed=seed)
    cal = records.subset(choice.choice_episodes)
    scoring = records.subset(choice.scoring_episodes)
    res = choice.threshold
    n = cal.n_episodes
    if not res.meets_alpha:
        raise ValueError(
            f"alpha={alpha} is below 1/(n+1) = {1 / (n + 1):.4f} for the {n} calibration episodes: no threshold can "
            "promise it; use a larger alpha or more episodes"
        )
    if not math.isfinite(res.threshold):
        raise ValueError(
            f"alpha={alpha} is only met by cutting every episode before its first step on {choice.signal!r} (the "
            f"first predictions already exceed tau={tau} too often); use a larger alpha or a larger tau"
        )
    thresholds, risk = conformal_risk_curve(cal, choice.signal, tau)
    stored, _ = threshold_from_risk_curve(thresholds, risk, n, alpha)
    if stored != res.threshold:  # the curve is the conformal choice's sufficient statistic; never differs
        raise AssertionError(f"risk curve threshold {stored} differs from conformal_threshold's {res.threshold}")
    scores: dict[str, Any] = cutoff_figures(scoring, choice.signal, res.threshold, tau)
    scores["calibration_bound"] = res.bound
    scores["calibration_mean_loss"] = res.mean_loss
    scores["scoring_auroc"] = {name: pooled_auroc(scoring, name, tau) for name in names}
    if one_step_threshold is not None and "disagreement" in records.signals:
        scores["one_step"] = cutoff_figures(scoring, "disagreement", float(one_step_threshold), tau)
    meta = dict(scored_on or {})
    meta.update(
        n_episodes=records.n_episodes,
        n_calibration_episodes=n,
        n_scoring_episodes=scoring.n_episodes,
        steps=int(records.lengths.sum()),
        split_seed=seed,
        choice_share=choice_share,
        candidates=names,
    )
    return RolloutCalibration(
        signal=choice.signal,
        threshold=res.threshold,
        alpha=float(alpha),
        tau=float(tau),
        error=error,
        n_calibration_episodes=n,
        risk_thresholds=[float(x) for x in thresholds],
        risk_values=[float(x) for x in risk],
        candidate_auroc=json_safe(choice.choice_auroc),
        scores=json_safe(scores),
        scored_on=json_safe(meta),
    )


def calibrate_on_rollouts(
    task: str,
    checkpoint: str | Path | WorldModel | None = None,
    *,
    dataset_id: str | None = None,
    n_episodes: int = 64,
    horizon: int = 100,
    tau: float | None = None,
    alpha: float = 0.1,
    candidates: Sequence[str] | None = None,
    choice_share: float = 0.5,
    actions: ActionSource = "recorded",
    propagation: Literal["member", "mean"] = "member",
    heldout_steps: int = 10_000,
    heldout_policy: Any = "random",
    heldout_seed: int = 1000,
    seed: int = 0,
    batch_size: int = 256,
    device: str = "auto",
    progress: bool = False,
) -> RolloutCalibration:
    """Calibrate a model's cut-off on held-out open-loop rollouts (see the module docstring).

    The held-out episodes come from ``dataset_id`` (never the checkpoint's own training data) or are collected from
    the ground truth with ``heldout_policy`` and ``heldout_seed`` (not the training seed 0). Each start drawn from
    them is one episode; starts are drawn uniformly without replacement with one seeded generator, so the episodes
    are exchangeable with each other and with a new episode that starts alike (the assumption of the conformal
    guarantee; an env that starts elsewhere, or a policy that acts differently, is outside it).

    Args:
        task: ground-truth task.
        checkpoint: checkpoint path, zoo name or a loaded :class:`WorldModel`; default the task's shipped one.
        dataset_id: held-out Minari dataset with physics states; ``None`` collects one (see above).
        n_episodes: start states (episodes), split between calibration and scoring.
        horizon: steps rolled at most per episode.
        tau: error above which a step is wrong; default :func:`default_tau` of the model's observations.
        alpha: level of the stored default threshold.
        candidates: signals to choose from; default every signal a Dream env computes for the model's family
            (:func:`~neural_gym.cutoff.env_signals`: for the ensemble family the member-trajectory spread too, which
            costs ``E`` more model steps per rollout step here and one more pass over the elites per env step).
        choice_share: share of episodes in the calibration half.
        actions: ``"recorded"`` (each start's recorded actions) or a policy acting on the real observations.
        propagation: ``"member"`` (each episode follows one inference member, as the Dream env's default) or
            ``"mean"``.
        heldout_steps: steps collected when ``dataset_id`` is ``None``.
        heldout_policy: policy of that collection (use the training data's, e.g. ``"expert"``, for expert-data
            checkpoints).
        heldout_seed: seed of that collection.
        seed: seed of the starts, the followed members, random policies and the split.
        batch_size: starts per forward pass.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``.
        progress: progress bars.

    Returns:
        The :class:`~neural_gym.world_models.calibration.RolloutCalibration` (attach it with
        :func:`set_rollout_calibration`).

    Raises:
        ValueError: bad arguments (see :func:`~neural_gym.drift.rollout_records` and :func:`calibrate_records`).
        CheckpointError: a checkpoint for another task.
    """
    if isinstance(n_episodes, bool) or int(n_episodes) != n_episodes or n_episodes < 4:
        raise ValueError(f"n_episodes must be an integer >= 4 (2 to calibrate on, 2 to score on), got {n_episodes}")
    if tau is not None and not (isinstance(tau, int | float) and math.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be a positive finite number, got {tau!r}")
    if not (isinstance(alpha, int | float) and 0.0 < alpha < 1.0):
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    model, name = load_model(task, checkpoint, device)
    allowed = env_signals(model.spec.family)
    names = list(allowed) if candidates is None else list(candidates)
    if TRAJECTORY_SIGNAL in names and TRAJECTORY_SIGNAL not in allowed:
        raise ValueError(
            f"a Dream env of a {model.spec.family} model cannot compute {TRAJECTORY_SIGNAL!r} (only the "
            f"{allowed} signals); leave it out of the candidates"
        )
    default, error = default_tau(model.spec.obs_shape)
    tau = default if tau is None else float(tau)
    records = rollout_records(
        task,
        model,
        dataset_id=dataset_id,
        n_starts=int(n_episodes),
        horizon=horizon,
        actions=actions,
        propagation=propagation,
        member_trajectories=TRAJECTORY_SIGNAL in names,
        heldout_steps=heldout_steps,
        heldout_policy=heldout_policy,
        heldout_seed=heldout_seed,
        seed=seed,
        batch_size=batch_size,
        device=device,
        progress=progress,
    )
    scored_on = {
        "task": model.spec.task,
        "checkpoint": name,
        "family": model.spec.family,
        "measure": model.spec.calibration.measure,
        "heldout": {"dataset_id": dataset_id}
        if dataset_id is not None
        else {"policy": str(heldout_policy), "steps": heldout_steps, "seed": heldout_seed},
        "n_episodes_asked": int(n_episodes),
        "horizon": int(horizon),
        "actions": actions if isinstance(actions, str) else type(actions).__name__,
        "propagation": propagation,
        "seed": seed,
    }
    return calibrate_records(
        records,
        tau=tau,
        alpha=alpha,
        error=error,
        candidates=names,
        choice_share=choice_share,
        seed=seed,
        one_step_threshold=model.spec.calibration.threshold,
        scored_on=scored_on,
    )


def set_rollout_calibration(model: WorldModel, calibration: RolloutCalibration | None) -> WorldModel:
    """Give ``model`` a copy of its spec whose ``calibration.rollout`` is ``calibration`` (``None`` removes it).

    The model is changed in place (its ``spec`` attribute) and returned, ready for
    :func:`~neural_gym.world_models.save_checkpoint`.

    Raises:
        TypeError: ``calibration`` is not a :class:`~neural_gym.world_models.calibration.RolloutCalibration`.
    """
    if calibration is not None and not isinstance(calibration, RolloutCalibration):
        raise TypeError(f"calibration must be a RolloutCalibration or None, got {type(calibration).__name__}")
    if calibration is not None and calibration.scored_on.get("task", model.spec.task) != model.spec.task:
        raise ValueError(
            f"this calibration was scored on task {calibration.scored_on['task']}, the model is for {model.spec.task}"
        )
    spec = model.spec
    model.spec = dataclasses.replace(spec, calibration=dataclasses.replace(spec.calibration, rollout=calibration))
    return model


__all__ = [
    "FRAME_TAU_PSNR",
    "STATE_TAU",
    "calibrate_on_rollouts",
    "calibrate_records",
    "cutoff_figures",
    "default_tau",
    "set_rollout_calibration",
]
