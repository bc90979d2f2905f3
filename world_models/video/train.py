"""Training loop of the ``video`` family: fit generator and heads on windows of ``k + 1`` frames, evaluate, calibrate.

Per window (``k`` context frames ``c``, the step's action ``a``, the next frame ``y``, all frames in ``[-1, 1]``)::

    generator = EDM loss of D(· ; σ | c, a) on y, ln σ ~ N(P_mean, P_std²)        (see neural_gym.world_models.video.edm)
    dynamics  = Σ_e Σ_d (head_e(c, a) − pool(y − c_k) / 2)²                        pooled change, [0, 1] units
    reward    = (reward_head(c, a) − (r − μ_r) / σ_r)²
    continue  = BCE(continue_head(c, a), 1 − term)                                 (only when the data terminate)
    probe     = mean_d (probe(frame) − (s − μ_s) / σ_s)²   on c_k and y             (only when the data have states)
    loss      = mean over windows of the sum

One Adam optimizer over every module (the generator's and the heads' parameters are disjoint, so the terms do not
compete); the heads differ only by their initial weights. An exponential moving average of the weights (with the
usual ``min(ema, (1 + n) / (10 + n))`` warm-up) replaces the weights at the end when ``ema > 0``.

Held-out evaluation (whole episodes held out): one-step PSNR of the generated frame against the real one, beside the
copy-last-frame baseline and the same model with shuffled actions (controllability); open-loop PSNR by horizon
(1, 5, 10, 25, those the held-out episodes reach); the state probe's normalized RMSE on real frames and on generated
frames by horizon; the calibration of the disagreement at ``calibration_quantile`` of held-out one-step values
(as :mod:`neural_gym.world_models.ensemble.train` does).

Example:
    >>> model, report = train_video(episodes, task="Reacher", task_env_id="Reacher-v5",            # doctest: +SKIP
    ...                             action_low=[-1, -1], action_high=[1, 1], config="small", steps=2000)
    >>> report.heldout_onestep_psnr, report.heldout_copy_last_psnr                                   # doctest: +SKIP
"""

from __future__ import annotations

import math
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
from neural_gym.world_models.latent.data import Batch, SequenceData, WindowSampler, as_sequences
from neural_gym.world_models.training import (
    calibration_from_values,
    masked_mean,
    psnr_from_mse,
    spearman,
    store_start_contexts,
    summary_writer,
)
from neural_gym.world_models.video import edm
from neural_gym.world_models.video.config import VideoConfig, preset
from neural_gym.world_models.video.model import (
    NEVER_TERMINATES_LOGIT,
    VIDEO_MEASURES,
    VideoModel,
    VideoState,
    frames_to_model,
)

#: Reported held-out quantiles (keys of ``Calibration.heldout_quantiles[measure]``, besides ``"max"``).
#: Open-loop horizons reported (those the held-out episodes reach).
OPEN_LOOP_HORIZONS: tuple[int, ...] = (1, 5, 10, 25)
#: Start contexts kept in the checkpoint for ``start="dataset"``.
MAX_START_CONTEXTS = 32
_EVAL_BATCH = 64


@dataclass
class VideoTrainReport:
    """What :func:`train_video` did. MSEs are per pixel in ``[0, 1]`` units; PSNRs (dB) are of the pooled MSE.

    Attributes:
        steps: optimizer steps run.
        train_loss: mean training loss over each block of ``log_every`` steps.
        loss_terms: mean of each loss term over the last block (``generator``, ``dynamics``, ``reward``,
            ``continue``, ``probe``).
        wall_time_s: total wall time, evaluation and calibration included.
        steps_per_s: optimizer steps per second of training time.
        n_train_episodes: episodes trained on.
        n_heldout_episodes: episodes held out.
        heldout_onestep_mse: one-step MSE of the generated frame on held-out transitions.
        heldout_copy_last_mse: MSE of repeating the last context frame on the same transitions.
        heldout_shuffled_mse: one-step MSE with the actions shuffled across transitions.
        heldout_onestep_psnr: PSNR of ``heldout_onestep_mse``.
        heldout_copy_last_psnr: PSNR of ``heldout_copy_last_mse``.
        heldout_shuffled_psnr: PSNR of ``heldout_shuffled_mse`` (one-step controllability = onestep − shuffled).
        heldout_onestep_windows: held-out transitions scored.
        openloop_horizons: horizons of the open-loop figures.
        heldout_openloop_psnr: PSNR at each of ``openloop_horizons`` (``k`` real frames, then the true actions).
        heldout_openloop_copy_last_psnr: PSNR of copy-last-frame at the same horizons.
        heldout_openloop_windows: held-out windows rolled open loop.
        heldout_probe_nrmse: the probe's normalized RMSE (training-std units) on real held-out frames, or ``None``.
        heldout_openloop_probe_nrmse: the probe's normalized RMSE on generated frames at ``openloop_horizons``.
        heldout_uncertainty_spearman: per measure, Spearman correlation of the one-step disagreement with the one-step
            frame error on held-out transitions.
        calibration: the uncertainty calibration written into the model's spec.
    """

    steps: int
    train_loss: list[float]
    loss_terms: dict[str, float]
    wall_time_s: float
    steps_per_s: float
    n_train_episodes: int
    n_heldout_episodes: int
    heldout_onestep_mse: float
    heldout_copy_last_mse: float
    heldout_shuffled_mse: float
    heldout_onestep_psnr: float
    heldout_copy_last_psnr: float
    heldout_shuffled_psnr: float
    heldout_onestep_windows: int
    openloop_horizons: list[int]
    heldout_openloop_psnr: list[float]
    heldout_openloop_copy_last_psnr: list[float]
    heldout_openloop_windows: int
    calibration: Calibration
    heldout_probe_nrmse: float | None = None
    heldout_openloop_probe_nrmse: list[float] | None = None
    heldout_uncertainty_spearman: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready dict of the held-out figures (what goes into ``spec.provenance``)."""
        d = asdict(self)
        d.pop("train_loss")
        d["calibration"] = self.calibration.to_dict()
        return d


def train_video(
    episodes: Sequence[Any],
    *,
    task: str,
    task_env_id: str,
    action_low: Sequence[float],
    action_high: Sequence[float],
    config: VideoConfig | str = "small",
    steps: int = 2000,
    batch_size: int = 16,
    lr: float = 3e-4,
    grad_clip: float = 1.0,
    ema: float = 0.999,
    fit_sigma_data: bool = True,
    heldout_fraction: float = 0.1,
    eval_windows: int = 512,
    openloop_windows: int = 32,
    calibration_quantile: float = 0.999,
    calibration_scale: float = 1.0,
    measure: str = "ensemble_std",
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = True,
    log_dir: str | None = None,
    log_every: int = 50,
    provenance: dict[str, Any] | None = None,
) -> tuple[VideoModel, VideoTrainReport]:
    """Fit a :class:`VideoModel` to pixel episodes, evaluate it on held-out episodes and calibrate its uncertainty.

    Args:
        episodes: objects or dicts with frames ``[T+1, H, W, 3]`` (uint8, or float in ``[0, 255]``), ``actions
            [T, A]``, ``rewards [T]``, ``terminations [T]`` and optionally states ``[T+1, O]`` for the probe. Frames
            and states are read from ``frames`` and ``observations`` when the episode has a ``frames`` array
            (``neural_gym.envs.load_episodes`` of a pixel dataset), else from ``observations`` and ``states``
            (e.g. :class:`~neural_gym.world_models.latent.data.SequenceData` plus a ``states`` attribute).
        task: ground-truth task name (``"Reacher"``).
        task_env_id: gymnasium id of the ground truth (``"Reacher-v5"``).
        action_low: ``[A]`` lower action bounds.
        action_high: ``[A]`` upper action bounds.
        config: a :class:`VideoConfig` or a preset name (``"debug"``, ``"small32"``, ``"small"``); with a name, the
            frame size is taken from the data.
        steps: optimizer steps.
        batch_size: windows of ``k + 1`` frames per step.
        lr: Adam learning rate.
        grad_clip: global gradient-norm clip.
        ema: decay of the exponential moving average of the weights (0: off).
        fit_sigma_data: set ``config.sigma_data`` (EDM's data std) to the std of the generator's targets (the frame
            change with ``config.residual``, else the frame) on up to 4096 training transitions; otherwise keep the
            config's value. Frame changes are far smaller than frames, and EDM's preconditioning assumes the right
            scale.
        heldout_fraction: share of episodes held out (at least one; at least one stays for training).
        eval_windows: at most this many held-out transitions for the one-step figures and the calibration.
        openloop_windows: at most this many held-out windows rolled open loop.
        calibration_quantile: quantile of the held-out one-step disagreement taken as threshold.
        calibration_scale: factor applied to that quantile.
        measure: the measure that drives cut-offs (one of :data:`~neural_gym.world_models.video.model.VIDEO_MEASURES`).
        seed: seeds the weights, the split, the windows and the noise (same seed → same weights on CPU).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        progress: show a tqdm bar over steps on a terminal, a plain progress line every 10 % or 30 s elsewhere.
        log_dir: write TensorBoard scalars there when set.
        log_every: steps per ``train_loss`` entry (and TensorBoard point).
        provenance: extra facts (dataset id, command line, camera) merged into ``spec.provenance``.

    Returns:
        The trained model (eval mode, on ``device``) and a :class:`VideoTrainReport`.

    Raises:
        ValueError: on episodes of the wrong shape, frame sizes the config does not take, or arguments out of range.
    """
    t_start = time.perf_counter()
    A = len(action_low)
    _check_args(
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        grad_clip=grad_clip,
        ema=ema,
        heldout_fraction=heldout_fraction,
        eval_windows=eval_windows,
        openloop_windows=openloop_windows,
        calibration_quantile=calibration_quantile,
        calibration_scale=calibration_scale,
        measure=measure,
        log_every=log_every,
    )
    data, states = _as_pixel_episodes(episodes, A)
    S = int(data[0].observations.shape[1])
    if isinstance(config, str):
        config = preset(config, image_size=S)
    if data[0].observations.shape[1:] != (config.image_size, config.image_size, 3):
        raise ValueError(
            f"frames are {data[0].observations.shape[1:]} but config.image_size={config.image_size}; "
            f"pass frames of {config.image_size}x{config.image_size} or a config with image_size={S}"
        )
    if config.probe and states is not None:
        config = VideoConfig.from_dict({**config.to_dict(), "state_dim": int(states[0].shape[1])})
    elif config.state_dim:
        config = VideoConfig.from_dict({**config.to_dict(), "state_dim": 0, "proprio": False})
    config.validate()
    k = config.context_frames
    if len(data) < 2:
        raise ValueError(f"train_video holds out whole episodes and needs at least 2, got {len(data)}")
    if not any(len(ep.observations) >= k + 1 for ep in data):
        raise ValueError(f"no episode has the {k + 1} frames a training window needs (context_frames={k})")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(data))
    n_hold = min(len(data) - 1, max(1, round(heldout_fraction * len(data))))
    hold_idx, train_idx = np.sort(perm[:n_hold]), np.sort(perm[n_hold:])
    train_eps = [data[i] for i in train_idx if len(data[i].observations) >= k + 1]
    hold_eps = [data[i] for i in hold_idx]
    if not train_eps:
        raise ValueError(f"no training episode has the {k + 1} frames a window needs (context_frames={k})")
    dev = resolve_device(device)

    if fit_sigma_data:
        config = VideoConfig.from_dict({**config.to_dict(), "sigma_data": _target_std(train_eps, config, rng)})
    model = VideoModel(
        task=task,
        task_env_id=task_env_id,
        obs_shape=(S, S, 3),
        action_dim=A,
        action_low=action_low,
        action_high=action_high,
        config=config,
        seed=seed,
    )
    train_states = _state_sequences(train_eps, data, states) if model.has_probe else None
    hold_states = _state_sequences(hold_eps, data, states) if model.has_probe else None
    model.set_normalization(
        rewards=np.concatenate([ep.rewards for ep in train_eps]),
        states=np.concatenate([ep.observations for ep in train_states]) if train_states else None,
    )
    model.fit_context_stats([ep.observations for ep in train_eps])  # the out-of-range check of start contexts
    model.to(dev)
    mid = (np.asarray(action_low, dtype=np.float32) + np.asarray(action_high, dtype=np.float32)) / 2
    train_windows = WindowSampler(train_eps, mid, dev)
    train_state_windows = WindowSampler(train_states, mid, dev) if train_states else None
    learn_termination = bool(any(ep.terminations.any() for ep in train_eps))

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    noise_gen = torch.Generator(device=dev).manual_seed(seed + 1)
    params = list(model.parameters())
    ema_params = [p.detach().clone() for p in params] if ema > 0 else []
    writer = summary_writer(log_dir)
    losses: list[float] = []
    block: dict[str, float] = {}
    terms: dict[str, float] = {}
    train_time = 0.0
    model.train()
    bar = progress_bar(range(steps), desc=f"video {task}", unit="step", enabled=progress)
    for step in bar:
        t0 = time.perf_counter()
        episode, start = _draw(train_windows.lengths, batch_size, k + 1, rng)
        batch = train_windows.gather(episode, start, k + 1)
        state_batch = train_state_windows.gather(episode, start, k + 1) if train_state_windows else None
        loss, parts = _loss(model, batch, state_batch, noise_gen, learn_termination)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
        optimizer.step()
        if ema > 0:
            decay = min(ema, (1.0 + step) / (10.0 + step))
            with torch.no_grad():
                for e, p in zip(ema_params, params, strict=True):
                    e.lerp_(p, 1.0 - decay)
        train_time += time.perf_counter() - t0
        for name, v in {"loss": loss.detach(), **parts}.items():
            block[name] = block.get(name, 0.0) + float(v)
        if (step + 1) % log_every == 0 or step + 1 == steps:
            n = (step % log_every) + 1
            terms = {name: v / n for name, v in block.items()}
            losses.append(terms.pop("loss"))
            block = {}
            bar.set_postfix(loss=f"{losses[-1]:.4f}", gen=f"{terms['generator']:.4f}")
            if writer is not None:
                writer.add_scalar("train/loss", losses[-1], step + 1)
                for name, value in terms.items():
                    writer.add_scalar(f"train/{name}", value, step + 1)
    bar.close()
    if ema > 0:
        with torch.no_grad():
            for p, e in zip(params, ema_params, strict=True):
                p.copy_(e)
    model.eval()
    if not learn_termination:  # no terminal transition seen: the task never ends in the model either
        with torch.no_grad():
            last = model.continue_head.net[-1]
            last.weight.zero_()  # type: ignore[operator]
            last.bias.fill_(NEVER_TERMINATES_LOGIT)  # type: ignore[operator]

    # ---------------------------------------------------------------- held-out evaluation and calibration
    eval_rng = np.random.default_rng(seed + 2)
    hold_windows = WindowSampler(hold_eps, mid, dev)
    hold_state_windows = WindowSampler(hold_states, mid, dev) if hold_states else None
    onestep, values, correlations = _one_step(model, hold_windows, eval_windows, eval_rng, seed)
    openloop = _open_loop(model, hold_windows, hold_state_windows, openloop_windows, eval_rng, seed)
    probe = _probe_error(model, hold_eps, hold_states) if hold_states else None
    calibration = calibration_from_values(
        values, measure=measure, quantile=calibration_quantile, scale=calibration_scale
    )
    model.spec.calibration = calibration
    store_start_contexts(model, train_eps, rng, MAX_START_CONTEXTS)
    wall_time = time.perf_counter() - t_start
    report = VideoTrainReport(
        steps=steps,
        train_loss=losses,
        loss_terms=terms,
        wall_time_s=wall_time,
        steps_per_s=steps / max(train_time, 1e-9),
        n_train_episodes=len(train_eps),
        n_heldout_episodes=len(hold_eps),
        calibration=calibration,
        heldout_probe_nrmse=probe,
        heldout_uncertainty_spearman=correlations,
        **onestep,
        **openloop,
    )
    if writer is not None:
        writer.add_scalar("heldout/onestep_psnr", report.heldout_onestep_psnr, steps)
        writer.add_scalar("heldout/copy_last_psnr", report.heldout_copy_last_psnr, steps)
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
        "heldout": {k: v for k, v in report.summary().items() if k.startswith(("heldout", "n_", "openloop"))},
        "train_args": {
            "batch_size": batch_size,
            "lr": lr,
            "grad_clip": grad_clip,
            "ema": ema,
            "fit_sigma_data": fit_sigma_data,
            "heldout_fraction": heldout_fraction,
            "device": str(dev),
        },
    }
    return model, report


# ---------------------------------------------------------------------------------------------------------- data
def _as_pixel_episodes(episodes: Sequence[Any], action_dim: int) -> tuple[list[SequenceData], list[np.ndarray] | None]:
    """Validated frame episodes, and their states ``[T+1, O]`` (float32) when every episode has them."""
    if len(episodes) == 0:
        raise ValueError("episodes is empty; need at least 2 episodes (one is held out)")
    frame_eps: list[dict[str, Any]] = []
    states: list[np.ndarray | None] = []
    for i, ep in enumerate(episodes):

        def get(name: str, ep: Any = ep) -> Any:
            return ep.get(name) if isinstance(ep, Mapping) else getattr(ep, name, None)

        frames = get("frames")
        if frames is not None:
            obs, st = frames, get("states") if get("states") is not None else get("observations")
        else:
            obs, st = get("observations"), get("states")
        if obs is None:
            raise ValueError(f"episode {i} has no frames (expected `frames` or `observations` [T+1, H, W, 3])")
        obs = np.asarray(obs)
        if obs.ndim != 4 or obs.shape[-1] != 3:
            raise ValueError(f"episode {i}: frames must be [T+1, H, W, 3] channels-last, got {obs.shape}")
        if obs.shape[1] != obs.shape[2]:
            raise ValueError(f"episode {i}: frames must be square (32x32 or 64x64), got {obs.shape[1:3]}")
        frame_eps.append(
            {
                "observations": obs,
                "actions": get("actions"),
                "rewards": get("rewards"),
                "terminations": get("terminations"),
            }
        )
        if st is not None:
            st = np.asarray(st, dtype=np.float32)
            if st.ndim != 2 or len(st) != len(obs):
                raise ValueError(f"episode {i}: states must be [T+1={len(obs)}, O], got {st.shape}")
            if not np.isfinite(st).all():
                raise ValueError(f"episode {i}: states must be finite")
        states.append(st)
    data = as_sequences(frame_eps, action_dim=action_dim, pixels=True)
    if any(s is None for s in states):
        return data, None
    dims = {s.shape[1] for s in states if s is not None}
    if len(dims) != 1:
        raise ValueError(f"every episode's states must have the same size, got sizes {sorted(dims)}")
    return data, [s for s in states if s is not None]


def _state_sequences(
    subset: Sequence[SequenceData], data: Sequence[SequenceData], states: Sequence[np.ndarray] | None
) -> list[SequenceData] | None:
    """``subset``'s episodes with their states as observations (same rows, so windows align)."""
    if states is None:
        return None
    index = {id(ep): i for i, ep in enumerate(data)}
    return [SequenceData(states[index[id(ep)]], ep.actions, ep.rewards, ep.terminations) for ep in subset]


def _draw(lengths: np.ndarray, batch: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(episode, start)`` of ``batch`` windows: episodes in proportion to their length, starts uniform (as
    :meth:`WindowSampler.sample`, here drawn once for the frame and state samplers alike)."""
    p = lengths / lengths.sum()
    episode = rng.choice(len(lengths), size=batch, p=p)
    max_start = np.maximum(lengths[episode] - length, 0)
    start = (rng.random(batch) * (max_start + 1)).astype(np.int64)
    return episode, start


def _target_std(episodes: Sequence[SequenceData], config: VideoConfig, rng: np.random.Generator) -> float:
    """Std (in ``[-1, 1]`` units, around 0 as EDM's ``sigma_data``) of the generator's targets on up to 4096
    random training transitions, rounded to 4 digits and kept in ``[0.01, 1]``."""
    k = config.context_frames
    rows = [(i, t) for i, ep in enumerate(episodes) for t in range(k, len(ep.observations))]
    pick = rng.choice(len(rows), size=min(4096, len(rows)), replace=False)
    total, count = 0.0, 0
    for j in pick:
        i, t = rows[j]
        y = episodes[i].observations[t].astype(np.float64) / 127.5 - 1.0
        if config.residual:
            y = y - (episodes[i].observations[t - 1].astype(np.float64) / 127.5 - 1.0)
        total += float(np.square(y).sum())
        count += y.size
    return float(np.clip(round(math.sqrt(total / max(count, 1)), 4), 0.01, 1.0))


# ---------------------------------------------------------------------------------------------------------- loss
def _augment_context(ctx: torch.Tensor, max_std: float, generator: torch.Generator) -> torch.Tensor:
    """``ctx [B, k, 3, H, W]`` plus Gaussian noise of a per-window std drawn from ``U[0, max_std]`` (``ctx`` itself
    when ``max_std`` is 0): :attr:`~neural_gym.world_models.video.config.VideoConfig.context_noise`."""
    if max_std <= 0:
        return ctx
    B = ctx.shape[0]
    std = torch.rand(B, generator=generator, device=ctx.device) * max_std
    noise = torch.randn(ctx.shape, generator=generator, device=ctx.device, dtype=ctx.dtype)
    return ctx + std.view(B, 1, 1, 1, 1).to(ctx.dtype) * noise


def _loss(
    model: VideoModel,
    batch: Batch,
    states: Batch | None,
    generator: torch.Generator,
    learn_termination: bool,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Loss of one batch of ``k + 1``-frame windows and its terms (detached, for logging)."""
    cfg = model.config
    k = cfg.context_frames
    x = frames_to_model(batch.obs)  # (B, k + 1, 3, H, W)
    ctx, target = x[:, :k], x[:, k]
    act = model.scale_action(batch.prev_actions[:, k])  # (B, A): the action from frame k - 1 to frame k
    mask = batch.mask[:, k]  # (B,)
    B = x.shape[0]

    sigma = edm.training_sigmas(B, cfg.p_mean, cfg.p_std, generator, x.device)
    gen_ctx = _augment_context(ctx, float(cfg.context_noise), generator)  # what the generator reads
    proprio = model.proprio(gen_ctx)
    context = gen_ctx.flatten(1, 2)  # (B, 3k, H, W)
    clean = target - gen_ctx[:, -1] if cfg.residual else target  # what the sampler generates (added to its context)
    generator_loss = edm.edm_loss(
        lambda xin, pc: model.unet(xin, context, pc.c_noise, act, proprio), clean, sigma, cfg.sigma_data, generator
    )  # (B,)
    dyn, reward_n, cont_logit = model.heads(ctx, act)  # (E, B, D), (B,), (B,)
    dynamics = (dyn - model.pooled_change(ctx[:, -1], target)[None]).square().sum(-1).mean(0)  # (B,)
    reward = (reward_n - (batch.rewards[:, k] - model.reward_mean) / model.reward_std).square()  # (B,)
    if learn_termination:
        cont = F.binary_cross_entropy_with_logits(cont_logit, batch.conts[:, k], reduction="none")
    else:
        cont = torch.zeros_like(cont_logit)
    probe = torch.zeros_like(reward)
    if states is not None and model.probe is not None:
        frames = torch.cat([ctx[:, -1], target], dim=0)  # (2B, 3, H, W)
        truth = torch.cat([states.obs[:, k - 1], states.obs[:, k]], dim=0)  # (2B, O)
        err = (model.probe(frames) - (truth - model.state_mean) / model.state_std).square().mean(-1)  # (2B,)
        probe = 0.5 * (err[:B] + err[B:])
    loss = masked_mean(generator_loss + dynamics + reward + cont + probe, mask)
    parts = {
        "generator": masked_mean(generator_loss, mask).detach(),
        "dynamics": masked_mean(dynamics, mask).detach(),
        "reward": masked_mean(reward, mask).detach(),
        "continue": masked_mean(cont, mask).detach(),
        "probe": masked_mean(probe, mask).detach(),
    }
    return loss, parts


# ---------------------------------------------------------------------------------------------------------- evaluation
def _frame_mse(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per-row MSE ``[N]`` in ``[0, 1]`` units of frames ``[N, 3, H, W]`` in ``[-1, 1]``."""
    return ((pred - truth) / 2.0).square().flatten(1).mean(-1)


def _windows(
    sampler: WindowSampler, length: int, cap: int, rng: np.random.Generator, stride: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(episode, start)`` of at most ``cap`` full windows of ``length`` frames (seeded subsample)."""
    eps, starts = sampler.tiles(length, stride=stride)
    full = starts + length <= sampler.lengths[eps]
    eps, starts = eps[full], starts[full]
    if len(eps) > cap:
        pick = np.sort(rng.choice(len(eps), size=cap, replace=False))
        eps, starts = eps[pick], starts[pick]
    return eps, starts


@torch.no_grad()
def _one_step(
    model: VideoModel, hold: WindowSampler, cap: int, rng: np.random.Generator, seed: int
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, float]]:
    """One-step figures, disagreement values per measure, and their Spearman with the one-step error."""
    k = model.context_length
    eps, starts = _windows(hold, k + 1, cap, rng, stride=1)
    if len(eps) == 0:
        raise ValueError(
            f"no held-out episode has the {k + 1} frames a one-step evaluation needs (context_frames={k}); "
            "hold out longer episodes"
        )
    gen = torch.Generator(device=hold.device).manual_seed(seed + 3)
    err, copy, shuf = [], [], []
    values: dict[str, list[np.ndarray]] = {m: [] for m in VIDEO_MEASURES}
    for i in range(0, len(eps), _EVAL_BATCH):
        b = hold.gather(eps[i : i + _EVAL_BATCH], starts[i : i + _EVAL_BATCH], k + 1)
        x = frames_to_model(b.obs)  # (n, k + 1, 3, H, W)
        state = VideoState(frames=x[:, :k], actions=model.scale_action(b.prev_actions[:, 1:k]))
        pred = model.step(state, b.prev_actions[:, k], generator=gen)
        truth = x[:, k]
        err.append(_frame_mse(pred.state.frames[:, -1], truth))
        copy.append(_frame_mse(x[:, k - 1], truth))
        shuffled = model.step(state, b.prev_actions[:, k].roll(1, dims=0), generator=gen)
        shuf.append(_frame_mse(shuffled.state.frames[:, -1], truth))
        for m in VIDEO_MEASURES:
            values[m].append(pred.uncertainty[m].double().cpu().numpy())
    e, c, s = (torch.cat(v).double().cpu().numpy() for v in (err, copy, shuf))
    out = {m: np.concatenate(v) for m, v in values.items()}
    figures = {
        "heldout_onestep_mse": float(e.mean()),
        "heldout_copy_last_mse": float(c.mean()),
        "heldout_shuffled_mse": float(s.mean()),
        "heldout_onestep_psnr": psnr_from_mse(float(e.mean())),
        "heldout_copy_last_psnr": psnr_from_mse(float(c.mean())),
        "heldout_shuffled_psnr": psnr_from_mse(float(s.mean())),
        "heldout_onestep_windows": int(len(e)),
    }
    return figures, out, {m: spearman(v, e) for m, v in out.items()}


@torch.no_grad()
def _open_loop(
    model: VideoModel,
    hold: WindowSampler,
    hold_states: WindowSampler | None,
    cap: int,
    rng: np.random.Generator,
    seed: int,
) -> dict[str, Any]:
    """Open-loop PSNR (and probe error) at the :data:`OPEN_LOOP_HORIZONS` the held-out episodes reach."""
    k = model.context_length
    reach = int(hold.lengths.max()) - k
    hs = [h for h in OPEN_LOOP_HORIZONS if h <= reach]
    empty: dict[str, Any] = {
        "openloop_horizons": [],
        "heldout_openloop_psnr": [],
        "heldout_openloop_copy_last_psnr": [],
    }
    if not hs:
        return empty | {"heldout_openloop_windows": 0}
    H = max(hs)
    eps, starts = _windows(hold, k + H, cap, rng, stride=k + H)
    gen = torch.Generator(device=hold.device).manual_seed(seed + 4)
    err, copy, probe = np.zeros(H), np.zeros(H), np.zeros(H)
    for i in range(0, len(eps), _EVAL_BATCH):
        e_, s_ = eps[i : i + _EVAL_BATCH], starts[i : i + _EVAL_BATCH]
        b = hold.gather(e_, s_, k + H)
        st = hold_states.gather(e_, s_, k + H).obs if hold_states is not None else None
        x = frames_to_model(b.obs)  # (n, k + H, 3, H, W)
        state = VideoState(frames=x[:, :k], actions=model.scale_action(b.prev_actions[:, 1:k]))
        for h in range(H):
            state = model.step(state, b.prev_actions[:, k + h], generator=gen).state
            frame = state.frames[:, -1]
            err[h] += float(_frame_mse(frame, x[:, k + h]).sum())
            copy[h] += float(_frame_mse(x[:, k - 1], x[:, k + h]).sum())
            if st is not None and model.probe is not None:
                z = (model.probe(frame) - (st[:, k + h] - model.state_mean) / model.state_std).square().mean(-1)
                probe[h] += float(z.sqrt().sum())
    n = max(len(eps), 1)
    cols = [h - 1 for h in hs]
    out: dict[str, Any] = {
        "openloop_horizons": hs,
        "heldout_openloop_psnr": [psnr_from_mse(err[c] / n) for c in cols],
        "heldout_openloop_copy_last_psnr": [psnr_from_mse(copy[c] / n) for c in cols],
        "heldout_openloop_windows": int(len(eps)),
    }
    if hold_states is not None and model.probe is not None and len(eps):
        out["heldout_openloop_probe_nrmse"] = [float(probe[c] / n) for c in cols]
    return out


@torch.no_grad()
def _probe_error(
    model: VideoModel, hold_eps: Sequence[SequenceData], hold_states: Sequence[SequenceData], cap: int = 4096
) -> float:
    """Mean over held-out real frames of the probe's normalized RMSE (training-std units)."""
    assert model.probe is not None
    frames = np.concatenate([ep.observations for ep in hold_eps])[:cap]
    states = np.concatenate([ep.observations for ep in hold_states])[:cap]
    dev = model.action_low.device
    total = 0.0
    for i in range(0, len(frames), 256):
        x = frames_to_model(torch.as_tensor(frames[i : i + 256], device=dev))
        s = torch.as_tensor(states[i : i + 256], device=dev)
        z = (model.probe(x) - (s - model.state_mean) / model.state_std).square().mean(-1).sqrt()
        total += float(z.sum())
    return total / max(len(frames), 1)


def _check_args(**kw: Any) -> None:
    for name in ("steps", "batch_size", "eval_windows", "openloop_windows", "log_every"):
        if int(kw[name]) < 1:
            raise ValueError(f"{name} must be >= 1, got {kw[name]}")
    if not kw["lr"] > 0 or not kw["grad_clip"] > 0:
        raise ValueError(f"lr and grad_clip must be > 0, got lr={kw['lr']}, grad_clip={kw['grad_clip']}")
    if not 0.0 <= kw["ema"] < 1.0:
        raise ValueError(f"ema must be in [0, 1) (0: off), got {kw['ema']}")
    if not 0.0 < kw["heldout_fraction"] < 1.0:
        raise ValueError(f"heldout_fraction must be in (0, 1), got {kw['heldout_fraction']}")
    if not 0.0 < kw["calibration_quantile"] <= 1.0:
        raise ValueError(f"calibration_quantile must be in (0, 1], got {kw['calibration_quantile']}")
    if not kw["calibration_scale"] > 0:
        raise ValueError(f"calibration_scale must be > 0, got {kw['calibration_scale']}")
    if kw["measure"] not in VIDEO_MEASURES:
        raise ValueError(f"measure must be one of {VIDEO_MEASURES}, got {kw['measure']!r}")
