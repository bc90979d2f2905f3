"""Registers ``neural_gym/<Task>-v0`` ids with Gymnasium (done on ``import neural_gym``)."""

from __future__ import annotations

import gymnasium as gym

from neural_gym.envs import OPTIONAL_TASKS, TASKS

NAMESPACE = "neural_gym"


def env_id(task: str) -> str:
    """The Gymnasium id of the dream of ``task``, e.g. ``"neural_gym/HalfCheetah-v0"``."""
    return f"{NAMESPACE}/{task}-v0"


def register_envs() -> list[str]:
    """Register one dream env per ground-truth task, optional extras' tasks included (string entry points, so nothing
    heavy loads until ``make``)."""
    limits = {name: task.max_episode_steps for name, task in TASKS.items()}
    limits.update({name: opt.max_episode_steps for name, opt in OPTIONAL_TASKS.items() if name not in limits})
    ids = []
    for name, max_steps in limits.items():
        id_ = env_id(name)
        if id_ not in gym.registry:
            gym.register(
                id=id_,
                entry_point="neural_gym.dream_env:DreamEnv",
                vector_entry_point="neural_gym.vector_env:DreamVectorEnv",
                max_episode_steps=max_steps,
                kwargs={"task": name},
            )
        ids.append(id_)
    return ids
