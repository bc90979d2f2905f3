"""Training loop of the ``latent`` family: fit the RSSM on episode windows, evaluate on held-out episodes, calibrate.

Per window of ``L`` observations (posterior rolled from the zero state after a zero action, as at inference), with
``m_t`` the padding mask and ``t >= 1`` for every term that needs a transition::

    decoder  = Σ_dims (dec(feat_t) − target_t)²         vectors: normalized by the training std; frames: [-0.5, 0.5]
    reward   = (reward_head(feat_t) − symlog(r_{t−1}))²
    continue = BCE(continue_head(feat_t), 1 − term_{t−1})
    kl       = dyn_scale · Σ_e max(free, KL(sg(post_t) ‖ prior_e,t)) + rep_scale · mean_e max(free, KL(post_t ‖ sg(prior_e,t)))
    loss     = mean_{m} decoder + mean_{m, t≥1} (reward + continue + kl)

Every prior head is trained against the same posterior; heads differ only by their initial weights, so their
disagreement grows where the data did not pin the transition down.

Example:
    >>> model, report = train_latent(episodes, task="Reacher", task_env_id="Reacher-v5",       # doctest: +SKIP
    ...                              action_low=[-1, -1], action_high=[1, 1], config="small", steps=5000)
    >>> report.heldout_openloop_nmse[:3]                                                         # doctest: +SKIP
"""

from __future__ import annotations

import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from neural_gym.progress import progress_bar
from neural_gym.world_models.base import Calibration
from neural_gym.world_models.device import resolve_device
from neural_gym.world_models.latent.config import LatentConfig, preset
from neural_gym.world_models.latent.data import Batch, WindowSampler, as_sequences
from neural_gym.world_models.latent.model import LATENT_MEASURES, NEVER_TERMINATES_LOGIT, LatentModel
from neural_gym.world_models.latent.networks import frames_to_unit, symlog
from neural_gym.world_models.latent.rssm import LatentState, kl_loss
from neural_gym.world_models.training import (
    calibration_from_values,
    masked_mean,
    psnr_from_mse,
    spearman,
    store_start_contexts,
    summary_writer,
)

#: Reported held-out quantiles (keys of ``Calibration.heldout_quantiles[measure]``, besides ``"max"``).
#: Start contexts kept in the checkpoint for ``start="dataset"``.
MAX_START_CONTEXTS = {"vector": 256, "pixels": 32}
_EVAL_BATCH = 64
_EVAL_BATCH_PIXELS = 8


@dataclass
class LatentTrainReport:
    """What :func:`train_latent` did. Errors of vectors are in training-std units, of frames in ``[0, 1]`` pixels.

    Attributes:
        steps: optimizer steps run.
        train_loss: mean training loss over each block of ``log_every`` steps.
        loss_terms: mean of each loss term over the last block (``decoder``, ``reward``, ``continue``, ``kl``,
            ``dyn_kl``, ``rep_kl``).
        wall_time_s: total wall time, evaluation and calibration included.
        steps_per_s: optimizer steps per second of training time.
        n_train_episodes: episodes trained on.
        n_heldout_episodes: episodes held out.
        heldout_recon_mse: posterior reconstruction MSE on held-out episodes.
        heldout_mean_baseline_mse: MSE of predicting the training mean (vectors) or mean frame (frames).
        heldout_recon_psnr: reconstruction PSNR (frames only).
        heldout_mean_baseline_psnr: PSNR of the mean frame (frames only).
        heldout_openloop_mse: ``[H]`` MSE of imagined observations by horizon (burn-in ``k`` real steps, then the
            true actions through the prior mixture).
        heldout_copy_last_mse: ``[H]`` MSE of repeating the last context observation.
        heldout_openloop_psnr: ``[H]`` PSNR by horizon (frames only).
        heldout_uncertainty_spearman: per measure, Spearman correlation between the one-step disagreement and the
            one-step true error on held-out transitions.
        calibration: the uncertainty calibration written into the model's spec.
    """

    steps: int
    train_loss: list[float]
    loss_terms: dict[str, float]
    wall_time_s: float
    steps_per_s: float
    n_train_episodes: int
    n_heldout_episodes: int
    heldout_recon_mse: float
    heldout_mean_baseline_mse: float
    heldout_openloop_mse: list[float]
    heldout_copy_last_mse: list[float]
    calibration: Calibration
    heldout_recon_psnr: float | None = None
    heldout_mean_baseline_psnr: float | None = None
    heldout_openloop_psnr: list[float] | None = None
    heldout_uncertainty_spearman: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready dict of the held-out figures (what goes into ``spec.provenance``)."""
        d = asdict(self)
        d.pop("train_loss")
        d["calibration"] = self.calibration.to_dict()
        return d


def train_latent(
    episodes: Sequence[Any],
    *,
    task: str,
    task_env_id: str,
    action_low: Sequence[float],
    action_high: Sequence[float],
    config: LatentConfig | str = "small",
    steps: int = 5000,
    batch_size: int = 16,
    seq_len: int = 32,
    lr: float = 3e-4,
    grad_clip: float = 100.0,
    heldout_fraction: float = 0.1,
    open_loop_horizon: int = 15,
    calibration_quantile: float = 0.999,
    calibration_scale: float = 1.0,
    measure: str = "latent_std",
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = True,
    log_dir: str | None = None,
    log_every: int = 50,
    provenance: dict[str, Any] | None = None,
) -> tuple[LatentModel, LatentTrainReport]:
    """Fit a :class:`LatentModel` to episodes, evaluate it on held-out episodes and calibrate its uncertainty.

    Args:
        episodes: objects or dicts with ``observations [T+1, *obs_shape]`` (float vectors or uint8 frames
            ``[T+1, H, W, 3]``), ``actions [T, A]``, ``rewards [T]``, ``terminations [T]`` (e.g.
            :class:`~neural_gym.world_models.latent.data.SequenceData`, ``neural_gym.envs.dataset.Episode``).
        task: ground-truth task name (``"Reacher"``).
        task_env_id: gymnasium id of the ground truth (``"Reacher-v5"``).
        action_low: ``[A]`` lower action bounds.
        action_high: ``[A]`` upper action bounds.
        config: a :class:`LatentConfig` or a preset name (``"debug"``, ``"small"``, ``"medium"``); with a name, the
            observation kind and frame size are taken from the data.
        steps: optimizer steps.
        batch_size: windows per step.
        seq_len: observations per window (shorter episodes are padded and masked).
        lr: Adam learning rate.
        grad_clip: global gradient-norm clip.
        heldout_fraction: share of episodes held out (at least one; at least one stays for training).
        open_loop_horizon: imagined steps after the burn-in in the held-out open-loop evaluation.
        calibration_quantile: quantile of the held-out one-step disagreement taken as threshold.
        calibration_scale: factor applied to that quantile.
        measure: the measure that drives cut-offs (``"latent_std"``, ``"ensemble_std"`` or ``"pairwise_max"``; see
            :mod:`neural_gym.world_models.latent.model` for why ``latent_std`` is the default).
        seed: seeds the weights, the split, the windows and the latent samples (same seed → same weights on CPU).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        progress: show a tqdm bar over steps on a terminal, a plain progress line every 10 % or 30 s elsewhere.
        log_dir: write TensorBoard scalars there when set.
        log_every: steps per ``train_loss`` entry (and TensorBoard point).
        provenance: extra facts (dataset id, command line) merged into ``spec.provenance``.

    Returns:
        The trained model (eval mode, on ``device``) and a :class:`LatentTrainReport`.

    Raises:
        ValueError: on episodes of the wrong shape, or arguments out of range.
    """
    t_start = time.perf_counter()
    A = len(action_low)
    if len(episodes) < 2:
        raise ValueError(f"train_latent holds out whole episodes and needs at least 2, got {len(episodes)}")
    if isinstance(config, str):  # a preset name: the observation kind and frame size come from the data
        first = episodes[0]
        first_obs = np.asarray(
            first.get("observations") if isinstance(first, Mapping) else getattr(first, "observations", None)
        )
        if first_obs.ndim == 4:
            config = preset(config, obs_kind="pixels", image_size=int(first_obs.shape[1]))
        else:
            config = preset(config)
    config.validate()
    _check_args(
        steps=steps,
        batch_size=batch_size,
        seq_len=seq_len,
        lr=lr,
        grad_clip=grad_clip,
        heldout_fraction=heldout_fraction,
        open_loop_horizon=open_loop_horizon,
        calibration_quantile=calibration_quantile,
        calibration_scale=calibration_scale,
        measure=measure,
        log_every=log_every,
    )
    pixels = config.obs_kind == "pixels"
    data = as_sequences(episodes, action_dim=A, pixels=pixels)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(data))
    n_hold = min(len(data) - 1, max(1, round(heldout_fraction * len(data))))
    hold_eps = [data[i] for i in np.sort(perm[:n_hold])]
    train_eps = [data[i] for i in np.sort(perm[n_hold:])]
    dev = resolve_device(device)

    model = LatentModel(
        task=task,
        task_env_id=task_env_id,
        obs_shape=data[0].observations.shape[1:],
        action_dim=A,
        action_low=action_low,
        action_high=action_high,
        config=config,
        seed=seed,
    )
    model.set_normalization(np.concatenate([ep.observations for ep in train_eps]))
    model.fit_context_stats([ep.observations for ep in train_eps])  # the out-of-range check of start contexts
    model.to(dev)
    mid = (np.asarray(action_low, dtype=np.float32) + np.asarray(action_high, dtype=np.float32)) / 2
    train_windows = WindowSampler(train_eps, mid, dev)
    hold_windows = WindowSampler(hold_eps, mid, dev)
    learn_termination = bool(any(ep.terminations.any() for ep in train_eps))

    optimizer = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-8)
    latent_gen = torch.Generator(device=dev).manual_seed(seed + 1)
    writer = summary_writer(log_dir)
    losses: list[float] = []
    block: dict[str, float] = {}
    terms: dict[str, float] = {}
    train_time = 0.0
    model.train()
    bar = progress_bar(range(steps), desc=f"latent {task}", unit="step", enabled=progress)
    for step in bar:
        t0 = time.perf_counter()
        batch = train_windows.sample(batch_size, seq_len, rng)
        loss, parts = _loss(model, batch, latent_gen, learn_termination)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        train_time += time.perf_counter() - t0
        for k, v in {"loss": loss.detach(), **parts}.items():
            block[k] = block.get(k, 0.0) + float(v)
        if (step + 1) % log_every == 0 or step + 1 == steps:
            n = (step % log_every) + 1
            terms = {k: v / n for k, v in block.items()}
            losses.append(terms.pop("loss"))
            block = {}
            bar.set_postfix(loss=f"{losses[-1]:.3f}", dec=f"{terms['decoder']:.3f}", kl=f"{terms['dyn_kl']:.2f}")
            if writer is not None:
                writer.add_scalar("train/loss", losses[-1], step + 1)
                for k, v in terms.items():
                    writer.add_scalar(f"train/{k}", v, step + 1)
    bar.close()
    model.eval()
    if not learn_termination:  # no terminal transition seen: the task never ends in the model either
        with torch.no_grad():
            last = model.continue_head.net[-1]
            last.weight.zero_()  # type: ignore[operator]
            last.bias.fill_(NEVER_TERMINATES_LOGIT)  # type: ignore[operator]

    # ---------------------------------------------------------------- held-out evaluation and calibration
    figures = _evaluate(model, hold_windows, train_eps, seq_len=seq_len, horizon=open_loop_horizon)
    values, correlations = _one_step_disagreement(model, hold_windows, seq_len=seq_len)
    calibration = calibration_from_values(
        values, measure=measure, quantile=calibration_quantile, scale=calibration_scale
    )
    model.spec.calibration = calibration
    store_start_contexts(model, train_eps, rng, MAX_START_CONTEXTS[model.config.obs_kind])
    wall_time = time.perf_counter() - t_start
    report = LatentTrainReport(
        steps=steps,
        train_loss=losses,
        loss_terms=terms,
        wall_time_s=wall_time,
        steps_per_s=steps / max(train_time, 1e-9),
        n_train_episodes=len(train_eps),
        n_heldout_episodes=len(hold_eps),
        calibration=calibration,
        heldout_uncertainty_spearman=correlations,
        **figures,
    )
    if writer is not None:
        writer.add_scalar("heldout/recon_mse", report.heldout_recon_mse, steps)
        for h, v in enumerate(report.heldout_openloop_mse, start=1):
            writer.add_scalar("heldout/openloop_mse", v, h)
        writer.close()
    model.spec.provenance = {
        **(provenance or {}),
        "seed": seed,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "config": config.to_dict(),
        "steps": steps,
        "wall_time_s": wall_time,
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "heldout": {k: v for k, v in report.summary().items() if k.startswith("heldout") or k.startswith("n_")},
        "train_args": {
            "batch_size": batch_size,
            "seq_len": seq_len,
            "lr": lr,
            "grad_clip": grad_clip,
            "heldout_fraction": heldout_fraction,
            "open_loop_horizon": open_loop_horizon,
            "device": str(dev),
        },
    }
    return model, report


# ---------------------------------------------------------------------------------------------------------- loss
def _targets(model: LatentModel, obs: torch.Tensor) -> torch.Tensor:
    """Decoder targets ``[N, ...]`` in model units from raw observations ``[N, *obs_shape]``."""
    return frames_to_unit(obs) if model.pixels else model.encoder.normalize(obs)  # type: ignore[operator]


def _loss(
    model: LatentModel, batch: Batch, generator: torch.Generator, learn_termination: bool
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """World-model loss of one batch of windows and its terms (detached, for logging)."""
    cfg = model.config
    B, L = batch.mask.shape
    deter, stoch, post = model.observe_sequence(batch.obs, batch.prev_actions, generator)  # (B,L,D) (B,L,G,C) ×2
    feat = torch.cat([deter, stoch.flatten(2)], dim=-1).flatten(0, 1)  # (B*L, F)
    decoded = model.decode(feat)  # (B*L, O) or (B*L, 3, H, W)
    target = _targets(model, batch.obs.flatten(0, 1))
    assert decoded.shape == target.shape, f"decoder output {tuple(decoded.shape)} vs target {tuple(target.shape)}"
    decoder = (decoded - target).square().flatten(1).sum(-1).view(B, L)  # (B, L)
    reward = (model.reward_head(feat).view(B, L) - symlog(batch.rewards)).square()  # (B, L)
    cont_logit = model.continue_head(feat).view(B, L)
    cont = (
        F.binary_cross_entropy_with_logits(cont_logit, batch.conts, reduction="none")
        if learn_termination
        else (torch.zeros_like(cont_logit))
    )
    prior = model.rssm.prior_logprobs(deter.flatten(0, 1))  # (E, B*L, G, C)
    kl, dyn_kl, rep_kl = kl_loss(
        post.flatten(0, 1), prior, free_bits=cfg.free_bits, dyn_scale=cfg.dyn_scale, rep_scale=cfg.rep_scale
    )
    trans = batch.mask.clone()
    trans[:, 0] = 0.0  # the first observation of a window has no transition into it
    loss = masked_mean(decoder, batch.mask) + masked_mean(reward + cont + kl.view(B, L), trans)
    parts = {
        "decoder": masked_mean(decoder, batch.mask).detach(),
        "reward": masked_mean(reward, trans).detach(),
        "continue": masked_mean(cont, trans).detach(),
        "kl": masked_mean(kl.view(B, L), trans).detach(),
        "dyn_kl": masked_mean(dyn_kl.view(B, L), trans),
        "rep_kl": masked_mean(rep_kl.view(B, L), trans),
    }
    return loss, parts


# ---------------------------------------------------------------------------------------------------------- evaluation
def _unit_mse(model: LatentModel, pred_units: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """Per-row MSE ``[N]`` between decoder output and raw observations, in report units (std or [0, 1] pixels)."""
    return (pred_units - _targets(model, obs)).square().flatten(1).mean(-1)


@torch.no_grad()
def _evaluate(
    model: LatentModel, hold: WindowSampler, train_eps: Sequence[Any], *, seq_len: int, horizon: int
) -> dict[str, Any]:
    """Reconstruction and open-loop figures on held-out episodes (see :class:`LatentTrainReport`)."""
    k = model.context_length
    chunk = _EVAL_BATCH_PIXELS if model.pixels else _EVAL_BATCH
    # Reconstruction: posterior modes over windows covering the held-out episodes.
    eps, starts = hold.tiles(seq_len)
    rec_sum = base_sum = count = 0.0
    if model.pixels:
        mean_frame = np.mean([ep.observations.mean(axis=0) for ep in train_eps], axis=0)  # (H, W, 3)
        baseline = frames_to_unit(torch.as_tensor(mean_frame, device=hold.device))  # (3, H, W)
    else:
        baseline = torch.zeros(model.obs_shape[0], device=hold.device)  # the training mean, normalized
    for i in range(0, len(eps), chunk):
        b = hold.gather(eps[i : i + chunk], starts[i : i + chunk], seq_len)
        deter, stoch, _ = model.observe_sequence(b.obs, b.prev_actions)
        feat = torch.cat([deter, stoch.flatten(2)], dim=-1).flatten(0, 1)
        obs = b.obs.flatten(0, 1)
        m = b.mask.flatten()
        rec_sum += float((_unit_mse(model, model.decode(feat), obs) * m).sum())
        base_sum += float((_unit_mse(model, baseline.expand(len(obs), *baseline.shape), obs) * m).sum())
        count += float(m.sum())
    figures: dict[str, Any] = {
        "heldout_recon_mse": rec_sum / count,
        "heldout_mean_baseline_mse": base_sum / count,
    }
    # Open loop: burn in k real steps, imagine `horizon` steps with the true actions (mixture of heads, modes).
    eps, starts = hold.tiles(k + horizon, stride=max(1, (k + horizon) // 2))
    err = np.zeros(horizon)
    copy_err = np.zeros(horizon)
    n = np.zeros(horizon)
    for i in range(0, len(eps), chunk):
        b = hold.gather(eps[i : i + chunk], starts[i : i + chunk], k + horizon)
        ok = b.mask[:, k - 1] > 0
        if not bool(ok.any()):
            continue
        b = Batch(*(x[ok] for x in (b.obs, b.prev_actions, b.rewards, b.conts, b.mask)))
        deter, stoch, _ = model.observe_sequence(b.obs[:, :k], b.prev_actions[:, :k])
        state = LatentState(deter[:, -1], stoch[:, -1])
        last = b.obs[:, k - 1]
        for h in range(horizon):
            pred = model.step(state, b.prev_actions[:, k + h])
            state = pred.state
            truth = b.obs[:, k + h]
            m = b.mask[:, k + h]
            err[h] += float((_unit_mse(model, model.decode(state.feat()), truth) * m).sum())
            copy_err[h] += float((_unit_mse(model, _targets(model, last), truth) * m).sum())
            n[h] += float(m.sum())
    n = np.maximum(n, 1.0)
    figures["heldout_openloop_mse"] = (err / n).tolist()
    figures["heldout_copy_last_mse"] = (copy_err / n).tolist()
    if model.pixels:
        figures["heldout_recon_psnr"] = psnr_from_mse(figures["heldout_recon_mse"])
        figures["heldout_mean_baseline_psnr"] = psnr_from_mse(figures["heldout_mean_baseline_mse"])
        figures["heldout_openloop_psnr"] = [psnr_from_mse(v) for v in figures["heldout_openloop_mse"]]
    return figures


@torch.no_grad()
def _one_step_disagreement(
    model: LatentModel, hold: WindowSampler, *, seq_len: int
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Each measure on held-out real transitions (one prior step from posterior states that read >= k observations),
    and its Spearman correlation with the one-step error of the mixture's decoded prediction."""
    k = model.context_length
    chunk = _EVAL_BATCH_PIXELS if model.pixels else _EVAL_BATCH
    values: dict[str, list[np.ndarray]] = {m: [] for m in LATENT_MEASURES}
    errors: list[np.ndarray] = []
    eps, starts = hold.tiles(seq_len)
    for i in range(0, len(eps), chunk):
        b = hold.gather(eps[i : i + chunk], starts[i : i + chunk], seq_len)
        deter, stoch, _ = model.observe_sequence(b.obs, b.prev_actions)
        L = b.mask.shape[1]
        # Transition t → t+1 counts when the state has read at least k observations and obs t+1 is real.
        valid = b.mask[:, 1:] > 0
        valid[:, : k - 1] = False
        if L < 2 or not bool(valid.any()):
            continue
        rows, cols = valid.nonzero(as_tuple=True)
        state = LatentState(deter[rows, cols], stoch[rows, cols])
        pred = model.step(state, b.prev_actions[rows, cols + 1], return_members=True)  # every measure
        for m in LATENT_MEASURES:
            values[m].append(pred.uncertainty[m].double().cpu().numpy())
        errors.append(_unit_mse(model, model.decode(pred.state.feat()), b.obs[rows, cols + 1]).double().cpu().numpy())
    if not errors:
        raise ValueError(
            f"the held-out episodes have no transition after a burn-in of {k} observations; "
            "hold out longer episodes or lower config.burn_in"
        )
    out = {m: np.concatenate(v) for m, v in values.items()}
    err = np.concatenate(errors)
    return out, {m: spearman(v, err) for m, v in out.items()}


def _check_args(**kw: Any) -> None:
    for name in ("steps", "batch_size", "open_loop_horizon", "log_every"):
        if int(kw[name]) < 1:
            raise ValueError(f"{name} must be >= 1, got {kw[name]}")
    if kw["seq_len"] < 2:
        raise ValueError(f"seq_len must be >= 2 (a window needs a transition), got {kw['seq_len']}")
    if not kw["lr"] > 0 or not kw["grad_clip"] > 0:
        raise ValueError(f"lr and grad_clip must be > 0, got lr={kw['lr']}, grad_clip={kw['grad_clip']}")
    if not 0.0 < kw["heldout_fraction"] < 1.0:
        raise ValueError(f"heldout_fraction must be in (0, 1), got {kw['heldout_fraction']}")
    if not 0.0 < kw["calibration_quantile"] <= 1.0:
        raise ValueError(f"calibration_quantile must be in (0, 1], got {kw['calibration_quantile']}")
    if not kw["calibration_scale"] > 0:
        raise ValueError(f"calibration_scale must be > 0, got {kw['calibration_scale']}")
    if kw["measure"] not in LATENT_MEASURES:
        raise ValueError(f"measure must be one of {LATENT_MEASURES}, got {kw['measure']!r}")
