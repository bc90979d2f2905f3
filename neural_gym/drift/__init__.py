"""Sim-vs-learned rollout drift: replay identical actions from identical physics states in MuJoCo and in a world model.

Example:
    >>> from neural_gym.drift import measure_drift, write_report
    >>> result = measure_drift("Hopper", n_starts=32, reground_every=[1, 10], action_noise=[0.0, 0.1])  # doctest: +SKIP
    >>> result.base["predictors"]["ensemble"]["nrmse"]["value"]                                   # doctest: +SKIP
    >>> write_report(result, "outputs/drift/Hopper")                                                # doctest: +SKIP

One mechanism serves every family and every observation kind, and both the drift reports and rollout calibration:
start states drawn from held-out episodes, their physics states restored and the same actions replayed in ground
truth (:mod:`~neural_gym.drift.rollout`), the model rolled open loop from the recorded context
(:func:`roll_open_loop`), with what differs between state vectors and frames plugged in as an observation kind
(:class:`StateObservations`: normalized RMSE; :class:`FrameObservations`: PSNR, SSIM, RMS pixel error), and the
uncertainty held against the truth by one scorer (:func:`score_uncertainty`). A new family plugs in by implementing
the ``WorldModel`` protocol; a new kind of observation by one more :class:`ObservationKind`.

- :mod:`~neural_gym.drift.rollout` — ground truth (restore, replay), start states, :func:`roll_model` (the state view).
- :mod:`~neural_gym.drift.open_loop` — :func:`roll_open_loop`, the one model rollout loop (re-grounding, a followed
  member, member trajectories propagated on their own).
- :mod:`~neural_gym.drift.observation_kinds` — :class:`StateObservations`, :class:`FrameObservations`.
- :mod:`~neural_gym.drift.frame_renders` — frame ground truth: renders of restored physics states.
- :mod:`~neural_gym.drift.scoring` — intervals, horizon summaries, :func:`score_uncertainty`.
- :mod:`~neural_gym.drift.inputs` — model loading, held-out data, the argument checks every run shares.
- :mod:`~neural_gym.drift.records` — :func:`rollout_records`: held-out rollouts as calibration records
  (:class:`~neural_gym.world_models.calibration.RolloutRecords`: true error beside one-step disagreement, its running
  sum and maximum, and the disagreement of whole member trajectories).
- :mod:`~neural_gym.drift.calibrate` — :func:`calibrate_on_rollouts`: choose, threshold (split-conformal) and score
  the Dream env's cut-off on those records and store it in the checkpoint (:func:`set_rollout_calibration`).
- :mod:`~neural_gym.drift.inverse_dynamics` — :class:`InverseDynamicsModel`: ``(o_t, o_{t+1}) → a_t`` trained on real
  transitions (state vectors or frames), :func:`train_inverse_model`, its checkpoints.
- :mod:`~neural_gym.drift.recoverability` — :func:`action_recoverability`: that inverse model on a model's generated
  rollouts against the same on the real transitions of the same steps (action RMSE by horizon, their ratio, the
  mean-action baseline).
- :mod:`~neural_gym.drift.baselines` — copy-last, linear extrapolation and a single MLP trained on the same data.
- :mod:`~neural_gym.drift.measure` — :func:`measure_drift` (state models) and every figure (definitions in its docstring).
- :mod:`~neural_gym.drift.report` — JSON, plots and the Markdown report, written all-or-nothing.
- :mod:`~neural_gym.drift.video` — side-by-side MP4 of ground truth and dream.
- :mod:`~neural_gym.drift.frames` — :func:`measure_frame_drift` for models that predict frames: PSNR / SSIM against
  renders of the restored physics, copy-last-frame, controllability (true vs shuffled actions), calibration.
- :mod:`~neural_gym.drift.frame_report` — its JSON, plots, side-by-side MP4 and Markdown, written all-or-nothing.
- :mod:`~neural_gym.drift.cli` — ``neural-gym drift`` (the frame path for checkpoints whose ``obs_shape`` is a frame).

Names are imported on first use, so ``neural-gym``'s argument parsing does not pay for matplotlib and SciPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .baselines import BASELINES, build_baselines
    from .calibrate import calibrate_on_rollouts, calibrate_records, set_rollout_calibration
    from .frame_report import FRAME_REPORT_FILES, write_frame_report
    from .frames import DEFAULT_FRAME_HORIZONS, FrameDriftResult, FrameRollout, measure_frame_drift, roll_frame_model
    from .inverse_dynamics import (
        InverseDynamicsModel,
        InverseDynamicsReport,
        load_inverse_model,
        save_inverse_model,
        train_inverse_model,
    )
    from .measure import DEFAULT_HORIZONS, DriftResult, SettingData, measure_drift
    from .observation_kinds import FrameObservations, ObservationKind, StateObservations
    from .open_loop import OpenLoopRollout, member_propagation, roll_open_loop
    from .records import records_from_rollout, rollout_records
    from .recoverability import action_recoverability, score_recoverability
    from .report import write_report
    from .rollout import (
        GroundTruthRollout,
        ModelRollout,
        StartState,
        replay_ground_truth,
        roll_ground_truth,
        roll_model,
    )
    from .scoring import score_uncertainty
    from .video import write_video

_WHERE = {
    "BASELINES": "baselines",
    "build_baselines": "baselines",
    "calibrate_on_rollouts": "calibrate",
    "calibrate_records": "calibrate",
    "set_rollout_calibration": "calibrate",
    "FRAME_REPORT_FILES": "frame_report",
    "write_frame_report": "frame_report",
    "DEFAULT_FRAME_HORIZONS": "frames",
    "FrameDriftResult": "frames",
    "FrameRollout": "frames",
    "measure_frame_drift": "frames",
    "roll_frame_model": "frames",
    "InverseDynamicsModel": "inverse_dynamics",
    "InverseDynamicsReport": "inverse_dynamics",
    "load_inverse_model": "inverse_dynamics",
    "save_inverse_model": "inverse_dynamics",
    "train_inverse_model": "inverse_dynamics",
    "DEFAULT_HORIZONS": "measure",
    "DriftResult": "measure",
    "SettingData": "measure",
    "measure_drift": "measure",
    "FrameObservations": "observation_kinds",
    "ObservationKind": "observation_kinds",
    "StateObservations": "observation_kinds",
    "OpenLoopRollout": "open_loop",
    "member_propagation": "open_loop",
    "roll_open_loop": "open_loop",
    "records_from_rollout": "records",
    "rollout_records": "records",
    "action_recoverability": "recoverability",
    "score_recoverability": "recoverability",
    "score_uncertainty": "scoring",
    "write_report": "report",
    "GroundTruthRollout": "rollout",
    "ModelRollout": "rollout",
    "StartState": "rollout",
    "replay_ground_truth": "rollout",
    "roll_ground_truth": "rollout",
    "roll_model": "rollout",
    "write_video": "video",
}

__all__ = [
    "BASELINES",
    "DEFAULT_FRAME_HORIZONS",
    "DEFAULT_HORIZONS",
    "FRAME_REPORT_FILES",
    "DriftResult",
    "FrameDriftResult",
    "FrameObservations",
    "FrameRollout",
    "GroundTruthRollout",
    "InverseDynamicsModel",
    "InverseDynamicsReport",
    "ModelRollout",
    "ObservationKind",
    "OpenLoopRollout",
    "SettingData",
    "StartState",
    "StateObservations",
    "action_recoverability",
    "build_baselines",
    "calibrate_on_rollouts",
    "calibrate_records",
    "load_inverse_model",
    "measure_drift",
    "measure_frame_drift",
    "member_propagation",
    "records_from_rollout",
    "replay_ground_truth",
    "roll_frame_model",
    "roll_ground_truth",
    "roll_model",
    "roll_open_loop",
    "rollout_records",
    "save_inverse_model",
    "score_recoverability",
    "score_uncertainty",
    "set_rollout_calibration",
    "train_inverse_model",
    "write_frame_report",
    "write_report",
    "write_video",
]


def __getattr__(name: str) -> Any:
    """Import public names lazily from their submodule."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
