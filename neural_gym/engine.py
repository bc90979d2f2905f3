"""The batched engine behind :class:`~neural_gym.DreamEnv` and :class:`~neural_gym.DreamVectorEnv`.

One engine steps ``N`` imagined environments in one model forward pass. It owns the model carry, per-env step counters,
the ensemble member each episode follows, and applies the episode rules (time limit, the task's terminal condition,
uncertainty cut-offs, model errors). The env classes only translate to and from Gymnasium's conventions.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch

from neural_gym.envs import TaskSpec
from neural_gym.world_models import WorldModel, resolve_device

from .cutoff import TRAJECTORY_SIGNAL, Cutoff, RunningSignal, resolve_cutoff
from .member_trajectories import MemberTrajectories
from .threads import NumThreads, resolve_num_threads, torch_threads
from .uncertainty import UncertaintyRule

Start = Literal["env", "dataset"]
Propagation = Literal["member", "mean"]
Source = Literal["learned", "known"]


@dataclass
class EngineStep:
    """Result of one batched step, before any autoreset.

    Attributes:
        obs: ``[N, *obs_shape]`` next observations: float64 state vectors, or uint8 frames for pixel models (never NaN:
            a failed prediction keeps the last good observation).
        reward: ``[N]`` float64 rewards after the uncertainty rule.
        terminated: ``[N]`` the task's terminal condition (or a HALT under ``on_uncertain="terminate"``).
        truncated: ``[N]`` time limit, uncertainty cut-off, or model error.
        uncertainty: ``[N]`` value of the cut-off signal (the engine's ``signal``: the calibrated one-step
            disagreement, or a running form of it along the episode; see :mod:`neural_gym.cutoff`).
        uncertainty_exceeded: ``[N]`` whether it was above the threshold.
        model_error: ``[N]`` whether the model produced a non-finite value this step.
        is_success: ``[N]`` the task's success rule on the predicted observation, where the task defines one and
            the model observes state vectors; else ``None``.
    """

    obs: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    uncertainty: np.ndarray
    uncertainty_exceeded: np.ndarray
    model_error: np.ndarray
    is_success: np.ndarray | None = None

    def info(self, index: int | slice = slice(None)) -> dict[str, Any]:
        """The info entries of one env (``int``) or all envs (``slice``)."""
        out = {
            "uncertainty": self.uncertainty[index],
            "uncertainty_exceeded": self.uncertainty_exceeded[index],
            "model_error": self.model_error[index],
        }
        if self.is_success is not None:
            out["is_success"] = self.is_success[index]
        return out


class DreamEngine:
    """Steps ``num_envs`` imagined episodes of one task with one world model.

    Args:
        model: a trained world model (any family) for ``task``.
        task: the ground-truth task the model learned.
        num_envs: number of parallel episodes.
        start: ``"env"`` draws start states from the ground truth's own reset distribution; ``"dataset"`` from the real
            states stored in the checkpoint.
        rule: what an uncertain step does (see :class:`~neural_gym.uncertainty.UncertaintyRule`); its threshold applies
            to ``signal``.
        reward: ``"learned"`` (the model's head) or ``"known"`` (the task's exact function; refused if it has none).
        termination: ``"learned"`` or ``"known"``, as for ``reward``.
        propagation: ``"member"`` — each episode follows one elite drawn at reset (TS-inf); ``"mean"`` — the elite mean.
        max_episode_steps: time limit.
        num_threads: torch intra-op threads for the engine's own forward passes, restored after each (see
            :mod:`neural_gym.threads`): ``"auto"`` (one thread for small batches), an int, or ``None`` (leave torch's
            setting alone).
        signal: the cut-off signal (:data:`~neural_gym.cutoff.ENV_SIGNALS`): the model's one-step disagreement or its
            running maximum, running sum or running sum over ``sqrt(steps)``, each env's running state reset with it;
            or ``"member_trajectories"`` (ensemble family): every elite's own state is carried beside each episode
            (:class:`~neural_gym.member_trajectories.MemberTrajectories`) and the signal is their spread.

    For state models, the task's :attr:`~neural_gym.envs.TaskSpec.episode_constant_dims` are held at their
    episode-start values: every predicted observation gets them copied from the episode's start observation (bit for
    bit), and so does the model's carry where the carry is the observation (the ensemble family), so the next
    prediction starts from them too. The disagreement measure is the model's own, unchanged.

    Raises:
        ValueError: for an invalid argument, or episode-constant dims outside the model's observation.
    """

    def __init__(
        self,
        model: WorldModel,
        task: TaskSpec,
        num_envs: int,
        *,
        start: Start,
        rule: UncertaintyRule,
        reward: Source,
        termination: Source,
        propagation: Propagation,
        max_episode_steps: int,
        num_threads: NumThreads = "auto",
        signal: str = "disagreement",
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if start not in ("env", "dataset"):
            raise ValueError(f"start must be 'env' or 'dataset', got {start!r}")
        if propagation not in ("member", "mean"):
            raise ValueError(f"propagation must be 'member' or 'mean', got {propagation!r}")
        if max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {max_episode_steps}")
        self.model = model
        self.task = task
        self.num_envs = num_envs
        self.start = start
        self.rule = rule
        self.signal = RunningSignal(signal, num_envs)
        self.cutoff = Cutoff(signal, float(rule.threshold), "engine")
        self.propagation = propagation
        self.max_episode_steps = max_episode_steps
        self.num_threads = resolve_num_threads(num_threads, num_envs)
        self.reward_fn = _pick_rule(task, "reward", reward, task.reward_fn)
        self.termination_fn = _pick_rule(task, "termination", termination, task.termination_fn)
        spec = model.spec
        self.obs_shape = tuple(int(d) for d in spec.obs_shape)
        self.pixels = is_pixel_shape(self.obs_shape)
        self.obs_dtype = np.uint8 if self.pixels else np.float64
        self.context_length = int(model.context_length)
        self.action_low = np.asarray(spec.action_low, dtype=np.float64)
        self.action_high = np.asarray(spec.action_high, dtype=np.float64)
        self.device = model.device
        if self.pixels:
            for what, source in (("reward", reward), ("termination", termination)):
                if source == "known":
                    raise ValueError(
                        f"this model observes {self.obs_shape} frames and the task's known {what} rule reads state "
                        f"vectors; use {what}='learned'"
                    )
        held = tuple(int(d) for d in task.episode_constant_dims) if not self.pixels else ()
        if held and (len(self.obs_shape) != 1 or min(held) < 0 or max(held) >= self.obs_shape[0]):
            raise ValueError(
                f"task {task.name}'s episode_constant_dims {held} must index the model's observation of shape "
                f"{self.obs_shape}"
            )
        # a slice where the dims are contiguous (the tabletop's are): cheaper to index on every step
        contiguous = bool(held) and list(held) == list(range(held[0], held[-1] + 1))
        self._held: slice | np.ndarray | None = (
            slice(held[0], held[-1] + 1) if contiguous else (np.asarray(held, dtype=np.int64) if held else None)
        )
        self._held_t: torch.Tensor | None = None  # the held start values as a tensor in the carry's dtype and device
        if start == "dataset":
            self._start_obs, self._start_actions = _start_pool(model, self.context_length)
        self._gt_env: gym.Env | None = None
        # Families that sample (RSSM latents, diffusion noise) take a torch.Generator; it is re-seeded from the env's
        # np_random at every full reset, so a dream is a function of its seed.
        self._takes_generator = "generator" in inspect.signature(model.step).parameters
        self._generator: torch.Generator | None = None
        self.obs = np.zeros((num_envs, *self.obs_shape), dtype=self.obs_dtype)
        self._episode_start = self.obs.copy()  # each env's start observation (its episode-constant dims are held)
        self.steps = np.zeros(num_envs, dtype=np.int64)
        self.members = np.zeros(num_envs, dtype=np.int64)
        self._member_t: torch.Tensor | None = None  # self.members as a tensor on the model's device
        self._state: Any = None
        #: every elite's own state beside each episode, only for the member-trajectory signal
        self.trajectories = MemberTrajectories(model, num_envs) if signal == TRAJECTORY_SIGNAL else None

    # ----------------------------------------------------------------------------------------------------------------
    @property
    def single_observation_space(self) -> gym.spaces.Box:
        """One env's observation space: the task's state space, or uint8 frames for pixel models."""
        if self.pixels:
            return gym.spaces.Box(0, 255, self.obs_shape, dtype=np.uint8)
        return self._ground_truth().observation_space  # type: ignore[return-value]

    def _ground_truth(self) -> gym.Env:
        """The ground-truth env start contexts come from (frames at the model's size for pixel models)."""
        if self._gt_env is None:
            if self.pixels:
                self._gt_env = self.task.make(obs_mode="pixels", image_size=self.obs_shape[:2])
            else:
                self._gt_env = self.task.make()
        return self._gt_env

    def sample_context(
        self, count: int, rng: np.random.Generator | Sequence[np.random.Generator]
    ) -> tuple[np.ndarray, np.ndarray]:
        """``count`` real start contexts: observations ``[count, k, *obs_shape]`` and actions ``[count, k - 1, A]``.

        ``k`` is the model's ``context_length`` (1 for the ensemble family). ``start="dataset"`` draws stored contexts;
        ``start="env"`` resets the ground truth (seeded from ``rng``) and, for ``k > 1``, plays ``k - 1`` burn-in
        actions drawn uniformly from the action space, retrying episodes that end during the burn-in. ``rng`` is one
        generator for all, or one per context (context ``i`` then depends on ``rng[i]`` alone).
        """
        rngs = _per_env(rng, count)
        k, a_dim = self.context_length, len(self.action_low)
        if self.start == "dataset":
            idx = np.array([r.integers(0, len(self._start_obs)) for r in rngs], dtype=np.int64)
            return self._start_obs[idx].copy(), self._start_actions[idx].copy()
        env = self._ground_truth()
        obs = np.empty((count, k, *self.obs_shape), dtype=self.obs_dtype)
        actions = np.zeros((count, k - 1, a_dim), dtype=np.float64)
        for i, r in enumerate(rngs):
            for _attempt in range(100):
                o, _ = env.reset(seed=int(r.integers(0, 2**31 - 1)))
                obs[i, 0] = o
                ended = False
                for j in range(k - 1):
                    actions[i, j] = r.uniform(self.action_low, self.action_high)
                    obs[i, j + 1], _, terminated, truncated, _ = env.step(actions[i, j])
                    ended = terminated or truncated
                    if ended:
                        break
                if not ended:
                    break
            else:
                raise RuntimeError(f"100 ground-truth episodes of {self.task.name} ended within {k - 1} burn-in steps")
        return obs, actions

    def check_context(self, obs: Any, actions: Any, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Validate user-given start context for ``count`` envs; ``ValueError`` saying what was expected otherwise.

        Args:
            obs: ``[count, *obs_shape]`` (models with ``context_length == 1``) or ``[count, k, *obs_shape]``.
            actions: ``[count, k - 1, A]`` actions between the context observations (``None`` when ``k == 1``).
        """
        k, a_dim = self.context_length, len(self.action_low)
        kind = "uint8 frames" if self.pixels else "finite float observations"
        arr = np.asarray(obs)
        if k == 1 and arr.shape == (count, *self.obs_shape):
            arr = arr[:, None]
        if arr.shape != (count, k, *self.obs_shape):
            need = f"[{count}, {', '.join(map(str, self.obs_shape))}]" if k == 1 else ""
            raise ValueError(
                f"start observations must be {kind} of shape {need or ''}"
                f"{' or ' if need else ''}[{count}, {k}, {', '.join(map(str, self.obs_shape))}] "
                f"(this model reads {k} step(s) of real context), got shape {arr.shape}"
            )
        if self.pixels:
            if arr.dtype != np.uint8:
                raise ValueError(f"start frames must be uint8 in [0, 255], got dtype {arr.dtype}")
        else:
            arr = to_real_array(arr, "start observations")
            if not np.isfinite(arr).all():
                raise ValueError("start observations must be finite")
        if k == 1:
            return arr, np.zeros((count, 0, a_dim), dtype=np.float64)
        if actions is None:
            raise ValueError(
                f"this model reads {k} steps of real context: pass the {k - 1} actions taken between the "
                f"observations too (shape [{count}, {k - 1}, {a_dim}])"
            )
        act = to_real_array(actions, "context actions")
        if act.shape != (count, k - 1, a_dim) or not np.isfinite(act).all():
            raise ValueError(f"context actions must be finite with shape [{count}, {k - 1}, {a_dim}], got {act.shape}")
        return arr, act

    def reset(
        self,
        mask: np.ndarray,
        rng: np.random.Generator | Sequence[np.random.Generator],
        obs: np.ndarray | None = None,
        actions: np.ndarray | None = None,
    ) -> None:
        """Start new episodes in the envs selected by boolean ``mask``.

        From the given context (``obs``, and ``actions`` for burn-in models; see :meth:`check_context`), else from
        contexts drawn by :meth:`sample_context`. ``rng`` is one generator, or one per selected env: each env's start
        context and ensemble member are then drawn from its own generator, so env ``i`` of a vector env seeded with
        ``[s0, s1, ...]`` starts where a single env reset with seed ``s_i`` starts.
        """
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        rngs = _per_env(rng, idx.size)
        if obs is None:
            ctx_obs, ctx_actions = self.sample_context(idx.size, rngs)
        else:
            ctx_obs, ctx_actions = self.check_context(obs, actions, idx.size)
        self.obs[idx] = ctx_obs[:, -1]
        self._episode_start[idx] = ctx_obs[:, -1]
        self._held_t = None
        self.steps[idx] = 0
        self.signal.reset(idx)
        self.members[idx] = [r.integers(0, self.model.num_members) for r in rngs]
        self._member_t = None
        if self._takes_generator and (idx.size == self.num_envs or self._generator is None):
            self._generator = torch.Generator(device=self.device).manual_seed(int(rngs[0].integers(0, 2**63 - 1)))
        fresh = self._encode(ctx_obs, ctx_actions)
        if self.trajectories is not None:
            self.trajectories.reset(idx, fresh)
        if idx.size == self.num_envs or self._state is None:
            if idx.size == self.num_envs:
                self._state = fresh
                return
            # a partial reset before any full one: encode every env's current observation first
            self._state = self._encode(self.obs[:, None].repeat(self.context_length, axis=1), self._zero_actions())
        self._state = _assign(self._state, idx, fresh)

    def _zero_actions(self) -> np.ndarray:
        return np.zeros((self.num_envs, self.context_length - 1, len(self.action_low)), dtype=np.float64)

    def _encode(self, obs: np.ndarray, actions: np.ndarray) -> Any:
        obs_t = torch.as_tensor(obs if self.pixels else obs.astype(np.float32), device=self.device)
        act_t = torch.as_tensor(actions, dtype=torch.float32, device=self.device)
        with torch.inference_mode(), torch_threads(self.num_threads):
            return self.model.initial_state_from_history(obs_t, act_t)

    def check_actions(self, actions: Any, space: gym.Space) -> np.ndarray:
        """Validate a batch of actions: real numbers (not strings, complex or objects), right shape, finite;
        ``ValueError`` naming the expected space otherwise."""
        arr = to_real_array(actions, lambda: f"actions for action space {space}")
        expected = (self.num_envs, len(self.action_low))
        if arr.shape != expected:
            raise ValueError(f"expected actions of shape {expected} for action space {space}, got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"actions must be finite for action space {space}, got {arr[~np.isfinite(arr)][:4]}")
        return arr

    def step(self, actions: np.ndarray) -> EngineStep:
        """Advance all envs with validated ``[N, A]`` actions; the caller handles autoreset."""
        # The ground truth clamps controls to the actuators' ctrlrange, so the dynamics see clipped actions; known
        # reward rules (like gymnasium's) charge the control cost on the action as given.
        clipped = np.clip(actions, self.action_low, self.action_high)
        action_t = torch.as_tensor(clipped, dtype=torch.float32, device=self.device)
        if self.propagation == "member":
            if self._member_t is None:  # members change only at resets
                self._member_t = torch.as_tensor(self.members, device=self.device)
            member = self._member_t
        else:
            member = None
        extra = {"generator": self._generator} if self._takes_generator else {}
        n = self.num_envs
        with torch.inference_mode(), torch_threads(self.num_threads):
            pred = self.model.step(self._state, action_t, member=member, **extra)
            next_obs_t = self.model.observe(pred.state)
            if self._held is not None and next_obs_t is pred.state:  # the carry is the observation: hold it too
                if self._held_t is None:  # start values change only at resets
                    start = self._episode_start[:, self._held]
                    self._held_t = torch.as_tensor(start, dtype=next_obs_t.dtype, device=next_obs_t.device)
                next_obs_t[:, self._held] = self._held_t
            next_obs_t = next_obs_t.reshape(n, *self.obs_shape)
            spread = None if self.trajectories is None else self.trajectories.step(action_t, self._hold())
            scalars = torch.stack([pred.reward.reshape(n), pred.terminated.reshape(n), pred.disagreement.reshape(n)], 1)
            if self.pixels:  # decoded frames are floats in [0, 255]; the env serves uint8 like the ground truth
                finite_obs = torch.isfinite(next_obs_t).flatten(1).all(dim=1).cpu().numpy()
                frames = torch.nan_to_num(next_obs_t, nan=0.0).clamp_(0.0, 255.0).round_().to(torch.uint8)
                next_obs = frames.cpu().numpy()
                packed = scalars.double().cpu().numpy()
            else:
                # one device-to-host copy for everything the step returns (each small copy costs as much as a big one)
                packed = torch.cat([next_obs_t.reshape(n, -1), scalars], 1).double().cpu().numpy()
                next_obs = packed[:, :-3].reshape(n, *self.obs_shape)
                if self._held is not None:  # float64 start values, bit for bit (the carry may be float32)
                    next_obs[:, self._held] = self._episode_start[:, self._held]
                finite_obs = np.isfinite(next_obs).reshape(n, -1).all(axis=1)
        learned_reward, learned_term, unc = packed[:, -3].copy(), packed[:, -2].copy(), packed[:, -1].copy()

        ok = finite_obs & np.isfinite(learned_reward) & np.isfinite(learned_term) & np.isfinite(unc)
        model_error = ~ok
        if model_error.any():
            next_obs[model_error] = self.obs[model_error]
            learned_reward[model_error] = 0.0
            learned_term[model_error] = 0.0
            unc[model_error] = np.inf

        reward = (
            np.asarray(self.reward_fn(self.obs, actions, next_obs), dtype=np.float64)
            if self.reward_fn is not None
            else learned_reward
        )
        terminated = (
            np.asarray(self.termination_fn(self.obs, actions, next_obs), dtype=bool)
            if self.termination_fn is not None
            else learned_term > 0.5
        )
        reward = np.where(model_error, 0.0, reward)
        terminated &= ~model_error
        self.steps += 1
        truncated = (self.steps >= self.max_episode_steps) | model_error
        if spread is not None:  # the member-trajectory signal replaces the one-step value (a failed step stays inf)
            unc = np.where(model_error, np.inf, spread)
        unc = self.signal.update(unc, self.steps)
        reward, terminated, truncated, exceeded = self.rule.apply(reward, terminated, truncated, unc)
        is_success = None
        if self.task.success_fn is not None and not self.pixels:
            is_success = np.asarray(self.task.success_fn(self.obs, actions, next_obs), dtype=bool) & ~model_error
        self.obs = next_obs
        self._state = pred.state
        return EngineStep(
            obs=next_obs.copy(),
            reward=reward,
            terminated=terminated,
            truncated=truncated & ~terminated,
            uncertainty=unc,
            uncertainty_exceeded=exceeded,
            model_error=model_error,
            is_success=is_success,
        )

    def _hold(self) -> tuple[Any, torch.Tensor] | None:
        """The episode-constant dims and each env's start values (carry dtype and device), for member states."""
        if self._held is None:
            return None
        if self._held_t is None:  # start values change only at resets
            start = self._episode_start[:, self._held]
            self._held_t = torch.as_tensor(start, dtype=torch.float32, device=self.device)
        return self._held, self._held_t

    def close(self) -> None:
        """Release the ground-truth env used for start states."""
        if self._gt_env is not None:
            self._gt_env.close()
            self._gt_env = None


def to_real_array(values: Any, what: str | Callable[[], str]) -> np.ndarray:
    """``values`` as a float64 array, refusing what is not real numbers (strings, complex numbers, objects, bools).

    ``np.asarray(x, dtype=float)`` would turn ``"0.5"`` into 0.5 and drop the imaginary part of ``0.5 + 1j``; an
    action of either kind is a caller's bug, so it is refused like any other bad action.

    Args:
        values: what the caller passed.
        what: how to name it in an error message (a callable is only called to build one: a space's repr costs more
            than the check on every step).

    Raises:
        ValueError: naming ``what`` and the kind of values given.
    """
    try:
        raw = np.asarray(values)
    except (TypeError, ValueError) as err:
        what = what() if callable(what) else what
        raise ValueError(f"{what} must be real numbers, got {type(values).__name__}") from err
    if raw.dtype.kind not in "iuf":
        what = what() if callable(what) else what
        kind = {"U": "strings", "S": "bytes", "c": "complex numbers", "b": "booleans", "O": "Python objects"}.get(
            raw.dtype.kind, f"dtype {raw.dtype}"
        )
        raise ValueError(f"{what} must be real numbers (int or float), got {kind}: {values!r:.80}")
    return raw.astype(np.float64, copy=False)


def _per_env(rng: np.random.Generator | Sequence[np.random.Generator], count: int) -> list[np.random.Generator]:
    """One generator per env: ``rng`` repeated, or the given sequence (checked to have ``count`` entries)."""
    if isinstance(rng, np.random.Generator):
        return [rng] * count
    rngs = list(rng)
    if len(rngs) != count:
        raise ValueError(f"expected one random generator per reset env ({count}), got {len(rngs)}")
    return rngs


def _pick_rule(task: TaskSpec, what: str, source: str, fn: Any) -> Any:
    if source == "learned":
        return None
    if source == "known":
        if fn is None:
            raise ValueError(
                f"task {task.name} has no exact {what} function (it is not computable from observations); "
                f"use {what}='learned'"
            )
        return fn
    raise ValueError(f"{what} must be 'learned' or 'known', got {source!r}")


def default_source(fn: Any, pixels: bool = False) -> Source:
    """``"known"`` where the task has an exact function and the model observes state vectors, else ``"learned"``."""
    return "known" if fn is not None and not pixels else "learned"


def is_pixel_shape(obs_shape: tuple[int, ...]) -> bool:
    """Whether a model's observations are ``(H, W, 3)`` frames rather than state vectors."""
    return len(obs_shape) == 3 and obs_shape[-1] == 3


def _start_pool(model: WorldModel, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Real start contexts stored in a checkpoint: ``start_obs``/``start_actions``, or ``start_states`` when ``k == 1``."""
    obs = getattr(model, "start_obs", None)
    actions = getattr(model, "start_actions", None)
    if obs is None and k == 1:
        states = getattr(model, "start_states", None)
        if states is not None:
            obs, actions = states[:, None], states.new_zeros((len(states), 0, len(model.spec.action_low)))
    if obs is None or len(obs) == 0 or actions is None:
        raise ValueError(
            "start='dataset' needs real start states stored in the checkpoint, and this one has none; use start='env'"
        )
    obs_np = obs.detach().cpu().numpy()
    pixels = is_pixel_shape(tuple(model.spec.obs_shape))
    obs_np = np.clip(np.rint(obs_np), 0, 255).astype(np.uint8) if pixels else obs_np.astype(np.float64)
    return obs_np, actions.detach().cpu().numpy().astype(np.float64)


def _assign(state: Any, idx: np.ndarray, fresh: Any) -> Any:
    """Write ``fresh`` (carry of ``len(idx)`` envs) into rows ``idx`` of ``state`` (tensor or dataclass of tensors)."""
    if isinstance(state, torch.Tensor):
        out = state.clone()
        out[torch.as_tensor(idx, device=state.device)] = fresh
        return out
    if hasattr(state, "__dataclass_fields__"):
        return type(state)(
            **{k: _assign(getattr(state, k), idx, getattr(fresh, k)) for k in state.__dataclass_fields__}
        )
    raise TypeError(f"cannot reset part of a model state of type {type(state).__name__}")


def make_engine(
    task: str | TaskSpec,
    num_envs: int,
    *,
    checkpoint: str | WorldModel | None,
    start: Start,
    on_uncertain: str,
    uncertainty_threshold: float | None,
    penalty: float,
    halt_penalty: float,
    reward: Source | None,
    termination: Source | None,
    propagation: Propagation,
    max_episode_steps: int | None,
    device: str,
    num_threads: NumThreads = "auto",
    uncertainty_risk: float | None = None,
    uncertainty_signal: str | None = None,
) -> DreamEngine:
    """Build an engine from the user-facing keyword arguments shared by both env classes.

    The cut-off (signal and threshold) comes from :func:`~neural_gym.cutoff.resolve_cutoff` and is kept as
    ``engine.cutoff``.
    """
    from neural_gym.envs import get_task
    from neural_gym.world_models import load_checkpoint

    spec = task if isinstance(task, TaskSpec) else get_task(task)
    if isinstance(checkpoint, WorldModel):
        model = checkpoint.to(resolve_device(device))
        if model.spec.task.lower() != spec.name.lower():
            raise ValueError(f"the model was trained for task {model.spec.task}, expected {spec.name}")
    else:
        model = load_checkpoint(checkpoint or f"zoo:{spec.name}", task=spec.name, device=device)
    model.eval()
    cutoff = resolve_cutoff(
        model.spec.calibration, threshold=uncertainty_threshold, risk=uncertainty_risk, signal=uncertainty_signal
    )
    rule = UncertaintyRule(on_uncertain, threshold=cutoff.threshold, penalty=penalty, halt_penalty=halt_penalty)
    engine = DreamEngine(
        model,
        spec,
        num_envs,
        start=start,
        rule=rule,
        reward=reward or default_source(spec.reward_fn, is_pixel_shape(tuple(model.spec.obs_shape))),
        termination=termination or default_source(spec.termination_fn, is_pixel_shape(tuple(model.spec.obs_shape))),
        propagation=propagation,
        max_episode_steps=max_episode_steps or spec.max_episode_steps,
        num_threads=num_threads,
        signal=cutoff.signal,
    )
    engine.cutoff = cutoff
    return engine
