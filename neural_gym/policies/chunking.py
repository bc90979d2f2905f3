"""Chunk execution: turn a :class:`~neural_gym.policies.protocol.Policy`'s action chunks into one action per step for
``B`` envs at once, with the settings known from LeRobot / ACT.

* **Open loop** (``n_action_steps = n``, default the policy's ``chunk_size``): execute the first ``n`` actions of each
  chunk, then query a new chunk. ``n_action_steps = 1`` re-queries every step (closed loop).
* **Temporal ensembling** (ACT, ``temporal_ensemble_coeff = m``, default off; ACT's value is ``0.01``): query a new
  chunk every step and execute, for the current step, the average of every stored chunk's prediction for that step,
  weighted ``w_i = exp(-m * i)`` with ``i = 0`` the oldest prediction. Needs ``n_action_steps = 1``.

Every env of the batch has its own queue: :meth:`ChunkExecutor.reset` with a mask clears the queues of the envs that
start new episodes while the others carry on (and restarts their rows of a policy that has
:meth:`~neural_gym.policies.protocol.RowResettable.reset_rows`). :meth:`ChunkExecutor.after_step` does this for a
Gymnasium vector env from its ``terminated`` / ``truncated`` flags, for either autoreset mode.

Which rows are asked: with ``query="needed"`` (default) only the rows whose queue is empty, as one sub-batch in row
order (each env's actions then never depend on when the others reset); with ``query="all"`` the whole batch whenever
any row needs a chunk (rows that still have actions keep them; their new chunks are dropped), for policies that
index per-row state by batch position and need every call to see every row.

Example:
    >>> executor = ChunkExecutor(policy, num_envs=vec.num_envs, n_action_steps=8)
    >>> obs, _ = vec.reset(seed=0)
    >>> while ...:
    ...     obs, reward, terminated, truncated, info = vec.step(executor.act(obs))
    ...     executor.after_step(terminated, truncated)         # gymnasium's default NEXT_STEP autoreset
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from gymnasium.vector import AutoresetMode

from neural_gym.policies.protocol import (
    INSTRUCTION_KEY,
    ObsBatch,
    Policy,
    PolicyError,
    RowResettable,
    batch_size,
    check_chunk,
)

ACT_TEMPORAL_ENSEMBLE_COEFF = 0.01
"""ACT's default coefficient ``m`` of the ensembling weights ``exp(-m * i)``."""


def ensemble_weights(count: int, coeff: float) -> np.ndarray:
    """The normalized weights of ``count`` predictions for one step, oldest first: ``exp(-coeff * i) / sum``.

    Raises:
        ValueError: When ``count < 1``.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}.")
    w = np.exp(-float(coeff) * np.arange(count, dtype=np.float64))
    return w / w.sum()


def select_rows(obs: ObsBatch, rows: np.ndarray) -> ObsBatch:
    """The sub-batch of ``obs`` at the integer indices ``rows`` (instruction lists included)."""
    if isinstance(obs, Mapping):
        out: dict[str, Any] = {}
        for key, value in obs.items():
            if key == INSTRUCTION_KEY:
                out[key] = [str(value[int(i)]) for i in rows]
            else:
                out[key] = np.asarray(value)[rows]
        return out
    return np.asarray(obs)[rows]


def autoreset_mode_of(mode: AutoresetMode | str) -> AutoresetMode:
    """A Gymnasium ``AutoresetMode`` from itself, its value (``"NextStep"``) or its name (``"next_step"``, any case).

    Raises:
        ValueError: For anything else; the message lists the modes.
    """
    if isinstance(mode, AutoresetMode):
        return mode
    key = str(mode).replace("_", "").replace("-", "").lower()
    for member in AutoresetMode:
        if key in (member.name.replace("_", "").lower(), str(member.value).lower()):
            return member
    raise ValueError(f"Unknown autoreset mode {mode!r}; expected one of {[m.name.lower() for m in AutoresetMode]}.")


class ChunkExecutor:
    """Per-step actions ``(B, A)`` for ``B`` envs from a policy that returns chunks ``(B, H, A)``.

    Args:
        policy: The :class:`~neural_gym.policies.protocol.Policy` (its ``chunk_size`` is ``H``).
        num_envs: ``B``, the number of envs stepped together.
        n_action_steps: Actions executed from each chunk before the next query (``1 <= n <= H``; default ``H``).
        temporal_ensemble_coeff: ``m`` of ACT's temporal ensembling (``None``: off). When set, a chunk is queried every
            step and ``n_action_steps`` must be 1 (or left out).
        query: ``"needed"`` (only rows with an empty queue, as a sub-batch) or ``"all"`` (the whole batch whenever any
            row needs a chunk).

    Attributes:
        queries: Number of calls to ``policy.act`` so far.
        queried_rows: Number of batch rows those calls covered.

    Raises:
        ValueError: For a bad ``num_envs``, ``n_action_steps`` outside ``[1, H]``, ensembling with ``n_action_steps``
            other than 1, a negative or non-finite coefficient, or an unknown ``query``.
        TypeError: When ``policy`` does not implement the protocol.
    """

    def __init__(
        self,
        policy: Policy,
        num_envs: int,
        *,
        n_action_steps: int | None = None,
        temporal_ensemble_coeff: float | None = None,
        query: Literal["needed", "all"] = "needed",
    ) -> None:
        if not isinstance(policy, Policy):
            raise TypeError(f"ChunkExecutor needs a Policy (chunk_size, reset, act), got {type(policy).__name__}.")
        horizon = int(policy.chunk_size)
        if horizon < 1:
            raise ValueError(f"The policy's chunk_size must be >= 1, got {policy.chunk_size}.")
        if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}.")
        if temporal_ensemble_coeff is not None:
            if not (math.isfinite(temporal_ensemble_coeff) and temporal_ensemble_coeff >= 0.0):
                raise ValueError(
                    f"temporal_ensemble_coeff must be a finite number >= 0, got {temporal_ensemble_coeff}."
                )
            if n_action_steps not in (None, 1):
                raise ValueError(
                    f"Temporal ensembling queries a chunk every step: n_action_steps must be 1, got {n_action_steps}."
                )
            n_action_steps = 1
        if n_action_steps is None:
            n_action_steps = horizon
        if isinstance(n_action_steps, bool) or not 1 <= int(n_action_steps) <= horizon:
            raise ValueError(f"n_action_steps must be in [1, chunk_size = {horizon}], got {n_action_steps!r}.")
        if query not in ("needed", "all"):
            raise ValueError(f"query must be 'needed' or 'all', got {query!r}.")
        self.policy = policy
        self.num_envs = int(num_envs)
        self.chunk_size = horizon
        self.n_action_steps = int(n_action_steps)
        self.temporal_ensemble_coeff = None if temporal_ensemble_coeff is None else float(temporal_ensemble_coeff)
        self.query = query
        self.queries = 0
        self.queried_rows = 0
        self._action_dim: int | None = None  # A, fixed by the first chunk (or the policy's action_dim)
        # Open loop: per env, the actions still to execute. Ensembling: per env, the stored chunks, oldest first,
        # each with the number of steps since it was queried.
        self._queues: list[deque[np.ndarray]] = [deque() for _ in range(self.num_envs)]
        self._chunks: list[deque[tuple[np.ndarray, int]]] = [deque() for _ in range(self.num_envs)]
        self._pending_reset: np.ndarray | None = None

    @property
    def mode(self) -> str:
        """``"temporal_ensemble"``, ``"every_step"`` (open loop with ``n_action_steps = 1``) or ``"open_loop"``."""
        if self.temporal_ensemble_coeff is not None:
            return "temporal_ensemble"
        return "every_step" if self.n_action_steps == 1 else "open_loop"

    def reset(self, mask: np.ndarray | None = None, seed: int | None = None) -> None:
        """Clear the queues of the envs that start new episodes.

        Args:
            mask: Bool ``(B,)``, true for the envs that restart; ``None`` for all. With every env restarting the policy
                gets ``reset(seed)``; with some, a :class:`~neural_gym.policies.protocol.RowResettable` policy gets
                ``reset_rows(mask)``.
            seed: Passed to ``policy.reset`` when every env restarts.

        Raises:
            ValueError: When ``mask`` is not ``B`` flags.
        """
        mask = self._mask(mask)
        if mask.all():
            self.policy.reset(seed=seed)
            self._pending_reset = None
        elif mask.any() and isinstance(self.policy, RowResettable):
            self.policy.reset_rows(mask)
        for i in np.flatnonzero(mask):
            self._queues[i].clear()
            self._chunks[i].clear()

    def after_step(
        self,
        terminated: np.ndarray,
        truncated: np.ndarray,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        """Reset the queues of a Gymnasium vector env's envs at the step their new episodes begin.

        ``SAME_STEP``: the observation just returned already starts the new episode, so the ending envs are reset now.
        ``NEXT_STEP`` (Gymnasium's default): an ending env restarts on the following ``step()`` (which ignores its
        action), so its queue is reset after that step. ``DISABLED``: nothing here; call :meth:`reset` with the mask
        passed to ``vec.reset(options={"reset_mask": mask})``.

        Raises:
            ValueError: For flags that are not ``B`` values or an unknown mode.
        """
        done = self._mask(np.logical_or(np.asarray(terminated, dtype=bool), np.asarray(truncated, dtype=bool)))
        mode = autoreset_mode_of(autoreset_mode)
        if mode == AutoresetMode.SAME_STEP:
            if done.any():
                self.reset(done)
        elif mode == AutoresetMode.NEXT_STEP:
            pending, self._pending_reset = self._pending_reset, done if done.any() else None
            if pending is not None:
                self.reset(pending)

    def act(self, obs: ObsBatch) -> np.ndarray:
        """The actions ``(B, A)`` float32 of this step for the batch of observations ``obs``.

        Raises:
            PolicyError: When ``obs`` is not a batch of ``B`` observations, or the policy returns a bad chunk (its
                shape, dtype or NaN actions; the action size changing between calls).
        """
        size = batch_size(obs)
        if size != self.num_envs:
            raise PolicyError(f"ChunkExecutor was made for {self.num_envs} envs, got an observation batch of {size}.")
        if self.temporal_ensemble_coeff is not None:
            return self._act_ensemble(obs)
        needed = np.array([len(q) == 0 for q in self._queues])
        if needed.any():
            rows = np.arange(self.num_envs) if self.query == "all" else np.flatnonzero(needed)
            chunks = self._query(obs, rows)
            for chunk, i in zip(chunks, rows, strict=True):
                if needed[i]:
                    self._queues[i].extend(chunk[: self.n_action_steps])
        return np.stack([q.popleft() for q in self._queues])

    def _act_ensemble(self, obs: ObsBatch) -> np.ndarray:
        chunks = self._query(obs, np.arange(self.num_envs))
        out = []
        for i, chunk in enumerate(chunks):
            stored = self._chunks[i]
            stored.append((chunk, 0))  # every stored chunk still predicts this step (age < H)
            predictions = np.stack([c[age] for c, age in stored]).astype(np.float64)  # oldest first
            weights = ensemble_weights(len(predictions), self.temporal_ensemble_coeff)
            out.append((weights[:, None] * predictions).sum(axis=0).astype(np.float32))
            self._chunks[i] = deque((c, age + 1) for c, age in stored if age + 1 < self.chunk_size)
        return np.stack(out)

    def _query(self, obs: ObsBatch, rows: np.ndarray) -> np.ndarray:
        sub = obs if len(rows) == self.num_envs else select_rows(obs, rows)
        raw = self.policy.act(sub)
        dim = self._action_dim
        if dim is None:  # the policy's declared size, else the first chunk's; later chunks must keep it
            dim = getattr(self.policy, "action_dim", None) or (int(np.shape(raw)[-1]) if np.ndim(raw) >= 2 else 1)
        chunk = check_chunk(raw, len(rows), dim, chunk_size=self.chunk_size, who=type(self.policy).__name__)
        self._action_dim = dim
        self.queries += 1
        self.queried_rows += len(rows)
        return chunk

    def _mask(self, mask: np.ndarray | None) -> np.ndarray:
        if mask is None:
            return np.ones(self.num_envs, dtype=bool)
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.num_envs,):
            raise ValueError(f"Expected a reset mask of shape ({self.num_envs},), got {mask.shape}.")
        return mask


__all__ = ["ACT_TEMPORAL_ENSEMBLE_COEFF", "ChunkExecutor", "autoreset_mode_of", "ensemble_weights", "select_rows"]
