"""Values as JSON holds them: the one conversion every report writer uses before ``json.dumps``."""

from __future__ import annotations

from typing import Any

import numpy as np


def json_safe(x: Any) -> Any:
    """``x`` with NumPy arrays and scalars turned into Python lists and numbers, tuples into lists, dict keys into
    strings, and NaN and infinities into ``None`` (JSON has neither), so ``json.dumps(..., allow_nan=False)`` accepts it.

    Example:
        >>> json_safe({"a": np.array([1.0, np.nan]), 2: (np.int64(3), True)})
        {'a': [1.0, None], '2': [3, True]}
    """
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, np.ndarray):
        return json_safe(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    return x
