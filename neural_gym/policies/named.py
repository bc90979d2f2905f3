"""Policies named on the command line: a keyword (``"random"``, ``"expert"``, ...) or a saved SB3 model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SB3_ALGOS = ("PPO", "SAC", "TD3", "A2C", "DDPG")


def load_policy(name: str, algo: str = "PPO", *, keywords: tuple[str, ...] = ("random", "expert")) -> Any:
    """``name`` itself when it is one of ``keywords``, else the SB3 model saved at that path.

    Args:
        name: a keyword, or the path of a saved stable-baselines3 model (with or without ``.zip``).
        algo: the SB3 class the model was saved from.
        keywords: names passed through unchanged (understood by :func:`neural_gym.envs.as_policy` and the evaluators).

    Raises:
        ValueError: when ``name`` is neither a keyword nor an existing model file, or ``algo`` is unknown.
    """
    if name in keywords:
        return name
    path = Path(name)
    if not path.exists() and not path.with_suffix(".zip").exists():
        raise ValueError(f"policy {name!r} is neither one of {list(keywords)} nor an existing SB3 model file")
    if algo.upper() not in SB3_ALGOS:
        raise ValueError(f"unknown algo {algo!r}; use one of {', '.join(SB3_ALGOS)}")
    import stable_baselines3

    return getattr(stable_baselines3, algo.upper()).load(name, device="cpu")
