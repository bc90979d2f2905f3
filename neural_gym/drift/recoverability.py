"""Action recoverability: can the actions a model was driven with be read back from what it generated?

The definition (``docs/DESIGN.md``, "Metric definitions"): the error of an inverse-dynamics model trained on real
transitions (:class:`~neural_gym.drift.inverse_dynamics.InverseDynamicsModel`), applied to a model's generated
rollouts, against the same on real transitions. A model that ignores its actions, or renders their effect wrongly,
generates pairs of observations from which the real-data inverse model reads the wrong actions.

:func:`action_recoverability` runs the one drift mechanism (as :func:`~neural_gym.drift.records.rollout_records`
does): start states drawn (seeded, uniformly without replacement) from held-out real episodes (never the model's
training data), their physics states restored and the recorded actions replayed in ground truth
(:func:`~neural_gym.drift.rollout.roll_ground_truth`), and the model rolled open loop from the recorded context with
the same actions (:func:`~neural_gym.drift.roll_open_loop`, the ensemble mean, ``member=None``), for any family and
observation kind. For every step ``j = 1..H`` of every start:

- **generated**: the inverse model on ``(ô_{j−1}, ô_j)``, the model's consecutive predictions, with ``ô_0`` the last
  real context observation (the start);
- **real**: the inverse model on ``(o_{j−1}, o_j)``, the ground truth's observations of the same steps (for frame
  models, renders of the restored physics states);
- **mean action**: the trivial baseline, the inverse model's training data's mean action, whatever the observations.

:func:`score_recoverability` turns these into figures: per horizon ``h`` (the starts whose step ``h`` happened in
ground truth before any non-finite prediction) and overall (every such step of every start), the action RMSE
``sqrt(mean_{i,d} (â_{i,d} − a_{i,d})²)`` in ``[-1, 1]`` units (actions scaled by the task's bounds) for generated,
real and mean action, and the ratio generated / real (``sqrt(Σ se_gen / Σ se_real)`` over the same steps: 1 for a
model whose rollouts equal the truth, larger when the actions are harder to read back from the model's rollouts).
Intervals: seeded percentile bootstraps over start states (:func:`neural_gym.metrics.bootstrap_counts`,
:func:`neural_gym.metrics.ratio_of_sums`; ratios resampled as ratios of sums).

Example:
    >>> from neural_gym.drift import action_recoverability, train_inverse_model
    >>> idm, _ = train_inverse_model(load_episodes("idm/TabletopReach-v0"), task="TabletopReach")     # doctest: +SKIP
    >>> r = action_recoverability("TabletopReach", "zoo:TabletopReach", idm, n_starts=64, horizon=16)  # doctest: +SKIP
    >>> r["overall"]["ratio"]["value"]                                                            # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from neural_gym.envs import get_task
from neural_gym.world_models import WorldModel

from .. import metrics
from ..json_values import json_safe
from .inputs import load_model, model_heldout_episodes, refuse_training_data
from .inverse_dynamics import InverseDynamicsModel, load_inverse_model
from .observation_kinds import is_frame_shape, observation_kind
from .open_loop import roll_open_loop
from .rollout import roll_ground_truth, select_starts

#: The figures :func:`score_recoverability` reports, each per horizon and overall.
FIGURES: tuple[str, ...] = ("generated", "real", "mean_action", "ratio")


def _interval(point: np.ndarray, low: np.ndarray, high: np.ndarray) -> dict[str, Any]:
    return {"value": point, "low": low, "high": high}


def score_recoverability(
    inverse_model: InverseDynamicsModel,
    real: np.ndarray,
    generated: np.ndarray,
    actions: np.ndarray,
    valid: np.ndarray,
    *,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> dict[str, Any]:
    """The recoverability figures of ``n`` rollouts of ``H`` steps (see the module docstring).

    Args:
        inverse_model: the inverse-dynamics model trained on real transitions.
        real: ``[n, H + 1, *obs_shape]`` real observations, index 0 the start.
        generated: ``[n, H + 1, *obs_shape]`` the model's, index 0 the same start (the last real context observation).
        actions: ``[n, H, A]`` the actions of the steps, in the task's units.
        valid: ``[n, H]`` the steps that count (a prefix of each row; steps outside it are left out).
        n_boot: bootstrap resamples over the starts.
        ci_level: interval coverage.
        seed: seed (or generator) of the resampling.

    Returns:
        ``{"horizons", "alive", "generated", "real", "mean_action", "ratio", "overall", "per_dim"}``: each figure
        ``{"value", "low", "high"}`` per horizon (lists over ``h = 1..H``) and in ``overall`` (numbers);
        ``per_dim`` the overall RMSE per action dimension (``generated``, ``real``, ``mean_action``). NumPy values;
        ``NaN`` where no step counts.

    Raises:
        ValueError: shapes that do not line up, or fewer than one start.
    """
    real, generated = np.asarray(real), np.asarray(generated)
    actions, valid = np.asarray(actions, dtype=np.float64), np.asarray(valid, dtype=bool)
    if actions.ndim != 3 or actions.shape[0] < 1:
        raise ValueError(f"actions must be [n >= 1, H, A], got shape {actions.shape}")
    n, H, _ = actions.shape
    want = (n, H + 1, *inverse_model.obs_shape)
    if real.shape != want or generated.shape != want:
        raise ValueError(
            f"real and generated must be [n, H + 1, *obs_shape] = {want}, got {real.shape} and {generated.shape}"
        )
    if valid.shape != (n, H):
        raise ValueError(f"valid must be [n, H] = {(n, H)}, got {valid.shape}")
    if n_boot < 1 or not 0 < ci_level < 1:
        raise ValueError(f"need n_boot >= 1 and 0 < ci_level < 1, got {n_boot} and {ci_level}")
    target = inverse_model.scale_actions(actions)  # (n, H, A)

    def errors(seq: np.ndarray) -> np.ndarray:
        """Squared action errors ``[n, H, A]`` of the inverse model on the consecutive pairs of ``seq``."""
        pred = inverse_model.predict(
            seq[:, :-1].reshape(n * H, *seq.shape[2:]), seq[:, 1:].reshape(n * H, *seq.shape[2:])
        )
        return (pred.reshape(target.shape) - target) ** 2

    w = valid[..., None].astype(np.float64)  # (n, H, 1)
    se = {
        "generated": errors(generated) * w,
        "real": errors(real) * w,
        "mean_action": (inverse_model.mean_action - target) ** 2 * w,
    }
    A = target.shape[-1]
    counts = metrics.bootstrap_counts(n, n_boot, seed)
    den_h = valid.astype(np.float64) * A  # (n, H): squared errors summed over dims, divided by steps x dims
    out: dict[str, Any] = {"horizons": np.arange(1, H + 1), "alive": valid.sum(axis=0)}
    overall: dict[str, Any] = {"steps": int(valid.sum())}
    for name, x in se.items():
        out[name] = _interval(*metrics.ratio_of_sums(x.sum(-1), den_h, counts, ci_level, np.sqrt))
        overall[name] = _interval(*metrics.ratio_of_sums(x.sum((1, 2)), den_h.sum(1), counts, ci_level, np.sqrt))
    gen, rea = se["generated"].sum(-1), se["real"].sum(-1)
    out["ratio"] = _interval(*metrics.ratio_of_sums(gen, rea, counts, ci_level, np.sqrt))
    overall["ratio"] = _interval(*metrics.ratio_of_sums(gen.sum(1), rea.sum(1), counts, ci_level, np.sqrt))
    out["overall"] = overall
    steps = max(int(valid.sum()), 1)
    out["per_dim"] = {name: np.sqrt(x.sum((0, 1)) / steps) for name, x in se.items()}
    return out


def recoverability_of_predictors(
    inverse_model: InverseDynamicsModel | str | Path,
    task: str,
    model: WorldModel,
    real: np.ndarray,
    generated: Mapping[str, np.ndarray],
    actions: np.ndarray,
    valid: np.ndarray,
    *,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Action recoverability of several predictors' rollouts from the same starts (what the drift reports add).

    Args:
        inverse_model: an inverse-dynamics model trained on real transitions (or its checkpoint path) of ``task`` and
            of ``model``'s observations.
        task: the task.
        model: the checkpoint under test (its observation shape and action size are checked against the inverse
            model's).
        real: ``[n, H + 1, *obs_shape]`` the real observations, index 0 the start.
        generated: predictor name → ``[n, H, *obs_shape]`` its predictions after each step (the start is prepended).
        actions: ``[n, H, A]`` the actions of the steps.
        valid: ``[n, H]`` steps that happened in ground truth; each predictor's steps after its first non-finite
            prediction are left out of its own figures.
        n_boot: bootstrap resamples over starts; ``ci_level`` their coverage; ``seed`` their seed (the same for
            every predictor, so their intervals resample the same starts).

    Returns:
        JSON-ready ``{"inverse_model": its training facts, "predictors": {name: score_recoverability figures and
        "dropped_steps"}}``.

    Raises:
        ValueError: an inverse model of another task, observation shape or action size; shapes that do not line up.
    """
    idm = checked_inverse_model(inverse_model, task, model)
    real = np.asarray(real)
    start = real[:, :1]
    out: dict[str, Any] = {}
    for name, pred in generated.items():
        pred = np.asarray(pred)
        finite = np.isfinite(pred.reshape(*pred.shape[:2], -1)).all(axis=-1)
        healthy = np.cumprod(finite, axis=1).astype(bool)
        ok = np.asarray(valid, dtype=bool) & healthy
        seq = np.concatenate([start, np.where(healthy.reshape(*healthy.shape, *([1] * (pred.ndim - 2))), pred, 0)], 1)
        if is_frame_shape(tuple(idm.obs_shape)):
            seq = np.clip(np.rint(seq), 0, 255).astype(np.uint8)
        figures = score_recoverability(
            idm, real, seq.astype(real.dtype), actions, ok, n_boot=n_boot, ci_level=ci_level, seed=seed
        )
        out[name] = {**figures, "dropped_steps": int((np.asarray(valid, dtype=bool) & ~healthy).sum())}
    info = idm.info
    keys = ("observation", "dataset_id", "steps", "best_step", "train_transitions", "heldout_rmse",
            "heldout_mean_action_rmse")  # fmt: skip
    return json_safe(
        {
            "inverse_model": {k: info.get(k) for k in keys},
            "units": "RMSE of actions scaled to [-1, 1] by the task's bounds",
            "predictors": out,
        }
    )


def recoverability_lines(
    recoverability: Mapping[str, Any] | None, labels: Mapping[str, str] | None = None
) -> list[str]:
    """The drift reports' Markdown section of :func:`recoverability_of_predictors`'s figures (``[]`` for ``None``)."""
    if not recoverability:
        return []

    def cell(x: Mapping[str, Any]) -> str:
        v, lo, hi = x.get("value"), x.get("low"), x.get("high")
        return "n/a" if v is None else f"{v:.3f} [{lo:.3f}, {hi:.3f}]" if lo is not None else f"{v:.3f}"

    info = recoverability.get("inverse_model") or {}
    lines = [
        "## Action recoverability",
        "",
        "An inverse-dynamics model trained on real transitions "
        f"(`{info.get('dataset_id')}`, {info.get('observation')}, held-out action RMSE {cell({'value': info.get('heldout_rmse')})}) "
        "reads the actions back from each predictor's consecutive predictions and from the real steps of the same "
        "starts; action RMSE in [-1, 1] units over every valid step, with 95 % bootstrap intervals over starts "
        "(ratio 1: the actions are as recoverable as from reality):",
        "",
        "| predictor | generated | real | ratio | mean action |",
        "|---|---|---|---|---|",
    ]
    for name, fig in (recoverability.get("predictors") or {}).items():
        o = fig["overall"]
        label = (labels or {}).get(name, name)
        lines.append(
            f"| {label} | {cell(o['generated'])} | {cell(o['real'])} | {cell(o['ratio'])} | {cell(o['mean_action'])} |"
        )
    return [*lines, ""]


def checked_inverse_model(
    inverse_model: InverseDynamicsModel | str | Path, task: str, model: WorldModel
) -> InverseDynamicsModel:
    """The inverse model (loaded if a path), refusing one of another task or observation than ``model``'s.

    Raises:
        ValueError: another task, observation shape or action size than ``model``'s.
        InverseModelError: a path that is not a readable inverse-model checkpoint.
    """
    idm = inverse_model if isinstance(inverse_model, InverseDynamicsModel) else load_inverse_model(inverse_model)
    if idm.task != task:
        raise ValueError(f"the inverse model reads {idm.task} transitions, expected {task}")
    shape = tuple(int(s) for s in model.spec.obs_shape)
    if tuple(idm.obs_shape) != shape:
        raise ValueError(
            f"the inverse model reads {idm.observation} of shape {tuple(idm.obs_shape)}, but the "
            f"{model.spec.family} model predicts observations of shape {shape}: train the inverse model on "
            f"{'frames of that size' if is_frame_shape(shape) else 'state vectors'} (train_inverse_model(..., "
            f"observation={'frames' if is_frame_shape(shape) else 'state'!r}))"
        )
    if idm.config.action_dim != int(model.spec.action_dim):
        raise ValueError(
            f"the inverse model predicts {idm.config.action_dim} action dims, the model takes {model.spec.action_dim}"
        )
    return idm.cpu().eval()


def action_recoverability(
    task: str,
    checkpoint: str | Path | WorldModel | None,
    inverse_model: InverseDynamicsModel | str | Path,
    *,
    dataset_id: str | None = None,
    n_starts: int = 64,
    horizon: int = 16,
    start_context: int | None = None,
    seed: int = 0,
    heldout_policy: Any = "expert",
    heldout_steps: int = 10_000,
    heldout_seed: int = 1000,
    heldout_options: Mapping[str, Any] | None = None,
    camera: Any = None,
    allow_training_data: bool = False,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    batch_size: int = 256,
    device: str = "auto",
    progress: bool = False,
) -> dict[str, Any]:
    """Action recoverability of a model's open-loop rollouts from held-out real starts (see the module docstring).

    Args:
        task: ground-truth task.
        checkpoint: checkpoint path, zoo name or a loaded :class:`WorldModel` (any family, state or frame
            observations); ``None``: the task's shipped checkpoint.
        inverse_model: an :class:`InverseDynamicsModel` (or its file) trained on real transitions of ``task``, reading
            the model's observation (state vectors or frames of its size).
        dataset_id: held-out Minari dataset with physics states (and frames of the model's size for a frame model).
            ``None``: collect ``heldout_steps`` steps of ``heldout_policy`` with seed ``heldout_seed`` into a temporary
            folder, deleted afterwards.
        n_starts: start states, drawn uniformly without replacement (seeded).
        horizon: steps ``H`` rolled per start (a start's steps end earlier with its recording or its termination).
        start_context: draw starts with at least this many recorded observations up to them (default: the model's
            ``context_length``); pass the largest context of several models to score them all from the same starts.
        seed: seed of the start sampling and the bootstrap.
        heldout_policy: policy of the held-out collection.
        heldout_steps: steps of that collection.
        heldout_seed: its seed (never 0, the shipped training data's).
        heldout_options: more arguments of :func:`neural_gym.envs.collect` for it (``action_noise``,
            ``random_fraction``).
        camera: camera of a frame model's ground-truth renders (``None``: the checkpoint's, else the task's default).
        allow_training_data: allow ``dataset_id`` to be the checkpoint's own training dataset.
        n_boot: bootstrap resamples over starts.
        ci_level: interval coverage.
        batch_size: starts per forward pass of the model.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` (loading a checkpoint).
        progress: progress bars.

    Returns:
        A JSON-ready dict: ``task``, ``checkpoint``, ``family``, ``observation``, ``context_length``, ``n_starts``,
        ``horizon``, ``start_window``, the figures of :func:`score_recoverability` (``horizons``, ``alive``,
        ``generated``, ``real``, ``mean_action``, ``ratio``, ``overall``, ``per_dim``), ``inverse_model`` (its
        training figures), ``heldout`` (the data), ``model_error_steps``, ``replay_max_abs_error`` and ``notes``.

    Raises:
        ValueError: bad arguments; an inverse model of another task, observation or size; held-out data of another
            task, without physics states or frames, or the model's training data.
        CheckpointError: a checkpoint for another task.
    """
    if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    if isinstance(n_starts, bool) or int(n_starts) != n_starts or n_starts < 1:
        raise ValueError(f"n_starts must be a positive integer, got {n_starts!r}")
    if start_context is not None and (
        isinstance(start_context, bool) or int(start_context) != start_context or start_context < 1
    ):
        raise ValueError(f"start_context must be a positive integer or None, got {start_context!r}")
    if n_boot < 1 or not 0 < ci_level < 1:
        raise ValueError(f"need n_boot >= 1 and 0 < ci_level < 1, got {n_boot} and {ci_level}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    spec = get_task(task)
    model, name = load_model(spec.name, checkpoint, device)
    idm = checked_inverse_model(inverse_model, spec.name, model)
    refuse_training_data(model, dataset_id, allow_training_data, spec.name)
    frames = is_frame_shape(model.spec.obs_shape)
    options = dict(heldout_options or {})
    episodes = model_heldout_episodes(
        spec.name,
        model,
        dataset_id,
        steps=heldout_steps,
        policy=heldout_policy,
        seed=heldout_seed,
        dataset_name="heldout-recoverability-v0",
        progress=progress,
        camera=camera,
        **options,
    )
    heldout: dict[str, Any] = (
        {"dataset_id": dataset_id}
        if dataset_id is not None
        else {"policy": str(heldout_policy), "steps": heldout_steps, "seed": heldout_seed, **options}
    )
    notes: list[str] = []
    # the kind's state σ only scales drift's own per-step errors, which are not reported here: its note is dropped
    kind = observation_kind(model, episodes, [], camera=camera)
    kind.check_episodes(episodes, model.spec, dataset_id)

    k = int(model.context_length)
    C = max(k, int(start_context or k))
    seeds = np.random.SeedSequence(seed).spawn(2)
    starts, window, start_notes = select_starts(
        episodes, n_starts, context=C, horizons=[horizon], recorded=True, rng=np.random.default_rng(seeds[0])
    )
    gt = roll_ground_truth(spec, episodes, starts, horizon, context=C, progress=progress)
    context, truth, truth_notes = kind.ground_truth(spec, gt, episodes, starts, progress)
    notes += start_notes + truth_notes
    rollout = roll_open_loop(
        model,
        kind,
        context,
        gt.context_actions,
        gt.actions,
        truth=truth[:, 1:],
        keep_predictions=True,
        batch_size=batch_size,
    )
    assert rollout.predictions is not None
    healthy = np.cumprod(~rollout.model_error, axis=1).astype(bool)  # steps before the first non-finite prediction
    valid = gt.valid & healthy
    dropped = int((gt.valid & ~healthy).sum())
    if dropped:
        notes.append(f"{dropped} valid step(s) after a non-finite prediction are left out")
    dtype = np.uint8 if frames else np.float64
    start = context[:, -1:].astype(dtype)
    generated = np.concatenate([start, rollout.predictions.astype(dtype)], axis=1)
    real = truth.astype(dtype)
    figures = score_recoverability(
        idm, real, generated, gt.actions, valid, n_boot=n_boot, ci_level=ci_level, seed=np.random.default_rng(seeds[1])
    )
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    info = idm.info
    return json_safe(
        {
            "task": spec.name,
            "checkpoint": name,
            "family": model.spec.family,
            "observation": kind.name,
            "context_length": k,
            "start_context": C,
            "n_starts": len(starts),
            "horizon": int(horizon),
            "start_window": window,
            **figures,
            "units": "RMSE of actions scaled to [-1, 1] by the task's bounds",
            "inverse_model": {
                key: info.get(key)
                for key in (
                    "observation",
                    "dataset_id",
                    "steps",
                    "best_step",
                    "train_episodes",
                    "train_transitions",
                    "heldout_rmse",
                    "heldout_mean_action_rmse",
                )
            },
            "heldout": heldout,
            "model_error_steps": int(rollout.model_error.sum()),
            "replay_max_abs_error": gt.replay_max_abs_error,
            "seed": seed,
            "n_boot": n_boot,
            "ci_level": ci_level,
            "notes": notes,
        }
    )


__all__ = [
    "FIGURES",
    "action_recoverability",
    "checked_inverse_model",
    "recoverability_lines",
    "recoverability_of_predictors",
    "score_recoverability",
]
