"""Light networks trained beside the generator: the shared trunk, ``E`` dynamics heads, reward/continue heads, state probe.

- :class:`Trunk` — a small conv encoder of the ``k`` context frames (channel concatenation) joined with the scaled
  action: ``[B, 3k, H, W]``, ``[B, A]`` → feature ``[B, trunk_embed + A]``.
- :class:`DynamicsHeads` — ``E`` independent two-layer MLPs (one batched einsum) from the trunk feature to the change of
  the next frame average-pooled to ``P × P``, in ``[0, 1]`` pixel units: ``[B, F]`` → ``[E, B, 3 P P]``. Their
  spread is the family's uncertainty (``ensemble_std``).

  Why a pooled frame and not an embedding the trunk learns: an embedding trained only to be predictable collapses
  (a constant is perfectly predictable), and nothing else here pins it down when the data have no states. The pooled
  next frame is a fixed, non-trivial target in the same units as the latent family's decoded-frame disagreement.
- :class:`MLPHead` — reward (normalized) and continue logit from the trunk feature.
- :class:`StateProbe` — a separate conv net from one frame ``[B, 3, H, W]`` to the normalized state vector ``[B, O]``.

Every weight is drawn from a ``torch.Generator`` passed in.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from neural_gym.world_models.video.unet import init_conv_linear


class ConvEncoder(nn.Module):
    """Stride-2 convs (SiLU) from ``[B, c_in, S, S]`` down to ``4 × 4``, flattened, then a linear layer to ``out``."""

    def __init__(self, c_in: int, image_size: int, depth: int, out: int, *, generator: torch.Generator) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c, size = c_in, image_size
        ch = depth
        while size > 4:
            conv = nn.Conv2d(c, ch, 4, stride=2, padding=1)
            init_conv_linear(conv, generator)
            layers += [conv, nn.SiLU()]
            c, size, ch = ch, size // 2, ch * 2
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Linear(c * size * size, out)
        init_conv_linear(self.fc, generator)
        self.out_size = out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, c_in, S, S]`` → ``[B, out]``."""
        return self.fc(self.convs(x).flatten(1))


class Trunk(nn.Module):
    """Context frames and action → shared feature ``[B, embed + A]`` (the embedding goes through a LayerNorm)."""

    def __init__(
        self, context_frames: int, image_size: int, depth: int, embed: int, *, generator: torch.Generator
    ) -> None:
        super().__init__()
        self.encoder = ConvEncoder(3 * context_frames, image_size, depth, embed, generator=generator)
        self.norm = nn.LayerNorm(embed)

    def forward(self, context: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """``context [B, 3k, H, W]`` in ``[-1, 1]``, scaled ``action [B, A]`` → ``[B, embed + A]``."""
        return torch.cat([F.silu(self.norm(self.encoder(context))), action], dim=-1)


class DynamicsHeads(nn.Module):
    """``E`` two-layer MLPs evaluated together: ``[B, F]`` → ``[E, B, out]``."""

    def __init__(self, num_heads: int, in_size: int, hidden: int, out: int, *, generator: torch.Generator) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(num_heads, in_size, hidden, generator=generator) * math.sqrt(2.0 / in_size))
        self.b1 = nn.Parameter(torch.zeros(num_heads, 1, hidden))
        self.w2 = nn.Parameter(torch.randn(num_heads, hidden, out, generator=generator) * 0.1 * math.sqrt(1.0 / hidden))
        self.b2 = nn.Parameter(torch.zeros(num_heads, 1, out))

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        """``[B, F]`` → ``[E, B, out]``."""
        h = F.silu(torch.einsum("bf,efh->ebh", feat, self.w1) + self.b1)  # (E, B, hidden)
        return torch.einsum("ebh,eho->ebo", h, self.w2) + self.b2  # (E, B, out)


class MLPHead(nn.Module):
    """``[B, F]`` → ``[B]`` through one hidden SiLU layer; the last layer starts at zero."""

    def __init__(self, in_size: int, hidden: int, *, generator: torch.Generator) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_size, hidden), nn.SiLU(), nn.Linear(hidden, 1))
        init_conv_linear(self.net[0], generator)
        init_conv_linear(self.net[2], generator, zero=True)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        """``[B, F]`` → ``[B]``."""
        return self.net(feat).squeeze(-1)


class StateProbe(nn.Module):
    """One frame ``[B, 3, H, W]`` in ``[-1, 1]`` → normalized state ``[B, O]``."""

    def __init__(self, image_size: int, depth: int, hidden: int, state_dim: int, *, generator: torch.Generator) -> None:
        super().__init__()
        self.encoder = ConvEncoder(3, image_size, depth, hidden, generator=generator)
        self.out = nn.Linear(hidden, state_dim)
        init_conv_linear(self.out, generator)

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` → ``[B, O]``."""
        return self.out(F.silu(self.encoder(frame)))
