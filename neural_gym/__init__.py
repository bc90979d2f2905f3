"""neural_gym: learned world models as Gymnasium environments, checked against their MuJoCo ground truth.

``import neural_gym`` registers ``neural_gym/<Task>-v0`` for every ground-truth task, so

    >>> import gymnasium as gym, neural_gym
    >>> env = gym.make("neural_gym/HalfCheetah-v0")                       # doctest: +SKIP
    >>> envs = gym.make_vec("neural_gym/HalfCheetah-v0", num_envs=1024)   # doctest: +SKIP

work out of the box on the shipped checkpoints.
"""

from __future__ import annotations

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
from .registration import env_id, register_envs
from .sb3 import DreamSB3VecEnv
from .uncertainty import UncertaintyRule
from .vector_env import DreamVectorEnv

__version__ = "0.1.0"

ENV_IDS = register_envs()

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
    "save_checkpoint",
    "train_ensemble",
]
