"""Roll identical actions from identical states through ground truth and through world models.

Ground truth: for each start ``(episode, t)`` of a held-out dataset, the recorded MuJoCo physics state
``physics_states[t]`` is restored exactly (:func:`neural_gym.envs.set_physics_state`) into one env, and actions are stepped on
the unwrapped MuJoCo env (no time limit: truncation is not physics, so a policy can run past it). Models: every
predictor (the checkpoint and the baselines) is started from the *recorded* observations — as many as its
``context_length`` asks for, with the actions between them — via
:meth:`~neural_gym.world_models.base.WorldModel.initial_state_from_history`, and then stepped with the same actions, all start
states in one batch (:func:`roll_model`, the state view of :func:`neural_gym.drift.roll_open_loop`). Nothing here
knows which family a model is.

Actions are either the recorded ones (``"recorded"``) or a policy's, which acts on the *real* observations (so the
model is driven open loop by the actions the policy took in ground truth). Gaussian action noise (in units of half
the action range, clipped to the bounds) is added to the actions fed to both worlds. Ground truth stops at its own
termination; later steps are invalid and left out of every metric.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from neural_gym.envs import Episode, TaskSpec, as_policy, expert, get_physics_state, set_physics_state
from neural_gym.world_models import WorldModel

ActionSource = Any
"""``"recorded"``, ``"random"``, ``"expert"``, a callable ``obs -> action``, or an SB3 model (``.predict``)."""


@dataclass(frozen=True)
class StartState:
    """One start state: observation ``t`` of a held-out episode.

    Attributes:
        episode_index: position of the episode in the loaded list.
        episode_id: the episode's id in the dataset.
        t: step within the episode (``observations[t]`` / ``physics_states[t]``).
        window: recorded transitions after ``t`` (``len(episode) - t``).
    """

    episode_index: int
    episode_id: int
    t: int
    window: int


@dataclass
class GroundTruthRollout:
    """Real trajectories of ``n`` starts for ``H`` steps (column ``j`` of per-step arrays is step ``j + 1``).

    Attributes:
        obs: ``[n, H + 1, O]``; ``obs[:, 0]`` the recorded start observation; after the last valid step the final
            observation is repeated (never compared).
        actions: ``[n, H, A]`` actions applied (noise included, clipped); zeros after the last valid step.
        rewards: ``[n, H]`` real rewards (0 when invalid).
        terminated: ``[n, H]`` the task's terminal condition after each step.
        valid: ``[n, H]`` steps that happened in ground truth (a prefix of each row).
        physics_states: ``[n, H + 1, S]`` physics state after each step (repeated after the last valid step).
        context_obs: ``[n, C - 1, O]`` recorded observations before each start, oldest first.
        context_actions: ``[n, C - 1, A]`` recorded actions from each of them to the next.
        replay_max_abs_error: with recorded actions and no noise, the largest ``|replayed − recorded|`` observation
            difference (0 when restore-and-replay is exact); else ``None``.
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    valid: np.ndarray
    physics_states: np.ndarray
    context_obs: np.ndarray
    context_actions: np.ndarray
    replay_max_abs_error: float | None = None


@dataclass
class ModelRollout:
    """A predictor's trajectories from the same starts with the same actions.

    Attributes:
        obs: ``[n, H, O]`` predicted observation after step ``j + 1``.
        reward: ``[n, H]`` predicted reward (NaN where the predictor predicts none).
        terminated: ``[n, H]`` predicted termination probability (NaN where none).
        disagreement: ``[n, H]`` the calibrated disagreement of the step (NaN for predictors without an ensemble).
        model_error: ``[n, H]`` non-finite prediction.
    """

    obs: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    disagreement: np.ndarray
    model_error: np.ndarray


# ------------------------------------------------------------------------------------------------ ground-truth replay
def replay_ground_truth(
    task: TaskSpec, physics_state: np.ndarray, actions: np.ndarray, env: gym.Env | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Restore ``physics_state`` and step ``actions`` in ground truth: the mechanism drift uses.

    Args:
        task: the ground-truth task.
        physics_state: a recorded ``mjSTATE_INTEGRATION`` vector (``Episode.physics_states[t]``).
        actions: ``[T, A]`` actions to apply.
        env: an env of ``task`` to reuse (reset once); default a fresh one, closed afterwards.

    Returns:
        ``(observations [T, O], rewards [T], terminated [T])`` of the steps taken; stepping stops after a terminal
        step, so ``T`` may be shorter than ``len(actions)``.

    Example:
        >>> ep = load_episodes("neural_gym/Hopper/random-v0")[0]                        # doctest: +SKIP
        >>> obs, _, _ = replay_ground_truth(get_task("Hopper"), ep.physics_states[3], ep.actions[3:])  # doctest: +SKIP
        >>> bool((obs == ep.observations[4:]).all())                                     # doctest: +SKIP
        True
    """
    own = env is None
    if env is None:
        env = task.make()
        env.reset(seed=0)
    try:
        set_physics_state(env, physics_state)
        obs, rew, term = [], [], []
        for a in np.asarray(actions, dtype=env.action_space.dtype):  # the dtype the recording stepped with
            o, r, t, _, _ = env.unwrapped.step(a)
            obs.append(np.asarray(o, dtype=np.float64))
            rew.append(float(r))
            term.append(bool(t))
            if t:
                break
        obs_dim = env.observation_space.shape[0]
        return (
            np.asarray(obs, dtype=np.float64).reshape(len(obs), obs_dim),
            np.asarray(rew, dtype=np.float64),
            np.asarray(term, dtype=bool),
        )
    finally:
        if own:
            env.close()


# ----------------------------------------------------------------------------------------------------- start states
def longest_window(episodes: Sequence[Episode], context: int) -> int:
    """The longest run of recorded actions after a start that has ``context - 1`` earlier observations."""
    return max((len(ep) - (context - 1) for ep in episodes), default=0)


def select_starts(
    episodes: Sequence[Episode],
    n_starts: int,
    *,
    context: int,
    horizons: Sequence[int],
    recorded: bool,
    rng: np.random.Generator,
    start_window: int | None = None,
) -> tuple[list[StartState], int, list[str]]:
    """Draw start states uniformly (without replacement) from the positions that qualify.

    A position ``(episode, t)`` qualifies when it has ``context - 1`` earlier observations in its episode and at
    least one recorded action after it (a terminal last observation is never a start). With recorded actions it must
    also have ``start_window`` recorded actions after it; the default ``start_window`` is the longest of ``horizons``
    that at least ``n_starts`` positions reach (1 if none), so every start reaches it.

    Returns:
        ``(starts, start_window, notes)``.

    Raises:
        ValueError: no position qualifies, or episodes lack physics states.
    """
    pos: list[tuple[int, int, int]] = []  # (episode index, t, window)
    for e, ep in enumerate(episodes):
        if ep.physics_states is None:
            raise ValueError(
                f"episode {ep.id} has no recorded physics states; drift needs datasets written by neural_gym.envs.collect "
                "(`neural-gym collect`), which record them"
            )
        for t in range(context - 1, len(ep)):
            pos.append((e, t, len(ep) - t))
    if not pos:
        raise ValueError(f"no start state has {context - 1} earlier observation(s) in its episode (context {context})")
    windows = np.array([w for _, _, w in pos])
    notes: list[str] = []
    if recorded:
        if start_window is None:
            start_window = 1
            for h in sorted(horizons, reverse=True):
                if int((windows >= h).sum()) >= n_starts:
                    start_window = h
                    break
        keep = np.flatnonzero(windows >= start_window)
        if keep.size == 0:
            raise ValueError(f"no recorded window is {start_window} steps long (longest: {int(windows.max())})")
    else:
        start_window = 1
        keep = np.arange(len(pos))
    if keep.size < n_starts:
        notes.append(f"only {keep.size} start states qualify (asked for {n_starts}); using all of them")
    chosen = np.sort(rng.choice(keep, size=min(n_starts, keep.size), replace=False))
    starts = [StartState(pos[i][0], int(episodes[pos[i][0]].id), pos[i][1], pos[i][2]) for i in chosen]
    return starts, int(start_window), notes


# ---------------------------------------------------------------------------------------------------- ground truth
def _make_policy(
    actions: ActionSource, task: TaskSpec, space: gym.spaces.Box, seed: int
) -> Callable[[np.ndarray], np.ndarray]:
    if isinstance(actions, str) and actions == "expert":
        return as_policy(expert(task.name), space)
    return as_policy(actions, space, seed=seed)


def roll_ground_truth(
    task: TaskSpec,
    episodes: Sequence[Episode],
    starts: Sequence[StartState],
    horizon: int,
    *,
    context: int,
    actions: ActionSource = "recorded",
    noise_scale: float = 0.0,
    noise: np.ndarray | None = None,
    policy_seeds: np.ndarray | None = None,
    progress: bool = False,
) -> GroundTruthRollout:
    """Replay each start in ground truth from its restored physics state.

    Args:
        task: the ground-truth task.
        episodes: the held-out episodes.
        starts: start states (see :func:`select_starts`).
        horizon: steps ``H`` to roll at most.
        context: ``C``, the largest context any compared predictor wants (recorded observations before a start).
        actions: ``"recorded"`` or a policy (see :data:`ActionSource`).
        noise_scale: std of the action noise in units of half the action range.
        noise: ``[n, H, A]`` standard normal draws (shared between noise scales so curves are comparable).
        policy_seeds: ``[n]`` seeds of a ``"random"`` policy, one per start.
        progress: show a bar over starts.

    Returns:
        The :class:`GroundTruthRollout`.

    Raises:
        ValueError: a policy returning an action of the wrong shape or a non-finite one (from :func:`neural_gym.envs.as_policy`).
    """
    env = task.make()
    env.reset(seed=0)
    space = env.action_space
    assert isinstance(space, gym.spaces.Box)
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)
    half = (high - low) / 2.0
    n, H, A = len(starts), horizon, space.shape[0]
    D = env.observation_space.shape[0]
    S = len(get_physics_state(env))
    recorded = isinstance(actions, str) and actions == "recorded"
    if noise is None:
        noise = np.zeros((n, H, A))
    if noise.shape != (n, H, A):
        raise ValueError(f"noise must have shape {(n, H, A)}, got {noise.shape}")

    obs = np.zeros((n, H + 1, D))
    acts = np.zeros((n, H, A))
    rewards = np.zeros((n, H))
    terminated = np.zeros((n, H), dtype=bool)
    valid = np.zeros((n, H), dtype=bool)
    states = np.zeros((n, H + 1, S))
    ctx_obs = np.zeros((n, context - 1, D))
    ctx_act = np.zeros((n, context - 1, A))
    replay_err = 0.0
    try:
        for i, s in enumerate(tqdm(starts, desc=f"ground truth {task.name}", unit="start", disable=not progress)):
            ep = episodes[s.episode_index]
            assert ep.physics_states is not None
            ctx_obs[i] = ep.observations[s.t - context + 1 : s.t]
            ctx_act[i] = ep.actions[s.t - context + 1 : s.t]
            obs[i, 0] = ep.observations[s.t]
            states[i, 0] = ep.physics_states[s.t]
            set_physics_state(env, ep.physics_states[s.t])
            policy = None
            if not recorded:
                seed = int(policy_seeds[i]) if policy_seeds is not None else i
                policy = _make_policy(actions, task, space, seed)
            steps = min(H, s.window) if recorded else H
            current = obs[i, 0]
            for j in range(steps):
                a = ep.actions[s.t + j] if recorded else np.asarray(policy(current), np.float64)  # type: ignore[misc]
                if noise_scale > 0.0:
                    a = np.clip(a + noise_scale * half * noise[i, j], low, high)
                a = np.asarray(
                    a, dtype=space.dtype
                )  # as a policy's action reaches the env (the reward reads its dtype)
                o, r, t, _, _ = env.unwrapped.step(a)
                current = np.asarray(o, dtype=np.float64)
                acts[i, j], obs[i, j + 1], rewards[i, j], terminated[i, j], valid[i, j] = a, current, r, t, True
                states[i, j + 1] = get_physics_state(env)
                if t:
                    break
            last = int(valid[i].sum())
            obs[i, last + 1 :] = obs[i, last]
            states[i, last + 1 :] = states[i, last]
            if recorded and noise_scale == 0.0:
                replay_err = max(
                    replay_err,
                    float(np.abs(obs[i, 1 : last + 1] - ep.observations[s.t + 1 : s.t + last + 1]).max(initial=0.0)),
                )
    finally:
        env.close()
    return GroundTruthRollout(
        obs=obs,
        actions=acts,
        rewards=rewards,
        terminated=terminated,
        valid=valid,
        physics_states=states,
        context_obs=ctx_obs,
        context_actions=ctx_act,
        replay_max_abs_error=replay_err if recorded and noise_scale == 0.0 else None,
    )


# ------------------------------------------------------------------------------------------------------------ models
def roll_model(
    model: WorldModel, gt: GroundTruthRollout, *, reground_every: int | None = None, batch_size: int = 4096
) -> ModelRollout:
    """Step ``model`` from the recorded context of every start with the ground truth's actions, in one batch.

    The state-vector view of :func:`neural_gym.drift.roll_open_loop` (the one rollout loop), keeping the predictions.

    Args:
        model: any :class:`~neural_gym.world_models.base.WorldModel` (the checkpoint or a baseline).
        gt: the ground-truth rollout whose starts, context and actions are used.
        reground_every: every this many steps, re-encode the model's state from the *real* history (the last
            ``context_length`` real observations and the actions between them); ``None`` → never.
        batch_size: starts per forward pass.

    Returns:
        The :class:`ModelRollout` (``member=None``: the ensemble mean for ensembles).
    """
    from .observation_kinds import StateObservations  # below this module: they import its rollouts
    from .open_loop import roll_open_loop

    r = roll_open_loop(
        model,
        StateObservations(),
        np.concatenate([gt.context_obs, gt.obs[:, :1]], axis=1),  # (n, C, O): the start is the last
        gt.context_actions,
        gt.actions,
        truth=gt.obs[:, 1:],
        reground_every=reground_every,
        keep_predictions=True,
        batch_size=batch_size,
    )
    assert r.predictions is not None
    return ModelRollout(
        obs=r.predictions,
        reward=r.reward,
        terminated=r.terminated,
        disagreement=r.disagreement,
        model_error=r.model_error,
    )


def derangement(n: int, rng: np.random.Generator) -> np.ndarray | None:
    """A random permutation of ``range(n)`` without fixed points (one random cycle); ``None`` when ``n < 2``."""
    if n < 2:
        return None
    order = rng.permutation(n)
    perm = np.empty(n, dtype=np.int64)
    perm[order] = np.roll(order, -1)  # order[i] takes the actions of order[i + 1]
    return perm
