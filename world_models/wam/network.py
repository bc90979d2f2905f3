"""The shared backbone of the world action model: one transformer over observation, instruction, future and action
tokens, with a velocity head per part.

Token sequence (``S = M + 1 + K + H`` tokens of width ``C``)::

    [ obs o_t (M tokens) | instruction | future o_{t+1} .. o_{t+K} (noisy, level t_o,k) | actions a_t .. a_{t+H-1} (noisy, t_a,j) ]

- ``obs``: the normalized current observation through an MLP to ``M`` tokens (so attention can pick its parts, e.g.
  the instructed object's pose among three), plus a position embedding each.
- ``instruction``: the mean of the instruction's word embeddings (``<pad>`` ignored), projected to one token; a row
  without instruction reads a learned null token instead.
- ``future``: each noisy normalized change ``o_{t+k} − o_t`` through a linear map, plus its position embedding and
  the embedding of its own noise level.
- ``actions``: each noisy scaled action through a linear map, plus its position and noise-level embeddings.

A pre-norm ``torch.nn.TransformerEncoder`` (bidirectional attention over all ``S`` tokens) mixes them. Outputs:
``E`` future-velocity heads (MLPs on the future tokens, ``[E, B, K, O]``: the dynamics ensemble) and one
action-velocity head (``[B, H, A]``). A separate small MLP (:class:`RewardHead`) maps a transition to a normalized
reward and a termination logit.

Every weight is drawn from a private ``torch.Generator`` (:func:`init_weights`); the global RNG is left untouched.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def noise_features(level: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features ``[..., dim]`` of noise levels ``[...]`` in ``[0, 1]`` (frequencies 1 .. 1000, geometric)."""
    half = dim // 2
    freqs = torch.exp(torch.linspace(0.0, math.log(1000.0), half, device=level.device, dtype=level.dtype))
    angles = level[..., None] * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def _mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(d_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, d_out)
    )


class WAMBackbone(nn.Module):
    """Tokens → transformer → future-velocity heads and action-velocity head (see the module docstring).

    Args:
        obs_dim: ``O``.
        action_dim: ``A``.
        vocab_size: instruction tokens (``<pad>`` and ``<unk>`` included).
        chunk_size: ``H``.
        future_steps: ``K``.
        width: token width ``C``.
        depth: transformer layers.
        attention_heads: attention heads per layer.
        num_heads: dynamics heads ``E``.
        head_hidden: hidden size of the velocity heads.
        word_embed: word embedding size.
        noise_embed: size of the sinusoidal noise-level features.
        obs_tokens: tokens ``M`` the current observation is encoded into.
    """

    def __init__(
        self,
        *,
        obs_dim: int,
        action_dim: int,
        vocab_size: int,
        chunk_size: int,
        future_steps: int,
        width: int,
        depth: int,
        attention_heads: int,
        num_heads: int,
        head_hidden: int,
        word_embed: int,
        noise_embed: int,
        obs_tokens: int,
    ) -> None:
        super().__init__()
        self.noise_embed = noise_embed
        self.obs_tokens = obs_tokens
        self.obs_in = nn.Sequential(nn.Linear(obs_dim, 4 * width), nn.SiLU(), nn.Linear(4 * width, obs_tokens * width))
        self.future_in = nn.Linear(obs_dim, width)
        self.action_in = nn.Linear(action_dim, width)
        self.words = nn.Embedding(vocab_size, word_embed, padding_idx=0)
        self.instruction_in = nn.Sequential(nn.Linear(word_embed, width), nn.SiLU(), nn.Linear(width, width))
        self.null_instruction = nn.Parameter(torch.zeros(1, width))
        # position embeddings of the obs tokens, the instruction token, the future and the action tokens
        self.obs_pos = nn.Parameter(torch.zeros(obs_tokens, width))
        self.type_embed = nn.Parameter(torch.zeros(1, width))
        self.future_pos = nn.Parameter(torch.zeros(future_steps, width))
        self.action_pos = nn.Parameter(torch.zeros(chunk_size, width))
        self.level_in = nn.Sequential(nn.Linear(noise_embed, width), nn.SiLU(), nn.Linear(width, width))
        layer = nn.TransformerEncoderLayer(
            width, attention_heads, dim_feedforward=4 * width, dropout=0.0, activation="gelu", batch_first=True,
            norm_first=True,
        )  # fmt: skip
        self.transformer = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.out_norm = nn.LayerNorm(width)
        self.future_heads = nn.ModuleList(_mlp(width, head_hidden, obs_dim) for _ in range(num_heads))
        self.action_head = _mlp(width, head_hidden, action_dim)

    def instruction_token(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token ids ``[B, L]`` → instruction tokens ``[B, C]``; all-``<pad>`` rows read the null token."""
        mask = (tokens != 0).to(self.null_instruction.dtype)[..., None]  # (B, L, 1)
        count = mask.sum(dim=1)  # (B, 1)
        pooled = (self.words(tokens) * mask).sum(dim=1) / count.clamp(min=1.0)  # (B, word_embed)
        return torch.where(count > 0, self.instruction_in(pooled), self.null_instruction)

    def forward(
        self,
        obs: torch.Tensor,
        instruction: torch.Tensor,
        future: torch.Tensor,
        future_level: torch.Tensor,
        actions: torch.Tensor,
        action_level: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Velocities of every future and action token.

        Args:
            obs: ``[B, O]`` normalized current observation.
            instruction: ``[B, C]`` from :meth:`instruction_token`.
            future: ``[B, K, O]`` noisy normalized future changes.
            future_level: ``[B, K]`` their noise levels in ``[0, 1]``.
            actions: ``[B, H, A]`` noisy scaled actions.
            action_level: ``[B, H]`` their noise levels.

        Returns:
            ``[E, B, K, O]`` future velocities (one per dynamics head) and ``[B, H, A]`` action velocities.
        """
        B, K, M = obs.shape[0], future.shape[1], self.obs_tokens
        levels = self.level_in(noise_features(torch.cat([future_level, action_level], dim=1), self.noise_embed))
        tokens = torch.cat(
            [
                self.obs_in(obs).view(B, M, -1) + self.obs_pos,  # (B, M, C)
                (instruction + self.type_embed[0])[:, None],  # (B, 1, C)
                self.future_in(future) + self.future_pos + levels[:, :K],  # (B, K, C)
                self.action_in(actions) + self.action_pos + levels[:, K:],  # (B, H, C)
            ],
            dim=1,
        )  # (B, S, C)
        h = self.out_norm(self.transformer(tokens))
        h_future, h_action = h[:, M + 1 : M + 1 + K], h[:, M + 1 + K :]
        u_future = torch.stack([head(h_future) for head in self.future_heads])  # (E, B, K, O)
        return u_future, self.action_head(h_action)


class RewardHead(nn.Module):
    """A transition ``(obs, action, change)`` in model units → normalized reward and termination logit, ``[B]`` each.

    Args:
        obs_dim: ``O``.
        action_dim: ``A``.
        hidden: hidden size.
    """

    def __init__(self, obs_dim: int, action_dim: int, hidden: int) -> None:
        super().__init__()
        self.net = _mlp(2 * obs_dim + action_dim, hidden, 2)

    def forward(
        self, obs: torch.Tensor, action: torch.Tensor, change: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``obs [B, O]`` (normalized), ``action [B, A]`` (scaled), ``change [B, O]`` (normalized next-step change)."""
        out = self.net(torch.cat([obs, action, change], dim=-1))
        return out[:, 0], out[:, 1]


#: Learned tokens (drawn like embeddings).
_TOKEN_PARAMS = ("null_instruction", "type_embed", "obs_pos", "future_pos", "action_pos")


@torch.no_grad()
def init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """Draw every weight of ``module`` from ``generator``: matrices uniform within ``±1 / sqrt(fan_in)``, biases 0,
    norm scales 1, learned tokens and word embeddings ``N(0, 0.02²)`` (the ``<pad>`` row 0)."""
    for name, p in module.named_parameters():
        owner = module.get_submodule(name.rsplit(".", 1)[0]) if "." in name else module
        leaf = name.rsplit(".", 1)[-1]
        if leaf in _TOKEN_PARAMS or isinstance(owner, nn.Embedding):
            p.copy_(torch.randn(p.shape, generator=generator) * 0.02)
            if isinstance(owner, nn.Embedding) and owner.padding_idx is not None:
                p[owner.padding_idx].zero_()
        elif leaf.endswith("bias"):
            p.zero_()
        elif p.ndim == 1:
            p.fill_(1.0)  # LayerNorm scales
        else:
            bound = 1.0 / math.sqrt(p.shape[-1])
            p.copy_((torch.rand(p.shape, generator=generator) * 2.0 - 1.0) * bound)
