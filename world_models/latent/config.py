"""Architecture of a :class:`~neural_gym.world_models.latent.model.LatentModel` and its named size presets.

Presets (parameters for Reacher, ``O = 10``, ``A = 2``, vectors / 64×64 frames; training speed on one shared CPU core
with ``batch_size=16``, ``seq_len=32``):

- ``debug`` — deter 64, 8×8 stoch, hidden 64, 3 heads, conv depth 4: 98 k / 200 k parameters, ~23 / ~2.2 steps/s.
  For tests: a few hundred steps in seconds.
- ``small`` — deter 128, 16×16 stoch, hidden 128, 5 heads, conv depth 16: 0.68 M / 1.96 M parameters, ~9 / ~0.7
  steps/s. The default: on Reacher vectors 1500 steps (~3 min) beat copy-last at every horizon up to 15.
- ``medium`` — deter 512, 32×16 stoch, hidden 512, 5 heads, conv depth 32: 8.2 M / 14.2 M parameters; for a GPU.

Example:
    >>> cfg = preset("debug", obs_kind="pixels", image_size=32)
    >>> cfg.stoch_size, cfg.num_heads
    (64, 3)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from neural_gym.world_models.presets import check_fields, pick_preset

OBS_KINDS: tuple[str, ...] = ("vector", "pixels")
IMAGE_SIZES: tuple[int, ...] = (32, 64)


@dataclass
class LatentConfig:
    """Architecture and loss weights of the RSSM (stored in ``spec.config``)."""

    obs_kind: str = "vector"
    """``"vector"`` (state vectors ``[O]``) or ``"pixels"`` (channels-last frames ``[H, W, 3]``)."""
    deter: int = 128
    """Size ``D`` of the GRU's deterministic state."""
    stoch_groups: int = 16
    """Number ``G`` of categorical variables in the stochastic state."""
    stoch_classes: int = 16
    """Classes ``C`` of each categorical variable."""
    hidden: int = 128
    """Width of every hidden MLP layer (encoder, decoder, heads, prior/posterior nets)."""
    layers: int = 2
    """Hidden layers of the vector encoder/decoder and the reward/continue heads."""
    num_heads: int = 5
    """Number ``E`` of prior (transition) heads; their disagreement is the uncertainty signal (>= 2)."""
    image_size: int = 64
    """Frame height = width for ``obs_kind="pixels"`` (32 or 64)."""
    conv_depth: int = 16
    """Channels of the first conv layer (doubled at each stride-2 layer down to 4×4)."""
    embed: int = 128
    """Size of the vector encoder's output (the conv encoder's is ``8 * conv_depth * 16``)."""
    free_bits: float = 1.0
    """KL below this many nats (summed over groups) is not penalized."""
    dyn_scale: float = 0.5
    """Weight of the dynamics KL ``KL(sg(posterior) || prior)`` (trains the prior heads)."""
    rep_scale: float = 0.1
    """Weight of the representation KL ``KL(posterior || sg(prior))`` (trains the posterior)."""
    unimix: float = 0.01
    """Share of a uniform distribution mixed into every categorical (keeps log-probabilities finite)."""
    burn_in: int = 5
    """Context length ``k``: real observations the posterior reads before imagination starts."""

    @property
    def stoch_size(self) -> int:
        """Flattened size ``G * C`` of the stochastic state."""
        return self.stoch_groups * self.stoch_classes

    @property
    def feat_size(self) -> int:
        """Size ``D + G * C`` of the features the decoder and heads read."""
        return self.deter + self.stoch_size

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field when the configuration cannot build a model."""
        if self.obs_kind not in OBS_KINDS:
            raise ValueError(f"obs_kind must be one of {OBS_KINDS}, got {self.obs_kind!r}")
        if self.num_heads < 2:
            raise ValueError(f"num_heads must be >= 2 so disagreement is defined, got {self.num_heads}")
        for name in ("deter", "stoch_groups", "hidden", "layers", "conv_depth", "embed", "burn_in"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.stoch_classes < 2:
            raise ValueError(f"stoch_classes must be >= 2, got {self.stoch_classes}")
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {self.image_size}")
        if not 0.0 <= self.unimix < 1.0:
            raise ValueError(f"unimix must be in [0, 1), got {self.unimix}")
        if self.free_bits < 0 or self.dyn_scale < 0 or self.rep_scale < 0:
            raise ValueError(
                f"free_bits, dyn_scale and rep_scale must be >= 0, got {self.free_bits}, {self.dyn_scale}, "
                f"{self.rep_scale}"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the constructor's keyword arguments)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LatentConfig:
        """Inverse of :meth:`to_dict`; unknown keys are refused with their names."""
        check_fields(cls, d)
        return cls(**d)


PRESETS: dict[str, LatentConfig] = {
    "debug": LatentConfig(
        deter=64, stoch_groups=8, stoch_classes=8, hidden=64, layers=1, num_heads=3, conv_depth=4, embed=64, burn_in=3
    ),
    "small": LatentConfig(
        deter=128, stoch_groups=16, stoch_classes=16, hidden=128, layers=2, num_heads=5, conv_depth=16, embed=128
    ),
    "medium": LatentConfig(
        deter=512, stoch_groups=32, stoch_classes=16, hidden=512, layers=2, num_heads=5, conv_depth=32, embed=512
    ),
}
"""Named sizes; :func:`preset` returns a copy with overrides."""


def preset(name: str, **overrides: Any) -> LatentConfig:
    """A validated copy of ``PRESETS[name]`` with ``overrides`` applied (e.g. ``obs_kind="pixels"``).

    Raises:
        ValueError: unknown preset name or field, or an override that fails :meth:`LatentConfig.validate`.
    """
    return pick_preset(PRESETS, "latent", name, overrides)
