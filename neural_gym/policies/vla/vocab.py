"""The instruction vocabulary: lower-case words of the training instructions, plus ``<pad>`` and ``<unk>``.

Index 0 is :data:`PAD` (padding of short instructions, ignored by the instruction encoder) and index 1 is :data:`UNK`
(every word not seen in training). Words are split on whitespace after lower-casing, so ``"Reach the RED cube"``
encodes as ``"reach the red cube"``.

Example:
    >>> vocab = Vocabulary.from_instructions(["reach the red cube", "touch the blue block"])
    >>> vocab.encode(["reach the purple cube"]).tolist()   # "purple" was never seen
    [[5, 7, 1, 4]]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

PAD = "<pad>"
"""Token of index 0: fills instructions shorter than the batch's longest."""
UNK = "<unk>"
"""Token of index 1: any word that is not in the vocabulary."""


def words(text: str) -> list[str]:
    """Lower-cased whitespace-separated words of ``text``."""
    return text.lower().split()


class Vocabulary:
    """Word <-> index map over training instructions (``<pad>`` = 0, ``<unk>`` = 1, then the words sorted).

    Args:
        tokens: Every token in index order; must start with ``<pad>``, ``<unk>`` and hold no repeats.

    Raises:
        ValueError: For tokens that do not start with ``<pad>``, ``<unk>``, repeat, or are not single words.
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        tokens = list(tokens)
        if tokens[:2] != [PAD, UNK]:
            raise ValueError(f"A vocabulary starts with {PAD!r}, {UNK!r}; got {tokens[:2]}.")
        if len(set(tokens)) != len(tokens):
            raise ValueError("A vocabulary's tokens must be unique.")
        bad = [t for t in tokens[2:] if not isinstance(t, str) or not t or t != t.lower() or len(t.split()) != 1]
        if bad:
            raise ValueError(f"Vocabulary tokens must be single lower-case words; got {bad[:5]}.")
        self.tokens: list[str] = tokens
        self.index: dict[str, int] = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def from_instructions(cls, texts: Iterable[str]) -> Vocabulary:
        """The vocabulary of every word in ``texts`` (sorted), after ``<pad>`` and ``<unk>``.

        Raises:
            ValueError: When ``texts`` holds no word.
        """
        found = sorted({w for t in texts for w in words(t)})
        if not found:
            raise ValueError("Cannot build a vocabulary from instructions without any word.")
        return cls([PAD, UNK, *found])

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def pad_id(self) -> int:
        """Index of ``<pad>`` (0)."""
        return 0

    @property
    def unk_id(self) -> int:
        """Index of ``<unk>`` (1)."""
        return 1

    def encode(self, texts: Sequence[str], length: int | None = None) -> np.ndarray:
        """Token ids ``(B, L)`` int64, padded with ``<pad>`` to the longest instruction (or cut to ``length``).

        Unknown words become ``<unk>``; an instruction with no word at all is one ``<unk>``.
        """
        rows = [[self.index.get(w, 1) for w in words(t)] or [1] for t in texts]
        width = max(len(r) for r in rows) if length is None else int(length)
        out = np.zeros((len(rows), max(width, 1)), dtype=np.int64)
        for i, r in enumerate(rows):
            r = r[: out.shape[1]]
            out[i, : len(r)] = r
        return out

    def unknown_words(self, texts: Sequence[str]) -> list[str]:
        """Words of ``texts`` that map to ``<unk>`` (sorted, unique)."""
        return sorted({w for t in texts for w in words(t) if w not in self.index})
