"""The one ``Policy`` protocol every adapter implements, and the checks that turn a bad policy into a clear error.

A policy maps a *batch* of observations to a batch of action chunks:

    >>> chunk = policy.act(obs_batch)          # (B, H, A) float32; H = 1 for a policy that gives one action
    >>> policy.reset(seed=0)                   # between episodes (clears recurrent state, reseeds sampling heads)

Observation batches are either a state array ``(B, D)`` or a dict (the ``dict`` observation mode of the tabletop suite,
batched)::

    {"pixels": uint8 (B, H, W, 3), "state": float (B, D), "instruction": list[str] of length B}

Chunk execution (open-loop ``n_action_steps``, temporal ensembling, re-query every step) is not a policy's concern: it
lives in :mod:`neural_gym.policies.chunking`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

PIXELS_KEY = "pixels"
STATE_KEY = "state"
INSTRUCTION_KEY = "instruction"

ObsBatch = Mapping[str, Any] | np.ndarray
"""A batch of observations: a ``(B, D)`` array or a dict with ``pixels`` / ``state`` / ``instruction`` entries."""


class PolicyError(ValueError):
    """A policy returned something that is not a valid action chunk, or was given observations it cannot read."""


@runtime_checkable
class Policy(Protocol):
    """What the evaluators, collectors and chunk executors call.

    Attributes:
        chunk_size: ``H``, the number of actions :meth:`act` returns per observation (1 for single-action policies).
    """

    chunk_size: int

    def reset(self, seed: int | None = None) -> None:
        """Forget per-episode state; ``seed`` reseeds any sampling the policy does (flow heads, noisy experts)."""
        ...

    def act(self, obs: ObsBatch) -> np.ndarray:
        """Action chunks ``(B, H, A)`` for a batch of ``B`` observations."""
        ...


def batch_size(obs: ObsBatch) -> int:
    """``B`` of an observation batch (the leading dimension of its arrays, the length of its instruction list).

    Raises:
        PolicyError: When the entries disagree on ``B``, or the batch is empty or not batched.
    """
    if isinstance(obs, Mapping):
        sizes = {}
        for key, value in obs.items():
            if key == INSTRUCTION_KEY:
                if isinstance(value, str):
                    raise PolicyError(
                        "obs['instruction'] must be a list of B strings (one per batch row), got a single string; "
                        "wrap it in a list for a batch of one."
                    )
                sizes[key] = len(value)
            else:
                arr = np.asarray(value)
                if arr.ndim == 0:
                    raise PolicyError(f"obs[{key!r}] must be batched (leading dimension B), got a scalar.")
                sizes[key] = arr.shape[0]
        if not sizes:
            raise PolicyError("The observation dict is empty; expected 'pixels', 'state' and/or 'instruction'.")
        if len(set(sizes.values())) != 1:
            raise PolicyError(f"The observation entries disagree on the batch size: {sizes}.")
        size = next(iter(sizes.values()))
    else:
        arr = np.asarray(obs)
        if arr.ndim < 2:
            raise PolicyError(f"A state observation batch must be (B, D), got shape {arr.shape}.")
        size = arr.shape[0]
    if size < 1:
        raise PolicyError("The observation batch is empty (B = 0).")
    return int(size)


def instructions(obs: ObsBatch) -> list[str]:
    """The batch's instructions, checked: a list of ``B`` non-empty strings.

    Raises:
        PolicyError: When the observation has no instruction (a state array, or a dict without ``"instruction"``), or
            an entry is not a non-empty string.
    """
    if not isinstance(obs, Mapping) or INSTRUCTION_KEY not in obs:
        keys = sorted(obs) if isinstance(obs, Mapping) else f"an array of shape {np.shape(obs)}"
        raise PolicyError(
            f"This policy is conditioned on language and needs obs['instruction'] (a list of B strings); the "
            f"observation has {keys}. Make the env with obs_mode='dict' on a task with instructions."
        )
    texts = obs[INSTRUCTION_KEY]
    if isinstance(texts, str) or not isinstance(texts, Sequence | np.ndarray):
        raise PolicyError(f"obs['instruction'] must be a list of B strings, got {type(texts).__name__}.")
    out = [str(t) if isinstance(t, str | np.str_) else t for t in texts]
    bad = [i for i, t in enumerate(out) if not isinstance(t, str) or not t.strip()]
    if bad:
        raise PolicyError(f"obs['instruction'] rows {bad[:5]} are not non-empty strings.")
    return out


def check_chunk(
    chunk: Any, batch: int, action_dim: int, *, chunk_size: int | None = None, who: str = "policy"
) -> np.ndarray:
    """Validate what a policy returned and give it back as float32 ``(B, H, A)``.

    ``(B, A)`` is accepted as a chunk of one action (``H = 1``).

    Args:
        chunk: The policy's output.
        batch: ``B`` of the observation batch it was given.
        action_dim: ``A``, the action space's size.
        chunk_size: The ``H`` the policy declared, or ``None`` to accept any.
        who: Name of the policy in error messages.

    Raises:
        PolicyError: For a non-numeric dtype, a wrong shape (the message gives expected and got), or NaN/inf actions.
    """
    arr = np.asarray(chunk)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise PolicyError(f"{who} returned actions of dtype {arr.dtype}; expected a float array (B, H, A).")
    if arr.ndim == 2:
        arr = arr[:, None, :]
    expected_h = "H" if chunk_size is None else str(chunk_size)
    if (
        arr.ndim != 3
        or arr.shape[0] != batch
        or arr.shape[2] != action_dim
        or (chunk_size is not None and arr.shape[1] != chunk_size)
    ):
        raise PolicyError(
            f"{who} returned an action chunk of shape {np.shape(chunk)}; expected ({batch}, {expected_h}, {action_dim}) "
            f"= (batch, chunk, action dim), or ({batch}, {action_dim}) for a single action."
        )
    if arr.shape[1] < 1:
        raise PolicyError(f"{who} returned an empty action chunk (H = 0).")
    if not np.all(np.isfinite(arr)):
        rows = sorted({int(i) for i in np.argwhere(~np.isfinite(arr))[:, 0]})
        raise PolicyError(f"{who} returned NaN or infinite actions (batch rows {rows[:5]}).")
    return arr.astype(np.float32, copy=False)


@runtime_checkable
class RowResettable(Protocol):
    """A policy that can restart some rows of its batch alone (per-row experts, recurrent state).

    :class:`~neural_gym.policies.chunking.ChunkExecutor` calls :meth:`reset_rows` when some envs of a batch start new
    episodes; policies without it keep no per-row state worth restarting.
    """

    def reset_rows(self, mask: np.ndarray) -> None:
        """Forget the per-episode state of the rows where the bool ``(B,)`` ``mask`` is true."""
        ...


def obs_row(obs: ObsBatch, index: int) -> Any:
    """Row ``index`` of an observation batch, unbatched: a ``(D,)`` array, or a dict of the rows of every entry (the
    instruction a ``str``).

    Raises:
        PolicyError: When the batch is malformed (see :func:`batch_size`) or ``index`` is outside it.
    """
    size = batch_size(obs)
    if not -size <= index < size:
        raise PolicyError(f"Row {index} is outside the observation batch of size {size}.")
    if isinstance(obs, Mapping):
        return {
            key: (str(value[index]) if key == INSTRUCTION_KEY else np.asarray(value)[index])
            for key, value in obs.items()
        }
    return np.asarray(obs)[index]


def stack_observations(rows: Sequence[Any]) -> ObsBatch:
    """The batch of unbatched observations ``rows`` (each a ``(D,)`` array or one dict observation of an env): the
    inverse of :func:`obs_row`, so ``stack_observations([env_obs])`` is a batch of one.

    Raises:
        PolicyError: When ``rows`` is empty, mixes arrays and dicts, or its dicts have different keys or shapes.
    """
    if len(rows) == 0:
        raise PolicyError("Cannot stack an empty list of observations.")
    if isinstance(rows[0], Mapping):
        keys = list(rows[0])
        if any(not isinstance(r, Mapping) or list(r) != keys for r in rows):
            raise PolicyError(f"Observations to stack must all be dicts with the keys {keys}.")
        out: dict[str, Any] = {}
        for key in keys:
            if key == INSTRUCTION_KEY:
                texts = [r[key] for r in rows]
                if any(not isinstance(t, str | np.str_) for t in texts):
                    raise PolicyError("Each observation's 'instruction' must be a string.")
                out[key] = [str(t) for t in texts]
            else:
                out[key] = _stack([r[key] for r in rows], key)
        return out
    if any(isinstance(r, Mapping) for r in rows):
        raise PolicyError("Observations to stack mix dicts and arrays.")
    return _stack(list(rows), "obs")


def _stack(values: list[Any], name: str) -> np.ndarray:
    arrays = [np.asarray(v) for v in values]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise PolicyError(f"Observations to stack disagree on the shape of {name}: {sorted(shapes)}.")
    return np.stack(arrays)


__all__ = [
    "INSTRUCTION_KEY",
    "PIXELS_KEY",
    "STATE_KEY",
    "ObsBatch",
    "Policy",
    "PolicyError",
    "RowResettable",
    "batch_size",
    "check_chunk",
    "instructions",
    "obs_row",
    "stack_observations",
]
