"""neural_gym: learned world models as Gymnasium environments, checked against their MuJoCo ground truth.

``import neural_gym`` registers ``neural_gym/<Task>-v0`` for every ground-truth task, so

    >>> import gymnasium as gym, neural_gym
    >>> env = gym.make("neural_gym/HalfCheetah-v0")                       # doctest: +SKIP
    >>> envs = gym.make_vec("neural_gym/HalfCheetah-v0", num_envs=1024)   # doctest: +SKIP

work out of the box on the shipped checkpoints.

The import stays cheap: the ids use string entry points, and the heavy names below (everything that needs torch,
e.g. :class:`DreamEnv` or :func:`load_checkpoint`) load on first use (PEP 562 ``__getattr__``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .registration import env_id, register_envs

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from neural_gym.envs import TASKS, collect, get_task, load_transitions
    from neural_gym.world_models import (
        CheckpointError,
        EnsembleConfig,
        EnsembleModel,
        WorldModel,
        load_checkpoint,
        save_checkpoint,
        train_ensemble,
    )

    from .dream_env import DreamEnv
    from .rl_zoo import rl_zoo_config
    from .sb3 import DreamSB3VecEnv
    from .uncertainty import UncertaintyRule
    from .vector_env import DreamVectorEnv

__version__ = "0.1.0"

ENV_IDS = register_envs()

_LAZY: dict[str, str] = {
    "TASKS": "neural_gym.envs",
    "collect": "neural_gym.envs",
    "get_task": "neural_gym.envs",
    "load_transitions": "neural_gym.envs",
    "CheckpointError": "neural_gym.world_models",
    "EnsembleConfig": "neural_gym.world_models",
    "EnsembleModel": "neural_gym.world_models",
    "WorldModel": "neural_gym.world_models",
    "load_checkpoint": "neural_gym.world_models",
    "save_checkpoint": "neural_gym.world_models",
    "train_ensemble": "neural_gym.world_models",
    "DreamEnv": "neural_gym.dream_env",
    "DreamSB3VecEnv": "neural_gym.sb3",
    "UncertaintyRule": "neural_gym.uncertainty",
    "DreamVectorEnv": "neural_gym.vector_env",
    "rl_zoo_config": "neural_gym.rl_zoo",
}
"""Public name -> the module that defines it, imported on first access."""


def __getattr__(name: str) -> Any:
    """Import a heavy public name on first access (PEP 562) and cache it in the package namespace.

    Args:
        name: the attribute asked for.

    Returns:
        The object ``name`` stands for.

    Raises:
        AttributeError: ``name`` is not a public name of ``neural_gym`` (nor an already imported submodule).
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'neural_gym' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the lazy ones included."""
    return sorted({*globals(), *_LAZY})


__all__ = [
    "ENV_IDS",
    "TASKS",
    "CheckpointError",
    "DreamEnv",
    "DreamSB3VecEnv",
    "DreamVectorEnv",
    "EnsembleConfig",
    "EnsembleModel",
    "UncertaintyRule",
    "WorldModel",
    "collect",
    "env_id",
    "get_task",
    "load_checkpoint",
    "load_transitions",
    "rl_zoo_config",
    "save_checkpoint",
    "train_ensemble",
]
