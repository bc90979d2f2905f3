"""Every elite's own trajectory beside a Dream env's episodes: the state behind the ``"member_trajectories"`` signal.

A Dream env that cuts on :data:`~neural_gym.cutoff.TRAJECTORY_SIGNAL` carries, for each of its ``N`` envs, the state
of every one of the ``E`` elites, each propagated on its own from the episode's start with the env's actions (the
actions the policy took on the *followed* member's observations). After each step the signal is how far apart the
elites' observations are, in units of the model's training std σ (:func:`~neural_gym.world_models.uncertainty.
ensemble_std` of ``obs / σ``): exactly what :func:`neural_gym.drift.rollout_records` records as
``member_trajectories`` on held-out rollouts (its ``"carry"`` propagation), so a threshold calibrated there applies
here. One-step disagreement only sees how the members differ from the same input; whole trajectories see how far
apart their compounded errors have carried them.

Only for the ensemble family, whose carry is the observation: every elite steps its own batch in one pass
(:meth:`~neural_gym.world_models.EnsembleModel.forward_normalized` with ``[E, N, O + A]`` inputs), about the cost of the
env's own step. Episode-constant dims (:attr:`~neural_gym.envs.TaskSpec.episode_constant_dims`) are held in every
elite's state as in the followed one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from neural_gym.world_models import EnsembleModel, WorldModel
from neural_gym.world_models.uncertainty import ensemble_std

from .cutoff import TRAJECTORY_FAMILIES, TRAJECTORY_SIGNAL


class MemberTrajectories:
    """Every elite's own state for ``num_envs`` episodes, and their spread after each step.

    Args:
        model: an ensemble-family model with at least 2 elites and a finite, positive training std.
        num_envs: number of envs.

    Raises:
        ValueError: another family, fewer than 2 elites, or no usable training std (the message says which).

    Example:
        >>> traj = MemberTrajectories(model, num_envs=2)                         # doctest: +SKIP
        >>> traj.reset(np.array([0, 1]), start_obs)                              # doctest: +SKIP
        >>> traj.step(actions).shape                                             # doctest: +SKIP
        (2,)
    """

    def __init__(self, model: WorldModel, num_envs: int) -> None:
        family = model.spec.family
        if family not in TRAJECTORY_FAMILIES or not isinstance(model, EnsembleModel):
            raise ValueError(
                f"uncertainty_signal={TRAJECTORY_SIGNAL!r} needs a model whose members carry their own state "
                f"(families {list(TRAJECTORY_FAMILIES)}); this is a {family} model: use a one-step signal "
                "(e.g. 'disagreement_sum')"
            )
        if model.num_members < 2:
            raise ValueError(f"{TRAJECTORY_SIGNAL!r} needs at least 2 elites, the model has {model.num_members}")
        std = model.obs_std.detach().double()
        if not (torch.isfinite(std).all() and (std > 0).all()):
            raise ValueError(f"{TRAJECTORY_SIGNAL!r} needs the model's training std (finite and positive per dim)")
        self.model = model
        self.num_envs = int(num_envs)
        self.num_members = int(model.num_members)
        self._inv_std = 1.0 / std  # (O,) float64
        self.states: torch.Tensor | None = None  # (E, N, O) float32: elite e's observation in env i

    def reset(self, idx: np.ndarray, start: torch.Tensor) -> None:
        """Start the envs ``idx`` afresh: every elite's state is the episode's start carry ``start [len(idx), O]``."""
        with torch.inference_mode():  # the states are inference tensors (written by :meth:`step`)
            if self.states is None:  # the first reset: rows not reset yet start from the same carry, replaced later
                rows = start[:1].expand(self.num_envs, -1) if len(idx) < self.num_envs else start
                self.states = rows.unsqueeze(0).repeat(self.num_members, 1, 1).contiguous()
            index = torch.as_tensor(idx, device=self.states.device)
            self.states[:, index] = start.to(self.states.dtype).unsqueeze(0)

    def step(self, action: torch.Tensor, hold: tuple[Any, torch.Tensor] | None = None) -> np.ndarray:
        """Step every elite's own state with the envs' ``action [N, A]``; ``[N]`` float64 spread after the step.

        Args:
            action: the (clipped) actions the envs took.
            hold: ``(dims, values [N, h])`` episode-constant dims and each env's start values, or ``None``.

        Returns:
            The spread in σ units, ``inf`` where an elite's prediction was not finite.

        Raises:
            RuntimeError: called before any :meth:`reset`.
        """
        if self.states is None:
            raise RuntimeError("reset the envs before stepping their member trajectories")
        model, E = self.model, self.num_members
        obs = self.states  # (E, N, O)
        x = model.normalize_inputs(obs, action.unsqueeze(0).expand(E, -1, -1))  # (E, N, O + A): elite e's own batch
        mean_n, _, _ = model.forward_normalized(x, None, bound_logvar=False)  # (E, N, O + 1), normalized targets
        dim = obs.shape[-1]
        nxt = obs + (mean_n[..., :dim] * model.target_std[:dim] + model.target_mean[:dim])  # as EnsembleModel.step
        if hold is not None:
            dims, values = hold
            nxt[:, :, dims] = values.to(nxt.dtype)
        self.states = nxt
        spread = ensemble_std(nxt.double() * self._inv_std).cpu().numpy()  # (N,)
        return np.where(np.isfinite(spread), spread, np.inf)


__all__ = ["MemberTrajectories"]
