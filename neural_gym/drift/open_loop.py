"""The one open-loop model rollout every drift figure and every calibration record comes from.

:func:`roll_open_loop` starts a model from real context (the last ``context_length`` recorded observations up to
each start and the actions between them, via
:meth:`~neural_gym.world_models.base.WorldModel.initial_state_from_history`) and steps it with given actions, all
starts in batches, for any family and any observation kind (:mod:`~neural_gym.drift.observation_kinds` plugs in how
observations are fed, cleaned, kept and scored). Per step it records the prediction's kind metrics against the truth,
reward, termination, the calibrated disagreement and non-finite predictions; optionally it re-grounds on the real
history every ``k`` steps, follows one member per start, keeps the predictions, and propagates every member on its
own from the same start to measure how far the members' whole trajectories drift apart.

Member trajectories (``member_trajectories``), ``E`` = the model's inference members:

- ``"carry"``: each member ``e`` steps the model's own carry with ``member=e`` from the start (ensemble: each elite
  on its own; latent: each prior head). For families whose ``member`` picks the dynamics.
- ``"observed"``: each member's own predicted observation (``Prediction.member_means[e]``) is fed back as a real one
  and the model re-encoded from that member's own history at every step. For families whose generated observation
  does not depend on ``member`` (video: one generator beside ``E`` dynamics heads), where ``"carry"`` trajectories
  would coincide.
- :func:`member_propagation` picks between them by one probe step (nothing here knows which family a model is).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from neural_gym.world_models import WorldModel

from .observation_kinds import ObservationKind

MemberTrajectories = Literal["carry", "observed"]
"""How members are propagated on their own (see the module docstring)."""


@dataclass
class OpenLoopRollout:
    """What :func:`roll_open_loop` recorded for ``n`` starts and ``H`` steps (column ``j`` is step ``j + 1``).

    Attributes:
        scores: the kind's per-step metrics against the truth, each ``[n, H]`` (empty without a truth).
        error: ``[n, H]`` the kind's per-step error (``scores[kind.error_metric]``), or ``None`` without a truth.
        reward: ``[n, H]`` predicted reward.
        terminated: ``[n, H]`` predicted termination probability.
        disagreement: ``[n, H]`` the calibrated disagreement of the step (NaN where the model reports none).
        model_error: ``[n, H]`` the prediction was not finite.
        predictions: ``[n, H, *obs_shape]`` what the kind keeps of each prediction, when asked for.
        member_spread: ``[n, H]`` how far apart the separately propagated members' observations are after each step,
            when asked for.
        member_trajectories: how members were propagated (``None``: they were not).
    """

    scores: dict[str, np.ndarray]
    error: np.ndarray | None
    reward: np.ndarray
    terminated: np.ndarray
    disagreement: np.ndarray
    model_error: np.ndarray
    predictions: np.ndarray | None = field(default=None, repr=False)
    member_spread: np.ndarray | None = None
    member_trajectories: MemberTrajectories | None = None


def _check_inputs(
    model: WorldModel,
    kind: ObservationKind,
    context_obs: np.ndarray,
    context_actions: np.ndarray,
    actions: np.ndarray,
    truth: np.ndarray | None,
    reground_every: int | None,
    member: np.ndarray | None,
) -> tuple[int, int, int, int]:
    """``(n, C, H, c)`` after checking every shape and option."""
    if context_obs.ndim < 3 or actions.ndim != 3 or context_actions.ndim != 3:
        raise ValueError(
            "need context_obs [n, C, *obs_shape], context_actions [n, C - 1, A] and actions [n, H, A], got shapes "
            f"{context_obs.shape}, {context_actions.shape}, {actions.shape}"
        )
    n, C = context_obs.shape[:2]
    H = actions.shape[1]
    c = int(model.context_length)
    if c > C:
        raise ValueError(f"{model.spec.family} wants {c} {kind.noun} of context but {C} were recorded up to each start")
    if context_actions.shape[:2] != (n, C - 1) or actions.shape[0] != n:
        raise ValueError(
            f"context_actions must be [n={n}, C - 1={C - 1}, A] and actions [n={n}, H, A], got "
            f"{context_actions.shape} and {actions.shape}"
        )
    if truth is not None and truth.shape[:2] != (n, H):
        raise ValueError(f"truth must have shape [n={n}, H={H}, *obs_shape], got {truth.shape}")
    if reground_every is not None and (isinstance(reground_every, bool) or reground_every < 1):
        raise ValueError(f"reground_every must be >= 1 or None, got {reground_every}")
    if reground_every is not None and truth is None:
        raise ValueError("re-grounding needs the truth (the real observation after each step)")
    if member is not None:
        member = np.asarray(member)
        E = model.num_members
        if member.shape != (n,) or not np.issubdtype(member.dtype, np.integer):
            raise ValueError(f"member must be [n={n}] integer member indices, got {member.dtype} {member.shape}")
        if ((member < 0) | (member >= E)).any():
            raise ValueError(f"member indices must be in [0, {E}) (the model's inference members)")
    return n, C, H, c


def roll_open_loop(
    model: WorldModel,
    kind: ObservationKind,
    context_obs: np.ndarray,
    context_actions: np.ndarray,
    actions: np.ndarray,
    *,
    truth: np.ndarray | None = None,
    reground_every: int | None = None,
    member: np.ndarray | None = None,
    member_trajectories: MemberTrajectories | None = None,
    keep_predictions: bool = False,
    batch_size: int = 4096,
    bar: Any = None,
) -> OpenLoopRollout:
    """Step ``model`` open loop from real context with ``actions``, all starts in batches (see the module docstring).

    Args:
        model: any :class:`~neural_gym.world_models.base.WorldModel` (a checkpoint or a baseline).
        kind: what the model observes (:mod:`~neural_gym.drift.observation_kinds`).
        context_obs: ``[n, C, *obs_shape]`` real observations up to each start, oldest first, the last one the start;
            ``C >= model.context_length`` (the model reads the last ``context_length``).
        context_actions: ``[n, C - 1, A]`` the recorded actions between them.
        actions: ``[n, H, A]`` actions to step with (clipped to the model's bounds).
        truth: ``[n, H, *obs_shape]`` the real observation after each step: scores the predictions, and is the
            history re-grounding reads; ``None`` → no scores.
        reground_every: every this many steps, re-encode the model from the *real* history (the last
            ``context_length`` real observations and the actions between them); ``None`` → never.
        member: ``[n]`` the inference member each start follows (``None``: the ensemble mean, ``member=None``).
        member_trajectories: also propagate every inference member on its own from each start (``"carry"`` or
            ``"observed"``, see the module docstring) and record their spread; ``None`` → not.
        keep_predictions: keep what the kind keeps of every prediction.
        batch_size: starts per forward pass (member trajectories run ``E`` times as many rows).
        bar: a tqdm bar advanced by one per step (optional).

    Returns:
        The :class:`OpenLoopRollout`.

    Raises:
        ValueError: inconsistent shapes, a model wanting more context than recorded, bad options, member
            trajectories for a model with fewer than 2 members, or predictions of another shape than the truth.
    """
    n, C, H, c = _check_inputs(model, kind, context_obs, context_actions, actions, truth, reground_every, member)
    if member_trajectories not in (None, "carry", "observed"):
        raise ValueError(f"member_trajectories must be None, 'carry' or 'observed', got {member_trajectories!r}")
    E = model.num_members
    if member_trajectories is not None and E < 2:
        raise ValueError(
            f"member trajectories need at least 2 inference members; the {model.spec.family} model has {E}"
        )
    low = np.asarray(model.spec.action_low, dtype=np.float64)
    high = np.asarray(model.spec.action_high, dtype=np.float64)
    dev = model.device
    nan = np.full((n, H), np.nan)
    out = OpenLoopRollout(
        scores={},
        error=None,
        reward=nan.copy(),
        terminated=nan.copy(),
        disagreement=nan.copy(),
        model_error=np.zeros((n, H), dtype=bool),
        member_spread=nan.copy() if member_trajectories is not None else None,
        member_trajectories=member_trajectories,
    )
    if reground_every is not None:
        assert truth is not None
        hist_obs = np.concatenate([context_obs, truth], axis=1)  # (n, C + H, *obs): step j's real obs at C - 1 + j
        hist_act = np.concatenate([context_actions, actions], axis=1)  # (n, C - 1 + H, A)

    def encode(rows: slice, j: int, repeat: int = 1) -> Any:
        if j == 0:
            o, a = context_obs[rows, C - c :], context_actions[rows, C - c :]
        else:
            k = C - 1 + j
            o, a = hist_obs[rows, k - c + 1 : k + 1], hist_act[rows, k - c + 1 : k]
        if repeat > 1:
            o, a = np.concatenate([o] * repeat), np.concatenate([a] * repeat)
        return model.initial_state_from_history(
            kind.model_input(o, dev), torch.as_tensor(a, dtype=torch.float32, device=dev)
        )

    batches = [slice(b0, min(n, b0 + batch_size)) for b0 in range(0, n, batch_size)]
    with torch.inference_mode():
        states = [encode(rows, 0) for rows in batches]
        followed = [None if member is None else torch.as_tensor(member[rows], device=dev) for rows in batches]
        members: list[_Members] = []
        if member_trajectories is not None:
            members = [
                _Members(model, kind, context_obs[rows, C - c :], context_actions[rows, C - c :]) for rows in batches
            ]
        for j in range(H):
            for b, rows in enumerate(batches):
                if reground_every is not None and j > 0 and j % reground_every == 0:
                    states[b] = encode(rows, j)
                a = torch.as_tensor(np.clip(actions[rows, j], low, high), dtype=torch.float32, device=dev)
                pred = model.step(states[b], a, member=followed[b])
                states[b] = pred.state
                obs, bad = kind.prediction(model.observe(pred.state))
                if truth is not None:
                    kind.check_prediction(obs, truth[rows, j], model.spec.family)
                    for name, value in kind.score(obs, truth[rows, j]).items():
                        out.scores.setdefault(name, np.full((n, H), np.nan))[rows, j] = value
                if keep_predictions:
                    kept = kind.kept(obs)
                    if out.predictions is None:
                        out.predictions = _empty((n, H, *kept.shape[1:]), kept.dtype)
                    out.predictions[rows, j] = kept
                out.reward[rows, j] = pred.reward.double().cpu().numpy()
                out.terminated[rows, j] = pred.terminated.double().cpu().numpy()
                out.disagreement[rows, j] = pred.disagreement.double().cpu().numpy()
                out.model_error[rows, j] = bad
                if members:
                    assert out.member_spread is not None and member_trajectories is not None
                    out.member_spread[rows, j] = members[b].step(a, member_trajectories)
            if bar is not None:
                bar.update(1)
    if truth is not None and kind.error_metric in out.scores:
        out.error = out.scores[kind.error_metric]
    return out


def _empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """NaN-filled for floats (never-written steps read as missing), zeros otherwise."""
    return np.full(shape, np.nan, dtype=dtype) if np.issubdtype(dtype, np.floating) else np.zeros(shape, dtype=dtype)


class _Members:
    """Every inference member of one batch of starts, propagated on its own (rows ``e * B + i``: member ``e``)."""

    def __init__(self, model: WorldModel, kind: ObservationKind, obs: np.ndarray, actions: np.ndarray) -> None:
        self.model, self.kind = model, kind
        E, B = model.num_members, obs.shape[0]
        self.E, self.B = E, B
        self.ids = torch.arange(E, device=model.device).repeat_interleave(B)  # (E * B,)
        self.obs = np.concatenate([obs] * E)  # (E * B, c, *obs): each member's own history ("observed")
        self.actions = np.concatenate([actions] * E)  # (E * B, c - 1, A)
        self.state = self._encode()

    def _encode(self) -> Any:
        return self.model.initial_state_from_history(
            self.kind.model_input(self.obs, self.model.device),
            torch.as_tensor(self.actions, dtype=torch.float32, device=self.model.device),
        )

    def step(self, action: torch.Tensor, how: MemberTrajectories) -> np.ndarray:
        """Step every member with ``action [B, A]``; ``[B]`` their spread after the step."""
        a = action.repeat(self.E, 1)
        if how == "carry":
            pred = self.model.step(self.state, a, member=self.ids)
            self.state = pred.state
            observed = self.model.observe(pred.state)
        else:
            pred = self.model.step(self._encode(), a, member=self.ids, return_members=True)
            if pred.member_means is None:
                raise ValueError(f"the {self.model.spec.family} model returns no member_means: use 'carry'")
            observed = pred.member_means[self.ids, torch.arange(len(self.ids), device=self.ids.device)]
            own, _ = self.kind.prediction(observed)
            self.obs = np.concatenate([self.obs[:, 1:], self.kind.feed_back(own)[:, None].astype(self.obs.dtype)], 1)
            if self.actions.shape[1] > 0:
                self.actions = np.concatenate([self.actions[:, 1:], a.double().cpu().numpy()[:, None]], axis=1)
        return self.kind.member_spread(observed.reshape(self.E, self.B, *observed.shape[1:]))


def member_propagation(
    model: WorldModel, kind: ObservationKind, context_obs: np.ndarray, context_actions: np.ndarray, action: np.ndarray
) -> MemberTrajectories:
    """How to propagate ``model``'s members on their own, decided by one probe step from up to 4 starts.

    ``"observed"`` when the members' carried observations coincide although their own predictions
    (``member_means``) differ, i.e. ``member`` does not reach the generated observation; else ``"carry"``.

    Args:
        model: a model with at least 2 inference members.
        kind: what it observes.
        context_obs: ``[n, c, *obs_shape]`` context up to the starts (the model's ``context_length`` last ones).
        context_actions: ``[n, c - 1, A]`` the actions between them.
        action: ``[n, A]`` the first action.
    """
    rows = slice(0, min(4, len(context_obs)))
    c = int(model.context_length)
    probe = _Members(model, kind, context_obs[rows, -c:], context_actions[rows, context_actions.shape[1] - (c - 1) :])
    low = np.asarray(model.spec.action_low, dtype=np.float64)
    high = np.asarray(model.spec.action_high, dtype=np.float64)
    a = torch.as_tensor(np.clip(action[rows], low, high), dtype=torch.float32, device=model.device).repeat(probe.E, 1)
    with torch.inference_mode():
        pred = model.step(probe.state, a, member=probe.ids, return_members=True)
        observed = model.observe(pred.state).reshape(probe.E, probe.B, -1)
        same_carry = bool((observed == observed[:1]).all())
        means = pred.member_means
        differ = means is not None and not bool((means == means[:1]).all())
    return "observed" if same_carry and differ else "carry"


__all__ = ["MemberTrajectories", "OpenLoopRollout", "member_propagation", "roll_open_loop"]
