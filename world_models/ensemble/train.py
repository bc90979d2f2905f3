"""Training loop of the ensemble family: fit, pick elites on held-out data, calibrate the uncertainty threshold.

The loss of each member, in normalized target units (delta obs + reward), is the Gaussian negative log-likelihood with
soft-bounded log-variance plus PETS' small bound regularizer, plus a binary cross-entropy termination head:

    nll_e  = mean_{b,d} [ (mu_ebd - y_ebd)^2 * exp(-logvar_ebd) + logvar_ebd ]
    (with beta-NLL, each term of nll_e is weighted by stop_grad(var^beta); see train_ensemble)
    loss   = sum_e nll_e + 0.01 * sum_e (sum max_logvar_e - sum min_logvar_e) + sum_e bce_e

Every member draws its own bootstrap sample of the training rows and its own shuffled batches, so one step runs all
members on ``[E, B, ·]`` at once. Members share nothing, so summing their losses trains them independently.

Example:
    >>> model, report = train_ensemble(obs, actions, next_obs, rewards, terminated, task="Hopper",   # doctest: +SKIP
    ...                                task_env_id="Hopper-v5", action_low=[-1] * 3, action_high=[1] * 3)
    >>> save_checkpoint(model, "hopper.safetensors")                                                 # doctest: +SKIP
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from neural_gym.progress import progress_bar
from neural_gym.world_models.base import Calibration
from neural_gym.world_models.device import resolve_device
from neural_gym.world_models.ensemble.model import EnsembleConfig, EnsembleModel
from neural_gym.world_models.training import calibration_from_values, summary_writer
from neural_gym.world_models.uncertainty import MEASURES

#: Reported held-out quantiles (keys of ``Calibration.heldout_quantiles[measure]``, besides ``"max"``).
#: A member counts as improving (resetting ``patience``) when its held-out MSE drops by more than this fraction.
MIN_RELATIVE_IMPROVEMENT = 0.01
#: Termination logit written into the head when the data holds no terminal transition (sigmoid ≈ 2e-9).
NEVER_TERMINATES_LOGIT = -20.0
_EVAL_CHUNK = 4096


@dataclass
class TrainReport:
    """What :func:`train_ensemble` did.

    Attributes:
        epochs: epochs run (early stopping included).
        train_loss: mean per-member training loss of each epoch.
        holdout_mse: per epoch, per member held-out MSE in normalized target units.
        elites: the members kept for inference, best first.
        best_holdout_mse: mean over the elites of their best held-out MSE (normalized units).
        wall_time_s: total wall time, calibration included.
        calibration: the uncertainty calibration written into the model's spec.
        n_train: training rows.
        n_holdout: held-out rows (used for early stopping, elites and calibration).
        train_samples_per_s: training batch rows per second, each row passing through every member (forward +
            backward + optimizer), comparable with a bare ensemble forward's samples/s.
    """

    epochs: int
    train_loss: list[float]
    holdout_mse: list[list[float]]
    elites: list[int]
    best_holdout_mse: float
    wall_time_s: float
    calibration: Calibration
    n_train: int
    n_holdout: int
    train_samples_per_s: float = 0.0


def train_ensemble(
    obs: np.ndarray,
    actions: np.ndarray,
    next_obs: np.ndarray,
    rewards: np.ndarray,
    terminated: np.ndarray,
    *,
    task: str,
    task_env_id: str,
    action_low: Sequence[float],
    action_high: Sequence[float],
    config: EnsembleConfig | None = None,
    episode_ids: np.ndarray | None = None,
    max_epochs: int = 100,
    patience: int = 5,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 5e-5,
    nll_beta: float = 0.5,
    holdout_fraction: float = 0.1,
    max_holdout: int = 5000,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = True,
    tensorboard_dir: str | None = None,
    measure: str = "ensemble_std",
    calibration_quantile: float = 0.999,
    calibration_scale: float = 1.0,
    max_start_states: int = 2048,
    provenance: dict[str, Any] | None = None,
    max_train_steps_per_epoch: int | None = None,
) -> tuple[EnsembleModel, TrainReport]:
    """Fit an :class:`EnsembleModel` to transitions, choose elites and calibrate the uncertainty threshold.

    Args:
        obs: ``[N, O]`` observations.
        actions: ``[N, A]`` actions.
        next_obs: ``[N, O]`` observations after the step.
        rewards: ``[N]`` rewards.
        terminated: ``[N]`` whether the task's terminal condition held after the step.
        task: ground-truth task name (``"HalfCheetah"``).
        task_env_id: gymnasium id of the ground truth (``"HalfCheetah-v5"``).
        action_low: ``[A]`` lower action bounds.
        action_high: ``[A]`` upper action bounds.
        config: architecture (default :class:`EnsembleConfig`).
        episode_ids: ``[N]`` episode of each row; when given, whole episodes are held out.
        max_epochs: upper bound on epochs.
        patience: stop after this many epochs in which no member's held-out MSE improved by more than 1 %.
        batch_size: rows per member per step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay (weights only; biases and log-variance bounds are not decayed).
        nll_beta: beta of the beta-NLL loss (Seitzer et al., 2022): each Gaussian NLL term is weighted by the
            detached predicted variance to the power beta. 0 is the plain NLL, whose mean gradients vanish where the
            predicted variance is high (measured here: Reacher's joint-angle deltas barely beat copy-last after 30
            epochs with beta=0); 0.5 is the paper's recommendation.
        holdout_fraction: share of rows (or episodes' rows) held out.
        max_holdout: cap on held-out rows.
        seed: seeds the weights, the split, the bootstraps, the batches and the start-state sample.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        progress: show a tqdm bar over epochs on a terminal, a plain progress line every 10 % or 30 s elsewhere.
        tensorboard_dir: write TensorBoard scalars there when set.
        measure: disagreement measure that drives cut-offs (one of :data:`neural_gym.world_models.uncertainty.MEASURES`).
        calibration_quantile: held-out quantile the thresholds are taken at.
        calibration_scale: factor applied to that quantile.
        max_start_states: cap on training observations stored for ``start="dataset"``.
        provenance: extra facts (dataset id, command line) merged into ``spec.provenance``.
        max_train_steps_per_epoch: cap on optimizer steps per epoch (default: one pass over the training rows).

    Returns:
        The trained model (eval mode, on ``device``) and a :class:`TrainReport`.

    Raises:
        ValueError: on inputs of the wrong shape, non-finite values, or arguments out of range.
    """
    t_start = time.perf_counter()
    config = EnsembleConfig() if config is None else config
    config.validate()
    _check_args(
        measure=measure,
        calibration_quantile=calibration_quantile,
        calibration_scale=calibration_scale,
        max_epochs=max_epochs,
        patience=patience,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        nll_beta=nll_beta,
        holdout_fraction=holdout_fraction,
        max_holdout=max_holdout,
        max_start_states=max_start_states,
        max_train_steps_per_epoch=max_train_steps_per_epoch,
    )
    obs, actions, next_obs, rewards, terminated, episode_ids = _validate_data(
        obs, actions, next_obs, rewards, terminated, episode_ids, action_dim=len(action_low)
    )
    rng = np.random.default_rng(seed)
    train_idx, hold_idx = _split(len(obs), episode_ids, holdout_fraction, max_holdout, rng)
    dev = resolve_device(device)

    model = EnsembleModel(
        task=task,
        task_env_id=task_env_id,
        obs_dim=obs.shape[1],
        action_dim=actions.shape[1],
        action_low=action_low,
        action_high=action_high,
        config=config,
        seed=seed,
    )
    inputs = np.concatenate([obs, actions], axis=1)  # (N, O+A)
    targets = np.concatenate([next_obs - obs, rewards[:, None]], axis=1)  # (N, O+1)
    model.set_normalization(inputs[train_idx], targets[train_idx])
    model.to(dev)

    def normalized(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = (torch.as_tensor(inputs[rows], dtype=torch.float32, device=dev) - model.input_mean) / model.input_std
        y = (torch.as_tensor(targets[rows], dtype=torch.float32, device=dev) - model.target_mean) / model.target_std
        z = torch.as_tensor(terminated[rows], dtype=torch.float32, device=dev)
        return x, y, z

    x_train, y_train, z_train = normalized(train_idx)  # (N_tr, O+A), (N_tr, T), (N_tr,)
    x_hold, y_hold, _ = normalized(hold_idx)
    n_train, n_hold = len(train_idx), len(hold_idx)
    learn_termination = bool(terminated[train_idx].any())

    E = config.ensemble_size
    batch_gen = torch.Generator().manual_seed(seed + 1)  # CPU generator: the same batches on every device
    bootstrap = torch.randint(n_train, (E, n_train), generator=batch_gen)  # (E, N_tr) each member's own resample
    steps_per_epoch = math.ceil(n_train / batch_size)
    if max_train_steps_per_epoch is not None:
        steps_per_epoch = min(steps_per_epoch, max_train_steps_per_epoch)

    decayed = [layer.weight for layer in [*model.hidden_layers, model.head]]
    decayed_ids = {id(p) for p in decayed}
    others = [p for p in model.parameters() if id(p) not in decayed_ids]
    optimizer = torch.optim.AdamW(
        [{"params": decayed, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}], lr=lr
    )

    params = dict(model.named_parameters())
    best_params = {name: p.detach().clone() for name, p in params.items()}  # every tensor is [E, ...]
    best_mse = torch.full((E,), math.inf, device=dev)
    writer = summary_writer(tensorboard_dir, "tensorboard_dir")
    report_loss: list[float] = []
    report_mse: list[list[float]] = []
    epochs_without_improvement = 0
    train_time = 0.0
    rows_trained = 0

    bar = progress_bar(range(max_epochs), desc=f"ensemble {task}", unit="epoch", enabled=progress)
    for epoch in bar:
        t_epoch = time.perf_counter()
        model.train()
        shuffle = torch.rand(E, n_train, generator=batch_gen).argsort(dim=1)
        order = bootstrap.gather(1, shuffle).to(dev)  # (E, N_tr) each member's batches for this epoch
        loss_sum = torch.zeros((), device=dev)
        for step in range(steps_per_epoch):
            idx = order[:, step * batch_size : (step + 1) * batch_size]  # (E, b)
            mean, logvar, term_logit = model.forward_normalized(x_train[idx], "all")  # (E, b, T) ×2, (E, b)
            nll = (mean - y_train[idx]).square() * torch.exp(-logvar) + logvar  # (E, b, T)
            if nll_beta > 0:  # beta-NLL: weight each term by stop_grad(var**beta) so high-variance dims still learn
                nll = nll * torch.exp(nll_beta * logvar).detach()
            nll = nll.mean(dim=(1, 2))  # (E,)
            loss = nll.sum() + 0.01 * model.logvar_bounds.regularizer()
            if learn_termination:
                bce = F.binary_cross_entropy_with_logits(term_logit, z_train[idx], reduction="none").mean(dim=1)
                loss = loss + bce.sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            rows_trained += idx.shape[1]
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)  # so the timing counts the queued kernels
        train_time += time.perf_counter() - t_epoch

        mse = _holdout_mse(model, x_hold, y_hold)  # (E,)
        with torch.no_grad():
            better = mse < best_mse
            for name, p in params.items():
                best_params[name][better] = p.detach()[better]
        significant = bool((mse < best_mse * (1.0 - MIN_RELATIVE_IMPROVEMENT)).any())
        best_mse = torch.minimum(best_mse, mse)
        epoch_loss = loss_sum.item() / (steps_per_epoch * E)
        mse_list = mse.tolist()
        report_loss.append(epoch_loss)
        report_mse.append(mse_list)
        bar.set_postfix(loss=f"{epoch_loss:.4f}", holdout_mse=f"{min(mse_list):.4f}")
        if writer is not None:
            writer.add_scalar("train/loss", epoch_loss, epoch)
            writer.add_scalar("holdout/mse_min", min(mse_list), epoch)
            writer.add_scalar("holdout/mse_mean", float(np.mean(mse_list)), epoch)
            for e, v in enumerate(mse_list):
                writer.add_scalar(f"holdout_member/mse_{e}", v, epoch)
        epochs_without_improvement = 0 if significant else epochs_without_improvement + 1
        if epochs_without_improvement >= patience:
            break
    bar.close()
    epochs_run = len(report_loss)

    # Keep every member at its own best epoch, then pick the elites.
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(best_params[name])
        if not learn_termination:  # no terminal transition seen: the task never ends in the model either
            term_col = 2 * model.target_dim
            model.head.weight[:, :, term_col] = 0.0
            model.head.bias[:, :, term_col] = NEVER_TERMINATES_LOGIT
    best = best_mse.cpu()
    elites = best.argsort()[: config.num_elites].tolist()
    model.set_elites(elites)
    best_holdout_mse = float(best[elites].mean())
    keep = rng.choice(train_idx, size=min(max_start_states, n_train), replace=False)
    model.set_start_states(obs[np.sort(keep)])
    model.eval()

    calibration = _calibrate(
        model, obs[hold_idx], actions[hold_idx], measure=measure, quantile=calibration_quantile, scale=calibration_scale
    )
    model.spec.calibration = calibration
    wall_time = time.perf_counter() - t_start
    if writer is not None:
        for m, v in calibration.thresholds.items():
            writer.add_scalar(f"calibration/threshold_{m}", v, epochs_run)
        writer.close()

    model.spec.provenance = {
        **(provenance or {}),
        "seed": seed,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "n_train": n_train,
        "n_holdout": n_hold,
        "best_holdout_mse": best_holdout_mse,
        "epochs": epochs_run,
        "wall_time_s": wall_time,
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "train_args": {
            "max_epochs": max_epochs,
            "patience": patience,
            "batch_size": batch_size,
            "lr": lr,
            "weight_decay": weight_decay,
            "nll_beta": nll_beta,
            "holdout_fraction": holdout_fraction,
            "max_holdout": max_holdout,
            "split": "episodes" if episode_ids is not None else "rows",
            "device": str(dev),
        },
    }
    report = TrainReport(
        epochs=epochs_run,
        train_loss=report_loss,
        holdout_mse=report_mse,
        elites=elites,
        best_holdout_mse=best_holdout_mse,
        wall_time_s=wall_time,
        calibration=calibration,
        n_train=n_train,
        n_holdout=n_hold,
        train_samples_per_s=rows_trained / max(train_time, 1e-9),
    )
    return model, report


# ---------------------------------------------------------------------------------------------------------- helpers
def _check_args(**kw: Any) -> None:
    if kw["measure"] not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, got {kw['measure']!r}")
    if not 0.0 < kw["calibration_quantile"] <= 1.0:
        raise ValueError(f"calibration_quantile must be in (0, 1], got {kw['calibration_quantile']}")
    if not kw["calibration_scale"] > 0:
        raise ValueError(f"calibration_scale must be > 0, got {kw['calibration_scale']}")
    if not 0.0 < kw["holdout_fraction"] < 1.0:
        raise ValueError(
            f"holdout_fraction must be in (0, 1) (held-out data picks elites and calibrates), got {kw['holdout_fraction']}"
        )
    for name in ("max_epochs", "patience", "batch_size", "max_holdout", "max_start_states"):
        if int(kw[name]) < 1:
            raise ValueError(f"{name} must be >= 1, got {kw[name]}")
    if kw["max_train_steps_per_epoch"] is not None and kw["max_train_steps_per_epoch"] < 1:
        raise ValueError(f"max_train_steps_per_epoch must be >= 1 or None, got {kw['max_train_steps_per_epoch']}")
    if not 0.0 <= kw["nll_beta"] <= 1.0:
        raise ValueError(f"nll_beta must be in [0, 1], got {kw['nll_beta']}")
    if not kw["lr"] > 0 or kw["weight_decay"] < 0:
        raise ValueError(f"lr must be > 0 and weight_decay >= 0, got lr={kw['lr']}, weight_decay={kw['weight_decay']}")


def _validate_data(
    obs: Any, actions: Any, next_obs: Any, rewards: Any, terminated: Any, episode_ids: Any, *, action_dim: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Arrays as float64 / bool with checked shapes; ``ValueError`` saying expected vs got otherwise."""
    obs = np.asarray(obs, dtype=np.float64)
    if obs.ndim != 2 or obs.shape[0] < 2 or obs.shape[1] < 1:
        raise ValueError(f"obs must have shape [N>=2, O], got {obs.shape}")
    n, o = obs.shape
    actions = np.asarray(actions, dtype=np.float64)
    if actions.shape != (n, action_dim):
        raise ValueError(f"actions must have shape [N={n}, A={action_dim}] (A = len(action_low)), got {actions.shape}")
    next_obs = np.asarray(next_obs, dtype=np.float64)
    if next_obs.shape != (n, o):
        raise ValueError(f"next_obs must have the shape of obs [{n}, {o}], got {next_obs.shape}")
    rewards = np.asarray(rewards, dtype=np.float64)
    if rewards.shape == (n, 1):
        rewards = rewards[:, 0]
    if rewards.shape != (n,):
        raise ValueError(f"rewards must have shape [N={n}], got {rewards.shape}")
    term = np.asarray(terminated)
    if term.shape == (n, 1):
        term = term[:, 0]
    if term.shape != (n,):
        raise ValueError(f"terminated must have shape [N={n}], got {term.shape}")
    if term.dtype != np.bool_:
        if not np.isin(term, (0, 1)).all():
            raise ValueError(f"terminated must be booleans or 0/1, got values {np.unique(term)[:8]}")
        term = term.astype(bool)
    for name, arr in (("obs", obs), ("actions", actions), ("next_obs", next_obs), ("rewards", rewards)):
        bad = ~np.isfinite(arr.reshape(n, -1)).all(axis=1)
        if bad.any():
            raise ValueError(
                f"{name} must be finite; {int(bad.sum())} of {n} rows are not (first: row {int(np.argmax(bad))})"
            )
    if episode_ids is not None:
        episode_ids = np.asarray(episode_ids)
        if episode_ids.shape != (n,):
            raise ValueError(f"episode_ids must have shape [N={n}], got {episode_ids.shape}")
    return obs, actions, next_obs, rewards, term, episode_ids


def _split(
    n: int, episode_ids: np.ndarray | None, fraction: float, max_holdout: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded ``(train_rows, holdout_rows)``; whole episodes are held out when ``episode_ids`` is given."""
    target = min(max_holdout, max(1, round(fraction * n)))
    if episode_ids is None:
        perm = rng.permutation(n)
        hold, train = perm[:target], perm[target:]
    else:
        episodes, counts = np.unique(episode_ids, return_counts=True)
        if len(episodes) < 2:
            raise ValueError(
                f"holding out whole episodes needs at least 2 episodes, episode_ids has {len(episodes)}; "
                "pass episode_ids=None to hold out random rows"
            )
        size = dict(zip(episodes.tolist(), counts.tolist(), strict=True))
        chosen: list[Any] = []
        total = 0
        for ep in rng.permutation(episodes).tolist()[:-1]:  # at least one episode stays for training
            if total >= target:
                break
            chosen.append(ep)
            total += size[ep]
        in_hold = np.isin(episode_ids, chosen)
        hold, train = np.flatnonzero(in_hold), np.flatnonzero(~in_hold)
        if len(hold) > max_holdout:  # evaluate on a sample; the rest of those episodes stays out of training too
            hold = np.sort(rng.choice(hold, size=max_holdout, replace=False))
    if len(train) < 1 or len(hold) < 1:
        raise ValueError(f"the split left {len(train)} training and {len(hold)} held-out rows; need at least 1 each")
    return np.sort(train), np.sort(hold)


@torch.no_grad()
def _holdout_mse(model: EnsembleModel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-member MSE ``[E]`` of the predicted means on normalized held-out data."""
    model.eval()
    total = torch.zeros(model.config.ensemble_size, device=x.device, dtype=torch.float64)
    for start in range(0, x.shape[0], _EVAL_CHUNK):
        mean, _, _ = model.forward_normalized(x[start : start + _EVAL_CHUNK], "all")  # (E, b, T)
        total += (mean - y[start : start + _EVAL_CHUNK]).square().mean(dim=2).sum(dim=1).double()
    return (total / x.shape[0]).float()


def _calibrate(
    model: EnsembleModel, obs: np.ndarray, actions: np.ndarray, *, measure: str, quantile: float, scale: float
) -> Calibration:
    """Thresholds from the disagreement of the elites on held-out real transitions."""
    values: dict[str, list[np.ndarray]] = {m: [] for m in MEASURES}
    for start in range(0, len(obs), _EVAL_CHUNK):
        o = torch.as_tensor(obs[start : start + _EVAL_CHUNK], dtype=torch.float32, device=model.device)
        a = torch.as_tensor(actions[start : start + _EVAL_CHUNK], dtype=torch.float32, device=model.device)
        pred = model.step(o, a)
        for m in MEASURES:
            values[m].append(pred.uncertainty[m].double().cpu().numpy())
    return calibration_from_values(
        {m: np.concatenate(values[m]) for m in MEASURES}, measure=measure, quantile=quantile, scale=scale
    )
