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

Every predictor is rolled by the one open-loop rollout (:func:`neural_gym.drift.roll_open_loop`, with
:class:`~neural_gym.drift.StateObservations` plugged in), and the uncertainty figures come from the scorer every
observation kind shares (:func:`neural_gym.drift.score_uncertainty`).

The single-step disagreement is read on the ensemble-mean trajectory (``member=None``), where the Dream env's default
``propagation="member"`` follows one elite; both use the same calibrated measure and threshold.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from neural_gym.envs import Episode, get_task, load_episodes
from neural_gym.world_models import WorldModel

from .. import metrics
from ..json_values import json_safe
from .baselines import build_baselines
from .groups import dim_groups
from .inputs import (
    check_common,
    collect_heldout,
    label,
    load_model,
    reachable_horizons,
    refuse_training_data,
    versions,
)
from .inputs import fmt as _fmt
from .observation_kinds import StateObservations, state_std
from .open_loop import roll_open_loop
from .rollout import (
    ActionSource,
    GroundTruthRollout,
    ModelRollout,
    StartState,
    derangement,
    longest_window,
    roll_ground_truth,
    select_starts,
)
from .scoring import calibrated_threshold, interval, score_uncertainty

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
        recoverability: JSON-ready action recoverability of every predictor (with ``inverse_model=``), else ``None``.
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
    recoverability: dict[str, Any] | None = None

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

    def regrounding(self, horizon: int | None = None) -> dict[str, Any] | None:
        """Error against the re-grounding interval: each predictor's normalized RMSE at one ``horizon`` (default the
        longest reported) for every interval ``k`` run (then free-running, ``k = None``), without action noise.

        Re-grounding every ``k`` steps is DreamZero's closed loop: after each chunk of ``k`` actions the model's
        context is replaced with the real observations, so the error at a long horizon is that of a rollout at most
        ``k`` steps old; it falls towards the one-step error as ``k`` shrinks.

        Returns:
            ``{"horizon", "intervals": [k, ..., None], "predictors": {name: {"value", "low", "high"}}}`` (lists in
            the order of ``intervals``), or ``None`` when no re-grounding setting was run.

        Raises:
            ValueError: a ``horizon`` that is not reported.
        """
        ks = list(self.meta.get("reground_every") or [])
        if not ks:
            return None
        h = self.horizons[-1] if horizon is None else int(horizon)
        if h not in self.horizons:
            raise ValueError(f"horizon {h} is not reported; the horizons are {self.horizons}")
        i = self.horizons.index(h)
        noise = self.meta["action_noise"][0]
        intervals: list[int | None] = sorted(ks) + [None]
        table: dict[str, Any] = {}
        for name in self.predictors:
            rows = [self.setting(k, noise)["predictors"][name]["nrmse"] for k in intervals]
            table[name] = {q: [r[q][i] for r in rows] for q in ("value", "low", "high")}
        return {"horizon": h, "intervals": intervals, "predictors": table}

    def to_json(self) -> dict[str, Any]:
        """Every figure as a JSON-ready dict (NaN and infinities become ``null``)."""
        return json_safe(
            {
                "task": self.task,
                "model": self.model_name,
                **self.meta,
                "settings": self.settings,
                "regrounding": self.regrounding(),
                "controllability": self.controllability,
                "recoverability": self.recoverability,
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
    inverse_model: Any = None,
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
        inverse_model: an inverse-dynamics model trained on real transitions of this task (an
            :class:`~neural_gym.drift.InverseDynamicsModel` or its checkpoint path): adds *action recoverability*
            (``DriftResult.recoverability``: the model's error reading the actions back from every predictor's
            free-running rollout, beside the same on the real steps;
            :func:`~neural_gym.drift.recoverability.recoverability_of_predictors`). ``None``: left out.
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
    model, checkpoint_label = load_model(spec.name, checkpoint, device)
    model_name = model.spec.family
    if inverse_model is not None:  # refused before any rollout: another task, observation or action size
        from .recoverability import checked_inverse_model

        inverse_model = checked_inverse_model(inverse_model, spec.name, model)
    horizons_explicit = horizons is not None
    hs = _check_args(horizons, n_starts, tau, n_boot, ci_level)
    regrounds: list[int | None] = [None] + _as_list_int(reground_every, "reground_every")
    noises = _as_list_float(action_noise, "action_noise")
    recorded = isinstance(actions, str) and actions == "recorded"
    if isinstance(actions, str) and actions not in ("recorded", "random", "expert"):
        raise ValueError(f"actions must be 'recorded', 'random', 'expert', a callable or an SB3 model, got {actions!r}")
    train_dataset = refuse_training_data(model, dataset_id, allow_training_data, spec.name)
    notes: list[str] = []
    baselines, skipped_baselines = _resolve_baselines(model, baselines, baseline_models, notes)
    if model_name in baselines:
        raise ValueError(f"baseline name {model_name!r} clashes with the checkpoint's family name")

    heldout: dict[str, Any]
    if dataset_id is None:
        episodes = collect_heldout(
            spec.name,
            heldout_steps,
            policy=heldout_policy,
            seed=heldout_seed,
            dataset_name="heldout-v0",
            progress=progress,
            action_noise=heldout_action_noise,
        )
        heldout = {
            "dataset_id": None,
            "collected": True,
            "steps": heldout_steps,
            "policy": label(heldout_policy),
            "action_noise": heldout_action_noise,
            "seed": heldout_seed,
        }
    else:
        episodes = load_episodes(dataset_id)
        heldout = {"dataset_id": dataset_id, "collected": False}
    D = int(np.prod(model.spec.obs_shape))
    StateObservations().check_episodes(episodes, model.spec, dataset_id)

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
    skipped: dict[str, str] = {}
    if recorded:
        hs, skipped = reachable_horizons(
            hs,
            longest_window(episodes, context),
            explicit=horizons_explicit,
            context=context,
            noun="step",
            advice="Use shorter horizons, longer episodes, or a policy (actions='random') that can run past the recording",
        )

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
    obs_std = state_std(model, episodes, notes)
    kind = StateObservations(obs_std)

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
            rolled = {name: _roll(p, gt, kind, reground_every=k) for name, p in predictors.items()}
            preds = {name: r for name, (r, _) in rolled.items()}
            errors = {name: e for name, (_, e) in rolled.items()}
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
    threshold = calibrated_threshold(model, notes)
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
        model, base, model_name, kind, hs, groups, counts, ci_level, np.random.default_rng(seeds[4])
    )
    recoverability = None
    if inverse_model is not None:
        from .recoverability import recoverability_of_predictors

        recoverability = recoverability_of_predictors(
            inverse_model,
            spec.name,
            model,
            base.gt.obs,
            {name: base.predictions[name].obs for name in predictors},
            base.gt.actions,
            base.gt.valid,
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
        "actions": label(actions),
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
        "versions": versions(),
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
        recoverability=recoverability,
    )


# ---------------------------------------------------------------------------------------------------------- scoring
def _roll(
    model: WorldModel, gt: GroundTruthRollout, kind: StateObservations, *, reground_every: int | None = None
) -> tuple[ModelRollout, np.ndarray]:
    """One predictor through the open-loop rollout: its :class:`ModelRollout` and ``[n, H]`` per-start normalized
    RMSE after each step (``inf`` where the prediction is not finite)."""
    context = np.concatenate([gt.context_obs, gt.obs[:, :1]], axis=1)  # (n, C, O): the start is the last
    r = roll_open_loop(
        model,
        kind,
        context,
        gt.context_actions,
        gt.actions,
        truth=gt.obs[:, 1:],
        reground_every=reground_every,
        keep_predictions=True,
    )
    assert r.predictions is not None and r.error is not None
    pred = ModelRollout(
        obs=r.predictions,
        reward=r.reward,
        terminated=r.terminated,
        disagreement=r.disagreement,
        model_error=r.model_error,
    )
    return pred, r.error


def _controllability(
    model: WorldModel,
    sd: SettingData,
    model_name: str,
    kind: StateObservations,
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
    shuffled, err_shuffled = _roll(model, dataclasses.replace(sd.gt, actions=sd.gt.actions[perm]), kind)
    err_true = sd.errors[model_name]
    obs_std = kind.std
    assert obs_std is not None
    idx = [h - 1 for h in hs]
    valid = sd.gt.valid[:, idx] & np.isfinite(err_true[:, idx]) & np.isfinite(err_shuffled[:, idx])
    diff = np.where(valid, err_shuffled[:, idx] - err_true[:, idx], 0.0)
    return {
        "permutation": perm.tolist(),
        "nrmse_shuffled": _score_curves(shuffled, sd.gt, obs_std, hs, groups, counts, level)["nrmse"],
        "difference": interval(*metrics.ratio_of_sums(diff, valid.astype(np.float64), counts, level)),
        "note": "actions beyond the end of another start's recorded episode are zeros",
    }


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
    out["nrmse"] = interval(*metrics.ratio_of_sums(z2h.mean(-1), alive, counts, level, np.sqrt))
    out["nrmse_per_dim"] = np.sqrt(z2h.sum(0) / np.maximum(alive.sum(0), 1)[:, None]).tolist()  # (K, O)
    out["nrmse_groups"] = {
        g: interval(*metrics.ratio_of_sums(z2h[..., idx].mean(-1), alive, counts, level, np.sqrt))
        for g, idx in groups.items()
    }
    valid = gt.valid.astype(np.float64)
    num = np.cumsum(absdiff * valid, axis=1)[:, cols] * alive
    den = np.cumsum(abstrue * valid, axis=1)[:, cols] * alive
    out["relative_l1"] = interval(*metrics.ratio_of_sums(num, den, counts, level))
    if np.isfinite(pred.reward).any():
        r_err = np.nan_to_num(np.abs(pred.reward - gt.rewards), nan=np.inf)[:, cols] * alive
        out["reward_mae"] = interval(*metrics.ratio_of_sums(np.where(alive > 0, r_err, 0.0), alive, counts, level))
    else:
        out["reward_mae"] = None
    if np.isfinite(pred.terminated).any():
        agree = ((pred.terminated > 0.5) == gt.terminated)[:, cols] * alive
        out["termination_agreement"] = interval(*metrics.ratio_of_sums(agree, alive, counts, level))
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
    """Uncertainty-vs-truth figures of the checkpoint (``None`` when it reports no finite disagreement); a
    non-finite error counts as the largest one."""
    e = np.where(np.isfinite(err), err, np.finfo(np.float64).max)
    return score_uncertainty(
        pred.disagreement, e, valid, threshold, tau, n_boot, level, seed, event=f"normalized error > tau={tau}"
    )


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


def _check_args(horizons: Sequence[int] | None, n_starts: int, tau: float, n_boot: int, level: float) -> list[int]:
    hs = check_common(horizons, DEFAULT_HORIZONS, n_starts, n_boot, level)
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be a positive number, got {tau}")
    return hs


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
