"""Observation kinds: what the one open-loop rollout needs to know about what a model observes.

Drift and rollout calibration run the same mechanism for every family (:func:`neural_gym.drift.roll_open_loop`);
what differs with the observation is plugged in here, once per kind:

- how a real observation is fed to the model, and how a predicted one is cleaned and kept;
- the per-step metrics against the truth, and which of them is the per-step *error* (larger = worse) that
  uncertainty is held against;
- how far apart the observations of members propagated separately are (the trajectory disagreement);
- the ground truth: the context observations before each start and the true observation after each step, from a
  ground-truth rollout (:func:`~neural_gym.drift.rollout.roll_ground_truth`).

Two kinds exist:

- :class:`StateObservations` (state vectors ``[O]``): metric ``nrmse``, the normalized RMSE
  ``sqrt(mean_d(((pred_d − true_d) / σ_d)²))`` with ``σ`` the model's training std (``docs/DESIGN.md``, "Metric
  definitions"); non-finite predictions score ``inf``. Trajectory disagreement: the members' spread in ``σ`` units,
  :func:`~neural_gym.world_models.uncertainty.ensemble_std` of ``obs / σ``.
- :class:`FrameObservations` (RGB frames ``(H, W, 3)``): metrics ``psnr`` (dB, capped) and ``ssim``
  (:func:`neural_gym.metrics.psnr`, :func:`neural_gym.metrics.ssim`) and ``rmse``, the RMS pixel error as a share of
  the pixel range, so ``psnr = −20·log10(rmse)`` below the cap: PSNR < p dB ⇔ rmse > ``10^(−p/20)``
  (:meth:`FrameObservations.error_threshold`). Predicted frames are clipped to ``[0, 255]``, non-finite pixels set to
  0 (and flagged). The error is ``rmse``; trajectory disagreement: the members' spread in ``[0, 1]`` pixel units.

A new family plugs in by predicting one of these observations; a new observation (a dict of frames and state, say)
plugs in as one more subclass of :class:`ObservationKind`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from neural_gym.envs import Episode, TaskSpec
from neural_gym.world_models import ModelSpec, WorldModel
from neural_gym.world_models.uncertainty import ensemble_std

from .. import metrics
from .frame_renders import check_frame_episodes, episode_frames, render_ground_truth
from .rollout import GroundTruthRollout, StartState


def is_frame_shape(shape: Sequence[int]) -> bool:
    """Whether an ``obs_shape`` is an RGB frame ``(H, W, 3)``."""
    shape = tuple(int(s) for s in shape)
    return len(shape) == 3 and shape[-1] == 3


class ObservationKind(abc.ABC):
    """What :func:`~neural_gym.drift.roll_open_loop` needs to know about an observation (see the module docstring)."""

    #: The kind's name (``"state"``, ``"frames"``).
    name: ClassVar[str]
    #: What one observation is called in messages (``"observations"``, ``"frames"``).
    noun: ClassVar[str]
    #: The metric of :meth:`score` that is the per-step error (larger = worse).
    error_metric: ClassVar[str]

    @abc.abstractmethod
    def model_input(self, obs: np.ndarray, device: torch.device) -> torch.Tensor:
        """Real (or fed-back) observations ``[B, ..., *obs_shape]`` as the model reads them."""

    @abc.abstractmethod
    def prediction(self, observed: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """``(prediction [B, *obs_shape] float64 as scored, non-finite flag [B])`` from ``model.observe``'s output."""

    @abc.abstractmethod
    def kept(self, prediction: np.ndarray) -> np.ndarray:
        """What a rollout keeps of a prediction when asked to (the predictions array's dtype follows it)."""

    @abc.abstractmethod
    def score(self, prediction: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
        """Per-row metrics ``{name: [B]}`` of predictions against the truth (empty when the kind cannot score)."""

    @abc.abstractmethod
    def member_spread(self, members: torch.Tensor) -> np.ndarray:
        """``[B]`` how far apart the members' observations ``[E, B, *obs_shape]`` are (larger = further)."""

    @abc.abstractmethod
    def feed_back(self, prediction: np.ndarray) -> np.ndarray:
        """A predicted observation ``[B, *obs_shape]`` in the form real ones are recorded in (to re-encode from it)."""

    @abc.abstractmethod
    def check_episodes(self, episodes: Sequence[Episode], spec: ModelSpec, dataset_id: str | None) -> None:
        """Refuse held-out episodes a model of ``spec`` cannot be compared on (``ValueError`` saying why)."""

    @abc.abstractmethod
    def ground_truth(
        self,
        task: TaskSpec,
        gt: GroundTruthRollout,
        episodes: Sequence[Episode],
        starts: Sequence[StartState],
        progress: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """The real observations of a ground-truth rollout in this kind.

        Returns:
            ``(context [n, C, *obs_shape], truth [n, H + 1, *obs_shape], notes)``: the ``C`` recorded observations up
            to each start (oldest first, the last is the start; ``C`` is the context the rollout recorded), the true
            observation before each step (index 0 the start, ``truth[:, j + 1]`` after step ``j + 1``), and notes.
        """

    def check_prediction(self, prediction: np.ndarray, truth: np.ndarray, family: str) -> None:
        """Refuse predictions of another shape than the truth.

        Raises:
            ValueError: the shapes differ.
        """
        if prediction.shape != truth.shape:
            raise ValueError(
                f"{family}.observe returned {self.noun} of shape {prediction.shape[1:]}, expected {truth.shape[1:]}"
            )


class StateObservations(ObservationKind):
    """State vectors ``[O]`` (see the module docstring).

    Args:
        std: ``[O]`` the per-dimension σ errors are normalized by (the model's training std); ``None``: the kind
            keeps and feeds observations but cannot score them or measure member spread.

    Raises:
        ValueError: a σ that is not positive and finite.
    """

    name = "state"
    noun = "observations"
    error_metric = "nrmse"

    def __init__(self, std: np.ndarray | None = None) -> None:
        if std is not None:
            std = np.asarray(std, dtype=np.float64).reshape(-1)
            if not (np.isfinite(std).all() and (std > 0).all()):
                raise ValueError("std must be positive and finite in every dimension")
        self.std = std

    def model_input(self, obs: np.ndarray, device: torch.device) -> torch.Tensor:
        """Observations as float32."""
        return torch.as_tensor(obs, dtype=torch.float32, device=device)

    def prediction(self, observed: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """The observation as float64 ``[B, O]``, unchanged (non-finite values are kept, and flagged)."""
        pred = observed.reshape(observed.shape[0], -1).double().cpu().numpy()
        return pred, ~np.isfinite(pred).all(axis=1)

    def kept(self, prediction: np.ndarray) -> np.ndarray:
        """The prediction itself (float64)."""
        return prediction

    def score(self, prediction: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
        """``{"nrmse": [B]}`` (``inf`` where the prediction is not finite); ``{}`` without a σ."""
        if self.std is None:
            return {}
        err = np.sqrt(np.mean(((prediction - truth) / self.std) ** 2, axis=-1))
        return {"nrmse": np.where(np.isfinite(err), err, np.inf)}

    def member_spread(self, members: torch.Tensor) -> np.ndarray:
        """The members' spread in σ units (``ensemble_std`` of ``obs / σ``).

        Raises:
            ValueError: the kind has no σ.
        """
        if self.std is None:
            raise ValueError("member spread of state observations needs the std they are normalized by")
        E, B = members.shape[:2]
        std = torch.as_tensor(self.std, dtype=torch.float64, device=members.device)
        return ensemble_std(members.reshape(E, B, -1).double() / std).cpu().numpy()

    def feed_back(self, prediction: np.ndarray) -> np.ndarray:
        """The prediction itself."""
        return prediction

    def check_episodes(self, episodes: Sequence[Episode], spec: ModelSpec, dataset_id: str | None) -> None:
        """Refuse an empty dataset and observations or actions of another size than the model's."""
        if not episodes:
            raise ValueError("the held-out dataset has no episodes")
        D = int(np.prod(spec.obs_shape))
        have_obs, have_act = episodes[0].observations.shape[1], episodes[0].actions.shape[1]
        if have_obs != D or have_act != spec.action_dim:
            raise ValueError(
                f"held-out data {dataset_id or '(collected)'} has observations of size {have_obs} "
                f"and actions of size {have_act}, but the {spec.task} model reads {D} and "
                f"{spec.action_dim}: was it collected on another task?"
            )

    def ground_truth(
        self,
        task: TaskSpec,
        gt: GroundTruthRollout,
        episodes: Sequence[Episode],
        starts: Sequence[StartState],
        progress: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """The recorded context and the ground truth's own observations."""
        return np.concatenate([gt.context_obs, gt.obs[:, :1]], axis=1), gt.obs, []


class FrameObservations(ObservationKind):
    """RGB frames ``(H, W, 3)`` (see the module docstring).

    Args:
        frame_shape: ``(H, W, 3)``.
        camera: camera of the ground-truth renders (``None``: the task's default).

    Raises:
        ValueError: a shape that is not ``(H, W, 3)``.
    """

    name = "frames"
    noun = "frames"
    error_metric = "rmse"

    def __init__(self, frame_shape: Sequence[int], camera: Any = None) -> None:
        if not is_frame_shape(frame_shape):
            raise ValueError(f"frame_shape must be (H, W, 3), got {tuple(frame_shape)}")
        self.frame_shape: tuple[int, int, int] = tuple(int(s) for s in frame_shape)  # type: ignore[assignment]
        self.camera = camera

    @staticmethod
    def error_threshold(psnr_db: float) -> float:
        """The ``rmse`` above which a frame's PSNR is below ``psnr_db`` (``10^(−psnr_db/20)``)."""
        return float(10.0 ** (-float(psnr_db) / 20.0))

    def model_input(self, obs: np.ndarray, device: torch.device) -> torch.Tensor:
        """Frames as they are (uint8 recordings stay uint8)."""
        return torch.as_tensor(obs, device=device)

    def prediction(self, observed: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """The frame as float64 in ``[0, 255]`` (non-finite pixels set to 0, and flagged)."""
        frame = observed.double().cpu().numpy()
        bad = ~np.isfinite(frame).reshape(len(frame), -1).all(axis=1)
        return np.clip(np.nan_to_num(frame, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 255.0), bad

    def kept(self, prediction: np.ndarray) -> np.ndarray:
        """The frame rounded to uint8."""
        return np.rint(prediction).astype(np.uint8)

    def score(self, prediction: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
        """``{"psnr", "ssim", "rmse"}``, each ``[B]``."""
        diff = (prediction - truth.astype(np.float64)).reshape(len(prediction), -1)
        return {
            "psnr": metrics.psnr(prediction, truth),
            "ssim": metrics.ssim(prediction, truth),
            "rmse": np.sqrt(np.mean(diff**2, axis=1)) / 255.0,
        }

    def member_spread(self, members: torch.Tensor) -> np.ndarray:
        """The members' spread in ``[0, 1]`` pixel units."""
        E, B = members.shape[:2]
        return ensemble_std(members.reshape(E, B, -1).double() / 255.0).cpu().numpy()

    def feed_back(self, prediction: np.ndarray) -> np.ndarray:
        """The frame as a recording holds it: uint8."""
        return self.kept(prediction)

    def check_episodes(self, episodes: Sequence[Episode], spec: ModelSpec, dataset_id: str | None) -> None:
        """See :func:`~neural_gym.drift.frame_renders.check_frame_episodes`."""
        check_frame_episodes(episodes, self.frame_shape, spec.action_dim, dataset_id)

    def ground_truth(
        self,
        task: TaskSpec,
        gt: GroundTruthRollout,
        episodes: Sequence[Episode],
        starts: Sequence[StartState],
        progress: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """The recorded context frames and renders of every physics state ground truth passed through."""
        C = gt.context_obs.shape[1] + 1
        context = np.stack([episode_frames(episodes[s.episode_index])[s.t - C + 1 : s.t + 1] for s in starts])
        truth, diff = render_ground_truth(task, gt, episodes, starts, self.frame_shape, self.camera, progress)
        notes = []
        if gt.replay_max_abs_error is not None and diff > 0:
            notes.append(
                f"renders of the restored physics states differ from the recorded frames by up to {diff} levels "
                "(expected 0: same camera, size and renderer as the recording?)"
            )
        return context, truth, notes


def state_std(model: WorldModel, episodes: Sequence[Episode], notes: list[str]) -> np.ndarray:
    """The σ state errors are normalized by: the model's training std, else (with a note) the held-out data's."""
    std = model.obs_std
    if std is not None:
        out = std.detach().double().cpu().numpy().reshape(-1)
        if np.isfinite(out).all() and (out > 0).all():
            return out
    notes.append(
        f"{model.spec.family} models keep no training-data std; errors are normalized by the held-out data's std"
    )
    s = np.concatenate([ep.observations for ep in episodes]).std(axis=0)
    return np.where(s < 1e-6, 1.0, s)


def observation_kind(
    model: WorldModel, episodes: Sequence[Episode], notes: list[str], camera: Any = None
) -> ObservationKind:
    """The kind of what ``model`` observes: frames for an ``obs_shape`` ``(H, W, 3)``, else state vectors.

    Args:
        model: the model.
        episodes: held-out episodes (for a state σ when the model keeps none).
        notes: run notes (appended to when σ comes from the held-out data).
        camera: camera of frame renders (``None``: the checkpoint's ``provenance["camera"]``, else the task's default).
    """
    if is_frame_shape(model.spec.obs_shape):
        if camera is None:
            camera = (model.spec.provenance or {}).get("camera")
        return FrameObservations(model.spec.obs_shape, camera)
    return StateObservations(state_std(model, episodes, notes))


__all__ = [
    "FrameObservations",
    "ObservationKind",
    "StateObservations",
    "is_frame_shape",
    "observation_kind",
    "state_std",
]
