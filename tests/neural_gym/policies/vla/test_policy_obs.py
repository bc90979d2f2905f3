"""Bad observations are refused with a PolicyError that says what was expected."""

from __future__ import annotations

import numpy as np
import pytest

from neural_gym.policies import Policy, PolicyError

from .conftest import obs_batch


def test_vla_policy_is_a_policy(tiny_policies: dict) -> None:
    assert isinstance(tiny_policies["regression"], Policy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda o: {k: v for k, v in o.items() if k != "instruction"}, "needs obs\\['instruction'\\]"),
        (lambda o: {**o, "pixels": o["pixels"][:, :32, :32]}, "image_size=64"),
        (lambda o: {**o, "pixels": o["pixels"].astype(np.float32)}, "uint8"),
        (lambda o: {**o, "state": o["state"][:, :8]}, "tabletop state"),
        (lambda o: {k: v for k, v in o.items() if k != "state"}, "no 'state'"),
        (lambda o: {**o, "instruction": "reach the red cube"}, "list of B strings"),
        (lambda o: o["state"], "dict observations"),
    ],
)
def test_bad_observations_are_refused(tiny_policies: dict, demos: list, change, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        tiny_policies["regression"].act(change(obs_batch(demos)))
