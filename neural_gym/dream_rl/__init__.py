"""Train RL agents inside the dream.

Two modes, both ending in MuJoCo:

- :func:`train_offline` — a fixed dataset → a world model → an SB3 agent (PPO or SAC) trained only inside
  :class:`~neural_gym.DreamVectorEnv` (start states from the dataset, rollout horizon h, truncation or the MOPO
  penalty on uncertain steps).
- :func:`train_dyna` — MBPO-style SAC: real collection with the current policy, periodic model refits, short branched
  model rollouts from real replay states, and SAC updates on a ``real_ratio`` mix of real and imagined data
  (:class:`MixedReplayBuffer`, :class:`DynaCallback`).

Beside them, the data engine (:mod:`~neural_gym.dream_rl.data_engine`, DreamGen-style): :func:`dream_demos` dreams
tabletop demonstrations with a world action model from real start states, labels them with its inverse mode and
renders them with the real renderer; :func:`export_minari` writes them as a Minari dataset the VLA trainer reads.

Both training modes evaluate in MuJoCo every ``eval_freq`` steps (returns and the dream-vs-real gap, ``eval.csv``)
and save the agent, replay buffer, world model and step to their run folder as one generation committed by an atomic
``state.json`` (:mod:`neural_gym.dream_rl.runfolder`): a run killed at any moment continues from its last complete
save with ``resume=True``. A fresh run refuses a folder that holds a run unless ``overwrite=True``; a resume refuses settings
that differ from the saved run's (only ``total_timesteps``, ``save_freq``, ``device``, ``tensorboard`` and ``progress``
may change).

Security:
    ``resume=True`` loads ``agent.zip``, SB3's format, which SB3 **unpickles**: a malicious file runs arbitrary code.
    Only resume run folders you trust. The project's own run files (JSON, ``.npz``, safetensors, CSV) are pickle-free.

Example:
    >>> from neural_gym.dream_rl import train_dyna
    >>> result = train_dyna("InvertedPendulum", total_timesteps=5_000, out_dir="runs/ip")  # doctest: +SKIP
    >>> result.final_return                                                                # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .common import EVAL_COLUMNS, CheckpointCallback, DreamRLResult, EvalCallback, EvalLog, real_returns
    from .data_engine import DreamDemo, DreamResult, dream_demos, export_minari
    from .dyna import DynaCallback, MixedReplayBuffer, train_dyna
    from .offline import train_offline

_LAZY = {
    **dict.fromkeys(
        ("EVAL_COLUMNS", "CheckpointCallback", "DreamRLResult", "EvalCallback", "EvalLog", "real_returns"), "common"
    ),
    **dict.fromkeys(("DreamDemo", "DreamResult", "dream_demos", "export_minari"), "data_engine"),
    **dict.fromkeys(("DynaCallback", "MixedReplayBuffer", "train_dyna"), "dyna"),
    "train_offline": "offline",
}
"""Public name -> its submodule; imported on first use, so ``neural-gym``'s argument parsing needs no SB3 or torch."""


def __getattr__(name: str) -> Any:
    """Import a public name on first access (PEP 562).

    Raises:
        AttributeError: ``name`` is not a public name of ``neural_gym.dream_rl``.
    """
    if name not in _LAZY:
        raise AttributeError(f"module 'neural_gym.dream_rl' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "EVAL_COLUMNS",
    "CheckpointCallback",
    "DreamDemo",
    "DreamRLResult",
    "DreamResult",
    "DynaCallback",
    "EvalCallback",
    "EvalLog",
    "MixedReplayBuffer",
    "dream_demos",
    "export_minari",
    "real_returns",
    "train_dyna",
    "train_offline",
]
