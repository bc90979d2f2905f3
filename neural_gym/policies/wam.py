"""``WAMPolicy``: the policy mode of a world action model (:mod:`neural_gym.world_models.wam`) behind the
:class:`~neural_gym.policies.protocol.Policy` protocol.

``act`` takes a batch of state observations, either a ``(B, O)`` array or a dict with ``"state"`` and (optionally)
``"instruction"`` entries (the tabletop's ``dict`` mode; ``"pixels"`` is ignored: this family reads state vectors),
and returns action chunks ``(B, H, A)`` float32 inside the action bounds. Without an instruction the model reads its
null instruction (it was trained to: see ``WAMConfig.instruction_dropout``).

``imagine`` switches test-time imagination: ``False`` samples the chunk with the future marginalised; ``True`` first
imagines the next ``K`` observations, then samples the chunk given them (:meth:`WAMModel.act`). The sampler's noise
comes from the policy's own ``torch.Generator``: ``reset(seed)`` reseeds it, so the same seed and observations give
the same chunks. ``sample_noise=False`` starts the sampler from zero noise instead (the deterministic path of the
noise's mean; ``reset`` then changes nothing): on TabletopReach it succeeded more often (see the README).

Example:
    >>> policy = WAMPolicy("runs/wam-reach.safetensors", imagine=True, seed=0)    # doctest: +SKIP
    >>> executor = ChunkExecutor(policy, num_envs=4, n_action_steps=4)             # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from neural_gym.policies.adapters import check_state_width
from neural_gym.policies.protocol import (
    INSTRUCTION_KEY,
    ObsBatch,
    PolicyError,
    batch_size,
    check_chunk,
    instructions,
)
from neural_gym.threads import torch_threads
from neural_gym.world_models import load_checkpoint
from neural_gym.world_models.wam import WAMModel


class WAMPolicy:
    """The policy mode of a :class:`~neural_gym.world_models.wam.WAMModel`.

    Args:
        model: a loaded ``WAMModel``, or a checkpoint path of one (loaded on ``device``).
        imagine: imagine the future before sampling the chunk (test-time imagination) or not.
        sample_noise: draw the sampler's start noise from the policy's generator (``False``: zero start noise).
        seed: initial seed of the sampler's noise generator.
        device: where to load a checkpoint path (``"auto"``: CUDA when available).
        num_threads: torch threads around each forward pass (``None`` leaves torch's setting alone).

    Attributes:
        chunk_size: ``H`` (the model's ``config.chunk_size``).
        action_dim: ``A``.

    Raises:
        TypeError: ``model`` is neither a ``WAMModel`` nor a path.
        neural_gym.world_models.CheckpointError: the path holds no ``wam`` checkpoint.
    """

    def __init__(
        self,
        model: WAMModel | str | Path,
        *,
        imagine: bool = False,
        sample_noise: bool = True,
        seed: int = 0,
        device: str = "auto",
        num_threads: int | None = 1,
    ) -> None:
        if isinstance(model, str | Path):
            model = load_checkpoint(model, family="wam", device=device)  # type: ignore[assignment]
        if not isinstance(model, WAMModel):
            raise TypeError(f"WAMPolicy needs a WAMModel or the path of a 'wam' checkpoint, got {type(model).__name__}")
        self.model = model.eval()
        self.imagine = bool(imagine)
        self.sample_noise = bool(sample_noise)
        self.num_threads = num_threads
        self.chunk_size = int(model.config.chunk_size)
        self.action_dim = int(model.action_dim)
        self._generator = torch.Generator(device=model.device).manual_seed(int(seed))

    def __repr__(self) -> str:
        return (
            f"WAMPolicy(task={self.model.spec.task!r}, imagine={self.imagine}, sample_noise={self.sample_noise}, "
            f"chunk_size={self.chunk_size})"
        )

    def reset(self, seed: int | None = None) -> None:
        """Reseed the sampler's noise with ``seed`` (``None``: keep the current stream); no other per-episode state."""
        if seed is not None:
            self._generator.manual_seed(int(seed))

    def act(self, obs: ObsBatch) -> np.ndarray:
        """Action chunks ``(B, H, A)`` float32 inside the action bounds.

        Raises:
            PolicyError: a malformed batch, a state of another size than the model's, non-finite states, or bad
                instructions.
        """
        b = batch_size(obs)
        state = check_state_width(obs, self.model.obs_dim, who=repr(self))
        if not np.issubdtype(state.dtype, np.number) or not np.all(np.isfinite(state)):
            raise PolicyError(f"{self!r}: the state observations must be finite numbers.")
        texts = instructions(obs) if isinstance(obs, Mapping) and INSTRUCTION_KEY in obs else None
        o = torch.as_tensor(np.asarray(state, dtype=np.float32), device=self.model.device)
        with torch_threads(self.num_threads), torch.inference_mode():
            generator = self._generator if self.sample_noise else None
            chunk = self.model.act(o, texts, imagine=self.imagine, generator=generator)
        return check_chunk(chunk.cpu().numpy(), b, self.action_dim, chunk_size=self.chunk_size, who=repr(self))


__all__ = ["WAMPolicy"]
