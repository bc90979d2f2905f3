"""Architecture, noise schedule and sampler of a :class:`~neural_gym.world_models.video.model.VideoModel`, and named presets.

Presets (measured with ``torch.set_num_threads(1)`` on this project's 2-core CPU box while other jobs shared it, so
figures are indicative; Reacher, ``A = 2``, a 10-dim state probe; training at batch 16 with every loss term; sampling
= one :meth:`~neural_gym.world_models.video.model.VideoModel.step`, heads included):

=============  ======  ==========  ===============  ============  ============  ==================================
preset         frames  parameters  of which UNet    train         sampling      meant for
                                                    steps/s       frames/s
                                                                  B=1 / B=64
=============  ======  ==========  ===============  ============  ============  ==================================
``debug``      32×32   77 k        29 k             24.5          221 / 456     tests: a few hundred steps (~20 s)
``debug``      64×64   109 k       29 k             6.5           103 / 119     tests at 64×64
``small32``    32×32   1.29 M      0.74 M           4.9           42 / 65       a quick 32×32 model
``small``      64×64   1.53 M      0.46 M           2.6           33 / 31       the 64×64 default
=============  ======  ==========  ===============  ============  ============  ==================================

``debug`` samples with 2 Euler steps, the others with 3. A 600-step ``small`` run on 18k steps of random-policy
Reacher frames (~5 min on one core) reaches a held-out one-step PSNR of 27.1 dB against copy-last-frame's 24.4 dB.
The modules run unchanged on a GPU (``device="cuda"``).

Example:
    >>> cfg = preset("debug", image_size=64)
    >>> cfg.context_frames, cfg.sampling_steps, cfg.num_heads
    (4, 2, 3)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from neural_gym.world_models.presets import check_fields, pick_preset

IMAGE_SIZES: tuple[int, ...] = (32, 64)
SAMPLERS: tuple[str, ...] = ("euler", "heun")


@dataclass
class VideoConfig:
    """Architecture, EDM noise schedule, sampler and heads of the video model (stored in ``spec.config``)."""

    context_frames: int = 4
    """Context length ``k``: real frames the generator reads (concatenated on channels)."""
    image_size: int = 64
    """Frame height = width (32 or 64)."""
    channels: tuple[int, ...] = (32, 64, 128)
    """UNet channels per resolution level (2–3 levels; each level after the first halves the resolution)."""
    blocks_per_level: int = 1
    """Residual blocks per level on the way down (and up)."""
    cond_dim: int = 128
    """Size of the conditioning embedding (noise level + action [+ proprio]) fed to every residual block."""
    action_embed: int = 64
    """Hidden size of the action embedding MLP."""
    sigma_data: float = 0.5
    """EDM ``sigma_data``: std of the generated targets in model units (``[-1, 1]``); :func:`train_video` measures it
    on the training data by default (frame changes are far smaller than frames)."""
    p_mean: float = -0.4
    """Mean of ``log sigma`` of the training noise levels (log-normal)."""
    p_std: float = 1.2
    """Std of ``log sigma`` of the training noise levels."""
    sigma_min: float = 2e-3
    """Smallest noise level of the sampling schedule (before the final step to 0)."""
    sigma_max: float = 5.0
    """Noise level sampling starts from (``x = sigma_max * noise``)."""
    rho: float = 7.0
    """Karras schedule curvature."""
    sampling_steps: int = 3
    """Denoising steps per generated frame (1–3; each is one UNet call, Heun adds one per non-final step)."""
    residual: bool = True
    """Generate the change ``y − c_k`` from the newest context frame (sampled, then added to it) rather than ``y``
    itself: copy-last-frame is then the network's zero output, which a small CPU-trained model needs to beat it."""
    sampler: str = "euler"
    """``"euler"`` (DIAMOND's choice) or ``"heun"``."""
    num_heads: int = 4
    """Number ``E`` of dynamics heads on the shared trunk; their disagreement is the uncertainty signal (>= 2)."""
    trunk_channels: int = 16
    """Channels of the trunk's first conv layer (doubled at each stride-2 layer down to 4×4)."""
    trunk_embed: int = 128
    """Size of the trunk's embedding of the ``k`` context frames."""
    head_hidden: int = 128
    """Hidden size of the dynamics, reward and continue heads."""
    pool_size: int = 8
    """The dynamics heads predict the change of the next frame average-pooled to ``pool_size × pool_size``."""
    probe: bool = True
    """Fit a state probe (frame → state vector) when the training data have states."""
    state_dim: int = 0
    """Size ``O`` of the probed state vector (0: no probe; set by training from the data)."""
    proprio: bool = False
    """Condition the generator on the probe's state estimate of the newest context frame (needs the probe)."""
    sample_noise: bool = False
    """Start the sampler from fresh noise drawn from the ``generator`` a caller passes to ``step`` (stochastic
    dreams). Default ``False``: always from zero noise, the deterministic "average" sample, which scored higher PSNR
    against ground truth (about +1.7 dB at step 1 and +2 dB at step 25 on Reacher after a 5-minute run)."""
    context_noise: float = 0.0
    """Noise augmentation of the context frames in training (DIAMOND's and GameNGen's lever against compounding
    error): each training window's context gets Gaussian noise of a std drawn uniformly from ``[0, context_noise]``
    (model units, frames in ``[-1, 1]``), and the generator learns the clean next frame from it, so it learns to pull
    a slightly wrong context back instead of copying its errors. ``0`` (default, and every checkpoint saved before
    the field existed): no augmentation. Sampling never adds noise."""

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)  # JSON round trips give lists

    @property
    def has_probe(self) -> bool:
        """Whether the model has a state probe (``probe`` on and ``state_dim > 0``)."""
        return self.probe and self.state_dim > 0

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field when the configuration cannot build a model."""
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {self.image_size}")
        if not 2 <= len(self.channels) <= 3 or min(self.channels) < 4:
            raise ValueError(f"channels must list 2 or 3 levels of >= 4 channels each, got {self.channels}")
        if self.num_heads < 2:
            raise ValueError(f"num_heads must be >= 2 so disagreement is defined, got {self.num_heads}")
        if not 1 <= self.sampling_steps <= 8:
            raise ValueError(
                f"sampling_steps must be in [1, 8] (few-step sampler; 1–3 is typical), got {self.sampling_steps}"
            )
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        for name in (
            "context_frames",
            "blocks_per_level",
            "cond_dim",
            "action_embed",
            "trunk_channels",
            "trunk_embed",
            "head_hidden",
        ):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.state_dim < 0:
            raise ValueError(f"state_dim must be >= 0, got {self.state_dim}")
        if self.pool_size < 1 or self.image_size % self.pool_size:
            raise ValueError(f"pool_size must divide image_size={self.image_size}, got {self.pool_size}")
        if not 0 < self.sigma_min < self.sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max, got {self.sigma_min}, {self.sigma_max}")
        if not (self.sigma_data > 0 and self.p_std > 0 and self.rho > 0):
            raise ValueError(f"sigma_data, p_std and rho must be > 0, got {self.sigma_data}, {self.p_std}, {self.rho}")
        if not 0.0 <= float(self.context_noise) <= 1.0:
            raise ValueError(f"context_noise must be in [0, 1] (a noise std in model units), got {self.context_noise}")
        if self.proprio and not self.has_probe:
            raise ValueError(
                "proprio=True conditions on the probe's state estimate: needs probe=True and state_dim > 0"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the constructor's keyword arguments)."""
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VideoConfig:
        """Inverse of :meth:`to_dict`; unknown keys are refused with their names."""
        check_fields(cls, d)
        return cls(**d)


PRESETS: dict[str, VideoConfig] = {
    "debug": VideoConfig(
        image_size=32,
        channels=(8, 16),
        cond_dim=32,
        action_embed=16,
        sampling_steps=2,
        num_heads=3,
        trunk_channels=4,
        trunk_embed=32,
        head_hidden=32,
    ),
    "small32": VideoConfig(image_size=32, channels=(32, 64, 64), cond_dim=128, trunk_channels=16),
    "small": VideoConfig(image_size=64, channels=(16, 32, 64), cond_dim=128, trunk_channels=16),
}
"""Named sizes; :func:`preset` returns a validated copy with overrides."""


def preset(name: str, **overrides: Any) -> VideoConfig:
    """A validated copy of ``PRESETS[name]`` with ``overrides`` applied (e.g. ``image_size=64``).

    Raises:
        ValueError: unknown preset name or field, or an override that fails :meth:`VideoConfig.validate`.
    """
    return pick_preset(PRESETS, "video", name, overrides)
