"""The batched engine behind :class:`~neural_gym.DreamEnv` and :class:`~neural_gym.DreamVectorEnv`.

One engine steps ``N`` imagined environments in one model forward pass. It owns the model carry, per-env step counters,
the ensemble member each episode follows, and applies the episode rules (time limit, the task's terminal condition,
uncertainty cut-offs, model errors). The env classes only translate to and from Gymnasium's conventions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch

from envs import TaskSpec
from world_models import WorldModel, resolve_device

from .uncertainty import UncertaintyRule

Start = Literal["env", "dataset"]
Propagation = Literal["member", "mean"]
Source = Literal["learned", "known"]


@dataclass
class EngineStep:
    """Result of one batched step, before any autoreset.

    Attributes:
        obs: ``[N, O]`` float64 next observations (never NaN: a failed prediction keeps the last good observation).
        reward: ``[N]`` float64 rewards after the uncertainty rule.
        terminated: ``[N]`` the task's terminal condition (or a HALT under ``on_uncertain="terminate"``).
        truncated: ``[N]`` time limit, uncertainty cut-off, or model error.
        uncertainty: ``[N]`` value of the calibrated disagreement measure.
        uncertainty_exceeded: ``[N]`` whether it was above the threshold.
        model_error: ``[N]`` whether the model produced a non-finite value this step.
    """

    obs: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    uncertainty: np.ndarray
    uncertainty_exceeded: np.ndarray
    model_error: np.ndarray

    def info(self, index: int | slice = slice(None)) -> dict[str, Any]:
        """The info entries of one env (``int``) or all envs (``slice``)."""
        return {
            "uncertainty": self.uncertainty[index],
            "uncertainty_exceeded": self.uncertainty_exceeded[index],
            "model_error": self.model_error[index],
        }


class DreamEngine:
    """Steps ``num_envs`` imagined episodes of one task with one world model.

    Args:
        model: a trained world model (any family) for ``task``.
        task: the ground-truth task the model learned.
        num_envs: number of parallel episodes.
        start: ``"env"`` draws start states from the ground truth's own reset distribution; ``"dataset"`` from the real
            states stored in the checkpoint.
        rule: what an uncertain step does (see :class:`~neural_gym.uncertainty.UncertaintyRule`).
        reward: ``"learned"`` (the model's head) or ``"known"`` (the task's exact function; refused if it has none).
        termination: ``"learned"`` or ``"known"``, as for ``reward``.
        propagation: ``"member"`` — each episode follows one elite drawn at reset (TS-inf); ``"mean"`` — the elite mean.
        max_episode_steps: time limit.
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
        self.propagation = propagation
        self.max_episode_steps = max_episode_steps
        self.reward_fn = _pick_rule(task, "reward", reward, task.reward_fn)
        self.termination_fn = _pick_rule(task, "termination", termination, task.termination_fn)
        spec = model.spec
        self.obs_dim = int(np.prod(spec.obs_shape))
        self.action_low = np.asarray(spec.action_low, dtype=np.float64)
        self.action_high = np.asarray(spec.action_high, dtype=np.float64)
        self.device = model.device
        if start == "dataset":
            states = getattr(model, "start_states", None)
            if states is None or len(states) == 0:
                raise ValueError(
                    "start='dataset' needs real start states stored in the checkpoint, and this one has none; "
                    "use start='env'"
                )
            self._start_pool = states.detach().cpu().numpy().astype(np.float64)
        self._gt_env: gym.Env | None = None
        self.obs = np.zeros((num_envs, self.obs_dim), dtype=np.float64)
        self.steps = np.zeros(num_envs, dtype=np.int64)
        self.members = np.zeros(num_envs, dtype=np.int64)
        self._state: Any = None

    # ----------------------------------------------------------------------------------------------------------------
    def sample_start_obs(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """``[count, O]`` start observations from the chosen start distribution."""
        if self.start == "dataset":
            idx = rng.integers(0, len(self._start_pool), size=count)
            return self._start_pool[idx].copy()
        if self._gt_env is None:
            self._gt_env = self.task.make()
        out = np.empty((count, self.obs_dim), dtype=np.float64)
        for i in range(count):
            out[i], _ = self._gt_env.reset(seed=int(rng.integers(0, 2**31 - 1)))
        return out

    def reset(self, mask: np.ndarray, rng: np.random.Generator, obs: np.ndarray | None = None) -> None:
        """Start new episodes in the envs selected by boolean ``mask`` (from ``obs`` if given, else sampled)."""
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        if obs is None:
            obs = self.sample_start_obs(idx.size, rng)
        else:
            obs = np.asarray(obs, dtype=np.float64).reshape(idx.size, -1)
            if obs.shape[1] != self.obs_dim or not np.isfinite(obs).all():
                raise ValueError(
                    f"start observations must be finite with {self.obs_dim} values each, got shape {obs.shape}"
                )
        self.obs[idx] = obs
        self.steps[idx] = 0
        self.members[idx] = rng.integers(0, self.model.num_members, size=idx.size)
        if idx.size == self.num_envs:
            self._state = self._encode(self.obs)
            return
        if self._state is None:  # a partial reset before any full one: encode every env's current observation
            self._state = self._encode(self.obs)
        else:
            self._state = _assign(self._state, idx, self._encode(obs))

    def _encode(self, obs: np.ndarray) -> Any:
        return self.model.initial_state(torch.as_tensor(obs, dtype=torch.float32, device=self.device))

    def check_actions(self, actions: Any, space: gym.Space) -> np.ndarray:
        """Validate a batch of actions: right shape, finite; ``ValueError`` naming the expected space otherwise."""
        try:
            arr = np.asarray(actions, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"actions must be numeric arrays for {space}, got {type(actions).__name__}") from err
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
        member = torch.as_tensor(self.members, device=self.device) if self.propagation == "member" else None
        with torch.inference_mode():
            pred = self.model.step(self._state, action_t, member=member)
            next_obs_t = self.model.observe(pred.state)
        next_obs = next_obs_t.reshape(self.num_envs, -1).double().cpu().numpy()
        learned_reward = pred.reward.double().cpu().numpy()
        learned_term = pred.terminated.double().cpu().numpy()
        unc = pred.disagreement.double().cpu().numpy()

        ok = np.isfinite(next_obs).all(axis=1) & np.isfinite(learned_reward) & np.isfinite(unc)
        ok &= np.isfinite(learned_term)
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
        reward, terminated, truncated, exceeded = self.rule.apply(reward, terminated, truncated, unc)
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
        )

    def close(self) -> None:
        """Release the ground-truth env used for start states."""
        if self._gt_env is not None:
            self._gt_env.close()
            self._gt_env = None


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


def default_source(fn: Any) -> Source:
    """``"known"`` where the task has an exact function, else ``"learned"``."""
    return "known" if fn is not None else "learned"


def _assign(state: Any, idx: np.ndarray, fresh: Any) -> Any:
    """Write ``fresh`` (carry of ``len(idx)`` envs) into rows ``idx`` of ``state`` (tensor or dataclass of tensors)."""
    if isinstance(state, torch.Tensor):
        out = state.clone()
        out[torch.as_tensor(idx, device=state.device)] = fresh
        return out
    if hasattr(state, "__dataclass_fields__"):
        return type(state)(**{k: _assign(getattr(state, k), idx, getattr(fresh, k)) for k in state.__dataclass_fields__})
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
) -> DreamEngine:
    """Build an engine from the user-facing keyword arguments shared by both env classes."""
    from envs import get_task
    from world_models import load_checkpoint

    spec = task if isinstance(task, TaskSpec) else get_task(task)
    if isinstance(checkpoint, WorldModel):
        model = checkpoint.to(resolve_device(device))
        if model.spec.task.lower() != spec.name.lower():
            raise ValueError(f"the model was trained for task {model.spec.task}, expected {spec.name}")
    else:
        model = load_checkpoint(checkpoint or f"zoo:{spec.name}", task=spec.name, device=device)
    model.eval()
    threshold = model.spec.calibration.threshold if uncertainty_threshold is None else float(uncertainty_threshold)
    rule = UncertaintyRule(on_uncertain, threshold=threshold, penalty=penalty, halt_penalty=halt_penalty)
    return DreamEngine(
        model,
        spec,
        num_envs,
        start=start,
        rule=rule,
        reward=reward or default_source(spec.reward_fn),
        termination=termination or default_source(spec.termination_fn),
        propagation=propagation,
        max_episode_steps=max_episode_steps or spec.max_episode_steps,
    )
