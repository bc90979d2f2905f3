"""Meta-World ground truth: the MT10 tasks as language-conditioned Gymnasium envs (an optional extra:
``pip install "neural-gym[metaworld]"``).

Importing this package registers one gymnasium id per MT10 task, ``MetaWorld-<task>`` (e.g.
``MetaWorld-reach-v3``, time limit 500 steps). These are ground truth only: no world model of a Meta-World task is
shipped, so there is no ``neural_gym/<Task>-v0`` dream id for them. Without Meta-World installed the import fails with
an ``ImportError`` saying how to install it.

Meta-World 3.1 pins ``mujoco==3.3.0`` (its Sawyer model does not load under MuJoCo 4), so install the extra in an
environment of its own; ``make test-metaworld`` builds one (``.venv-metaworld``) and runs the Meta-World tests there.

Vector envs: ``gym.make_vec("MetaWorld-reach-v3", num_envs=n)`` works; with ``vectorization_mode="async"`` and
``obs_mode="dict"`` pass ``vector_kwargs={"shared_memory": False}`` (gymnasium 1.4's shared memory returns the
instruction as ``"aaa..."``), and make the async env before the parent process renders a frame, or use
``vector_kwargs={"context": "spawn"}`` (a forked worker of a process that already holds an EGL context can hang).

Example:
    >>> import gymnasium as gym
    >>> from neural_gym.envs.metaworld import MetaWorldExpert, make
    >>> env = make("push-v3", obs_mode="dict")   # or gym.make("neural_gym.envs.metaworld:MetaWorld-push-v3")
    >>> obs, info = env.reset(seed=0)
    >>> obs["instruction"]
    'Push the puck to a goal'
"""

from __future__ import annotations

try:
    import metaworld  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised only where the extra is missing
    raise ImportError(
        'neural_gym.envs.metaworld needs Meta-World, an optional extra: pip install "neural-gym[metaworld]" '
        "(Meta-World 3.1 pins mujoco==3.3.0: use an environment of its own; `make test-metaworld` builds one)."
    ) from error

from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import register, registry

from neural_gym.envs.metaworld.env import DEFAULT_CAMERA, INSTRUCTION_KEY, MAX_EPISODE_STEPS, MetaWorldEnv
from neural_gym.envs.metaworld.expert import MetaWorldExpert, expert_success_rate
from neural_gym.envs.metaworld.instructions import INSTRUCTIONS, MT10_TASKS, instruction
from neural_gym.envs.observations import ImageSize

ID_PREFIX = "MetaWorld-"
"""Prefix of the gymnasium ids: ``MetaWorld-<task>``."""


def env_id(task: str) -> str:
    """The gymnasium id of an MT10 task, e.g. ``"MetaWorld-reach-v3"``.

    Raises:
        ValueError: If ``task`` is not an MT10 task.
    """
    instruction(task)  # validates the name
    return ID_PREFIX + task


for _task in MT10_TASKS:
    if ID_PREFIX + _task not in registry:
        register(
            id=ID_PREFIX + _task,
            entry_point="neural_gym.envs.metaworld.env:MetaWorldEnv",
            max_episode_steps=MAX_EPISODE_STEPS,
            kwargs={"task": _task},
        )
del _task


def make(
    task: str,
    obs_mode: str = "state",
    image_size: ImageSize = 64,
    camera: str = DEFAULT_CAMERA,
    render_mode: str | None = None,
    **kwargs: Any,
) -> gym.Env:
    """``gym.make`` of an MT10 task (with gymnasium's time limit of 500 steps and its checkers).

    Args:
        task: An MT10 task name, e.g. ``"reach-v3"``.
        obs_mode: ``"state"``, ``"pixels"`` or ``"dict"`` (``{"pixels", "state", "instruction"}``).
        image_size: Frame size of the pixel modes and of ``render()``.
        camera: A camera of the Sawyer model (default ``corner``).
        render_mode: ``None`` or ``"rgb_array"``.
        **kwargs: Passed to ``gym.make`` (e.g. ``max_episode_steps``).

    Raises:
        ValueError: For an unknown task, observation mode, camera or render mode.
    """
    return gym.make(
        env_id(task), obs_mode=obs_mode, image_size=image_size, camera=camera, render_mode=render_mode, **kwargs
    )


__all__ = [
    "DEFAULT_CAMERA",
    "ID_PREFIX",
    "INSTRUCTIONS",
    "INSTRUCTION_KEY",
    "MAX_EPISODE_STEPS",
    "MT10_TASKS",
    "MetaWorldEnv",
    "MetaWorldExpert",
    "env_id",
    "expert_success_rate",
    "instruction",
    "make",
]
