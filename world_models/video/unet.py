"""A small conditional UNet: the denoiser network ``F`` of the video family's EDM generator.

Input: the (preconditioned) noisy next frame concatenated on channels with the ``k`` context frames,
``[B, 3 (k + 1), H, W]``. Conditioning: an embedding of the noise level ``c_noise`` (fixed sinusoidal features), the
scaled action (MLP) and, optionally, a proprioceptive vector (MLP), summed into one vector ``[B, cond_dim]`` that every
residual block reads through adaptive group norm (a per-channel scale and shift, FiLM-style). Output ``[B, 3, H, W]``.

Layout (``channels = (c0, c1, c2)``, ``n`` = ``blocks_per_level``)::

    conv_in 3(k+1) → c0
    down:  level 0: n × Res(c0) ─skip─┐, ↓2   level 1: n × Res(c1) ─skip─┐, ↓2   level 2: n × Res(c2) ─skip─┐
    mid:   Res(c2)
    up:    level 2: n × Res(cat skip) , ↑2 ...  level 0: n × Res(cat skip)
    out:   GroupNorm, SiLU, conv c0 → 3 (zero-initialized: the untrained network outputs 0, i.e. D(x) = c_skip x)

No attention: the model must train on a CPU core. Every weight is drawn from a ``torch.Generator`` passed in.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def group_count(channels: int) -> int:
    """Groups of a GroupNorm over ``channels``: the largest of 8, 4, 2, 1 that divides it."""
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


def init_conv_linear(module: nn.Module, generator: torch.Generator, zero: bool = False) -> None:
    """He-normal weights (fan-in) and zero biases for a ``Conv2d``/``Linear``, drawn from ``generator``."""
    assert isinstance(module, (nn.Conv2d, nn.Linear))
    with torch.no_grad():
        if zero:
            module.weight.zero_()
        else:
            fan_in = module.weight[0].numel()
            module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * math.sqrt(2.0 / fan_in))
        if module.bias is not None:
            module.bias.zero_()


def noise_features(c_noise: torch.Tensor, dim: int) -> torch.Tensor:
    """Fixed sinusoidal features of the noise level: ``[B]`` → ``[B, dim]`` (frequencies 1 … 1000, log-spaced)."""
    half = dim // 2
    freqs = torch.exp(torch.linspace(0.0, math.log(1000.0), half, device=c_noise.device))  # (half,)
    angle = c_noise.float()[:, None] * freqs[None, :]  # (B, half)
    out = torch.cat([angle.sin(), angle.cos()], dim=-1)  # (B, 2 half)
    return F.pad(out, (0, dim - 2 * half))


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv → adaptive GroupNorm(cond) → SiLU → conv (zero-init), plus a (1×1) skip."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, *, generator: torch.Generator) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(group_count(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2 = nn.GroupNorm(group_count(c_out), c_out, affine=False)
        self.film = nn.Linear(cond_dim, 2 * c_out)  # per-channel (scale, shift) of norm2
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        init_conv_linear(self.conv1, generator)
        init_conv_linear(self.film, generator, zero=True)  # starts as a plain GroupNorm (scale 1, shift 0)
        init_conv_linear(self.conv2, generator, zero=True)  # the block starts as its skip path
        if isinstance(self.skip, nn.Conv2d):
            init_conv_linear(self.skip, generator)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``x [B, c_in, h, w]``, ``cond [B, cond_dim]`` → ``[B, c_out, h, w]``."""
        h = self.conv1(F.silu(self.norm1(x)))  # (B, c_out, h, w)
        scale, shift = self.film(cond)[:, :, None, None].chunk(2, dim=1)  # (B, c_out, 1, 1) each
        h = self.norm2(h) * (1.0 + scale) + shift
        h = self.conv2(F.silu(h))
        return self.skip(x) + h


class UNet(nn.Module):
    """The denoiser ``F(c_in x, context, c_noise, action[, proprio])``.

    Args:
        context_frames: ``k``, frames concatenated with the noisy frame.
        channels: channels per resolution level.
        blocks_per_level: residual blocks per level (down and up).
        cond_dim: size of the conditioning embedding.
        action_dim: size ``A`` of the (scaled) action.
        action_embed: hidden size of the action MLP.
        proprio_dim: size of the optional proprioceptive vector (0: none).
        generator: source of the initial weights.
    """

    def __init__(
        self,
        *,
        context_frames: int,
        channels: tuple[int, ...],
        blocks_per_level: int,
        cond_dim: int,
        action_dim: int,
        action_embed: int,
        proprio_dim: int = 0,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.cond_dim = cond_dim
        self.proprio_dim = proprio_dim
        self.noise_mlp = nn.Sequential(nn.Linear(cond_dim, cond_dim), nn.SiLU(), nn.Linear(cond_dim, cond_dim))
        self.action_mlp = nn.Sequential(
            nn.Linear(action_dim, action_embed), nn.SiLU(), nn.Linear(action_embed, cond_dim)
        )
        self.proprio_mlp = (
            nn.Sequential(nn.Linear(proprio_dim, action_embed), nn.SiLU(), nn.Linear(action_embed, cond_dim))
            if proprio_dim
            else None
        )
        self.conv_in = nn.Conv2d(3 * (context_frames + 1), channels[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skips: list[int] = []
        c = channels[0]
        for level, ch in enumerate(channels):
            blocks = nn.ModuleList()
            for _ in range(blocks_per_level):
                blocks.append(ResBlock(c, ch, cond_dim, generator=generator))
                c = ch
                skips.append(c)
            self.down.append(blocks)
            last = level == len(channels) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.mid = ResBlock(c, c, cond_dim, generator=generator)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level, ch in reversed(list(enumerate(channels))):
            blocks = nn.ModuleList()
            for _ in range(blocks_per_level):
                blocks.append(ResBlock(c + skips.pop(), ch, cond_dim, generator=generator))
                c = ch
            self.up.append(blocks)
            self.upsample.append(nn.Conv2d(c, channels[level - 1], 3, padding=1) if level > 0 else nn.Identity())
            c = channels[level - 1] if level > 0 else c
        self.norm_out = nn.GroupNorm(group_count(c), c)
        self.conv_out = nn.Conv2d(c, 3, 3, padding=1)

        extra = list(self.proprio_mlp) if self.proprio_mlp is not None else []
        for m in [*self.noise_mlp, *self.action_mlp, *extra, self.conv_in]:
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                init_conv_linear(m, generator)
        for m in [*self.downsample, *self.upsample]:
            if isinstance(m, nn.Conv2d):
                init_conv_linear(m, generator)
        init_conv_linear(self.conv_out, generator, zero=True)

    def embed(self, c_noise: torch.Tensor, action: torch.Tensor, proprio: torch.Tensor | None = None) -> torch.Tensor:
        """Conditioning vector ``[B, cond_dim]`` from ``c_noise [B]``, scaled ``action [B, A]``, ``proprio [B, P]``."""
        cond = self.noise_mlp(noise_features(c_noise, self.cond_dim)) + self.action_mlp(action)
        if self.proprio_mlp is not None:
            if proprio is None:
                raise ValueError(f"this UNet conditions on a proprio vector of size {self.proprio_dim}; got None")
            cond = cond + self.proprio_mlp(proprio)
        return F.silu(cond)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor,
        c_noise: torch.Tensor,
        action: torch.Tensor,
        proprio: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``F``: ``x [B, 3, H, W]`` (already scaled by ``c_in``), ``context [B, 3k, H, W]`` → ``[B, 3, H, W]``."""
        cond = self.embed(c_noise, action, proprio)  # (B, cond_dim)
        h = self.conv_in(torch.cat([x, context], dim=1))  # (B, c0, H, W)
        skips = []
        for blocks, down in zip(self.down, self.downsample, strict=True):
            for block in blocks:  # type: ignore[attr-defined]
                h = block(h, cond)
                skips.append(h)
            h = down(h)  # (B, c, h / 2, w / 2) except at the last level
        h = self.mid(h, cond)
        for blocks, up in zip(self.up, self.upsample, strict=True):
            for block in blocks:  # type: ignore[attr-defined]
                h = block(torch.cat([h, skips.pop()], dim=1), cond)
            if isinstance(up, nn.Conv2d):
                h = up(F.interpolate(h, scale_factor=2.0, mode="nearest"))  # (B, c_prev, 2h, 2w)
        return self.conv_out(F.silu(self.norm_out(h)))  # (B, 3, H, W)
