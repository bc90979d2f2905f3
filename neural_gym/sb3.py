"""stable-baselines3 ``VecEnv`` adapter for :class:`~neural_gym.DreamVectorEnv`.

SB3 speaks its own vector protocol (``step_async``/``step_wait``, ``dones``, a list of info dicts with
``terminal_observation`` and ``TimeLimit.truncated``); SB3 has no adapter for a native ``gymnasium.vector.VectorEnv``,
so this thin one translates without copying the batch through per-env wrappers.

Example:
    >>> from stable_baselines3 import PPO
    >>> venv = DreamVectorEnv("InvertedPendulum", num_envs=16).to_sb3()  # doctest: +SKIP
    >>> PPO("MlpPolicy", venv).learn(2048)                              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from .vector_env import DreamVectorEnv


class DreamSB3VecEnv(VecEnv):
    """Presents a :class:`DreamVectorEnv` as a stable-baselines3 ``VecEnv``.

    Args:
        venv: the dream vector env to drive.
    """

    def __init__(self, venv: DreamVectorEnv) -> None:
        if not isinstance(venv, DreamVectorEnv):
            raise TypeError(f"DreamSB3VecEnv wraps a DreamVectorEnv, got {type(venv).__name__}")
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self.render_mode = venv.render_mode
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        """Reset every env; env ``i`` uses the seed :meth:`seed` gave it (``seed + i``) once, as SB3's own vec envs do."""
        seeds = list(self._seeds) if any(s is not None for s in self._seeds) else None
        obs, _ = self.venv.reset(seed=seeds)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Remember the actions for :meth:`step_wait`."""
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        """Step the dream; ``dones = terminated | truncated`` with SB3's info conventions.

        SB3 expects same-step autoreset (the reset observation returned, the last one in ``terminal_observation``), so
        the adapter steps that way whatever the wrapped env's ``autoreset_mode`` is.
        """
        if self._actions is None:
            raise RuntimeError("step_async() must be called before step_wait()")
        obs, rewards, terminated, truncated, info, final_obs = self.venv._step_same_step(self._actions)
        self._actions = None
        dones = terminated | truncated
        infos: list[dict[str, Any]] = []
        for i in range(self.num_envs):
            env_info: dict[str, Any] = {
                "uncertainty": float(info["uncertainty"][i]),
                "uncertainty_exceeded": bool(info["uncertainty_exceeded"][i]),
                "model_error": bool(info["model_error"][i]),
            }
            if dones[i]:
                env_info["terminal_observation"] = final_obs[i].copy()
                env_info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            infos.append(env_info)
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        """Close the dream env."""
        self.venv.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The attribute of the shared dream env, once per selected index."""
        value = getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute on the shared dream env."""
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any) -> list[Any]:
        """Call a method of the shared dream env once, reported for every selected index."""
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        """Dream envs are never wrapped by gymnasium wrappers."""
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """Frames of every env when ``render_mode="rgb_array"``."""
        frames = self.venv.render()
        return list(frames) if frames is not None else [None] * self.num_envs
