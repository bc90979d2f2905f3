"""``measure_drift``: error-by-horizon of a world model against MuJoCo, its uncertainty against the true error, and
baselines, in one run.

Every figure follows ``docs/DESIGN.md`` ("Metric definitions"); how each is pooled over start states:

- **Normalized RMSE at horizon h** (overall, per dimension, per dimension group): the RMS over start states alive at
  ``h`` (and over the dimensions) of ``(pred_d − true_d) / σ_d`` at step ``h``; ``σ_d`` is the per-dimension std of the
  model's training observations (``model.obs_std``). Overall = ``sqrt(mean_{i,d} z²)``.
- **Relative L1 up to h**: ``Σ|ŝ − s| / Σ|s|`` over steps ``1..h`` and dimensions, summed over the starts alive at h.
- **Reward error at h**: mean ``|r̂ − r|`` of the predictor's own reward head (NaN for predictors without one).
- **Termination agreement at h**: share of starts where ``P(terminated) > 0.5`` equals the real flag.
- Every figure carries a seeded percentile-bootstrap interval over start states (``n_boot`` resamples).

Uncertainty (the checkpoint only; baselines have none), from the pairs ``(disagreement of step j, error after step
j)`` of every valid step of every start:

- **Spearman** of disagreement and per-start normalized error;
- **AUROC** of disagreement for the event "normalized error > τ" (NaN — with ``auroc_note`` saying why — when every
  step or no step had error > τ);
- **justified share**: of the steps where disagreement exceeded the checkpoint's calibrated threshold (the Dream
  env's cut-off rule), the share whose true error was > τ; ``first_cutoff_justified`` counts only the first such step
  of each start (where the Dream env actually cuts, following the ensemble mean);
- **trusted horizon**: per start, the number of steps before the true error first exceeds τ, beside the **dream
  horizon**, the number of steps before the disagreement first exceeds the threshold (the dream episode ends on the
  next step). Both are censored at the last valid step when nothing is exceeded.
- **cumulative** (a diagnostic beside the targets, not a Dream-env rule): Spearman and AUROC of the disagreement
  summed over the steps so far, which tracks an error that accumulates along the rollout.

The single-step disagreement is read on the ensemble-mean trajectory (``member=None``), where the Dream env's default
``propagation="member"`` follows one elite; both use the same calibrated measure and threshold.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from neural_gym.envs import Episode, collect, get_task, load_episodes
from neural_gym.world_models import CheckpointError, WorldModel, load_checkpoint

from .. import metrics
from ..json_values import json_safe
from .baselines import build_baselines
from .groups import dim_groups
from .rollout import (
    ActionSource,
    GroundTruthRollout,
    ModelRollout,
    StartState,
    derangement,
    longest_window,
    roll_ground_truth,
    roll_model,
    select_starts,
)

#: Horizons reported when none are asked for.
DEFAULT_HORIZONS: tuple[int, ...] = (1, 2, 5, 10, 25, 50, 100, 200)


@dataclass
class SettingData:
    """The raw trajectories of one setting (kept for plots and videos; not in the JSON).

    Attributes:
        gt: the ground-truth rollout.
        predictions: per predictor name, its rollout.
        errors: per predictor name, ``[n, H]`` per-start normalized RMSE after each step (``inf`` if non-finite).
    """

    gt: GroundTruthRollout
    predictions: dict[str, ModelRollout]
    errors: dict[str, np.ndarray]


@dataclass
class DriftResult:
    """Everything :func:`measure_drift` measured.

    Attributes:
        task: task name.
        model_name: name of the checkpoint's curves (its family, e.g. ``"ensemble"``).
        meta: JSON-ready facts of the run (checkpoint, datasets, starts, horizons, thresholds, predictors, notes ...).
        settings: one JSON-ready dict per ``(reground_every, action_noise)`` setting (curves and uncertainty).
        data: per ``(reground_every, action_noise)``, the raw trajectories (:class:`SettingData`).
        obs_std: ``[O]`` the σ used to normalize errors.
        starts: the start states.
        episodes: the held-out episodes (for the video's recorded frames).
        controllability: JSON-ready: the checkpoint's normalized RMSE by horizon when each start is driven by another
            start's actions (``nrmse_shuffled``), and the mean per-start difference shuffled − true (``difference``,
            with its interval): about 0 for a model that ignores its actions.
    """

    task: str
    model_name: str
    meta: dict[str, Any]
    settings: list[dict[str, Any]]
    data: dict[tuple[int | None, float], SettingData] = field(repr=False)
    obs_std: np.ndarray = field(repr=False)
    starts: list[StartState] = field(repr=False)
    episodes: list[Episode] = field(default_factory=list, repr=False)
    controllability: dict[str, Any] | None = None

    @property
    def horizons(self) -> list[int]:
        """The horizons reported."""
        return list(self.meta["horizons"])

    @property
    def predictors(self) -> list[str]:
        """The checkpoint's name first, then the baselines."""
        return list(self.meta["predictors"])

    @property
    def base(self) -> dict[str, Any]:
        """The free-running setting without extra noise (the main table)."""
        return self.settings[0]

    def setting(self, reground_every: int | None = None, action_noise: float = 0.0) -> dict[str, Any]:
        """The setting with these values.

        Raises:
            KeyError: no such setting was run.
        """
        for s in self.settings:
            if s["reground_every"] == reground_every and abs(s["action_noise"] - action_noise) < 1e-12:
                return s
        have = [(s["reground_every"], s["action_noise"]) for s in self.settings]
        raise KeyError(f"no setting reground_every={reground_every}, action_noise={action_noise}; have {have}")

    def to_json(self) -> dict[str, Any]:
        """Every figure as a JSON-ready dict (NaN and infinities become ``null``)."""
        return json_safe(
            {
                "task": self.task,
                "model": self.model_name,
                **self.meta,
                "settings": self.settings,
                "controllability": self.controllability,
            }
        )

    def summary_table(self, horizons: Sequence[int] = (1, 10, 50)) -> str:
        """A Markdown table of normalized RMSE (base setting) at ``horizons`` per predictor, with the uncertainty figures."""
        hs = [h for h in horizons if h in self.horizons]
        head = "| predictor | " + " | ".join(f"nRMSE h={h}" for h in hs) + " |"
        lines = [head, "|---|" + "---|" * len(hs)]
        for name in self.predictors:
            curve = self.base["predictors"][name]["nrmse"]
            cells = []
            for h in hs:
                k = self.horizons.index(h)
                cells.append(f"{_fmt(curve['value'][k])} [{_fmt(curve['low'][k])}, {_fmt(curve['high'][k])}]")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------- public
def measure_drift(
    task: str,
    checkpoint: str | Path | WorldModel | None = None,
    *,
    dataset_id: str | None = None,
    n_starts: int = 32,
    horizons: Sequence[int] | None = None,
    actions: ActionSource = "recorded",
    reground_every: int | Sequence[int] | None = None,
    action_noise: float | Sequence[float] = (0.0,),
    tau: float = 1.0,
    baselines: Sequence[str] | None = None,
    baseline_models: Mapping[str, WorldModel] | None = None,
    start_window: int | None = None,
    heldout_steps: int = 10_000,
    heldout_policy: Any = "random",
    heldout_action_noise: float = 0.0,
    heldout_seed: int = 1000,
    allow_training_data: bool = False,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
) -> DriftResult:
    """Measure how a world model drifts from MuJoCo, from held-out real start states, beside baselines.

    For each start state (observation ``t`` of a held-out episode) the recorded physics state is restored in ground
    truth, each predictor is started from the recorded observations it asks for (``context_length``), and the same
    actions are rolled in both. See the module docstring for every figure.

    Args:
        task: ground-truth task (``"Hopper"``, ``"Hopper-v5"``, ...).
        checkpoint: checkpoint path, zoo name or a loaded :class:`WorldModel`; default the shipped one.
        dataset_id: held-out Minari dataset (with physics states, as ``neural_gym.envs.collect`` writes). ``None`` → collect a
            fresh one (``heldout_steps`` steps of ``heldout_policy`` with seed ``heldout_seed``) in a temporary
            Minari folder, deleted afterwards.
        n_starts: start states, drawn uniformly (seeded) from the qualifying positions (see ``start_window``).
        horizons: steps at which to report; default :data:`DEFAULT_HORIZONS` (those no recorded window can reach are
            dropped, with a note). Explicit horizons that the data cannot reach raise ``ValueError``.
        actions: ``"recorded"`` (the held-out episode's own actions), or a policy: ``"random"`` (seeded per start),
            ``"expert"``, a callable ``obs -> action`` or an SB3 model; a policy acts on the real observations and may
            run past the episode's time limit (but not past a real termination).
        reground_every: also run settings that re-encode every predictor from the real state every ``k`` steps
            (an int or several); the free-running setting is always run.
        action_noise: Gaussian action-noise scales (units of half the action range) added to the actions of both
            worlds; each gets its own setting. The first is the main table's.
        tau: normalized error above which a prediction counts as wrong.
        baselines: names from ``("copy_last", "linear", "single_mlp")`` or keys of ``baseline_models``. ``None``
            (default) means all three, as ``neural-gym drift`` without ``--baselines`` does: the single MLP trains on
            the checkpoint's own dataset, so when that dataset is not under ``MINARI_DATASETS_PATH`` (a fresh clone)
            it is left out, with a note in ``meta["notes"]``, its name in ``meta["skipped_baselines"]`` and a
            ``UserWarning``. Named explicitly, an unavailable single MLP is an error.
        baseline_models: predictors to compare by name (e.g. a single MLP trained earlier, another checkpoint).
        start_window: with recorded actions, starts need this many recorded actions after them; default the longest
            horizon that at least ``n_starts`` positions reach.
        heldout_steps: steps collected when ``dataset_id`` is ``None``.
        heldout_policy: policy of that collection.
        heldout_action_noise: action noise of that collection (as ``neural_gym.envs.collect``).
        heldout_seed: seed of that collection (never the training data's seed 0).
        allow_training_data: allow ``dataset_id`` to be the checkpoint's own training dataset.
        n_boot: bootstrap resamples for the intervals.
        ci_level: coverage of the intervals.
        seed: seed of the start sampling, action noise, random policies and bootstrap.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``.
        progress: progress bars.

    Returns:
        A :class:`DriftResult` (``.to_json()``; :func:`neural_gym.drift.write_report` writes plots, video, Markdown).

    Raises:
        ValueError: a checkpoint for another task, a dataset of another task or without physics states, the
            training dataset as held-out data, impossible horizons, a policy returning actions of the wrong shape,
            bad arguments.
        FileNotFoundError: a dataset that is not under ``MINARI_DATASETS_PATH`` (the held-out one, or the training
            dataset of a single MLP named in ``baselines``).
    """
    t_start = time.perf_counter()
    spec = get_task(task)
    model, checkpoint_label = _load_model(spec.name, checkpoint, device)
    model_name = model.spec.family
    horizons_explicit = horizons is not None
    hs = _check_args(horizons, n_starts, tau, n_boot, ci_level)
    regrounds: list[int | None] = [None] + _as_list_int(reground_every, "reground_every")
    noises = _as_list_float(action_noise, "action_noise")
    recorded = isinstance(actions, str) and actions == "recorded"
    if isinstance(actions, str) and actions not in ("recorded", "random", "expert"):
        raise ValueError(f"actions must be 'recorded', 'random', 'expert', a callable or an SB3 model, got {actions!r}")
    train_dataset = (model.spec.provenance or {}).get("dataset_id")
    if dataset_id is not None and dataset_id == train_dataset and not allow_training_data:
        raise ValueError(
            f"dataset {dataset_id!r} is the checkpoint's training data; drift needs held-out data. Collect new data "
            f"with another seed (e.g. `neural-gym collect --task {spec.name} --seed 1000 --dataset-id "
            f"neural_gym/{spec.name}/heldout-v0`), leave dataset_id=None to collect it, or pass allow_training_data=True"
        )
    notes: list[str] = []
    baselines, skipped_baselines = _resolve_baselines(model, baselines, baseline_models, notes)
    if model_name in baselines:
        raise ValueError(f"baseline name {model_name!r} clashes with the checkpoint's family name")

    heldout: dict[str, Any]
    if dataset_id is None:
        episodes = _collect_heldout(
            spec.name, heldout_steps, heldout_policy, heldout_action_noise, heldout_seed, progress
        )
        heldout = {
            "dataset_id": None,
            "collected": True,
            "steps": heldout_steps,
            "policy": _label(heldout_policy),
            "action_noise": heldout_action_noise,
            "seed": heldout_seed,
        }
    else:
        episodes = load_episodes(dataset_id)
        heldout = {"dataset_id": dataset_id, "collected": False}
    D = int(np.prod(model.spec.obs_shape))
    if not episodes:
        raise ValueError("the held-out dataset has no episodes")
    if episodes[0].observations.shape[1] != D or episodes[0].actions.shape[1] != model.spec.action_dim:
        raise ValueError(
            f"held-out data {dataset_id or '(collected)'} has observations of size {episodes[0].observations.shape[1]} "
            f"and actions of size {episodes[0].actions.shape[1]}, but the {spec.name} model reads {D} and "
            f"{model.spec.action_dim}: was it collected on another task?"
        )

    predictors, predictor_info = build_baselines(
        model, list(baselines), provided=baseline_models, device=model.device, progress=progress
    )
    predictors = {model_name: model, **predictors}
    predictor_info = {
        model_name: {
            "family": model.spec.family,
            "checkpoint": checkpoint_label,
            "context_length": model.context_length,
        },
        **predictor_info,
    }
    context = max(int(p.context_length) for p in predictors.values())

    # Horizons the data can reach.
    if recorded:
        longest = longest_window(episodes, context)
        too_long = [h for h in hs if h > longest]
        if too_long and horizons_explicit:
            raise ValueError(
                f"horizon(s) {too_long} are longer than any recorded window: the longest held-out episode allows "
                f"{longest} steps after a start with {context} step(s) of context. Use shorter horizons, longer "
                "episodes, or a policy (actions='random') that can run past the recording"
            )
    else:
        longest, too_long = max(hs), []
    skipped: dict[str, str] = {str(h): f"no recorded window is {h} steps long (longest: {longest})" for h in too_long}
    hs = [h for h in hs if h not in too_long]
    if not hs:
        raise ValueError(f"no requested horizon is reachable: the longest recorded window is {longest} steps")

    seeds = np.random.SeedSequence(seed).spawn(5)
    starts, window, start_notes = select_starts(
        episodes,
        n_starts,
        context=context,
        horizons=hs,
        recorded=recorded,
        rng=np.random.default_rng(seeds[0]),
        start_window=start_window,
    )
    notes += start_notes
    if recorded:
        reach = max(s.window for s in starts)
        for h in [h for h in hs if h > reach]:
            skipped[str(h)] = f"none of the {len(starts)} sampled start states has {h} recorded steps after it"
        hs = [h for h in hs if h <= reach]
    H = max(hs)
    A = model.spec.action_dim
    noise = np.random.default_rng(seeds[1]).standard_normal((len(starts), H, A))
    policy_seeds = np.random.default_rng(seeds[2]).integers(0, 2**31 - 1, size=len(starts))
    obs_std = _obs_std(model, episodes, notes)

    data: dict[tuple[int | None, float], SettingData] = {}
    combos = [(k, s) for s in noises for k in regrounds]
    bar = tqdm(total=len(combos), desc=f"drift {spec.name}", unit="setting", disable=not progress)
    for scale in noises:
        gt = roll_ground_truth(
            spec,
            episodes,
            starts,
            H,
            context=context,
            actions=actions,
            noise_scale=scale,
            noise=noise,
            policy_seeds=policy_seeds,
            progress=False,
        )
        for k in regrounds:
            preds = {name: roll_model(p, gt, reground_every=k) for name, p in predictors.items()}
            errors = {name: _per_start_error(r, gt, obs_std) for name, r in preds.items()}
            data[(k, scale)] = SettingData(gt=gt, predictions=preds, errors=errors)
            bar.update(1)
    bar.close()

    base = data[(None, noises[0])]
    replay_err = base.gt.replay_max_abs_error
    alive = base.gt.valid.sum(axis=0)  # (H,) starts alive after each step
    for h in [h for h in hs if alive[h - 1] == 0]:
        skipped[str(h)] = f"no start's real episode lasted {h} steps (ground truth terminated earlier)"
    hs = [h for h in hs if alive[h - 1] > 0]
    if replay_err is not None and replay_err > 0:
        notes.append(
            f"ground-truth replay of the recorded actions differs from the recording by up to {replay_err:.3g}; "
            "restore-and-replay should be exact on the MuJoCo build that recorded the data"
        )

    groups = dim_groups(spec.name, D)
    try:
        threshold = float(model.spec.calibration.threshold)
    except KeyError:
        threshold = float("nan")
        notes.append("the checkpoint has no calibrated threshold: cut-off figures are undefined")
    counts = metrics.bootstrap_counts(len(starts), n_boot, np.random.default_rng(seeds[3]))
    boot_seed = int(seeds[3].generate_state(1)[0])
    settings = []
    for (k, scale), sd in data.items():
        curves = {
            name: _score_curves(sd.predictions[name], sd.gt, obs_std, hs, groups, counts, ci_level)
            for name in predictors
        }
        unc = _score_uncertainty(
            sd.predictions[model_name], sd.errors[model_name], sd.gt.valid, threshold, tau, n_boot, ci_level, boot_seed
        )
        settings.append(
            {
                "reground_every": k,
                "action_noise": scale,
                "starts_alive": [int(sd.gt.valid[:, h - 1].sum()) for h in hs],
                "predictors": curves,
                "uncertainty": unc,
            }
        )
    controllability = _controllability(
        model, base, model_name, obs_std, hs, groups, counts, ci_level, np.random.default_rng(seeds[4])
    )
    meta = {
        "env_id": spec.env_id,
        "checkpoint": checkpoint_label,
        "family": model.spec.family,
        "train_dataset_id": train_dataset,
        "heldout": heldout,
        "actions": _label(actions),
        "n_starts": len(starts),
        "starts": [[s.episode_id, s.t] for s in starts],
        "start_window": window if recorded else None,
        "context": context,
        "horizons": hs,
        "skipped_horizons": skipped,
        "tau": tau,
        "uncertainty_measure": model.spec.calibration.measure,
        "uncertainty_threshold": threshold,
        "obs_std": obs_std.tolist(),
        "dim_groups": groups,
        "predictors": predictor_info,
        "skipped_baselines": skipped_baselines,
        "reground_every": regrounds[1:],
        "action_noise": noises,
        "replay_max_abs_error": replay_err,
        "notes": notes,
        "seed": seed,
        "n_boot": n_boot,
        "ci_level": ci_level,
        "wall_time_s": time.perf_counter() - t_start,
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__},
    }
    return DriftResult(
        task=spec.name,
        model_name=model_name,
        meta=meta,
        settings=settings,
        data=data,
        obs_std=obs_std,
        starts=starts,
        episodes=list(episodes),
        controllability=controllability,
    )


# ---------------------------------------------------------------------------------------------------------- scoring
def _per_start_error(pred: ModelRollout, gt: GroundTruthRollout, std: np.ndarray) -> np.ndarray:
    """``[n, H]`` normalized RMSE of each start after each step (``inf`` where the prediction is not finite)."""
    z2 = ((pred.obs - gt.obs[:, 1:]) / std) ** 2
    err = np.sqrt(np.mean(z2, axis=-1))
    return np.where(np.isfinite(err), err, np.inf)


def _controllability(
    model: WorldModel,
    sd: SettingData,
    model_name: str,
    obs_std: np.ndarray,
    hs: list[int],
    groups: dict[str, list[int]],
    counts: np.ndarray,
    level: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """The checkpoint driven by shuffled actions (each start gets another start's sequence; a seeded derangement)."""
    n = sd.gt.actions.shape[0]
    perm = derangement(n, rng)
    if perm is None:
        return {"note": "controllability needs at least 2 start states"}
    shuffled = roll_model(model, dataclasses.replace(sd.gt, actions=sd.gt.actions[perm]))
    err_true = sd.errors[model_name]
    err_shuffled = _per_start_error(shuffled, sd.gt, obs_std)
    idx = [h - 1 for h in hs]
    valid = sd.gt.valid[:, idx] & np.isfinite(err_true[:, idx]) & np.isfinite(err_shuffled[:, idx])
    diff = np.where(valid, err_shuffled[:, idx] - err_true[:, idx], 0.0)
    return {
        "permutation": perm.tolist(),
        "nrmse_shuffled": _score_curves(shuffled, sd.gt, obs_std, hs, groups, counts, level)["nrmse"],
        "difference": _interval(*metrics.ratio_of_sums(diff, valid.astype(np.float64), counts, level)),
        "note": "actions beyond the end of another start's recorded episode are zeros",
    }


def _interval(point: Any, lo: Any, hi: Any) -> dict[str, Any]:
    return {"value": np.asarray(point).tolist(), "low": np.asarray(lo).tolist(), "high": np.asarray(hi).tolist()}


def _score_curves(
    pred: ModelRollout,
    gt: GroundTruthRollout,
    std: np.ndarray,
    hs: list[int],
    groups: dict[str, list[int]],
    counts: np.ndarray,
    level: float,
) -> dict[str, Any]:
    """Error curves of one predictor at horizons ``hs`` (see the module docstring)."""
    cols = np.asarray(hs) - 1
    alive = gt.valid[:, cols].astype(np.float64)  # (n, K)
    true = gt.obs[:, 1:]
    with np.errstate(invalid="ignore", over="ignore"):
        z2 = np.nan_to_num(((pred.obs - true) / std) ** 2, nan=np.inf)  # (n, H, O)
        z2h = np.where(alive[..., None] > 0, z2[:, cols], 0.0)  # (n, K, O); dead starts contribute 0 / 0
        absdiff = np.nan_to_num(np.abs(pred.obs - true), nan=np.inf).sum(-1)  # (n, H)
    abstrue = np.abs(true).sum(-1)
    out: dict[str, Any] = {}
    out["nrmse"] = _interval(*metrics.ratio_of_sums(z2h.mean(-1), alive, counts, level, np.sqrt))
    out["nrmse_per_dim"] = np.sqrt(z2h.sum(0) / np.maximum(alive.sum(0), 1)[:, None]).tolist()  # (K, O)
    out["nrmse_groups"] = {
        g: _interval(*metrics.ratio_of_sums(z2h[..., idx].mean(-1), alive, counts, level, np.sqrt))
        for g, idx in groups.items()
    }
    valid = gt.valid.astype(np.float64)
    num = np.cumsum(absdiff * valid, axis=1)[:, cols] * alive
    den = np.cumsum(abstrue * valid, axis=1)[:, cols] * alive
    out["relative_l1"] = _interval(*metrics.ratio_of_sums(num, den, counts, level))
    if np.isfinite(pred.reward).any():
        r_err = np.nan_to_num(np.abs(pred.reward - gt.rewards), nan=np.inf)[:, cols] * alive
        out["reward_mae"] = _interval(*metrics.ratio_of_sums(np.where(alive > 0, r_err, 0.0), alive, counts, level))
    else:
        out["reward_mae"] = None
    if np.isfinite(pred.terminated).any():
        agree = ((pred.terminated > 0.5) == gt.terminated)[:, cols] * alive
        out["termination_agreement"] = _interval(*metrics.ratio_of_sums(agree, alive, counts, level))
    else:
        out["termination_agreement"] = None
    out["model_errors"] = int((pred.model_error & gt.valid).sum())
    return out


def _score_uncertainty(
    pred: ModelRollout,
    err: np.ndarray,
    valid: np.ndarray,
    threshold: float,
    tau: float,
    n_boot: int,
    level: float,
    seed: int,
) -> dict[str, Any] | None:
    """Uncertainty-vs-truth figures of the checkpoint (``None`` when it reports no finite disagreement)."""
    dis = pred.disagreement
    pairs = valid & np.isfinite(dis)
    if not pairs.any():
        return None
    n = len(err)
    big = np.finfo(np.float64).max
    e = np.where(np.isfinite(err), err, big)

    def pooled(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = pairs[idx]
        return dis[idx][m], e[idx][m]

    def spearman_of(idx: np.ndarray) -> float:
        d, x = pooled(idx)
        return metrics.spearman(d, x)

    def auroc_of(idx: np.ndarray) -> float:
        d, x = pooled(idx)
        return metrics.auroc(d, x > tau)

    d_all, e_all = pooled(np.arange(n))
    positives = int((e_all > tau).sum())
    out: dict[str, Any] = {"pairs": int(d_all.size), "error_above_tau": positives}
    out["spearman"] = dict(
        zip(
            ("value", "low", "high"),
            metrics.bootstrap_ci(spearman_of, n, n_boot=n_boot, level=level, seed=seed),
            strict=True,
        )
    )
    out["auroc"] = dict(
        zip(
            ("value", "low", "high"),
            metrics.bootstrap_ci(auroc_of, n, n_boot=n_boot, level=level, seed=seed),
            strict=True,
        )
    )
    if positives == 0:
        out["auroc_note"] = f"undefined: no step had normalized error > tau={tau} (one class only)"
    elif positives == d_all.size:
        out["auroc_note"] = f"undefined: every step had normalized error > tau={tau} (one class only)"
    else:
        out["auroc_note"] = None

    cumulative = np.cumsum(np.where(pairs, dis, 0.0), axis=1)[pairs]  # same order as d_all
    out["cumulative"] = {
        "spearman": metrics.spearman(cumulative, e_all),
        "auroc": metrics.auroc(cumulative, e_all > tau),
    }

    counts = metrics.bootstrap_counts(n, n_boot, np.random.default_rng(seed))
    if np.isfinite(threshold):
        cut = pairs & (dis > threshold)
        wrong = e > tau
        share = metrics.ratio_of_sums((cut & wrong).sum(1), cut.sum(1), counts, level)
        out["justified_share"] = _interval(*share) | {"cutoffs": int(cut.sum())}
        out["justified_note"] = None if cut.any() else "undefined: the disagreement never exceeded the threshold"
        has_cut = cut.any(1)
        first = cut.argmax(1)
        first_wrong = has_cut & wrong[np.arange(n), first]
        out["first_cutoff_justified"] = _interval(*metrics.ratio_of_sums(first_wrong, has_cut, counts, level)) | {
            "starts_cut": int(has_cut.sum())
        }
        dream, dream_cens = metrics.first_exceedance(np.where(pairs, dis, -np.inf), threshold, valid)
    else:
        out["justified_share"] = out["first_cutoff_justified"] = None
        out["justified_note"] = "undefined: no calibrated threshold"
        dream, dream_cens = np.full(n, -1), np.ones(n, dtype=bool)
    trusted, trusted_cens = metrics.first_exceedance(e, tau, valid)
    out["trusted_horizon"] = _horizon_summary(trusted, trusted_cens, counts, level)
    out["dream_horizon"] = _horizon_summary(dream, dream_cens, counts, level)
    exceeded = ~trusted_cens
    out["cut_no_later_than_error"] = (
        float(np.mean(dream[exceeded] <= trusted[exceeded])) if exceeded.any() and np.isfinite(threshold) else None
    )
    return out


def _horizon_summary(steps: np.ndarray, censored: np.ndarray, counts: np.ndarray, level: float) -> dict[str, Any]:
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


# ---------------------------------------------------------------------------------------------------------- helpers
#: What ``baselines=None`` asks for (the single MLP only where its training data is on this machine).
DEFAULT_BASELINES: tuple[str, ...] = ("copy_last", "linear", "single_mlp")


def single_mlp_unavailable(model: WorldModel) -> str | None:
    """Why the single-MLP baseline cannot be trained for ``model`` here, or ``None`` when it can.

    It trains on the checkpoint's own dataset (``spec.provenance["dataset_id"]``), which must be under
    ``MINARI_DATASETS_PATH``; the note's wording is the one ``neural-gym drift`` prints.

    Args:
        model: the checkpoint under test.

    Returns:
        The note to record, or ``None``.
    """
    from minari.storage.datasets_root_dir import get_dataset_path

    dataset_id = (model.spec.provenance or {}).get("dataset_id")
    if dataset_id and Path(get_dataset_path(dataset_id)).exists():
        return None
    return (
        f"the single-MLP baseline trains on the checkpoint's dataset {dataset_id!r}, which is not under "
        "MINARI_DATASETS_PATH; running without it (regenerate it with the collect command in "
        "world_models/zoo/README.md, or `make zoo`)"
    )


def _resolve_baselines(
    model: WorldModel,
    baselines: Sequence[str] | None,
    provided: Mapping[str, WorldModel] | None,
    notes: list[str],
) -> tuple[list[str], list[str]]:
    """The baselines to build and those left out: ``None`` drops an unavailable single MLP with a note and a warning.

    Explicit names are returned unchanged (an unavailable single MLP then fails in ``build_baselines`` with a message
    saying which dataset is missing); so is a single MLP passed in ``provided``.
    """
    if baselines is not None:
        return list(baselines), []
    names = list(DEFAULT_BASELINES)
    if "single_mlp" in (provided or {}):
        return names, []
    note = single_mlp_unavailable(model)
    if note is None:
        return names, []
    notes.append(note)
    warnings.warn(note, UserWarning, stacklevel=3)
    return [n for n in names if n != "single_mlp"], ["single_mlp"]


def _load_model(task: str, checkpoint: str | Path | WorldModel | None, device: str) -> tuple[WorldModel, str]:
    if isinstance(checkpoint, WorldModel):
        if checkpoint.spec.task.lower() != task.lower():
            raise CheckpointError(
                f"the model is for task {checkpoint.spec.task} (family {checkpoint.spec.family}), expected {task}"
            )
        return checkpoint.eval(), f"<{type(checkpoint).__name__} for {checkpoint.spec.task}>"
    name = checkpoint if checkpoint is not None else f"zoo:{task}"
    return load_checkpoint(name, task=task, device=device), str(name)


def _check_args(horizons: Sequence[int] | None, n_starts: int, tau: float, n_boot: int, level: float) -> list[int]:
    hs = list(DEFAULT_HORIZONS if horizons is None else horizons)
    if not hs or any(int(h) != h or h < 1 for h in hs):
        raise ValueError(f"horizons must be positive integers, got {list(hs)}")
    if n_starts < 1:
        raise ValueError(f"n_starts must be >= 1, got {n_starts}")
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be a positive number, got {tau}")
    if n_boot < 1 or not 0 < level < 1:
        raise ValueError(f"need n_boot >= 1 and 0 < ci_level < 1, got {n_boot} and {level}")
    return sorted({int(h) for h in hs})


def _as_list_int(x: int | Sequence[int] | None, name: str) -> list[int | None]:
    values = [] if x is None else [x] if isinstance(x, (int, np.integer)) else list(x)
    for v in values:
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be positive integers, got {values}")
    return sorted({int(v) for v in values})  # type: ignore[return-value]


def _as_list_float(x: float | Sequence[float], name: str) -> list[float]:
    values = [float(x)] if isinstance(x, (int, float, np.floating)) else [float(v) for v in x]
    if not values or any(not np.isfinite(v) or v < 0 for v in values):
        raise ValueError(f"{name} must be finite scales >= 0, got {values}")
    return list(dict.fromkeys(values))


def _label(policy: Any) -> str:
    if isinstance(policy, str):
        return policy
    if hasattr(policy, "predict"):
        return f"SB3 {type(policy).__name__}"
    return getattr(policy, "__name__", type(policy).__name__)


def _obs_std(model: WorldModel, episodes: Sequence[Episode], notes: list[str]) -> np.ndarray:
    std = model.obs_std
    if std is not None:
        out = std.detach().double().cpu().numpy().reshape(-1)
        if np.isfinite(out).all() and (out > 0).all():
            return out
    notes.append(
        f"{model.spec.family} models keep no training-data std; errors are normalized by the held-out data's std"
    )
    s = np.concatenate([ep.observations for ep in episodes]).std(axis=0)
    return np.where(s < 1e-6, 1.0, s)


@contextlib.contextmanager
def _minari_root(path: Path) -> Iterator[None]:
    """Point ``MINARI_DATASETS_PATH`` at ``path`` for the duration (Minari reads the folder only from there)."""
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def _collect_heldout(task: str, steps: int, policy: Any, noise: float, seed: int, progress: bool) -> list[Episode]:
    """Fresh held-out episodes collected in a temporary Minari folder (deleted afterwards)."""
    if seed == 0:
        raise ValueError("heldout_seed 0 is the seed the shipped training data used; choose another (default 1000)")
    tmp = Path(tempfile.mkdtemp(prefix="neural_gym_drift_"))
    try:
        with _minari_root(tmp):
            dataset_id = collect(
                task,
                steps,
                policy=policy,
                seed=seed,
                action_noise=noise,
                dataset_id=f"neural_gym/{task}/heldout-v0",
                progress=progress,
            )
            return load_episodes(dataset_id)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _fmt(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.3g}"
