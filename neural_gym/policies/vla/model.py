"""The VLA network: a small CNN over 64x64 frames, FiLM-conditioned on the instruction, plus gripper proprio, and an
action-chunk head of one of three kinds.

* **Instruction encoder**: token embeddings (vocabulary of :mod:`~.vocab`), mean-pooled over the non-``<pad>`` tokens,
  then an MLP to the instruction feature.
* **Image encoder**: four 3x3 convolutions (strides 2, 2, 1, 1) with GroupNorm and FiLM from the instruction feature
  after each, then a spatial soft-argmax with a learned temperature per map (``(x, y)`` of each of ``channels`` feature
  maps, so the network can point at the instructed object) beside the maps average-pooled to 4x4.
* **Proprio** (optional): the first :data:`PROPRIO_DIM` = 8 state entries only (grasp point, pad gap and their
  velocities), normalized by the training data's mean and std. Never the object poses: objects are read from pixels.
* **Heads** (``head``), on the fused feature, all for a chunk of ``H`` actions of ``A`` = 4 dims in ``[-1, 1]``:

  - ``"regression"`` (ACT-style): ``tanh`` of a linear map, trained with L1;
  - ``"bins"`` (RT-2 / OpenVLA-style): 256 bins per dimension over ``[-1, 1]`` (bin ``k`` has centre
    ``-1 + 2k / 255``), cross-entropy; inference takes the **argmax** bin's centre. The logits come from a per-slot
    code (``H * A`` codes of ``bin_code`` dims) through one shared linear map to 256 logits, keeping the head small;
  - ``"flow"`` (pi0-style flow matching): a velocity MLP ``v(x_t, t, feature)`` trained on
    ``x_t = (1 - t) * noise + t * chunk`` against ``chunk - noise`` with ``t ~ U(0, 1)``; inference integrates
    ``flow_steps`` (10) Euler steps from Gaussian noise drawn from a caller's ``torch.Generator``, then clips.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

HEADS: tuple[str, ...] = ("regression", "bins", "flow")
"""Kinds of action-chunk head."""
PROPRIO_DIM = 8
"""State entries the policy may read: grasp point (3), pad gap (1), their velocities (4)."""
ACTION_DIM = 4
"""Tabletop actions: ``[dx, dy, dz, grip]``."""
POOL = 4
"""Side of the average-pooled feature map fed (flattened) beside the keypoints."""


@dataclass(frozen=True)
class VLAConfig:
    """Architecture of a :class:`VLANet` (stored in the checkpoint).

    Attributes:
        head: ``"regression"``, ``"bins"`` or ``"flow"``.
        vocab_size: Number of tokens (``<pad>`` and ``<unk>`` included).
        chunk_size: ``H``, actions per chunk.
        action_dim: ``A``.
        image_size: Side of the square input frames.
        channels: Feature maps of the convolutions (and soft-argmax keypoints).
        embed_dim: Token embedding size and instruction feature size.
        hidden: Width of the fused feature and the heads' MLPs.
        use_proprio: Whether the first 8 state entries are an input.
        n_bins: Bins per action dimension (``"bins"``).
        bin_code: Size of each slot's code in the bins head.
        flow_steps: Euler steps at inference (``"flow"``).
    """

    head: str = "regression"
    vocab_size: int = 2
    chunk_size: int = 8
    action_dim: int = ACTION_DIM
    image_size: int = 64
    channels: int = 32
    embed_dim: int = 32
    hidden: int = 256
    use_proprio: bool = True
    n_bins: int = 256
    bin_code: int = 16
    flow_steps: int = 10

    def __post_init__(self) -> None:
        if self.head not in HEADS:
            raise ValueError(f"Unknown head {self.head!r}; expected one of {HEADS}.")
        for name in ("vocab_size", "chunk_size", "action_dim", "image_size", "channels", "embed_dim", "hidden"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"VLAConfig.{name} must be a positive int, got {value!r}.")
        if self.vocab_size < 3:
            raise ValueError(f"VLAConfig.vocab_size must be >= 3 (<pad>, <unk> and a word), got {self.vocab_size}.")
        if self.image_size < 16:
            raise ValueError(f"VLAConfig.image_size must be >= 16, got {self.image_size}.")
        if self.n_bins < 2 or self.bin_code < 1 or self.flow_steps < 1:
            raise ValueError(
                f"n_bins must be >= 2, bin_code and flow_steps >= 1; got {self.n_bins}, {self.bin_code}, "
                f"{self.flow_steps}."
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VLAConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: For unknown fields or invalid values.
        """
        names = {f.name for f in fields(cls)}
        extra = sorted(set(data) - names)
        if extra:
            raise ValueError(f"Unknown VLAConfig fields {extra}.")
        return cls(**data)


class _FiLMConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, cond: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)
        self.norm = nn.GroupNorm(min(8, c_out), c_out)
        self.film = nn.Linear(cond, 2 * c_out)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(cond).chunk(2, dim=-1)
        h = self.norm(self.conv(x))
        return F.silu(h * (1 + scale[:, :, None, None]) + shift[:, :, None, None])


def spatial_soft_argmax(maps: torch.Tensor, temperature: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Expected ``(x, y)`` in ``[-1, 1]`` of each map's softmax (``maps / temperature``): ``(B, C, H, W)`` -> ``(B, 2C)``."""
    b, c, h, w = maps.shape
    probs = (maps.reshape(b, c, h * w) / torch.as_tensor(temperature).reshape(-1, 1)).softmax(-1).reshape(b, c, h, w)
    ys = torch.linspace(-1.0, 1.0, h, device=maps.device, dtype=maps.dtype)
    xs = torch.linspace(-1.0, 1.0, w, device=maps.device, dtype=maps.dtype)
    x = (probs.sum(2) * xs).sum(-1)
    y = (probs.sum(3) * ys).sum(-1)
    return torch.cat([x, y], dim=-1)


def _time_embedding(t: torch.Tensor, dim: int = 16) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(torch.arange(half, device=t.device, dtype=t.dtype) * (-math.log(1000.0) / max(half - 1, 1)))
    angles = t[:, None] * freqs[None] * 2 * math.pi
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class VLANet(nn.Module):
    """Frames + instruction tokens (+ proprio) -> action chunks (see the module doc).

    Args:
        config: The architecture.
    """

    def __init__(self, config: VLAConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embed = nn.Embedding(c.vocab_size, c.embed_dim, padding_idx=0)
        self.text_mlp = nn.Sequential(
            nn.Linear(c.embed_dim, c.embed_dim), nn.SiLU(), nn.Linear(c.embed_dim, c.embed_dim)
        )
        self.convs = nn.ModuleList(
            [
                _FiLMConv(3, c.channels // 2, 2, c.embed_dim),
                _FiLMConv(c.channels // 2, c.channels, 2, c.embed_dim),
                _FiLMConv(c.channels, c.channels, 1, c.embed_dim),
                _FiLMConv(c.channels, c.channels, 1, c.embed_dim),
            ]
        )
        self.log_temperature = nn.Parameter(torch.full((c.channels,), math.log(0.3)))
        self.pool_proj = nn.Linear(c.channels * POOL * POOL, c.hidden)
        self.register_buffer("proprio_mean", torch.zeros(PROPRIO_DIM))
        self.register_buffer("proprio_std", torch.ones(PROPRIO_DIM))
        fused_in = 2 * c.channels + c.hidden + c.embed_dim + (PROPRIO_DIM if c.use_proprio else 0)
        self.fuse = nn.Sequential(nn.Linear(fused_in, c.hidden), nn.SiLU(), nn.Linear(c.hidden, c.hidden), nn.SiLU())
        out = c.chunk_size * c.action_dim
        if c.head == "regression":
            self.head = nn.Linear(c.hidden, out)
        elif c.head == "bins":
            self.head = nn.Linear(c.hidden, out * c.bin_code)
            self.bin_logits = nn.Linear(c.bin_code, c.n_bins)
        else:
            self.head = nn.Sequential(
                nn.Linear(out + 16 + c.hidden, c.hidden), nn.SiLU(), nn.Linear(c.hidden, c.hidden), nn.SiLU(),
                nn.Linear(c.hidden, out),
            )  # fmt: skip

    @torch.no_grad()
    def init_weights(self, generator: torch.Generator) -> None:
        """Draw every weight from ``generator`` (uniform, bound ``1 / sqrt(fan_in)``; biases 0; norms 1; FiLM 0, i.e.
        the identity; keypoint temperatures 0.3), so a seed fixes the initialization without the global RNG."""
        for name, p in self.named_parameters():
            if name == "log_temperature":
                p.fill_(math.log(0.3))
            elif ".film." in name or name.endswith("bias"):
                p.zero_()
            elif p.dim() == 1:
                p.fill_(1.0)
            else:
                bound = 1.0 / math.sqrt(p[0].numel())
                p.copy_((torch.rand(p.shape, generator=generator) * 2 - 1) * bound)

    def features(self, pixels: torch.Tensor, tokens: torch.Tensor, proprio: torch.Tensor | None) -> torch.Tensor:
        """Fused feature ``(B, hidden)`` of uint8 frames ``(B, H, W, 3)``, token ids ``(B, L)``, proprio ``(B, 8)``."""
        mask = (tokens != 0).to(torch.float32)[..., None]
        text = (self.embed(tokens) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        text = self.text_mlp(text)
        x = pixels.permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1.0
        for conv in self.convs:
            x = conv(x, text)
        pooled = F.adaptive_avg_pool2d(x, POOL).flatten(1)
        parts = [spatial_soft_argmax(x, self.log_temperature.exp()), F.silu(self.pool_proj(pooled)), text]
        if self.config.use_proprio:
            if proprio is None:
                raise ValueError("This VLA reads proprio (the first 8 state entries); none was given.")
            parts.append((proprio.to(torch.float32) - self.proprio_mean) / self.proprio_std)
        return self.fuse(torch.cat(parts, dim=-1))

    def _chunk_shape(self, batch: int) -> tuple[int, int, int]:
        return batch, self.config.chunk_size, self.config.action_dim

    def loss(
        self, feat: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        """Training loss of the head: target chunks ``(B, H, A)`` in ``[-1, 1]``, ``mask`` ``(B, H)`` 1 on real steps."""
        c = self.config
        weight = mask[..., None].expand_as(target)
        denom = weight.sum().clamp(min=1.0)
        if c.head == "regression":
            pred = torch.tanh(self.head(feat)).reshape(target.shape)
            return ((pred - target).abs() * weight).sum() / denom
        if c.head == "bins":
            logits = self.bin_logits(self.head(feat).reshape(*target.shape, c.bin_code))
            bins = torch.round((target.clamp(-1, 1) + 1) / 2 * (c.n_bins - 1)).long()
            ce = F.cross_entropy(logits.reshape(-1, c.n_bins), bins.reshape(-1), reduction="none")
            return (ce.reshape(target.shape) * weight).sum() / denom
        noise = torch.randn(target.shape, generator=generator, device=target.device)
        t = torch.rand(target.shape[0], generator=generator, device=target.device)
        x_t = (1 - t[:, None, None]) * noise + t[:, None, None] * target
        v = self._velocity(x_t, t, feat)
        return (((v - (target - noise)) ** 2) * weight).sum() / denom

    def _velocity(self, x_t: torch.Tensor, t: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        inp = torch.cat([x_t.reshape(x_t.shape[0], -1), _time_embedding(t), feat], dim=-1)
        return self.head(inp).reshape(x_t.shape)

    @torch.no_grad()
    def sample(self, feat: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Action chunks ``(B, H, A)`` in ``[-1, 1]`` for features ``(B, hidden)``.

        Args:
            feat: From :meth:`features`.
            generator: Noise source of the flow head (required there; unused by the other heads).

        Raises:
            ValueError: For the flow head without a generator.
        """
        c = self.config
        shape = self._chunk_shape(feat.shape[0])
        if c.head == "regression":
            return torch.tanh(self.head(feat)).reshape(shape)
        if c.head == "bins":
            logits = self.bin_logits(self.head(feat).reshape(*shape, c.bin_code))
            return logits.argmax(-1).to(feat.dtype) / (c.n_bins - 1) * 2 - 1
        if generator is None:
            raise ValueError("The flow head samples noise and needs a torch.Generator.")
        x = torch.randn(shape, generator=generator, device=feat.device, dtype=feat.dtype)
        dt = 1.0 / c.flow_steps
        for k in range(c.flow_steps):
            t = torch.full((shape[0],), k * dt, device=feat.device, dtype=feat.dtype)
            x = x + dt * self._velocity(x, t, feat)
        return x.clamp(-1.0, 1.0)
