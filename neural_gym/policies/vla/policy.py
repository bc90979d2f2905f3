"""``VLAPolicy``: a trained :class:`~.model.VLANet` behind the :class:`~neural_gym.policies.Policy` protocol.

``act`` takes a batched dict observation ``{"pixels": uint8 (B, S, S, 3), "state": (B, 54), "instruction": [B
strings]}`` and returns action chunks ``(B, H, 4)`` float32 in ``[-1, 1]``. Only the first 8 state entries (gripper)
are read, and only by policies trained with proprio. The flow head's noise comes from the policy's own
``torch.Generator``: ``reset(seed)`` reseeds it, so the same seed and observations give the same chunks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from neural_gym.policies.protocol import (
    PIXELS_KEY,
    STATE_KEY,
    ObsBatch,
    PolicyError,
    batch_size,
    check_chunk,
    instructions,
)
from neural_gym.policies.vla.model import PROPRIO_DIM, VLANet
from neural_gym.policies.vla.vocab import Vocabulary
from neural_gym.threads import torch_threads

STATE_SIZE = 54
"""Size of the tabletop state observation the policy expects (it reads only the first 8 entries)."""


class VLAPolicy:
    """Language-conditioned action-chunk policy.

    Args:
        net: The network (put in eval mode).
        vocab: The instruction vocabulary it was trained with.
        metadata: What the checkpoint says about it (training data, steps, command, ...).
        seed: Initial seed of the flow head's noise generator.
        num_threads: Torch threads around each forward pass (``None`` leaves torch's setting alone).

    Attributes:
        chunk_size: ``H``.
        head: ``"regression"``, ``"bins"`` or ``"flow"``.
    """

    def __init__(
        self,
        net: VLANet,
        vocab: Vocabulary,
        metadata: Mapping[str, Any] | None = None,
        *,
        seed: int = 0,
        num_threads: int | None = 1,
    ) -> None:
        if len(vocab) != net.config.vocab_size:
            raise ValueError(f"The vocabulary has {len(vocab)} tokens, the network embeds {net.config.vocab_size}.")
        self.net = net.eval()
        self.vocab = vocab
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.config = net.config
        self.chunk_size = net.config.chunk_size
        self.head = net.config.head
        self.num_threads = num_threads
        self._generator = torch.Generator().manual_seed(int(seed))

    def __repr__(self) -> str:
        name = self.metadata.get("name", "")
        return f"VLAPolicy({name + ', ' if name else ''}head={self.head!r}, chunk_size={self.chunk_size})"

    def reset(self, seed: int | None = None) -> None:
        """Reseed the flow head's noise with ``seed`` (``None``: keep the current stream). The policy keeps no other
        per-episode state."""
        if seed is not None:
            self._generator.manual_seed(int(seed))

    def _inputs(self, obs: ObsBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if not isinstance(obs, Mapping):
            raise PolicyError(
                f"A VLA policy needs dict observations {{'pixels', 'state', 'instruction'}}; got an array of shape "
                f"{np.shape(obs)}. Make the env with obs_mode='dict'."
            )
        texts = instructions(obs)
        b = batch_size(obs)
        size = self.config.image_size
        if PIXELS_KEY not in obs:
            raise PolicyError(
                f"A VLA policy needs obs['pixels'] (uint8 (B, {size}, {size}, 3)); got keys {sorted(obs)}."
            )
        pixels = np.asarray(obs[PIXELS_KEY])
        if pixels.shape != (b, size, size, 3):
            raise PolicyError(
                f"obs['pixels'] has shape {pixels.shape}; this policy was trained on ({b}, {size}, {size}, 3) "
                f"frames (make the env with image_size={size})."
            )
        if pixels.dtype != np.uint8:
            raise PolicyError(f"obs['pixels'] must be uint8 frames, got dtype {pixels.dtype}.")
        proprio = None
        if self.config.use_proprio:
            if STATE_KEY not in obs:
                raise PolicyError(f"This VLA reads the gripper state; obs has no 'state' (keys {sorted(obs)}).")
            state = np.asarray(obs[STATE_KEY])
            if state.shape != (b, STATE_SIZE) or not np.issubdtype(state.dtype, np.number):
                raise PolicyError(
                    f"obs['state'] has shape {state.shape} ({state.dtype}); expected a numeric ({b}, {STATE_SIZE}) "
                    "tabletop state."
                )
            if not np.all(np.isfinite(state[:, :PROPRIO_DIM])):
                raise PolicyError("obs['state'] has NaN or infinite gripper entries.")
            proprio = torch.as_tensor(state[:, :PROPRIO_DIM], dtype=torch.float32)
        tokens = torch.as_tensor(self.vocab.encode(texts))
        return torch.as_tensor(np.ascontiguousarray(pixels)), tokens, proprio

    def act(self, obs: ObsBatch) -> np.ndarray:
        """Action chunks ``(B, H, 4)`` float32 in ``[-1, 1]``.

        Raises:
            PolicyError: For a non-dict observation, a missing instruction, frames of the wrong size or dtype, or a
                state of the wrong size (when the policy reads proprio).
        """
        pixels, tokens, proprio = self._inputs(obs)
        with torch_threads(self.num_threads), torch.inference_mode():
            feat = self.net.features(pixels, tokens, proprio)
            chunk = self.net.sample(feat, self._generator)
        out = np.clip(chunk.numpy().astype(np.float32), -1.0, 1.0)
        return check_chunk(out, pixels.shape[0], self.config.action_dim, chunk_size=self.chunk_size, who=repr(self))
