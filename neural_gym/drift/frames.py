"""``measure_frame_drift``: how far a pixel world model's frames drift from renders of the true physics, by horizon.

The pixel counterpart of :func:`~neural_gym.drift.measure.measure_drift`, for models whose ``spec.obs_shape`` is an
RGB frame ``(H, W, 3)``. For each start state (frame ``t`` of a held-out pixel episode):

- **ground truth**: the recorded physics state ``t`` is restored and the recorded actions are replayed
  (:func:`~neural_gym.drift.rollout.roll_ground_truth`); every physics state it passes through is restored in a pixel
  env of the model's frame size and rendered with :func:`neural_gym.envs.render_frame`. These renders should equal the recorded
  frames bit for bit; the largest difference is reported (``render_max_abs_diff``).
- **model**: :meth:`~neural_gym.world_models.base.WorldModel.initial_state_from_history` on the ``k = context_length`` recorded
  frames ending at ``t`` and the ``k − 1`` actions between them, then :meth:`~neural_gym.world_models.base.WorldModel.step` with
  the recorded actions (``member=None``, the ensemble mean), :meth:`~neural_gym.world_models.base.WorldModel.observe` after
  each step — the one open-loop rollout of every drift figure (:func:`neural_gym.drift.roll_open_loop`, with
  :class:`~neural_gym.drift.FrameObservations` plugged in);
- **shuffled**: the same model from the same context, driven by *another* start's action sequence (a seeded random
  permutation of the starts without fixed points, so no start keeps its own actions);
- **copy_last**: :class:`~neural_gym.world_models.baselines.CopyLastFrameModel`, frame ``t`` forever.

Figures (``docs/DESIGN.md``, "Metric definitions"):

- **PSNR and SSIM after step h** (:func:`neural_gym.metrics.psnr`, capped at 100 dB for identical frames;
  :func:`neural_gym.metrics.ssim`) of each predictor's frame against the render, averaged over start states, with a
  seeded percentile-bootstrap interval over start states; at every step ``1..max_horizon`` and at ``horizons``.
  Predicted frames are clipped to ``[0, 255]`` before scoring; a non-finite prediction is a *model error* (counted,
  and scored as the frame with its non-finite pixels set to 0).
- **Controllability after step h**: PSNR (and SSIM) with the true actions minus with the shuffled actions, mean over
  starts of the per-start difference, with its interval. About 0 for a model that ignores its actions; > 0 for one
  whose frames follow them.

Uncertainty (the model with the true actions), from the pairs ``(disagreement of step j, frame of step j)``:

- **Spearman** of disagreement and the frame's error (minus its PSNR, i.e. the rank of its MSE);
- **AUROC** of disagreement for the event "PSNR < τ_psnr" (NaN with ``auroc_note`` when one class is missing);
- **justified share**: of the steps whose disagreement exceeded the checkpoint's calibrated threshold, the share with
  PSNR < τ_psnr (``first_cutoff_justified``: only the first such step of each start, where a Dream env cuts);
- **trusted horizon**: per start, steps before PSNR first falls below τ_psnr, beside the **dream horizon**, steps
  before the disagreement first exceeds the threshold (``None`` without a calibrated threshold); both censored at
  ``max_horizon``.

State probe (models with ``probe_state``, e.g. the ``video`` family trained on frames beside states): the
**normalized RMSE** ``sqrt(mean_d(((probe(frame)_d − s_d) / σ_d)²))`` of the state the probe reads off the model's
frame after step h against the true state ``s`` of the restored physics, beside the same probe on the ground-truth
render (its floor: what the probe alone gets wrong), mean over starts with intervals. ``σ_d`` is the model's
``state_std`` (its training data) when it has one, else the std of the true states of the run. In ``result.probe``
(``None`` without a probe or when the probe's size differs from the task's state).

Example:
    >>> from neural_gym.drift import measure_frame_drift, write_frame_report
    >>> result = measure_frame_drift("Reacher", "outputs/latent_reacher_pixels.pt", n_starts=16)  # doctest: +SKIP
    >>> print(result.summary_table())                                                            # doctest: +SKIP
    >>> write_frame_report(result, "outputs/drift/Reacher-pixels")                               # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from neural_gym.envs import Episode, TaskSpec, get_task
from neural_gym.world_models import WorldModel
from neural_gym.world_models.baselines import CopyLastFrameModel

from .. import metrics
from ..json_values import json_safe
from .frame_renders import FrameRenderer, episode_frames, render_ground_truth
from .inputs import (
    check_common,
    label,
    load_model,
    model_heldout_episodes,
    reachable_horizons,
    refuse_training_data,
    versions,
)
from .inputs import fmt as _fmt
from .observation_kinds import FrameObservations, is_frame_shape
from .open_loop import roll_open_loop
from .rollout import ActionSource, StartState, derangement, longest_window, roll_ground_truth, select_starts
from .scoring import calibrated_threshold, interval, score_uncertainty

#: Horizons reported when none are asked for.
DEFAULT_FRAME_HORIZONS: tuple[int, ...] = (1, 5, 10, 25, 50)

#: Predictor roles of a frame drift result, in report order.
FRAME_PREDICTORS: tuple[str, ...] = ("model", "shuffled", "copy_last")


@dataclass
class FrameRollout:
    """One predictor's rollout from every start, scored against the ground-truth renders.

    Attributes:
        psnr: ``[n, H]`` PSNR (dB, capped) of the frame after step ``j + 1``.
        ssim: ``[n, H]`` SSIM of the same frames.
        disagreement: ``[n, H]`` the calibrated disagreement of each step (NaN where the predictor reports none).
        model_error: ``[n, H]`` the prediction had non-finite pixels.
        frames: ``[n, H, h, w, 3]`` the predicted frames rounded to uint8 (kept for videos), or ``None``.
    """

    psnr: np.ndarray
    ssim: np.ndarray
    disagreement: np.ndarray
    model_error: np.ndarray
    frames: np.ndarray | None = None


@dataclass
class FrameDriftResult:
    """Everything :func:`measure_frame_drift` measured.

    Attributes:
        task: task name.
        model_name: the model's family (e.g. ``"latent"``).
        meta: JSON-ready facts of the run (checkpoint, held-out data, starts, horizons, τ, threshold, notes ...).
        predictors: per role in :data:`FRAME_PREDICTORS`, JSON-ready PSNR/SSIM curves with intervals.
        controllability: JSON-ready PSNR and SSIM differences (true − shuffled actions) with intervals.
        uncertainty: JSON-ready uncertainty-vs-truth figures of the model, or ``None`` without finite disagreement.
        rollouts: per role, the raw :class:`FrameRollout` (not in the JSON).
        gt_frames: ``[n, H + 1, h, w, 3]`` uint8 ground-truth renders (index 0: the start frame).
        valid: ``[n, H]`` steps that happened in ground truth.
        starts: the start states.
        probe: JSON-ready state-probe figures (see the module docstring), or ``None`` for models without a probe.
        recoverability: JSON-ready action recoverability of the model and copy-last-frame (with ``inverse_model=``),
            else ``None``.
    """

    task: str
    model_name: str
    meta: dict[str, Any]
    predictors: dict[str, dict[str, Any]]
    controllability: dict[str, Any]
    uncertainty: dict[str, Any] | None
    rollouts: dict[str, FrameRollout] = field(repr=False)
    gt_frames: np.ndarray = field(repr=False)
    valid: np.ndarray = field(repr=False)
    starts: list[StartState] = field(repr=False)
    probe: dict[str, Any] | None = None
    recoverability: dict[str, Any] | None = None

    @property
    def horizons(self) -> list[int]:
        """The horizons of the tables."""
        return list(self.meta["horizons"])

    @property
    def max_horizon(self) -> int:
        """Steps rolled (the per-step curves run ``1..max_horizon``)."""
        return int(self.meta["max_horizon"])

    def label(self, role: str) -> str:
        """A reader's name for a predictor role (``"latent (true actions)"``, ...)."""
        return {
            "model": f"{self.model_name} (true actions)",
            "shuffled": f"{self.model_name} (shuffled actions)",
            "copy_last": "copy last frame",
        }[role]

    def to_json(self) -> dict[str, Any]:
        """Every figure as a JSON-ready dict (NaN and infinities become ``null``)."""
        return json_safe(
            {
                "task": self.task,
                "model": self.model_name,
                **self.meta,
                "predictors": self.predictors,
                "controllability": self.controllability,
                "uncertainty": self.uncertainty,
                "probe": self.probe,
                "recoverability": self.recoverability,
            }
        )

    def summary_table(self, horizons: Sequence[int] | None = None) -> str:
        """A Markdown table of PSNR and SSIM (with intervals) at ``horizons`` per predictor, and controllability.

        Args:
            horizons: a subset of :attr:`horizons` (default all of them).
        """
        hs = [h for h in (horizons or self.horizons) if h in self.horizons]
        head = "| predictor | " + " | ".join(f"PSNR h={h} | SSIM h={h}" for h in hs) + " |"
        lines = [head, "|---|" + "---|---|" * len(hs)]

        def cell(c: dict[str, Any], k: int) -> str:
            return f"{_fmt(c['value'][k])} [{_fmt(c['low'][k])}, {_fmt(c['high'][k])}]"

        for role in FRAME_PREDICTORS:
            c = self.predictors[role]
            cells = [
                f"{cell(c['psnr'], self.horizons.index(h))} | {cell(c['ssim'], self.horizons.index(h))}" for h in hs
            ]
            lines.append(f"| {self.label(role)} | " + " | ".join(cells) + " |")
        ctl = self.controllability
        cells = [
            f"{cell(ctl['psnr'], self.horizons.index(h))} | {cell(ctl['ssim'], self.horizons.index(h))}" for h in hs
        ]
        lines.append("| controllability (true − shuffled) | " + " | ".join(cells) + " |")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------- public
def measure_frame_drift(
    task: str,
    checkpoint: str | Path | WorldModel | None = None,
    *,
    dataset_id: str | None = None,
    n_starts: int = 32,
    horizons: Sequence[int] | None = None,
    max_horizon: int | None = None,
    heldout_steps: int = 2_000,
    policy: ActionSource = "random",
    seed: int = 1000,
    tau_psnr: float = 20.0,
    camera: Any = None,
    inverse_model: Any = None,
    allow_training_data: bool = False,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    batch_size: int = 64,
    device: str = "auto",
    progress: bool = True,
) -> FrameDriftResult:
    """Measure how a pixel world model's frames drift from renders of the restored physics, beside copy-last-frame.

    See the module docstring for every figure.

    Args:
        task: ground-truth task (``"Reacher"``, ``"Reacher-v5"``, ...).
        checkpoint: checkpoint path, zoo name, or a loaded :class:`~neural_gym.world_models.base.WorldModel` whose
            ``spec.obs_shape`` is ``(h_max, W, 3)``; default the shipped checkpoint of the task.
        dataset_id: a held-out *pixel* Minari dataset (``neural_gym.envs.collect(..., obs_mode="pixels")``, frames of the model's
            size). ``None`` → collect ``heldout_steps`` fresh steps of ``policy`` with seed ``seed`` into a temporary
            Minari folder, deleted afterwards.
        n_starts: start states, drawn uniformly (seeded) from the positions with ``context_length − 1`` recorded
            frames before them and ``max_horizon`` recorded actions after them.
        horizons: steps at which the tables report; default :data:`DEFAULT_FRAME_HORIZONS`, of which those that fewer
            than ``n_starts`` positions reach are dropped (with a note). Explicit horizons no recorded window
            reaches raise ``ValueError``.
        max_horizon: steps rolled (per-step curves, trusted and dream horizons run to it); default
            ``max(horizons)``; must be at least that.
        heldout_steps: steps collected when ``dataset_id`` is ``None``.
        policy: the action source of the held-out collection (as ``neural_gym.envs.collect`` and ``measure_drift`` accept:
            ``"random"``, ``"expert"``, a callable ``obs -> action`` or an SB3 model). Both worlds replay the
            recorded actions, so the ground truth can be checked against the recorded frames.
        seed: seed of the held-out collection (never the training data's seed 0), and the root of the seeds of
            start sampling, the action shuffle and the bootstrap.
        tau_psnr: PSNR (dB) below which a frame counts as wrong (uncertainty figures, trusted horizon).
        camera: camera of the ground-truth renders and of a fresh collection (``None``: the checkpoint's
            ``provenance["camera"]`` if it records one, else the task's default).
        inverse_model: an inverse-dynamics model trained on real frames of this task and size (an
            :class:`~neural_gym.drift.InverseDynamicsModel` or its checkpoint path): adds *action recoverability*
            (``FrameDriftResult.recoverability``: its error reading the actions back from the model's frames and
            from copy-last-frame's, beside the same on the real renders;
            :func:`~neural_gym.drift.recoverability.recoverability_of_predictors`). ``None``: left out.
        allow_training_data: allow ``dataset_id`` to be the checkpoint's own training dataset.
        n_boot: bootstrap resamples.
        ci_level: coverage of the intervals.
        batch_size: starts per forward pass.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` (for loading a checkpoint).
        progress: progress bars.

    Returns:
        A :class:`FrameDriftResult` (``.to_json()``, ``.summary_table()``;
        :func:`neural_gym.drift.write_frame_report` writes the report folder).

    Raises:
        ValueError: a model that does not predict frames, a checkpoint for another task, a dataset without frames
            or with frames of another size, the training dataset as held-out data, impossible horizons, bad
            arguments.
        FileNotFoundError: a ``dataset_id`` that is not under ``MINARI_DATASETS_PATH``.
    """
    t_start = time.perf_counter()
    spec = get_task(task)
    hs, explicit = _check_args(horizons, max_horizon, n_starts, heldout_steps, tau_psnr, n_boot, ci_level, batch_size)
    model, checkpoint_label = load_model(spec.name, checkpoint, device)
    frame_shape = _frame_shape(model)
    if inverse_model is not None:  # refused before any rollout
        from .recoverability import checked_inverse_model

        inverse_model = checked_inverse_model(inverse_model, spec.name, model)
    if camera is None:
        camera = (model.spec.provenance or {}).get("camera")
    kind = FrameObservations(frame_shape, camera)
    train_dataset = refuse_training_data(model, dataset_id, allow_training_data, spec.name)
    notes: list[str] = []

    copy_last = CopyLastFrameModel(model.spec).to(model.device)
    k = int(model.context_length)
    if k < 1:
        raise ValueError(f"the model's context_length must be >= 1, got {k}")
    episodes, heldout = _heldout_episodes(spec, model, dataset_id, heldout_steps, policy, seed, camera, progress)
    kind.check_episodes(episodes, model.spec, dataset_id)

    # Horizons the data can reach, and the rollout length.
    longest = longest_window(episodes, k)
    hs, skipped = reachable_horizons(
        hs, longest, explicit=explicit, context=k, noun="frame", advice="Use shorter horizons or longer episodes"
    )
    if max_horizon is None and not explicit:
        while len(hs) > 1 and _positions(episodes, k, hs[-1]) < n_starts:
            skipped[str(hs[-1])] = (
                f"fewer than n_starts={n_starts} start states have {hs[-1]} recorded steps after them"
            )
            hs.pop()
    h_max = int(max_horizon) if max_horizon is not None else max(hs)
    if h_max > longest:
        raise ValueError(f"max_horizon={h_max} is longer than any recorded window ({longest} steps after {k} frames)")

    seeds = np.random.SeedSequence(seed).spawn(3)
    starts, _, start_notes = select_starts(
        episodes,
        n_starts,
        context=k,
        horizons=[h_max],
        recorded=True,
        rng=np.random.default_rng(seeds[0]),
        start_window=h_max,
    )
    notes += start_notes
    n = len(starts)

    # Ground truth: restore, replay the recorded actions, render every physics state passed through.
    gt = roll_ground_truth(spec, episodes, starts, h_max, context=k, actions="recorded", progress=False)
    gt_frames, render_diff = render_ground_truth(spec, gt, episodes, starts, frame_shape, camera, progress)
    if render_diff > 0:
        notes.append(
            f"renders of the restored physics states differ from the recorded frames by up to {render_diff} levels "
            "(expected 0: same camera, size and renderer as the recording?)"
        )
    if gt.replay_max_abs_error:
        notes.append(
            f"ground-truth replay of the recorded actions differs from the recorded states by up to "
            f"{gt.replay_max_abs_error:.3g}; restore-and-replay should be exact"
        )
    ctx_frames = np.stack(
        [episode_frames(episodes[s.episode_index])[s.t - k + 1 : s.t + 1] for s in starts]
    )  # (n, k, h, w, 3)
    ctx_actions = gt.context_actions  # (n, k - 1, A)

    # Models: true actions, shuffled actions, copy-last-frame.
    perm = derangement(n, np.random.default_rng(seeds[1]))
    if perm is None:
        notes.append("one start state only: actions cannot be shuffled across starts; controllability is undefined")
    true_actions = gt.actions
    runs = {
        "model": (model, true_actions, True),
        "shuffled": (model, true_actions[perm] if perm is not None else None, False),
        "copy_last": (copy_last, true_actions, False),
    }
    rollouts: dict[str, FrameRollout] = {}
    bar = tqdm(total=3 * h_max, desc=f"frame drift {spec.name}", unit="step", disable=not progress)
    for role, (predictor, actions, keep) in runs.items():
        if actions is None:
            rollouts[role] = _nan_rollout(n, h_max)
            bar.update(h_max)
            continue
        rollouts[role] = roll_frame_model(
            predictor, ctx_frames, ctx_actions, actions, gt_frames, keep_frames=keep, batch_size=batch_size, bar=bar
        )
    bar.close()
    for role in ("model", "shuffled"):
        errs = int((rollouts[role].model_error & gt.valid).sum())
        if errs:
            notes.append(f"{role}: {errs} predicted frames had non-finite pixels (scored with them set to 0)")

    # Scores.
    valid = gt.valid
    counts = metrics.bootstrap_counts(n, n_boot, np.random.default_rng(seeds[2]))
    boot_seed = int(seeds[2].generate_state(1)[0])
    predictors = {role: _score_curves(r, valid, hs, counts, ci_level) for role, r in rollouts.items()}
    predictors["model"]["context_length"] = k
    predictors["shuffled"]["context_length"] = k
    predictors["copy_last"]["context_length"] = 1
    controllability = _score_controllability(rollouts["model"], rollouts["shuffled"], valid, hs, counts, ci_level)
    probe = _score_probe(model, rollouts["model"], gt_frames, gt.obs, valid, hs, counts, ci_level, notes)
    threshold = calibrated_threshold(model, notes)
    uncertainty = score_frame_uncertainty(
        rollouts["model"].disagreement, rollouts["model"].psnr, valid, threshold, tau_psnr, n_boot, ci_level, boot_seed
    )
    if uncertainty is None:
        notes.append(f"the {model.spec.family} model reports no finite disagreement: no uncertainty figures")
    recoverability = None
    if inverse_model is not None:
        from .recoverability import recoverability_of_predictors

        frames_of = rollouts["model"].frames
        assert frames_of is not None  # kept for the model's own rollout
        recoverability = recoverability_of_predictors(
            inverse_model,
            spec.name,
            model,
            gt_frames,
            {"model": frames_of, "copy_last": np.repeat(gt_frames[:, :1], h_max, axis=1)},
            gt.actions,
            valid,
            n_boot=n_boot,
            ci_level=ci_level,
            seed=boot_seed,
        )

    meta = {
        "env_id": spec.env_id,
        "checkpoint": checkpoint_label,
        "family": model.spec.family,
        "train_dataset_id": train_dataset,
        "heldout": heldout,
        "frame_shape": list(frame_shape),
        "camera": camera if camera is None or isinstance(camera, (str, int)) else dict(camera),
        "n_starts": n,
        "starts": [[s.episode_id, s.t] for s in starts],
        "context": k,
        "horizons": hs,
        "max_horizon": h_max,
        "skipped_horizons": skipped,
        "shuffle_permutation": None if perm is None else perm.tolist(),
        "tau_psnr": tau_psnr,
        "psnr_cap_db": metrics.PSNR_CAP_DB,
        "uncertainty_measure": model.spec.calibration.measure,
        "uncertainty_threshold": threshold,
        "render_max_abs_diff": render_diff,
        "replay_max_abs_error": gt.replay_max_abs_error,
        "notes": notes,
        "seed": seed,
        "n_boot": n_boot,
        "ci_level": ci_level,
        "wall_time_s": time.perf_counter() - t_start,
        "versions": versions(),
    }
    return FrameDriftResult(
        task=spec.name,
        model_name=model.spec.family,
        meta=meta,
        predictors=predictors,
        controllability=controllability,
        uncertainty=uncertainty,
        rollouts=rollouts,
        gt_frames=gt_frames,
        valid=valid,
        starts=starts,
        probe=probe,
        recoverability=recoverability,
    )


def roll_frame_model(
    model: WorldModel,
    context_frames: np.ndarray,
    context_actions: np.ndarray,
    actions: np.ndarray,
    true_frames: np.ndarray,
    *,
    keep_frames: bool = False,
    batch_size: int = 64,
    bar: Any = None,
) -> FrameRollout:
    """Step a pixel model from real context frames with given actions and score every frame against the truth.

    Args:
        model: a :class:`~neural_gym.world_models.base.WorldModel` with ``spec.obs_shape = (h, w, 3)``.
        context_frames: ``[n, C, h, w, 3]`` uint8 recorded frames, oldest first, the last one the start frame;
            ``C >= model.context_length`` (the model reads the last ``context_length``).
        context_actions: ``[n, C - 1, A]`` the recorded actions between them.
        actions: ``[n, H, A]`` actions to step with (clipped to the model's bounds).
        true_frames: ``[n, H + 1, h, w, 3]`` ground-truth frames (index 0 the start frame).
        keep_frames: keep the predicted frames (uint8) in the result.
        batch_size: starts per forward pass.
        bar: a tqdm bar advanced by ``H`` steps overall (optional).

    Returns:
        The :class:`FrameRollout`.
    """
    n, H = actions.shape[:2]
    if true_frames.shape[:2] != (n, H + 1):
        raise ValueError(f"true_frames must have shape [n={n}, H+1={H + 1}, h, w, 3], got {true_frames.shape}")
    r = roll_open_loop(
        model,
        FrameObservations(true_frames.shape[2:]),
        context_frames,
        context_actions,
        actions,
        truth=true_frames[:, 1:],
        keep_predictions=keep_frames,
        batch_size=batch_size,
        bar=bar,
    )
    return FrameRollout(
        psnr=r.scores["psnr"],
        ssim=r.scores["ssim"],
        disagreement=r.disagreement,
        model_error=r.model_error,
        frames=r.predictions,
    )


def score_frame_uncertainty(
    disagreement: np.ndarray,
    psnr: np.ndarray,
    valid: np.ndarray,
    threshold: float,
    tau_psnr: float,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any] | None:
    """Disagreement against the true frame error (see the module docstring).

    Args:
        disagreement: ``[n, H]`` the model's calibrated disagreement per step.
        psnr: ``[n, H]`` PSNR of the same steps' frames.
        valid: ``[n, H]`` steps that happened in ground truth (a prefix of each row).
        threshold: the calibrated cut-off (NaN: none).
        tau_psnr: PSNR below which a frame is wrong.
        n_boot: bootstrap resamples (over starts).
        level: coverage of the intervals.
        seed: seed of the bootstrap.

    Returns:
        JSON-ready figures, or ``None`` when no step has a finite disagreement.
    """
    return score_uncertainty(
        disagreement,
        -np.asarray(psnr, dtype=np.float64),  # higher = worse; "PSNR < tau" <=> -PSNR > -tau
        valid,
        threshold,
        -float(tau_psnr),
        n_boot,
        level,
        seed,
        count_key="psnr_below_tau",
        unit="frame",
        event=f"PSNR < tau_psnr={tau_psnr} dB",
        cumulative=False,
        dream_without_threshold=None,
    )


# ---------------------------------------------------------------------------------------------------------- scoring
def _score_curves(
    r: FrameRollout, valid: np.ndarray, hs: list[int], counts: np.ndarray, level: float
) -> dict[str, Any]:
    """PSNR and SSIM means over starts (alive at each step) with intervals, at every step and at ``hs``."""
    w = valid.astype(np.float64)
    cols = np.asarray(hs) - 1
    out: dict[str, Any] = {}
    for name, x in (("psnr", r.psnr), ("ssim", r.ssim)):
        point, lo, hi = metrics.ratio_of_sums(np.where(valid, x, 0.0), w, counts, level)
        out[f"{name}_by_step"] = interval(point, lo, hi)
        out[name] = interval(point[cols], lo[cols], hi[cols])
    out["model_errors"] = int((r.model_error & valid).sum())
    return out


def _score_controllability(
    true: FrameRollout, shuffled: FrameRollout, valid: np.ndarray, hs: list[int], counts: np.ndarray, level: float
) -> dict[str, Any]:
    """Per-start PSNR/SSIM with the true actions minus with shuffled ones, averaged over starts, with intervals."""
    w = valid.astype(np.float64)
    cols = np.asarray(hs) - 1
    out: dict[str, Any] = {}
    for name in ("psnr", "ssim"):
        diff = getattr(true, name) - getattr(shuffled, name)  # NaN when shuffling was impossible
        point, lo, hi = metrics.ratio_of_sums(np.where(valid, diff, 0.0), w, counts, level)
        out[f"{name}_by_step"] = interval(point, lo, hi)
        out[name] = interval(point[cols], lo[cols], hi[cols])
    return out


def _score_probe(
    model: WorldModel,
    rollout: FrameRollout,
    gt_frames: np.ndarray,
    gt_states: np.ndarray,
    valid: np.ndarray,
    hs: list[int],
    counts: np.ndarray,
    level: float,
    notes: list[str],
) -> dict[str, Any] | None:
    """State-probe NRMSE on the model's frames and on the ground-truth renders, by step (see the module docstring).

    Args:
        model: the pixel model; scored only when it has a ``probe_state`` method and ``has_probe`` is true.
        rollout: the model's rollout with the true actions (``frames`` kept).
        gt_frames: ``[n, H + 1, h, w, 3]`` ground-truth renders.
        gt_states: ``[n, H + 1, O]`` true states (``gt_states[:, 0]`` the start).
        valid: ``[n, H]`` steps that happened in ground truth.
        hs: horizons of the tables.
        counts: bootstrap counts over starts.
        level: coverage of the intervals.
        notes: run notes, appended to when the probe cannot be scored.
    """
    probe_state = getattr(model, "probe_state", None)
    if not callable(probe_state) or not getattr(model, "has_probe", False) or rollout.frames is None:
        return None
    n, H = valid.shape
    std_attr = getattr(model, "state_std", None)
    n_state = gt_states.shape[-1]
    if isinstance(std_attr, torch.Tensor) and std_attr.numel() not in (0, n_state):
        notes.append(f"state probe outputs {std_attr.numel()} values, the task's state has {n_state}: probe not scored")
        return None
    if isinstance(std_attr, torch.Tensor) and std_attr.numel() == n_state:
        std, norm = std_attr.detach().double().cpu().numpy(), "model state_std (training data)"
    else:
        true = gt_states[:, 1:][valid]
        std, norm = (true.std(axis=0) if len(true) > 1 else np.ones(n_state)), "std of the true states of this run"
    std = np.where(std < 1e-6, 1.0, std)
    dev = model.device

    def probe(frames: np.ndarray) -> np.ndarray:  # [N, h, w, 3] uint8 → [N, O]
        with torch.inference_mode():
            out = [probe_state(torch.as_tensor(frames[i : i + 256], device=dev)) for i in range(0, len(frames), 256)]
        return torch.cat(out).double().cpu().numpy()

    truth = gt_states[:, 1:]  # (n, H, n_state)
    shape = rollout.frames.shape[2:]
    generated = probe(rollout.frames.reshape(n * H, *shape)).reshape(n, H, -1)
    floor = probe(gt_frames[:, 1:].reshape(n * H, *shape)).reshape(n, H, -1)
    if generated.shape[-1] != n_state:
        notes.append(
            f"state probe outputs {generated.shape[-1]} values, the task's state has {n_state}: probe not scored"
        )
        return None
    w = valid.astype(np.float64)
    cols = np.asarray(hs) - 1
    out: dict[str, Any] = {"state_dim": int(n_state), "normalization": norm}
    for name, pred in (("model", generated), ("floor", floor)):
        nrmse = np.sqrt(np.mean(np.square((pred - truth) / std), axis=-1))  # (n, H)
        point, lo, hi = metrics.ratio_of_sums(np.where(valid, nrmse, 0.0), w, counts, level)
        out[name] = interval(point[cols], lo[cols], hi[cols])
        out[f"{name}_by_step"] = interval(point, lo, hi)
    return out


def _nan_rollout(n: int, H: int) -> FrameRollout:
    nan = np.full((n, H), np.nan)
    return FrameRollout(psnr=nan, ssim=nan.copy(), disagreement=nan.copy(), model_error=np.zeros((n, H), dtype=bool))


# ---------------------------------------------------------------------------------------------------------- helpers
def _check_args(
    horizons: Sequence[int] | None,
    max_horizon: int | None,
    n_starts: int,
    heldout_steps: int,
    tau_psnr: float,
    n_boot: int,
    level: float,
    batch_size: int,
) -> tuple[list[int], bool]:
    hs = check_common(horizons, DEFAULT_FRAME_HORIZONS, n_starts, n_boot, level)
    if max_horizon is not None and (int(max_horizon) != max_horizon or max_horizon < max(hs)):
        raise ValueError(f"max_horizon must be an integer >= max(horizons) = {max(hs)}, got {max_horizon}")
    if heldout_steps < 1:
        raise ValueError(f"heldout_steps must be >= 1, got {heldout_steps}")
    if not np.isfinite(tau_psnr):
        raise ValueError(f"tau_psnr must be a finite PSNR in dB (e.g. 20.0), got {tau_psnr}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return hs, horizons is not None


def _frame_shape(model: WorldModel) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in model.spec.obs_shape)
    if not is_frame_shape(shape):
        raise ValueError(
            f"measure_frame_drift needs a model that predicts RGB frames (spec.obs_shape (H, W, 3)); the "
            f"{model.spec.family} model's obs_shape is {model.spec.obs_shape}: use measure_drift for state models"
        )
    return shape  # type: ignore[return-value]


def _positions(episodes: Sequence[Episode], context: int, window: int) -> int:
    """How many start positions have ``context - 1`` earlier frames and ``window`` recorded actions after them."""
    return sum(max(0, len(ep) - window - (context - 1) + 1) for ep in episodes)


def _heldout_episodes(
    spec: TaskSpec,
    model: WorldModel,
    dataset_id: str | None,
    steps: int,
    policy: ActionSource,
    seed: int,
    camera: Any,
    progress: bool,
) -> tuple[list[Episode], dict[str, Any]]:
    """The held-out pixel episodes: the given dataset, or fresh ones collected in a temporary Minari folder."""
    episodes = model_heldout_episodes(
        spec.name,
        model,
        dataset_id,
        steps=steps,
        policy=policy,
        seed=seed,
        dataset_name="heldout-pixels-v0",
        progress=progress,
        camera=camera,
        seed_name="seed",
    )
    if dataset_id is not None:
        return episodes, {"dataset_id": dataset_id, "collected": False}
    return episodes, {"collected": True, "steps": steps, "policy": label(policy), "seed": seed}


__all__ = [
    "DEFAULT_FRAME_HORIZONS",
    "FRAME_PREDICTORS",
    "FrameDriftResult",
    "FrameRenderer",
    "FrameRollout",
    "measure_frame_drift",
    "roll_frame_model",
    "score_frame_uncertainty",
]
