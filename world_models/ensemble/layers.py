"""Building blocks of the ensemble family: a batched linear layer over members and PETS' soft-bounded log-variance.

Every member's weights live in one tensor with the member as the leading dimension, so the whole ensemble runs as one
``torch.baddbmm`` per layer: ``x [E, B, in] @ weight [E, in, out] + bias [E, 1, out] → [E, B, out]``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class EnsembleLinear(nn.Module):
    """``E`` independent linear layers evaluated in one batched matmul.

    Args:
        ensemble_size: number of members ``E``.
        in_features: input size.
        out_features: output size.
        generator: seeded generator the initial weights are drawn from (global RNG untouched).

    Example:
        >>> layer = EnsembleLinear(3, 4, 5, generator=torch.Generator().manual_seed(0))
        >>> layer(torch.zeros(3, 8, 4)).shape
        torch.Size([3, 8, 5])
    """

    def __init__(
        self, ensemble_size: int, in_features: int, out_features: int, *, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        self.ensemble_size = ensemble_size
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(torch.empty(ensemble_size, in_features, out_features))  # (E, in, out)
        self.bias = nn.Parameter(torch.empty(ensemble_size, 1, out_features))  # (E, 1, out)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Truncated-normal weights with std ``1 / (2 sqrt(in))`` (as PETS/MBPO), zero biases."""
        std = 1.0 / (2.0 * math.sqrt(self.in_features))
        with torch.no_grad():
            nn.init.trunc_normal_(self.weight, std=std, a=-2.0 * std, b=2.0 * std, generator=generator)
            self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [E, B, in]`` → ``[E, B, out]`` with this layer's own weights."""
        return ensemble_linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        """Shapes, for ``print(model)``."""
        return f"ensemble_size={self.ensemble_size}, in_features={self.in_features}, out_features={self.out_features}"


def ensemble_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Batched affine map ``x [E, B, in] @ weight [E, in, out] + bias [E, 1, out]`` → ``[E, B, out]``."""
    return torch.baddbmm(bias, x, weight)


class SoftBoundedLogVar(nn.Module):
    """PETS' soft bounds on a predicted log-variance, with learned per-member, per-dimension bounds.

    ``logvar = max - softplus(max - raw)``, then ``logvar = min + softplus(logvar - min)``: smooth, never below ``min``
    and above ``max`` by at most ``softplus(min - max)`` (≈ 2e-5 with the default bounds). The bounds are learned; :meth:`regularizer` keeps them from drifting apart for free.

    Args:
        ensemble_size: number of members ``E``.
        dim: number of output dimensions ``D``.
        min_logvar_init: initial lower bound.
        max_logvar_init: initial upper bound.
    """

    def __init__(self, ensemble_size: int, dim: int, min_logvar_init: float, max_logvar_init: float) -> None:
        super().__init__()
        if not min_logvar_init < max_logvar_init:
            raise ValueError(
                f"min_logvar_init must be below max_logvar_init, got {min_logvar_init} and {max_logvar_init}"
            )
        self.max_logvar = nn.Parameter(torch.full((ensemble_size, 1, dim), float(max_logvar_init)))  # (E, 1, D)
        self.min_logvar = nn.Parameter(torch.full((ensemble_size, 1, dim), float(min_logvar_init)))  # (E, 1, D)

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        """Bound ``raw [E, B, D]`` with the members' own bounds (or ``[E', B, D]`` with bounds passed to :func:`soft_bound`)."""
        return soft_bound(raw, self.min_logvar, self.max_logvar)

    def regularizer(self) -> torch.Tensor:
        """``sum(max) - sum(min)``: the small penalty (times 0.01 in the loss) that keeps the bounds tight."""
        return self.max_logvar.sum() - self.min_logvar.sum()


def soft_bound(raw: torch.Tensor, min_logvar: torch.Tensor, max_logvar: torch.Tensor) -> torch.Tensor:
    """Softly clamp ``raw`` into ``[min_logvar, max_logvar]`` (both broadcastable to ``raw``)."""
    logvar = max_logvar - F.softplus(max_logvar - raw)
    return min_logvar + F.softplus(logvar - min_logvar)
