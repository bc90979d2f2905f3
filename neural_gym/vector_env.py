"""``DreamVectorEnv``: ``N`` imagined episodes stepped in one forward pass of the world model."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from neural_gym.envs import get_task
from neural_gym.world_models import WorldModel

from .cutoff import Cutoff
from .engine import Propagation, Source, Start, make_engine
from .render import ObsRenderer
from .threads import NumThreads


class DreamVectorEnv(VectorEnv):
    """A natively batched ``gymnasium.vector.VectorEnv`` over a world model.

    All ``num_envs`` episodes advance in one model call. The per-step entries ``info["uncertainty"]``,
    ``info["uncertainty_exceeded"]`` and ``info["model_error"]`` are arrays over all envs and describe the step just
    taken. Autoreset follows gymnasium's three modes, chosen at construction
    (``gym.make_vec(id, num_envs=n, autoreset_mode=...)``) and declared in ``metadata["autoreset_mode"]`` and the
    ``autoreset_mode`` attribute:

    * ``AutoresetMode.NEXT_STEP`` (gymnasium's default): the step that ends an episode returns its last observation;
      the next ``step()`` ignores that env's action and returns the first observation of a new episode with reward 0,
      ``terminated = truncated = False``.
    * ``AutoresetMode.SAME_STEP``: the step that ends an episode already returns the next episode's first observation;
      the ended episode's last observation and info are in ``info["final_obs"]`` / ``info["final_info"]`` (masked by
      ``info["_final_obs"]``).
    * ``AutoresetMode.DISABLED``: ended envs wait for ``reset(options={"reset_mask": mask})``; stepping one before
      that raises ``RuntimeError``.

    Seeding follows gymnasium's vector envs: ``reset(seed=s)`` seeds sub-env ``i`` with ``s + i``,
    ``reset(seed=[s0, s1, ...])`` with ``s_i`` (``None`` keeps that env's generator), and sub-env ``i`` then starts
    where a single :class:`~neural_gym.DreamEnv` reset with the same seed starts. Keyword arguments are those of
    :class:`~neural_gym.DreamEnv` (the cut-off ones included: ``uncertainty_threshold``, ``uncertainty_risk``,
    ``uncertainty_signal``; running signals and member trajectories keep one state per env, reset with it), plus
    ``num_envs`` and
    ``autoreset_mode``.

    Example:
        >>> import gymnasium as gym, neural_gym
        >>> envs = gym.make_vec("neural_gym/InvertedPendulum-v0", num_envs=64)
        >>> obs, info = envs.reset(seed=0)
        >>> obs.shape
        (64, 4)
        >>> envs.unwrapped.autoreset_mode
        <AutoresetMode.NEXT_STEP: 'NextStep'>
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(
        self,
        task: str = "InvertedPendulum",
        checkpoint: str | WorldModel | None = None,
        num_envs: int = 1,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        start: Start = "env",
        on_uncertain: str = "truncate",
        uncertainty_threshold: float | None = None,
        uncertainty_risk: float | None = None,
        uncertainty_signal: str | None = None,
        penalty: float = 1.0,
        halt_penalty: float = 100.0,
        reward: Source | None = None,
        termination: Source | None = None,
        propagation: Propagation = "member",
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        device: str = "auto",
        num_threads: NumThreads = "auto",
    ) -> None:
        spec = get_task(task)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        self.autoreset_mode = _autoreset_mode(autoreset_mode)
        self.engine = make_engine(
            spec,
            int(num_envs),
            checkpoint=checkpoint,
            start=start,
            on_uncertain=on_uncertain,
            uncertainty_threshold=uncertainty_threshold,
            uncertainty_risk=uncertainty_risk,
            uncertainty_signal=uncertainty_signal,
            penalty=penalty,
            halt_penalty=halt_penalty,
            reward=reward,
            termination=termination,
            propagation=propagation,
            max_episode_steps=max_episode_steps,
            device=device,
            num_threads=num_threads,
        )
        self.task = spec
        self.num_envs = int(num_envs)
        gt = spec.make()
        self.single_observation_space = self.engine.single_observation_space
        self.single_action_space = gt.action_space
        self.metadata = {
            **self.metadata,
            "autoreset_mode": self.autoreset_mode,
            "render_fps": int(round(1.0 / gt.unwrapped.dt)),
        }
        gt.close()
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = render_mode
        self._renderer: ObsRenderer | None = None
        self._started = False
        self._closed = False
        # NEXT_STEP: envs that ended last step and restart on this one; DISABLED: ended envs awaiting a masked reset.
        self._ended = np.zeros(self.num_envs, dtype=bool)
        self._rngs: list[np.random.Generator | None] = [None] * self.num_envs

    @property
    def model(self) -> WorldModel:
        """The world model playing these envs."""
        return self.engine.model

    @property
    def cutoff(self) -> Cutoff:
        """The cut-off signal and threshold in use, and where they come from."""
        return self.engine.cutoff

    @property
    def np_randoms(self) -> tuple[np.random.Generator | None, ...]:
        """Each sub-env's generator (start states and members are drawn from it); ``None`` before its first reset."""
        return tuple(self._rngs)

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start new episodes in every env, or in the envs of ``options["reset_mask"]``.

        Args:
            seed: ``int`` seeds sub-env ``i`` with ``seed + i``; a list gives one seed per sub-env (``None`` keeps that
                env's generator); ``None`` keeps every generator (fresh entropy on first use).
            options: ``{"reset_mask": bool array [num_envs]}`` resets only those envs (the others keep their
                episodes; gymnasium's convention, needed under ``AutoresetMode.DISABLED``);
                ``{"obs": array [m, *obs_shape]}`` starts the ``m`` reset envs from those observations; burn-in models
                (``context_length = k > 1``) need ``{"obs": [m, k, *obs_shape], "actions": [m, k - 1, A]}``.
        """
        self._check_open()
        options = dict(options or {})
        unknown = set(options) - {"obs", "actions", "reset_mask"}
        if unknown:
            raise ValueError(
                f"unknown reset options {sorted(unknown)}; DreamVectorEnv accepts "
                "{'obs': ..., 'actions': ..., 'reset_mask': ...}"
            )
        if options.get("obs") is None and options.get("actions") is not None:
            raise ValueError("reset options give 'actions' without 'obs'; pass both or neither")
        mask = self._reset_mask(options.get("reset_mask"))
        seeds = self._seeds(seed)
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            self._np_random, self._np_random_seed = gym.utils.seeding.np_random(int(seed))
        for i in np.flatnonzero(mask):
            if seeds[i] is not None or self._rngs[i] is None:
                self._rngs[i] = gym.utils.seeding.np_random(seeds[i])[0]
        self.engine.reset(mask, self._env_rngs(mask), obs=options.get("obs"), actions=options.get("actions"))
        self._ended[mask] = False
        self._started = True
        if self._renderer is not None:
            self._renderer.reset()
        return self.engine.obs.copy(), {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step all envs; ended episodes restart as ``self.autoreset_mode`` says (see the class docstring)."""
        self._check_open()
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if self.autoreset_mode == AutoresetMode.SAME_STEP:
            obs, reward, terminated, truncated, info, _ = self._step_same_step(actions)
            return obs, reward, terminated, truncated, info
        if self.autoreset_mode == AutoresetMode.DISABLED and self._ended.any():
            raise RuntimeError(
                f"envs {np.flatnonzero(self._ended).tolist()} ended and autoreset is disabled: call "
                "reset(options={'reset_mask': mask}) for them before stepping again"
            )
        out = self.engine.step(self.engine.check_actions(actions, self.action_space))
        info = _info_with_masks(out.info(), np.ones(self.num_envs, dtype=bool))
        obs, reward, terminated, truncated = out.obs, out.reward, out.terminated, out.truncated
        restart = self._ended.copy() if self.autoreset_mode == AutoresetMode.NEXT_STEP else None
        if restart is not None and restart.any():
            # These envs ended on the previous step: their action is ignored and they start a new episode.
            self.engine.reset(restart, self._env_rngs(restart))
            obs = self.engine.obs.copy()
            reward = np.where(restart, 0.0, reward)
            terminated = terminated & ~restart
            truncated = truncated & ~restart
            info = _info_with_masks(
                {key: np.where(restart, np.zeros_like(value), value) for key, value in out.info().items()}, ~restart
            )
        self._ended = terminated | truncated
        return obs, reward, terminated, truncated, info

    def _step_same_step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any], np.ndarray]:
        """One step with ``SAME_STEP`` autoreset, whatever ``autoreset_mode`` is (the SB3 adapter uses it too).

        Returns ``(obs, reward, terminated, truncated, info, final_obs)``; ``final_obs [N, *obs_shape]`` holds the last
        observation of every env (the ended episodes' final ones where ``terminated | truncated``).
        """
        self._check_open()
        if not self._started:
            raise RuntimeError("call reset() before step()")
        out = self.engine.step(self.engine.check_actions(actions, self.action_space))
        info = _info_with_masks(out.info(), np.ones(self.num_envs, dtype=bool))
        done = out.terminated | out.truncated
        obs = out.obs
        if done.any():
            final_obs = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(done):
                final_obs[i] = out.obs[i].copy()
            final_info = _info_with_masks(out.info(), done)
            info.update(final_obs=final_obs, _final_obs=done.copy(), final_info=final_info, _final_info=done.copy())
            self.engine.reset(done, self._env_rngs(done))
            obs = self.engine.obs.copy()
        self._ended[:] = False
        return obs, out.reward, out.terminated, out.truncated, info, out.obs

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this DreamVectorEnv is closed; make a new one")

    def _seeds(self, seed: int | list[int | None] | None) -> list[int | None]:
        if seed is None:
            return [None] * self.num_envs
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            return [int(seed) + i for i in range(self.num_envs)]
        if isinstance(seed, (list, tuple, np.ndarray)):
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"reset(seed=[...]) needs one seed per env ({self.num_envs}), got {len(seeds)}")
            for s in seeds:
                if s is not None and (isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0):
                    raise ValueError(f"seeds must be non-negative ints or None, got {s!r}")
            return [None if s is None else int(s) for s in seeds]
        raise ValueError(f"seed must be None, an int or a list of ints (one per env), got {type(seed).__name__}")

    def _reset_mask(self, reset_mask: Any) -> np.ndarray:
        if reset_mask is None:
            return np.ones(self.num_envs, dtype=bool)
        mask = np.asarray(reset_mask)
        if mask.dtype != np.bool_ or mask.shape != (self.num_envs,):
            raise ValueError(
                f"options['reset_mask'] must be a bool array of shape ({self.num_envs},), got dtype {mask.dtype} "
                f"and shape {mask.shape}"
            )
        if not mask.any():
            raise ValueError("options['reset_mask'] selects no env; set at least one entry True")
        if not self._started and not mask.all():
            raise RuntimeError("the first reset() must reset every env; reset_mask applies after it")
        return mask

    def _env_rngs(self, mask: np.ndarray) -> list[np.random.Generator]:
        rngs = []
        for i in np.flatnonzero(mask):
            if self._rngs[i] is None:
                self._rngs[i] = gym.utils.seeding.np_random()[0]
            rngs.append(self._rngs[i])
        return rngs  # type: ignore[return-value]

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
        """A stable-baselines3 ``VecEnv`` view of this env (see :class:`~neural_gym.sb3.DreamSB3VecEnv`); it works in
        every autoreset mode."""
        from .sb3 import DreamSB3VecEnv

        return DreamSB3VecEnv(self)

    def close_extras(self, **kwargs: Any) -> None:
        """Release renderers and helper envs; later ``reset()`` or ``step()`` calls raise."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self.engine.close()
        self._closed = True


def _autoreset_mode(mode: AutoresetMode | str) -> AutoresetMode:
    """``mode`` as an ``AutoresetMode`` (gymnasium also accepts its string values, e.g. ``"NextStep"``)."""
    if isinstance(mode, AutoresetMode):
        return mode
    try:
        return AutoresetMode(mode)
    except ValueError:
        names = ", ".join(f"AutoresetMode.{m.name} ({m.value!r})" for m in AutoresetMode)
        raise ValueError(f"autoreset_mode must be one of {names}, got {mode!r}") from None


def _info_with_masks(values: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, Any]:
    """Gymnasium's vector info layout: every key beside ``_key``, the mask of envs the entry is defined for."""
    info: dict[str, Any] = dict(values)
    info.update({f"_{key}": mask.copy() for key in values})
    return info
