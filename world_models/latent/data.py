"""Episodes in, fixed-length training windows out (the ``latent`` family's replay).

Any object with ``observations [T+1, *obs_shape]``, ``actions [T, A]``, ``rewards [T]`` and ``terminations [T]``
attributes (or a dict with those keys) is an episode: :class:`SequenceData`, ``neural_gym.envs.dataset.Episode``, ... For pixel
models the caller passes frames ``[T+1, H, W, 3]`` uint8 as ``observations``.

:class:`WindowSampler` concatenates the episodes into flat arrays aligned on observations: row ``j`` holds ``obs_t``,
the action taken *before* it (``a_{t-1}``), the reward and continue flag that came with it (``r_{t-1}``,
``1 - term_{t-1}``), so a window is a run of consecutive rows. Windows that would cross an episode's end are cut and
padded (``mask`` is 0 on the padding), so episodes shorter than ``seq_len`` are used, not skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass
class SequenceData:
    """One episode.

    Attributes:
        observations: ``[T + 1, *obs_shape]`` (float vectors, or uint8 frames ``[T + 1, H, W, 3]``).
        actions: ``[T, A]`` actions; ``actions[t]`` leads from ``observations[t]`` to ``observations[t + 1]``.
        rewards: ``[T]`` rewards.
        terminations: ``[T]`` whether the task's terminal condition held after the step.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminations: np.ndarray


def as_sequences(episodes: Sequence[Any], *, action_dim: int, pixels: bool) -> list[SequenceData]:
    """Validate ``episodes`` and return them as :class:`SequenceData` (vectors float32, frames uint8).

    Raises:
        ValueError: naming the episode and the offending array when shapes, dtypes or values do not fit.
    """
    out: list[SequenceData] = []
    if len(episodes) == 0:
        raise ValueError("episodes is empty; need at least 2 episodes (one is held out)")
    obs_shape: tuple[int, ...] | None = None
    for i, ep in enumerate(episodes):

        def get(name: str, ep: Any = ep, i: int = i) -> np.ndarray:
            value = ep.get(name) if isinstance(ep, Mapping) else getattr(ep, name, None)
            if value is None:
                raise ValueError(f"episode {i} has no {name!r} (expected observations, actions, rewards, terminations)")
            return np.asarray(value)

        obs, act, rew, term = get("observations"), get("actions"), get("rewards"), get("terminations")
        T = len(act)
        if T < 1 or act.shape != (T, action_dim):
            raise ValueError(f"episode {i}: actions must have shape [T>=1, A={action_dim}], got {act.shape}")
        if len(obs) != T + 1:
            raise ValueError(f"episode {i}: observations must have T+1={T + 1} rows for {T} actions, got {obs.shape}")
        if pixels:
            if obs.ndim != 4 or obs.shape[-1] != 3:
                raise ValueError(f"episode {i}: frames must be [T+1, H, W, 3] channels-last, got {obs.shape}")
            if obs.dtype != np.uint8:
                if not np.issubdtype(obs.dtype, np.floating) or obs.min() < 0 or obs.max() > 255:
                    raise ValueError(f"episode {i}: frames must be uint8 (or float in [0, 255]), got {obs.dtype}")
                obs = np.round(obs).astype(np.uint8)
        else:
            if obs.ndim != 2:
                raise ValueError(f"episode {i}: vector observations must be [T+1, O], got {obs.shape}")
            obs = obs.astype(np.float32)
        if obs_shape is None:
            obs_shape = obs.shape[1:]
        elif obs.shape[1:] != obs_shape:
            raise ValueError(f"episode {i}: observation shape {obs.shape[1:]} differs from episode 0's {obs_shape}")
        rew = rew.reshape(-1) if rew.shape == (T, 1) else rew
        term = term.reshape(-1) if term.shape == (T, 1) else term
        if rew.shape != (T,) or term.shape != (T,):
            raise ValueError(f"episode {i}: rewards and terminations must be [T={T}], got {rew.shape}, {term.shape}")
        for name, arr in (("observations", obs), ("actions", act), ("rewards", rew)):
            if not np.isfinite(np.asarray(arr, dtype=np.float64)).all():
                raise ValueError(f"episode {i}: {name} must be finite")
        out.append(SequenceData(obs, act.astype(np.float32), rew.astype(np.float32), term.astype(bool)))
    return out


@dataclass
class Batch:
    """Training windows, all ``[B, L, ·]`` torch tensors on one device.

    Attributes:
        obs: ``[B, L, *obs_shape]`` observations (float32 vectors or uint8 frames).
        prev_actions: ``[B, L, A]`` action before each observation (``first_action`` at ``t = 0``).
        rewards: ``[B, L]`` reward that came with each observation (0 at ``t = 0``).
        conts: ``[B, L]`` 1 unless the step into this observation terminated the episode.
        mask: ``[B, L]`` 1 on real observations, 0 on padding.
    """

    obs: torch.Tensor
    prev_actions: torch.Tensor
    rewards: torch.Tensor
    conts: torch.Tensor
    mask: torch.Tensor


class WindowSampler:
    """Fixed-length windows over a set of episodes.

    Args:
        episodes: validated episodes.
        first_action: ``[A]`` action placed before each window's first observation (the scaled-zero action).
        device: where batches go.
    """

    def __init__(self, episodes: Sequence[SequenceData], first_action: np.ndarray, device: torch.device) -> None:
        self.lengths = np.array([len(ep.observations) for ep in episodes])  # T + 1 per episode
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        A = episodes[0].actions.shape[1]
        first = np.asarray(first_action, dtype=np.float32).reshape(1, A)
        obs = np.concatenate([ep.observations for ep in episodes])
        prev = np.concatenate([np.concatenate([first, ep.actions]) for ep in episodes])
        rew = np.concatenate([np.concatenate([[0.0], ep.rewards]) for ep in episodes]).astype(np.float32)
        cont = np.concatenate([np.concatenate([[1.0], 1.0 - ep.terminations]) for ep in episodes]).astype(np.float32)
        self.device = device
        self.first_action = torch.as_tensor(first, device=device)
        self.obs = torch.as_tensor(obs, device=device)
        self.prev_actions = torch.as_tensor(prev, device=device)
        self.rewards = torch.as_tensor(rew, device=device)
        self.conts = torch.as_tensor(cont, device=device)

    @property
    def num_obs(self) -> int:
        """Total observations over all episodes."""
        return int(self.lengths.sum())

    def gather(self, episode: np.ndarray, start: np.ndarray, length: int) -> Batch:
        """Windows of ``length`` rows from ``episode[i]`` starting at ``start[i]`` (cut at the episode's end)."""
        t = np.arange(length)[None, :]  # (1, L)
        pos = start[:, None] + t  # (B, L)
        last = self.lengths[episode][:, None] - 1
        mask = pos <= last
        rows = torch.as_tensor(self.offsets[episode][:, None] + np.minimum(pos, last), device=self.device)
        m = torch.as_tensor(mask, dtype=torch.float32, device=self.device)
        prev = self.prev_actions[rows].clone()  # (B, L, A)
        prev[:, 0] = self.first_action  # every window starts from the zero state after a zero action
        rewards, conts = self.rewards[rows] * m, self.conts[rows].clone()
        rewards[:, 0] = 0.0
        conts[:, 0] = 1.0
        return Batch(obs=self.obs[rows], prev_actions=prev, rewards=rewards, conts=conts, mask=m)

    def sample(self, batch_size: int, length: int, rng: np.random.Generator) -> Batch:
        """``batch_size`` random windows: episodes drawn in proportion to their length, starts uniform over *every*
        observation that has a successor (windows running past the end are padded and masked).

        Starting anywhere, not only where a full window fits, matters: inference bursts in from the zero state at
        arbitrary points of an episode. With starts restricted to ``[0, T + 1 - length]``, a Reacher model trained on
        50-step windows of 51-step episodes only ever started at ``t ≈ 0`` and its one-step error from mid-episode
        contexts was 60× that from episode starts (measured: 0.42 vs 0.0064 normalized MSE).
        """
        p = self.lengths / self.lengths.sum()
        episode = rng.choice(len(self.lengths), size=batch_size, p=p)
        start = (rng.random(batch_size) * (self.lengths[episode] - 1)).astype(np.int64)  # in [0, T - 1]
        return self.gather(episode, start, length)

    def tiles(self, length: int, stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(episode, start)`` of windows covering every episode (stride ``length`` unless given), for evaluation."""
        stride = length if stride is None else stride
        eps, starts = [], []
        for i, n in enumerate(self.lengths):
            for s in range(0, max(int(n) - 1, 1), stride):
                eps.append(i)
                starts.append(s)
        return np.array(eps, dtype=np.int64), np.array(starts, dtype=np.int64)
