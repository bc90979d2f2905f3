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
  each step;
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

import platform
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from neural_gym import envs
from neural_gym.envs import Episode, TaskSpec, get_task
from neural_gym.world_models import WorldModel
from neural_gym.world_models.baselines import CopyLastFrameModel

from .. import metrics
from ..json_values import json_safe
from .measure import _fmt, _horizon_summary, _interval, _label, _load_model, _minari_root
from .rollout import (
    ActionSource,
    GroundTruthRollout,
    StartState,
    derangement,
    roll_ground_truth,
    select_starts,
)

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
    model, checkpoint_label = _load_model(spec.name, checkpoint, device)
    frame_shape = _frame_shape(model)
    if camera is None:
        camera = (model.spec.provenance or {}).get("camera")
    train_dataset = (model.spec.provenance or {}).get("dataset_id")
    if dataset_id is not None and dataset_id == train_dataset and not allow_training_data:
        raise ValueError(
            f"{dataset_id!r} is the dataset the checkpoint was trained on; drift needs held-out data "
            "(pass another dataset_id, or dataset_id=None to collect fresh data, or allow_training_data=True)"
        )
    notes: list[str] = []

    copy_last = CopyLastFrameModel(model.spec).to(model.device)
    k = int(model.context_length)
    if k < 1:
        raise ValueError(f"the model's context_length must be >= 1, got {k}")
    episodes, heldout = _heldout_episodes(spec, dataset_id, heldout_steps, policy, seed, frame_shape, camera, progress)
    _check_episodes(episodes, frame_shape, model.spec.action_dim, dataset_id)

    # Horizons the data can reach, and the rollout length.
    longest = max((len(ep) - (k - 1) for ep in episodes), default=0)
    too_long = [h for h in hs if h > longest]
    if too_long and explicit:
        raise ValueError(
            f"horizon(s) {too_long} are longer than any recorded window: the longest held-out episode allows {longest} "
            f"steps after a start with {k} frame(s) of context. Use shorter horizons or longer episodes"
        )
    skipped = {str(h): f"no recorded window is {h} steps long (longest: {longest})" for h in too_long}
    hs = [h for h in hs if h not in too_long]
    if not hs:
        raise ValueError(f"no requested horizon is reachable: the longest recorded window is {longest} steps")
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
    gt_frames, render_diff = _render_ground_truth(spec, gt, episodes, starts, frame_shape, camera, progress)
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
        [_frames(episodes[s.episode_index])[s.t - k + 1 : s.t + 1] for s in starts]
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
    try:
        threshold = float(model.spec.calibration.threshold)
    except KeyError:
        threshold = float("nan")
        notes.append("the checkpoint has no calibrated threshold: cut-off figures are undefined")
    uncertainty = score_frame_uncertainty(
        rollouts["model"].disagreement, rollouts["model"].psnr, valid, threshold, tau_psnr, n_boot, ci_level, boot_seed
    )
    if uncertainty is None:
        notes.append(f"the {model.spec.family} model reports no finite disagreement: no uncertainty figures")

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
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__},
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
    n, C = context_frames.shape[:2]
    H = actions.shape[1]
    c = int(model.context_length)
    if c > C:
        raise ValueError(f"{model.spec.family} wants {c} frames of context but {C} were recorded before each start")
    if true_frames.shape[:2] != (n, H + 1):
        raise ValueError(f"true_frames must have shape [n={n}, H+1={H + 1}, h, w, 3], got {true_frames.shape}")
    low = np.asarray(model.spec.action_low, dtype=np.float64)
    high = np.asarray(model.spec.action_high, dtype=np.float64)
    dev = model.device
    out = FrameRollout(
        psnr=np.full((n, H), np.nan),
        ssim=np.full((n, H), np.nan),
        disagreement=np.full((n, H), np.nan),
        model_error=np.zeros((n, H), dtype=bool),
        frames=np.zeros((n, H, *true_frames.shape[2:]), dtype=np.uint8) if keep_frames else None,
    )
    with torch.inference_mode():
        batches = [slice(b0, min(n, b0 + batch_size)) for b0 in range(0, n, batch_size)]
        states = []
        for rows in batches:
            o = torch.as_tensor(context_frames[rows, C - c :], device=dev)
            a = torch.as_tensor(context_actions[rows, C - c :], dtype=torch.float32, device=dev)
            states.append(model.initial_state_from_history(o, a))
        for j in range(H):
            for b, rows in enumerate(batches):
                a = torch.as_tensor(np.clip(actions[rows, j], low, high), dtype=torch.float32, device=dev)
                pred = model.step(states[b], a, member=None)
                states[b] = pred.state
                frame = model.observe(pred.state).double().cpu().numpy()
                bad = ~np.isfinite(frame).reshape(len(frame), -1).all(axis=1)
                frame = np.clip(np.nan_to_num(frame, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 255.0)
                true = true_frames[rows, j + 1]
                if frame.shape != true.shape:
                    raise ValueError(
                        f"{model.spec.family}.observe returned frames of shape {frame.shape[1:]}, expected {true.shape[1:]}"
                    )
                out.psnr[rows, j] = metrics.psnr(frame, true)
                out.ssim[rows, j] = metrics.ssim(frame, true)
                out.disagreement[rows, j] = pred.disagreement.double().cpu().numpy()
                out.model_error[rows, j] = bad
                if out.frames is not None:
                    out.frames[rows, j] = np.rint(frame).astype(np.uint8)
            if bar is not None:
                bar.update(1)
    return out


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
    dis = np.asarray(disagreement, dtype=np.float64)
    pairs = np.asarray(valid, dtype=bool) & np.isfinite(dis)
    if not pairs.any():
        return None
    n = dis.shape[0]
    err = -np.asarray(psnr, dtype=np.float64)  # higher = worse; "PSNR < tau" <=> err > -tau
    tau = -float(tau_psnr)

    def pooled(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = pairs[idx]
        return dis[idx][m], err[idx][m]

    def spearman_of(idx: np.ndarray) -> float:
        return metrics.spearman(*pooled(idx))

    def auroc_of(idx: np.ndarray) -> float:
        d, e = pooled(idx)
        return metrics.auroc(d, e > tau)

    d_all, e_all = pooled(np.arange(n))
    below = int((e_all > tau).sum())
    out: dict[str, Any] = {"pairs": int(d_all.size), "psnr_below_tau": below}
    keys = ("value", "low", "high")
    out["spearman"] = dict(
        zip(keys, metrics.bootstrap_ci(spearman_of, n, n_boot=n_boot, level=level, seed=seed), strict=True)
    )
    out["auroc"] = dict(
        zip(keys, metrics.bootstrap_ci(auroc_of, n, n_boot=n_boot, level=level, seed=seed), strict=True)
    )
    if below == 0:
        out["auroc_note"] = f"undefined: no frame had PSNR < tau_psnr={tau_psnr} dB (one class only)"
    elif below == d_all.size:
        out["auroc_note"] = f"undefined: every frame had PSNR < tau_psnr={tau_psnr} dB (one class only)"
    else:
        out["auroc_note"] = None

    counts = metrics.bootstrap_counts(n, n_boot, np.random.default_rng(seed))
    wrong = err > tau
    if np.isfinite(threshold):
        cut = pairs & (dis > threshold)
        out["justified_share"] = _interval(*metrics.ratio_of_sums((cut & wrong).sum(1), cut.sum(1), counts, level)) | {
            "cutoffs": int(cut.sum())
        }
        out["justified_note"] = None if cut.any() else "undefined: the disagreement never exceeded the threshold"
        has_cut = np.asarray(cut.any(1))
        first_wrong = has_cut & wrong[np.arange(n), cut.argmax(1)]
        out["first_cutoff_justified"] = _interval(*metrics.ratio_of_sums(first_wrong, has_cut, counts, level)) | {
            "starts_cut": int(has_cut.sum())
        }
        dream, dream_cens = metrics.first_exceedance(np.where(pairs, dis, -np.inf), threshold, valid)
    else:
        out["justified_share"] = out["first_cutoff_justified"] = None
        out["justified_note"] = "undefined: no calibrated threshold"
        dream, dream_cens = np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)  # unused: no threshold
    trusted, trusted_cens = metrics.first_exceedance(err, tau, valid)
    out["trusted_horizon"] = _horizon_summary(trusted, trusted_cens, counts, level)
    out["dream_horizon"] = _horizon_summary(dream, dream_cens, counts, level) if np.isfinite(threshold) else None
    exceeded = ~trusted_cens
    out["cut_no_later_than_error"] = (
        float(np.mean(dream[exceeded] <= trusted[exceeded])) if exceeded.any() and np.isfinite(threshold) else None
    )
    return out


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
        out[f"{name}_by_step"] = _interval(point, lo, hi)
        out[name] = _interval(point[cols], lo[cols], hi[cols])
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
        out[f"{name}_by_step"] = _interval(point, lo, hi)
        out[name] = _interval(point[cols], lo[cols], hi[cols])
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
        out[name] = _interval(point[cols], lo[cols], hi[cols])
        out[f"{name}_by_step"] = _interval(point, lo, hi)
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
    hs = list(DEFAULT_FRAME_HORIZONS if horizons is None else horizons)
    if not hs or any(isinstance(h, bool) or int(h) != h or h < 1 for h in hs):
        raise ValueError(f"horizons must be positive integers, got {list(hs)}")
    hs = sorted({int(h) for h in hs})
    if max_horizon is not None and (int(max_horizon) != max_horizon or max_horizon < max(hs)):
        raise ValueError(f"max_horizon must be an integer >= max(horizons) = {max(hs)}, got {max_horizon}")
    if n_starts < 1:
        raise ValueError(f"n_starts must be >= 1, got {n_starts}")
    if heldout_steps < 1:
        raise ValueError(f"heldout_steps must be >= 1, got {heldout_steps}")
    if not np.isfinite(tau_psnr):
        raise ValueError(f"tau_psnr must be a finite PSNR in dB (e.g. 20.0), got {tau_psnr}")
    if n_boot < 1 or not 0 < level < 1:
        raise ValueError(f"need n_boot >= 1 and 0 < ci_level < 1, got {n_boot} and {level}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return hs, horizons is not None


def _frame_shape(model: WorldModel) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in model.spec.obs_shape)
    if len(shape) != 3 or shape[-1] != 3:
        raise ValueError(
            f"measure_frame_drift needs a model that predicts RGB frames (spec.obs_shape (H, W, 3)); the "
            f"{model.spec.family} model's obs_shape is {model.spec.obs_shape}: use measure_drift for state models"
        )
    return shape  # type: ignore[return-value]


def _positions(episodes: Sequence[Episode], context: int, window: int) -> int:
    """How many start positions have ``context - 1`` earlier frames and ``window`` recorded actions after them."""
    return sum(max(0, len(ep) - window - (context - 1) + 1) for ep in episodes)


def _image_size(frame_shape: tuple[int, int, int]) -> int | tuple[int, int]:
    h, w = frame_shape[:2]
    return h if h == w else (h, w)


def _heldout_episodes(
    spec: TaskSpec,
    dataset_id: str | None,
    steps: int,
    policy: ActionSource,
    seed: int,
    frame_shape: tuple[int, int, int],
    camera: Any,
    progress: bool,
) -> tuple[list[Episode], dict[str, Any]]:
    """The held-out pixel episodes: the given dataset, or fresh ones collected in a temporary Minari folder."""
    if dataset_id is not None:
        return envs.load_episodes(dataset_id), {"dataset_id": dataset_id, "collected": False}
    if seed == 0:
        raise ValueError("seed 0 is the seed the shipped training data used; choose another (default 1000)")
    tmp = Path(tempfile.mkdtemp(prefix="neural_gym_frame_drift_"))
    kwargs: dict[str, Any] = {"obs_mode": "pixels", "image_size": _image_size(frame_shape)}
    if camera is not None:
        kwargs["camera"] = camera
    try:
        with _minari_root(tmp):
            collected = envs.collect(
                spec.name,
                steps,
                policy=policy,
                seed=seed,
                dataset_id=f"neural_gym/{spec.name}/heldout-pixels-v0",
                progress=progress,
                **kwargs,
            )
            episodes = envs.load_episodes(collected)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return episodes, {"collected": True, "steps": steps, "policy": _label(policy), "seed": seed}


def _frames(ep: Episode) -> np.ndarray:
    frames = getattr(ep, "frames", None)
    if frames is None:
        raise ValueError(f"episode {ep.id} has no frames")
    return np.asarray(frames)


def _check_episodes(
    episodes: Sequence[Episode], frame_shape: tuple[int, int, int], action_dim: int, dataset_id: str | None
) -> None:
    where = dataset_id or "(collected)"
    if not episodes:
        raise ValueError(f"the held-out dataset {where} has no episodes")
    for ep in episodes:
        frames = getattr(ep, "frames", None)
        if frames is None:
            raise ValueError(
                f"held-out dataset {where} has no frames (episode {ep.id}); collect it with "
                "neural_gym.envs.collect(..., obs_mode='pixels', image_size=...)"
            )
        if tuple(frames.shape[1:]) != frame_shape or len(frames) != len(ep) + 1:
            raise ValueError(
                f"held-out dataset {where} has frames of shape {tuple(frames.shape)} in episode {ep.id}, but the model "
                f"predicts {frame_shape} frames (one per observation, {len(ep) + 1} expected)"
            )
        if ep.actions.shape[1] != action_dim:
            raise ValueError(
                f"held-out dataset {where} has actions of size {ep.actions.shape[1]}, the model reads {action_dim}: "
                "was it collected on another task?"
            )


class FrameRenderer:
    """A pixel env of a task that renders restored physics states (:func:`neural_gym.envs.render_frame`).

    Args:
        task: the ground-truth task.
        frame_shape: ``(H, W, 3)``.
        camera: camera (``None``: the task's default).
    """

    def __init__(self, task: TaskSpec, frame_shape: tuple[int, int, int], camera: Any = None) -> None:
        self.env = task.make(obs_mode="pixels", image_size=_image_size(frame_shape), camera=camera)
        self.env.reset(seed=0)

    def render(self, physics_state: np.ndarray) -> np.ndarray:
        """Restore ``physics_state`` and render it: ``uint8 [H, W, 3]``."""
        envs.set_physics_state(self.env, physics_state)
        return envs.render_frame(self.env)

    def close(self) -> None:
        """Close the env (pixel envs free their GL objects under their own context, see ``neural_gym.envs.observations``)."""
        self.env.close()

    def __enter__(self) -> FrameRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _render_ground_truth(
    spec: TaskSpec,
    gt: GroundTruthRollout,
    episodes: Sequence[Episode],
    starts: Sequence[StartState],
    frame_shape: tuple[int, int, int],
    camera: Any,
    progress: bool,
) -> tuple[np.ndarray, int]:
    """Render every physics state of the rollout; the largest difference to the recorded frames (valid steps)."""
    n, T = gt.physics_states.shape[:2]
    frames = np.zeros((n, T, *frame_shape), dtype=np.uint8)
    diff = 0
    with FrameRenderer(spec, frame_shape, camera) as renderer:
        for i, s in enumerate(tqdm(starts, desc=f"render {spec.name}", unit="start", disable=not progress)):
            steps = int(gt.valid[i].sum())
            recorded = _frames(episodes[s.episode_index])
            for j in range(T):
                frames[i, j] = renderer.render(gt.physics_states[i, j])
                if j <= steps:
                    d = np.abs(frames[i, j].astype(np.int16) - recorded[s.t + j].astype(np.int16)).max()
                    diff = max(diff, int(d))
    return frames, diff


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
