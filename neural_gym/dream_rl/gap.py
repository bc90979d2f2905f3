"""The exploitation gap: how much better an agent does in the dream than in MuJoCo from the same start states.

An agent trained inside a learned simulator finds the model's errors and exploits them: its dream return climbs while
its MuJoCo return does not. Every dream-RL report (the offline and Dyna loops' ``eval.csv`` and progress lines, the
demo's JSON, table and report) gives the gap beside both returns, in two forms:

- ``dream_real_gap`` = dream return − MuJoCo return (the paired episodes' means);
- ``dream_real_gap_share`` = that gap as a share of the MuJoCo return, ``gap / |MuJoCo return|`` (``0.15``: the dream
  promises 15 % more than MuJoCo gives). The absolute value keeps the sign meaning "the dream is more optimistic"
  for tasks whose returns are negative. Undefined (NaN) when the MuJoCo return is 0.

This module needs NumPy only, so argument parsing and report code can import it without SB3 or torch.
"""

from __future__ import annotations

import math
from typing import Any

GAP_KEYS = ("dream_real_gap", "dream_real_gap_share")
"""The two gap figures every report names, in this order."""


def exploitation_gap(dream_return: float, real_return: float) -> dict[str, float]:
    """The gap between a dream return and the MuJoCo return from the same start states.

    Args:
        dream_return: mean return in the dream (NaN when there was no dream to play, e.g. before Dyna's first refit).
        real_return: mean return in MuJoCo over the same start states.

    Returns:
        ``{"dream_real_gap": dream − real, "dream_real_gap_share": (dream − real) / |real|}``; NaN where undefined
        (a NaN return, or a MuJoCo return of 0 for the share).

    Raises:
        TypeError: a return that is not a real number.

    Example:
        >>> exploitation_gap(733.0, 63.0)["dream_real_gap"]
        670.0
        >>> round(exploitation_gap(-90.0, -100.0)["dream_real_gap_share"], 3)  # the dream is 10 % more optimistic
        0.1
    """
    dream, real = _number("dream_return", dream_return), _number("real_return", real_return)
    gap = dream - real
    share = gap / abs(real) if real != 0 and math.isfinite(real) else math.nan
    return {"dream_real_gap": gap, "dream_real_gap_share": share}


def gap_text(row: dict[str, Any]) -> str:
    """``"dream-real gap +12.3 (+4.5% of MuJoCo)"`` from a row holding :data:`GAP_KEYS` (``""`` without a gap)."""
    gap = row.get("dream_real_gap", math.nan)
    if gap is None or not math.isfinite(gap):
        return ""
    share = row.get("dream_real_gap_share", math.nan)
    of = f" ({100 * share:+.1f}% of MuJoCo)" if share is not None and math.isfinite(share) else ""
    return f"dream-real gap {gap:+.1f}{of}"


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise TypeError(f"{name} must be a real number (a mean episode return), got {type(value).__name__}")
    return float(value)


__all__ = ["GAP_KEYS", "exploitation_gap", "gap_text"]
