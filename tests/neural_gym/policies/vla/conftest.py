"""Fixtures: a handful of real reach demonstrations and a tiny VLA of each head kind trained on them for a few steps."""

from __future__ import annotations

import pytest

from neural_gym.policies.vla import HEADS, VLAPolicy, collect_demos, train_vla

TINY = {"channels": 8, "embed_dim": 8, "hidden": 32, "bin_code": 4}
"""A network small enough to train a few steps in well under a second."""


@pytest.fixture(scope="session")
def demos() -> list:
    """Four successful expert reach episodes (reset seeds 0..3)."""
    return collect_demos("reach", 4, seed=0, progress=False)


def tiny_vla(demos: list, head: str, steps: int = 3, seed: int = 0, **kwargs) -> VLAPolicy:
    """A tiny VLA trained ``steps`` steps."""
    return train_vla(
        demos, head=head, steps=steps, batch_size=8, seed=seed, config=TINY, progress=False, command="pytest", **kwargs
    )


@pytest.fixture(scope="session")
def tiny_policies(demos: list) -> dict[str, VLAPolicy]:
    """One tiny trained VLA per head kind."""
    return {head: tiny_vla(demos, head) for head in HEADS}


def obs_batch(demos: list, rows: int = 3) -> dict:
    """A batched dict observation from the demos' first frames."""
    import numpy as np

    picks = [demos[i % len(demos)] for i in range(rows)]
    return {
        "pixels": np.stack([d.frames[0] for d in picks]),
        "state": np.stack([d.observations[0] for d in picks]),
        "instruction": [d.instruction for d in picks],
    }
