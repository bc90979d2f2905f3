"""Pieces every family's trainer shares: uncertainty calibration from held-out values, rank correlation, PSNR, masked
means, TensorBoard writers and the real start contexts a checkpoint keeps for ``start="dataset"``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from neural_gym.world_models.base import Calibration

#: Quantiles of the held-out disagreement recorded beside each threshold (for reports).
HELDOUT_QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.99, 0.999)


def calibration_from_values(
    values: dict[str, np.ndarray], *, measure: str, quantile: float, scale: float
) -> Calibration:
    """Thresholds at ``quantile`` (times ``scale``) of each measure's held-out one-step disagreement values.

    Args:
        values: per measure, ``[N]`` disagreement on held-out real transitions.
        measure: the measure that drives cut-offs.
        quantile: quantile taken as threshold.
        scale: factor applied to it.
    """
    if measure not in values:
        raise ValueError(f"measure {measure!r} was not computed; have {sorted(values)}")
    thresholds: dict[str, float] = {}
    heldout: dict[str, dict[str, float]] = {}
    for m, v in values.items():
        thresholds[m] = float(np.quantile(v, quantile)) * scale
        heldout[m] = {str(q): float(np.quantile(v, q)) for q in HELDOUT_QUANTILES} | {"max": float(v.max())}
    return Calibration(
        measure=measure,
        thresholds=thresholds,
        quantile=quantile,
        scale=scale,
        heldout_quantiles=heldout,
        heldout_size=len(values[measure]),
    )


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (ties broken by order; NaN when either side is constant or shorter than 2)."""
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    ra = np.argsort(np.argsort(a)).astype(np.float64)
    rb = np.argsort(np.argsort(b)).astype(np.float64)
    return float(np.corrcoef(ra, rb)[0, 1])


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB of an MSE in ``[0, 1]`` pixel units."""
    return float(10.0 * math.log10(1.0 / max(mse, 1e-12)))


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over the entries where ``mask`` is 1 (0 when the mask is empty)."""
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def summary_writer(log_dir: str | None, arg_name: str = "log_dir") -> Any:
    """A TensorBoard ``SummaryWriter`` for ``log_dir`` (imported only when asked for), or ``None``."""
    if log_dir is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:  # pragma: no cover - tensorboard is a dependency, but may be missing in slim installs
        raise ImportError(f"{arg_name} needs the tensorboard package: pip install tensorboard") from err
    return SummaryWriter(log_dir=log_dir)


def store_start_contexts(model: Any, episodes: Sequence[Any], rng: np.random.Generator, cap: int) -> None:
    """Keep up to ``cap`` real ``k``-step contexts (``k = model.context_length``) of ``episodes`` in the model.

    Args:
        model: a model with ``context_length``, ``action_dim`` and ``set_start_contexts(obs, actions)``.
        episodes: training episodes with ``observations [T + 1, ...]`` and ``actions [T, A]``.
        rng: draws which contexts are kept.
        cap: how many at most (checkpoints stay small).
    """
    k = model.context_length
    candidates = [(i, s) for i, ep in enumerate(episodes) for s in range(len(ep.observations) - k + 1)]
    if not candidates:
        return
    pick = rng.choice(len(candidates), size=min(cap, len(candidates)), replace=False)
    obs, act = [], []
    for j in np.sort(pick):
        i, s = candidates[j]
        obs.append(episodes[i].observations[s : s + k])
        act.append(episodes[i].actions[s : s + k - 1])
    model.set_start_contexts(np.stack(obs), np.stack(act).reshape(len(obs), k - 1, model.action_dim))
