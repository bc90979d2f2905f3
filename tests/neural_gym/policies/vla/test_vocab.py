"""The instruction vocabulary: ``<pad>`` = 0, ``<unk>`` = 1, unknown words map to ``<unk>``."""

from __future__ import annotations

import pytest

from neural_gym.policies.vla import PAD, UNK, Vocabulary


def test_vocabulary_pads_and_maps_unknown_words_to_unk() -> None:
    vocab = Vocabulary.from_instructions(["reach the red cube", "touch the blue block"])
    assert vocab.tokens[:2] == [PAD, UNK]
    ids = vocab.encode(["reach the purple cube", "Touch THE red"])
    assert ids.shape == (2, 4)
    assert ids[0, 2] == vocab.unk_id  # "purple" never seen
    assert ids[1].tolist() == [vocab.index["touch"], vocab.index["the"], vocab.index["red"], vocab.pad_id]
    assert vocab.unknown_words(["reach the purple cube"]) == ["purple"]
    assert vocab.encode([""]).tolist() == [[vocab.unk_id]]


def test_vocabulary_refuses_bad_token_lists() -> None:
    with pytest.raises(ValueError, match="starts with"):
        Vocabulary(["red", PAD, UNK])
    with pytest.raises(ValueError, match="unique"):
        Vocabulary([PAD, UNK, "red", "red"])
    with pytest.raises(ValueError, match="without any word"):
        Vocabulary.from_instructions(["   "])
