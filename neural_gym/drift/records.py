"""Calibration records: the drift machinery run on held-out data, as :class:`~neural_gym.world_models.calibration.RolloutRecords`.

:func:`rollout_records` draws start states from held-out real episodes, restores each start's physics state in
ground truth and replays the same actions there and in the model (:func:`~neural_gym.drift.rollout.roll_ground_truth`,
:func:`~neural_gym.drift.roll_open_loop`), for any family and observation kind. Each start is one calibration episode;
per step it records the true error beside candidate cut-off signals:

- ``disagreement`` — the model's calibrated one-step disagreement (``spec.calibration.measure``);
- ``disagreement_max``, ``disagreement_sum``, ``disagreement_sum_per_sqrt_step`` — its running maximum, running sum
  and the running sum over ``sqrt(step)`` (:func:`~neural_gym.world_models.calibration.running_max`,
  :func:`~neural_gym.world_models.calibration.running_sum`,
  :func:`~neural_gym.world_models.calibration.horizon_normalised`);
- ``member_trajectories`` — how far apart the inference members' *whole* trajectories are after the step, each member
  propagated on its own from the same start (:mod:`~neural_gym.drift.open_loop`: ensemble elites and latent prior
  heads carry their own state; for video, each dynamics head's own predicted frame is fed back), in ``σ`` units for
  states and ``[0, 1]`` pixel units for frames; left out with ``member_trajectories=False``.

The error is the observation kind's (:mod:`~neural_gym.drift.observation_kinds`): the normalized RMSE for state
vectors (``σ`` the model's training std), the RMS pixel error as a share of the pixel range for frames (PSNR < p dB
⇔ error > ``FrameObservations.error_threshold(p)``).

Which trajectory is scored (``propagation``): ``"member"`` (default, as the Dream env's own default) — each start
follows one inference member drawn (seeded) per start, and its error and one-step disagreement are those of that
member's trajectory; ``"mean"`` — the ensemble mean, as the drift reports score it.

An episode ends at the earliest of: ``horizon`` steps, the end of the recorded window (recorded actions), the ground
truth's termination, or the step before a non-finite prediction (the Dream env ends an episode there with
``info["model_error"]``, so that step is never served). An episode whose first prediction is already non-finite has
nothing to record and is left out, with a ``UserWarning``.

Exchangeability (what the conformal guarantee in :mod:`~neural_gym.world_models.calibration` needs): starts are drawn
uniformly without replacement from the qualifying positions of the held-out episodes with one seeded generator, so
the records of one call are exchangeable with each other; a new episode is exchangeable with them when it starts
from a state drawn alike (same data, policy and model).

Example:
    >>> from neural_gym.drift import rollout_records
    >>> from neural_gym.world_models.calibration import choose_cutoff
    >>> records = rollout_records("Hopper", n_starts=64, horizon=100)                     # doctest: +SKIP
    >>> choose_cutoff(records, tau=1.0, alpha=0.1).signal                                 # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from neural_gym.envs import get_task
from neural_gym.world_models import WorldModel
from neural_gym.world_models.calibration import RolloutRecords, horizon_normalised, running_max, running_sum

from .inputs import load_model, model_heldout_episodes, refuse_training_data
from .observation_kinds import observation_kind
from .open_loop import OpenLoopRollout, member_propagation, roll_open_loop
from .rollout import ActionSource, roll_ground_truth, select_starts

#: The one-step signal and its derived signals, simplest first (the order :func:`choose_cutoff` breaks ties in).
ONE_STEP_SIGNALS: tuple[str, ...] = (
    "disagreement",
    "disagreement_max",
    "disagreement_sum",
    "disagreement_sum_per_sqrt_step",
)
#: The disagreement between whole member trajectories.
TRAJECTORY_SIGNAL = "member_trajectories"


def records_from_rollout(rollout: OpenLoopRollout, valid: np.ndarray) -> RolloutRecords:
    """Calibration records of an open-loop rollout (one episode per start; see the module docstring).

    Args:
        rollout: a rollout with a truth (``rollout.error``) and, optionally, member spreads.
        valid: ``[n, H]`` the steps that happened in ground truth (a prefix of each row).

    Returns:
        :class:`~neural_gym.world_models.calibration.RolloutRecords` with the error, the signals of
        :data:`ONE_STEP_SIGNALS` and, when the rollout has member spreads, :data:`TRAJECTORY_SIGNAL`.

    Raises:
        ValueError: a rollout without a truth or without a finite disagreement, a ``valid`` of another shape, or
            fewer than 2 episodes left.
    """
    if rollout.error is None:
        raise ValueError("the rollout has no per-step error: roll it with the truth (roll_open_loop(..., truth=...))")
    valid = np.asarray(valid, dtype=bool)
    if valid.shape != rollout.error.shape:
        raise ValueError(f"valid must have the rollout's shape {rollout.error.shape}, got {valid.shape}")
    if not np.isfinite(rollout.disagreement[valid]).any():
        raise ValueError("the model reports no finite disagreement: there is no cut-off signal to calibrate")
    rows = [rollout.error, rollout.disagreement]
    if rollout.member_spread is not None:
        rows.append(rollout.member_spread)
    usable = valid & ~rollout.model_error
    for x in rows:
        usable &= np.isfinite(x)
    lengths = np.cumprod(usable, axis=1).sum(axis=1)  # steps before the first unusable one
    keep = np.flatnonzero(lengths > 0)
    if keep.size < len(lengths):
        warnings.warn(
            f"{len(lengths) - keep.size} of {len(lengths)} rollouts have no usable first step (a non-finite "
            "prediction or signal) and are left out of the records",
            UserWarning,
            stacklevel=2,
        )

    def per_episode(x: np.ndarray) -> list[np.ndarray]:
        return [x[i, : lengths[i]] for i in keep]

    one_step = per_episode(rollout.disagreement)
    running = running_sum(one_step)
    signals: dict[str, Sequence[np.ndarray]] = {
        "disagreement": one_step,
        "disagreement_max": running_max(one_step),
        "disagreement_sum": running,
        "disagreement_sum_per_sqrt_step": horizon_normalised(running),
    }
    if rollout.member_spread is not None:
        signals[TRAJECTORY_SIGNAL] = per_episode(rollout.member_spread)
    return RolloutRecords(error=per_episode(rollout.error), signals=signals)


def rollout_records(
    task: str,
    checkpoint: str | Path | WorldModel | None = None,
    *,
    dataset_id: str | None = None,
    n_starts: int = 64,
    horizon: int = 100,
    actions: ActionSource = "recorded",
    propagation: Literal["member", "mean"] = "member",
    member_trajectories: bool = True,
    camera: Any = None,
    heldout_steps: int = 10_000,
    heldout_policy: Any = "random",
    heldout_seed: int = 1000,
    allow_training_data: bool = False,
    seed: int = 0,
    batch_size: int = 256,
    device: str = "auto",
    progress: bool = False,
) -> RolloutRecords:
    """Roll a model open loop from real states of held-out episodes and record error and signals per step.

    See the module docstring for what is recorded and when an episode ends.

    Args:
        task: ground-truth task (``"Hopper"``, ``"Reacher-v5"``, ...).
        checkpoint: checkpoint path, zoo name or a loaded :class:`WorldModel` (state or frame model, any family);
            default the task's shipped checkpoint.
        dataset_id: held-out Minari dataset (with physics states; with frames of the model's size for a frame
            model). ``None`` → collect ``heldout_steps`` steps of ``heldout_policy`` with seed ``heldout_seed`` into
            a temporary Minari folder, deleted afterwards.
        n_starts: start states (calibration episodes), drawn uniformly without replacement (seeded) from the
            positions with ``context_length − 1`` earlier observations and at least one recorded action after them.
        horizon: steps rolled at most.
        actions: ``"recorded"`` (each start's recorded actions; the episode ends with the recording) or a policy
            acting on the real observations (``"random"``, ``"expert"``, a callable or an SB3 model).
        propagation: ``"member"`` (each start follows one inference member) or ``"mean"`` (the ensemble mean).
        member_trajectories: also record :data:`TRAJECTORY_SIGNAL` (``E`` times the model steps; left out for a model
            with fewer than 2 inference members).
        camera: camera of a frame model's ground-truth renders (``None``: the checkpoint's ``provenance["camera"]``,
            else the task's default).
        heldout_steps: steps collected when ``dataset_id`` is ``None``.
        heldout_policy: policy of that collection.
        heldout_seed: seed of that collection (never the training data's seed 0).
        allow_training_data: allow ``dataset_id`` to be the checkpoint's own training dataset.
        seed: seed of the start sampling, the followed members and random policies.
        batch_size: starts per forward pass.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` (for loading a checkpoint).
        progress: progress bars.

    Returns:
        :class:`~neural_gym.world_models.calibration.RolloutRecords` (feed it to
        :func:`~neural_gym.world_models.calibration.choose_cutoff` or
        :func:`~neural_gym.world_models.calibration.conformal_threshold`).

    Warns:
        UserWarning: errors normalized by the held-out data's std (a model without a training std), renders that
            differ from the recorded frames, rollouts left out (a non-finite first prediction).

    Raises:
        ValueError: bad arguments, a model without disagreement (a baseline), data of another task or without
            physics states (or frames), the training data as held-out data, fewer than 2 usable episodes.
        CheckpointError: a checkpoint for another task.
    """
    if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon}")
    if isinstance(n_starts, bool) or int(n_starts) != n_starts or n_starts < 2:
        raise ValueError(f"n_starts must be an integer >= 2 (calibration is over episodes), got {n_starts}")
    if propagation not in ("member", "mean"):
        raise ValueError(f"propagation must be 'member' or 'mean', got {propagation!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    recorded = isinstance(actions, str) and actions == "recorded"
    if isinstance(actions, str) and actions not in ("recorded", "random", "expert"):
        raise ValueError(f"actions must be 'recorded', 'random', 'expert', a callable or an SB3 model, got {actions!r}")
    spec = get_task(task)
    model, _ = load_model(spec.name, checkpoint, device)
    refuse_training_data(model, dataset_id, allow_training_data, spec.name)
    notes: list[str] = []
    episodes = model_heldout_episodes(
        spec.name,
        model,
        dataset_id,
        steps=heldout_steps,
        policy=heldout_policy,
        seed=heldout_seed,
        dataset_name="heldout-calibration-v0",
        progress=progress,
        camera=camera,
    )
    kind = observation_kind(model, episodes, notes, camera=camera)
    kind.check_episodes(episodes, model.spec, dataset_id)

    k = int(model.context_length)
    seeds = np.random.SeedSequence(seed).spawn(3)
    starts, _, _ = select_starts(
        episodes,
        n_starts,
        context=k,
        horizons=[horizon],
        recorded=recorded,
        rng=np.random.default_rng(seeds[0]),
        start_window=1,
    )
    n = len(starts)
    policy_seeds = np.random.default_rng(seeds[1]).integers(0, 2**31 - 1, size=n)
    gt = roll_ground_truth(
        spec, episodes, starts, horizon, context=k, actions=actions, policy_seeds=policy_seeds, progress=progress
    )
    context, truth, truth_notes = kind.ground_truth(spec, gt, episodes, starts, progress)
    for note in notes + truth_notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    E = model.num_members
    member = np.random.default_rng(seeds[2]).integers(0, E, size=n) if propagation == "member" else None
    how = None
    if member_trajectories and E >= 2:
        how = member_propagation(model, kind, context, gt.context_actions, gt.actions[:, 0])
    rollout = roll_open_loop(
        model,
        kind,
        context,
        gt.context_actions,
        gt.actions,
        truth=truth[:, 1:],
        member=member,
        member_trajectories=how,
        batch_size=batch_size,
    )
    return records_from_rollout(rollout, gt.valid)


__all__ = ["ONE_STEP_SIGNALS", "TRAJECTORY_SIGNAL", "records_from_rollout", "rollout_records"]
