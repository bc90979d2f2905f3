"""Architecture, sampler and training mix of a :class:`~neural_gym.world_models.wam.model.WAMModel`, and presets.

The training mix is the heart of a world action model: every training sample draws one *noise pattern*, i.e. which
parts of the sequence are clean (given), which are noised at a random level (learned), and which are held at the
maximum level (unknown, marginalised). Each pattern trains the conditional one of the model's modes samples from
(the noise-level convention and the modes are described in :mod:`neural_gym.world_models.wam.model`):

==============  =========================================  ==========================================  ==============
pattern         future observations                        action chunk                                trains
==============  =========================================  ==========================================  ==============
``joint``       level ``t_o ~ U(0, 1)``                    level ``t_a ~ U(0, 1)`` (independent)       ``joint``
``policy``      max (marginalised)                         ``t_a ~ U(0, 1)``                           ``act``
``forward``     ``t_o ~ U(0, 1)``                          first ``n ~ U{2..H}`` clean, rest max        ``forward``
``step``        ``t_o ~ U(0, 1)``                          first clean, rest max                       ``step``
``inverse``     first clean, rest max                      ``t_a ~ U(0, 1)``                           ``inverse``
``imagined``    clean (all ``K``)                          ``t_a ~ U(0, 1)``                           ``act(imagine)``
``dynamics``    ``t_o ~ U(0, 1)``                          max (marginalised)                          ``imagine``
==============  =========================================  ==========================================  ==============

Action-free clips always take the ``dynamics`` pattern (their actions are unknown: held at the maximum level and never
scored). The patterns whose actions or next observation are given (``forward``, ``step``, ``inverse``) read the null
instruction: dynamics do not depend on the words (the tabletop state already holds the instructed object and goal),
so :meth:`~neural_gym.world_models.wam.model.WAMModel.step` needs none.

Presets (tabletop state vectors, ``O = 54``, ``A = 4``; measured with one torch thread on this project's 2-core CPU
box while other jobs shared it, so figures are indicative; train = optimizer steps/s at batch 256, step = env steps/s
of :meth:`~neural_gym.world_models.wam.model.WAMModel.step` at batch 1 / 64, every head sampling):

=========  ==========  =======  ========  =========  ========  ============  ========================================
preset     parameters  ``H``    ``K``     sampling   train     step          meant for
=========  ==========  =======  ========  =========  ========  ============  ========================================
``debug``  123 k       8        2         4 steps    20        210 / 3 600   tests: a few hundred steps in seconds
``small``  0.40 M      8        4         6 steps    3–7       100 / 1 000   the tabletop default
=========  ==========  =======  ========  =========  ========  ============  ========================================

A 3000-step ``small`` run on the 30 000 steps of ``neural_gym/TabletopReach/expert-v0`` reaches a held-out one-step
normalized RMSE of 0.176 (copy-last 0.497) and an inverse-dynamics error of 0.057 per action dimension (mean action
0.527); its zero-noise policy mode solves 20 of 20 MuJoCo episodes (the README has the details).

Example:
    >>> cfg = preset("debug")
    >>> cfg.chunk_size, cfg.future_steps, cfg.num_heads
    (8, 2, 2)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from neural_gym.world_models.presets import check_fields, pick_preset

#: Noise patterns of the training mix (see the module docstring), in a fixed order.
PATTERNS: tuple[str, ...] = ("joint", "policy", "forward", "step", "inverse", "imagined", "dynamics")
#: Token 0 and 1 of the instruction vocabulary (the same convention as the VLA family's vocabulary).
PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"


def default_pattern_weights() -> dict[str, float]:
    """The default training mix: a third joint, the rest spread over the conditionals the modes sample from."""
    return {
        "joint": 0.3,
        "policy": 0.15,
        "forward": 0.1,
        "step": 0.15,
        "inverse": 0.1,
        "imagined": 0.1,
        "dynamics": 0.1,
    }


@dataclass
class WAMConfig:
    """Architecture, sampler and training mix of the world action model (stored in ``spec.config``)."""

    chunk_size: int = 8
    """``H``: actions per chunk (the policy's output, the forward mode's input)."""
    future_steps: int = 4
    """``K``: future observations ``o_{t+1} .. o_{t+K}`` in the sequence (``1 <= K <= H``)."""
    width: int = 64
    """Token width of the transformer backbone."""
    obs_tokens: int = 4
    """Tokens ``M`` the current observation is encoded into (by an MLP), so attention can select its parts."""
    depth: int = 3
    """Transformer layers."""
    attention_heads: int = 4
    """Attention heads per layer (must divide ``width``)."""
    num_heads: int = 3
    """Number ``E`` of dynamics heads (future-observation velocity heads on the shared backbone), >= 2: their
    disagreement is the uncertainty signal."""
    head_hidden: int = 128
    """Hidden size of the velocity heads and of the reward head."""
    word_embed: int = 32
    """Size of the instruction's word embeddings (mean-pooled, then projected to one token)."""
    noise_embed: int = 32
    """Sinusoidal features of a token's noise level before its MLP."""
    sampling_steps: int = 6
    """Euler steps of the flow sampler per generated part (1–16)."""
    dream_noise: bool = False
    """Whether :meth:`~neural_gym.world_models.wam.model.WAMModel.step` (the Dream env's step) starts the sampler
    from noise drawn from the engine's generator. ``False`` (default): from zero noise, the deterministic path of
    the noise's mean, so a dream is a function of its start and actions (the other modes always draw from the
    ``generator`` they are given)."""
    instruction_dropout: float = 0.2
    """Share of training samples of the language-conditioned patterns that read the null instruction instead, so
    ``act`` also works without one."""
    head_bootstrap: float = 0.8
    """Each dynamics head scores each training sample with this probability (a per-head bootstrap mask), so the
    heads see different data and disagree where the data are thin."""
    pattern_weights: dict[str, float] = field(default_factory=default_pattern_weights)
    """Relative weight of each noise pattern of :data:`PATTERNS` in the training mix (see the module docstring)."""
    vocab: tuple[str, ...] = (PAD_TOKEN, UNK_TOKEN)
    """The instruction vocabulary: ``<pad>``, ``<unk>``, then the training instructions' words (set by training)."""

    def __post_init__(self) -> None:
        self.vocab = tuple(str(t) for t in self.vocab)  # JSON round trips give lists
        self.pattern_weights = {str(k): float(v) for k, v in dict(self.pattern_weights).items()}

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field when the configuration cannot build a model."""
        for name in ("chunk_size", "future_steps", "width", "obs_tokens", "depth", "attention_heads", "head_hidden"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.future_steps > self.chunk_size:
            raise ValueError(
                f"future_steps must be in [1, chunk_size={self.chunk_size}] (one future observation per action at "
                f"most), got {self.future_steps}"
            )
        if self.width % self.attention_heads:
            raise ValueError(f"attention_heads={self.attention_heads} must divide width={self.width}")
        if self.num_heads < 2:
            raise ValueError(f"num_heads must be >= 2 so disagreement is defined, got {self.num_heads}")
        if self.word_embed < 1 or self.noise_embed < 2 or self.noise_embed % 2:
            raise ValueError(
                f"word_embed must be >= 1 and noise_embed an even number >= 2, got {self.word_embed}, {self.noise_embed}"
            )
        if not 1 <= self.sampling_steps <= 16:
            raise ValueError(f"sampling_steps must be in [1, 16] (a few-step sampler), got {self.sampling_steps}")
        for name in ("instruction_dropout", "head_bootstrap"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.head_bootstrap <= 0.0:
            raise ValueError("head_bootstrap must be > 0 (a head that scores no sample never learns)")
        unknown = sorted(set(self.pattern_weights) - set(PATTERNS))
        if unknown:
            raise ValueError(f"unknown noise patterns {unknown} in pattern_weights; known: {list(PATTERNS)}")
        weights = [self.pattern_weights.get(p, 0.0) for p in PATTERNS]
        if any(not w >= 0.0 for w in weights) or sum(weights) <= 0.0:
            raise ValueError(f"pattern_weights must be >= 0 with a positive sum, got {self.pattern_weights}")
        if self.vocab[:2] != (PAD_TOKEN, UNK_TOKEN) or len(set(self.vocab)) != len(self.vocab):
            raise ValueError(
                f"vocab must start with {PAD_TOKEN!r}, {UNK_TOKEN!r} and hold no repeats, got {list(self.vocab[:4])}..."
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the constructor's keyword arguments)."""
        d = asdict(self)
        d["vocab"] = list(self.vocab)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WAMConfig:
        """Inverse of :meth:`to_dict`; unknown keys are refused with their names."""
        check_fields(cls, d)
        return cls(**d)


PRESETS: dict[str, WAMConfig] = {
    "debug": WAMConfig(
        chunk_size=8,
        future_steps=2,
        width=48,
        obs_tokens=2,
        depth=2,
        attention_heads=2,
        num_heads=2,
        head_hidden=48,
        word_embed=16,
        noise_embed=16,
        sampling_steps=4,
    ),
    "small": WAMConfig(width=64, depth=3, attention_heads=4, num_heads=3, head_hidden=128),
}
"""Named sizes; :func:`preset` returns a validated copy with overrides."""


def preset(name: str, **overrides: Any) -> WAMConfig:
    """A validated copy of ``PRESETS[name]`` with ``overrides`` applied (e.g. ``sampling_steps=8``).

    Raises:
        ValueError: unknown preset name or field, or an override that fails :meth:`WAMConfig.validate`.
    """
    return pick_preset(PRESETS, "wam", name, overrides)
