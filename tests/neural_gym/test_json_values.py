"""json_safe: the one conversion before json.dumps in every report writer."""

from __future__ import annotations

import json
import math

import numpy as np

from neural_gym.json_values import json_safe


def test_numpy_values_and_non_finite_numbers_become_json():
    value = {
        "array": np.array([[1.0, np.nan], [np.inf, -2.5]]),
        "scalars": (np.int64(3), np.float32(0.5), np.bool_(True), -math.inf),
        7: "kept",
    }
    out = json_safe(value)
    assert out == {"array": [[1.0, None], [None, -2.5]], "scalars": [3, 0.5, True, None], "7": "kept"}
    assert type(out["scalars"][0]) is int and type(out["scalars"][2]) is bool
    json.dumps(out, allow_nan=False)  # raises on anything JSON cannot hold
