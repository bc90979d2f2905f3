"""``DreamVectorEnv``: ``N`` imagined episodes stepped in one forward pass of the world model."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from neural_gym.envs import get_task
from neural_gym.world_models import WorldModel

from .engine import Propagation, Source, Start, make_engine
from .render import ObsRenderer


class DreamVectorEnv(VectorEnv):
    """A natively batched ``gymnasium.vector.VectorEnv`` over a world model.

    All ``num_envs`` episodes advance in one model call. Autoreset is ``AutoresetMode.SAME_STEP``: when an episode ends,
    the returned observation is already the next episode's first one, and the last observation and info of the ended
    episode are in ``info["final_obs"]`` / ``info["final_info"]`` (masked by ``info["_final_obs"]``). The per-step
    entries ``info["uncertainty"]``, ``info["uncertainty_exceeded"]`` and ``info["model_error"]`` are arrays over all
    envs and describe the step just taken. Keyword arguments are those of :class:`~neural_gym.DreamEnv`.

    Example:
        >>> import gymnasium as gym, neural_gym
        >>> envs = gym.make_vec("neural_gym/InvertedPendulum-v0", num_envs=64)
        >>> obs, info = envs.reset(seed=0)
        >>> obs.shape
        (64, 4)
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(
        self,
        task: str = "InvertedPendulum",
        checkpoint: str | WorldModel | None = None,
        num_envs: int = 1,
        *,
        start: Start = "env",
        on_uncertain: str = "truncate",
        uncertainty_threshold: float | None = None,
        penalty: float = 1.0,
        halt_penalty: float = 100.0,
        reward: Source | None = None,
        termination: Source | None = None,
        propagation: Propagation = "member",
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        device: str = "auto",
    ) -> None:
        spec = get_task(task)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.engine = make_engine(
            spec,
            num_envs,
            checkpoint=checkpoint,
            start=start,
            on_uncertain=on_uncertain,
            uncertainty_threshold=uncertainty_threshold,
            penalty=penalty,
            halt_penalty=halt_penalty,
            reward=reward,
            termination=termination,
            propagation=propagation,
            max_episode_steps=max_episode_steps,
            device=device,
        )
        self.task = spec
        self.num_envs = num_envs
        gt = spec.make()
        self.single_observation_space = self.engine.single_observation_space
        self.single_action_space = gt.action_space
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / gt.unwrapped.dt))}
        gt.close()
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.render_mode = render_mode
        self._renderer: ObsRenderer | None = None
        self._started = False

    @property
    def model(self) -> WorldModel:
        """The world model playing these envs."""
        return self.engine.model

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start new episodes in every env.

        Args:
            seed: an int seeds the vector env's ``np_random`` (start states and members are drawn from it).
            options: ``{"obs": array [num_envs, *obs_shape]}`` starts from those observations; burn-in models
                (``context_length = k > 1``) need ``{"obs": [num_envs, k, *obs_shape], "actions": [num_envs, k - 1,
                A]}``.
        """
        if isinstance(seed, list):
            seed = next((s for s in seed if s is not None), None)
        if seed is not None:
            self._np_random, self._np_random_seed = gym.utils.seeding.np_random(seed)
        options = options or {}
        unknown = set(options) - {"obs", "actions"}
        if unknown:
            raise ValueError(
                f"unknown reset options {sorted(unknown)}; DreamVectorEnv accepts {{'obs': ..., 'actions': ...}}"
            )
        if options.get("obs") is None and options.get("actions") is not None:
            raise ValueError("reset options give 'actions' without 'obs'; pass both or neither")
        self.engine.reset(
            np.ones(self.num_envs, dtype=bool), self.np_random, obs=options.get("obs"), actions=options.get("actions")
        )
        self._started = True
        if self._renderer is not None:
            self._renderer.reset()
        return self.engine.obs.copy(), {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step all envs; ended episodes restart in the same call (``AutoresetMode.SAME_STEP``)."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        out = self.engine.step(self.engine.check_actions(actions, self.action_space))
        info: dict[str, Any] = out.info()
        info.update({f"_{key}": np.ones(self.num_envs, dtype=bool) for key in list(info)})
        done = out.terminated | out.truncated
        obs = out.obs
        if done.any():
            final_obs = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(done):
                final_obs[i] = out.obs[i].copy()
            final_info = {**out.info(), **{f"_{key}": done.copy() for key in out.info()}}
            info.update(final_obs=final_obs, _final_obs=done.copy(), final_info=final_info, _final_info=done.copy())
            self.engine.reset(done, self.np_random)
            obs = self.engine.obs.copy()
        return obs, out.reward, out.terminated, out.truncated, info

    def render(self) -> tuple[np.ndarray, ...] | None:
        """Frames of every env (``render_mode="rgb_array"``): decoded frames of pixel models, else predicted states
        drawn in the ground-truth scene (without root-x tracking)."""
        if self.render_mode is None:
            gym.logger.warn("render() called without render_mode; pass render_mode='rgb_array'")
            return None
        if self.engine.pixels:
            return tuple(frame.copy() for frame in self.engine.obs)
        if self._renderer is None:
            self._renderer = ObsRenderer(self.task)
        return tuple(self._renderer.render(o, advance=False) for o in self.engine.obs)

    def to_sb3(self) -> Any:
        """A stable-baselines3 ``VecEnv`` view of this env (see :class:`~neural_gym.sb3.DreamSB3VecEnv`)."""
        from .sb3 import DreamSB3VecEnv

        return DreamSB3VecEnv(self)

    def close_extras(self, **kwargs: Any) -> None:
        """Release renderers and helper envs."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self.engine.close()
