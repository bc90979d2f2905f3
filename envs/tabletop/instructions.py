"""Instructions of the tabletop suite: templates over verbs x objects x goals, and the held-out combinations.

An instruction is identified by ``(family, template, object, goal)`` indices; ``goal`` is ``-1`` for ``"reach"``,
whose instructions name no goal region. :func:`instruction_text` renders one, e.g. ``"push the red cube onto the blue
square"``.

Held-out combinations (excluded from ``split="train"``, the only ones in ``split="heldout"``):

* :data:`HELDOUT_COMBINATIONS`, ``(object, goal)`` pairs, for ``"push"`` and ``"pick_place"``: each object and each goal
  still appears in training, only these pairings never do (a Latin-square diagonal);
* :data:`HELDOUT_REACH`, ``(object, template)`` pairs for ``"reach"``, which has no goal: each object and each phrasing
  is trained, these pairings are not.

``split="all"`` uses every combination.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from neural_gym.envs.tabletop.model import GOALS, OBJECTS

FAMILIES: tuple[str, ...] = ("reach", "push", "pick_place")
"""Task families; the index is the family id stored in the physics state."""
Split = Literal["train", "heldout", "all"]
SPLITS: tuple[str, ...] = ("train", "heldout", "all")

TEMPLATES: dict[str, tuple[str, ...]] = {
    "reach": ("reach the {object}", "move the gripper to the {object}", "touch the {object}"),
    "push": (
        "push the {object} onto the {goal}",
        "slide the {object} to the {goal}",
        "push the {object} into the {goal}",
    ),
    "pick_place": (
        "pick up the {object} and place it on the {goal}",
        "put the {object} on the {goal}",
        "lift the {object} and set it down on the {goal}",
    ),
}
"""Phrasings per family; ``{object}`` is one of :data:`OBJECTS`, ``{goal}`` one of :data:`GOALS`."""

HELDOUT_COMBINATIONS: frozenset[tuple[str, str]] = frozenset(
    {("red cube", "yellow circle"), ("green cylinder", "blue square"), ("blue block", "pink circle")}
)
"""``(object, goal)`` pairs held out of training for ``"push"`` and ``"pick_place"`` (all phrasings)."""
HELDOUT_REACH: frozenset[tuple[str, int]] = frozenset({("red cube", 2), ("green cylinder", 0), ("blue block", 1)})
"""``(object, template index)`` pairs held out of training for ``"reach"``."""

MAX_INSTRUCTION_LENGTH = 64
"""Upper bound on the length of any instruction (checked at import)."""
INSTRUCTION_CHARSET = frozenset("abcdefghijklmnopqrstuvwxyz ")
"""Characters instructions use (the ``charset`` of the ``Text`` space)."""


def instruction_text(family: int, template: int, obj: int, goal: int) -> str:
    """The instruction of indices ``(family, template, object, goal)`` (``goal`` ignored for reach)."""
    name = FAMILIES[family]
    phrase = TEMPLATES[name][template]
    return phrase.format(object=OBJECTS[obj], goal=GOALS[goal] if goal >= 0 else "")


def is_heldout(family: int, template: int, obj: int, goal: int) -> bool:
    """Whether the combination belongs to the held-out split."""
    if FAMILIES[family] == "reach":
        return (OBJECTS[obj], template) in HELDOUT_REACH
    return (OBJECTS[obj], GOALS[goal]) in HELDOUT_COMBINATIONS


def combinations(family: str, split: str) -> list[tuple[int, int, int]]:
    """All ``(template, object, goal)`` index triples of ``family`` in ``split`` (goal ``-1`` for reach).

    Raises:
        ValueError: For an unknown family or split.
    """
    if family not in FAMILIES:
        raise ValueError(f"Unknown task family {family!r}; expected one of {FAMILIES}.")
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; expected one of {SPLITS}.")
    f = FAMILIES.index(family)
    goals = [-1] if family == "reach" else list(range(len(GOALS)))
    out = []
    for t in range(len(TEMPLATES[family])):
        for o in range(len(OBJECTS)):
            for g in goals:
                held = is_heldout(f, t, o, g)
                if split == "all" or (split == "heldout") == held:
                    out.append((t, o, g))
    return out


def sample_combination(rng: np.random.Generator, family: str, split: str) -> tuple[int, int, int]:
    """Draw one ``(template, object, goal)`` of ``family`` in ``split`` uniformly with ``rng``."""
    options = combinations(family, split)
    return options[int(rng.integers(len(options)))]


def _check_texts() -> None:
    for f, family in enumerate(FAMILIES):
        for t, o, g in combinations(family, "all"):
            text = instruction_text(f, t, o, g)
            assert len(text) <= MAX_INSTRUCTION_LENGTH and set(text) <= INSTRUCTION_CHARSET, text


_check_texts()
