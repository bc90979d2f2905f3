"""Instruction words to token ids for the world action model.

The convention is the VLA family's (:mod:`neural_gym.policies.vla.vocab`): lower-cased whitespace-separated words,
``<pad>`` = 0, ``<unk>`` = 1 for every word not in the vocabulary, the vocabulary's words sorted after them. It is
written out here because ``world_models`` never imports ``neural_gym.policies`` (imports point one way); the vocabulary
itself lives in the model's config, so a checkpoint carries it.

Example:
    >>> vocab = vocabulary(["reach the red cube", "touch the blue block"])
    >>> encode(vocab, ["reach the purple cube", None]).tolist()   # "purple" was never seen; None: no instruction
    [[5, 7, 1, 4], [0, 0, 0, 0]]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from neural_gym.world_models.wam.config import PAD_TOKEN, UNK_TOKEN


def words(text: str) -> list[str]:
    """Lower-cased whitespace-separated words of ``text``."""
    return text.lower().split()


def vocabulary(texts: Iterable[str | None]) -> tuple[str, ...]:
    """``<pad>``, ``<unk>``, then every word of ``texts`` sorted (``None`` entries are skipped)."""
    found = sorted({w for t in texts if t is not None for w in words(t)})
    return (PAD_TOKEN, UNK_TOKEN, *found)


def encode(vocab: Sequence[str], texts: Sequence[str | None]) -> np.ndarray:
    """Token ids ``(B, L)`` int64 padded with ``<pad>`` to the longest instruction.

    A row of ``None`` is all ``<pad>`` (the model reads it as "no instruction"); a string without words is one
    ``<unk>``.

    Raises:
        TypeError: an entry is neither a string nor ``None``.
    """
    index = {t: i for i, t in enumerate(vocab)}
    rows: list[list[int]] = []
    for i, text in enumerate(texts):
        if text is None:
            rows.append([])
        elif isinstance(text, str):
            rows.append([index.get(w, 1) for w in words(text)] or [1])
        else:
            raise TypeError(f"instruction {i} must be a string or None, got {type(text).__name__}")
    width = max([len(r) for r in rows] + [1])
    out = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out
