"""The ``WorldModel`` protocol every family implements (see ``docs/DESIGN.md``).

One batched, torch-native contract. ``B`` is the number of parallel imagined environments. The *state* is an opaque
carry (a tensor or a dataclass of tensors) that the Dream env holds between steps and hands back to the model.

Example:
    >>> model = load_checkpoint("zoo:InvertedPendulum")          # doctest: +SKIP
    >>> state = model.initial_state(torch.zeros(8, 4))            # doctest: +SKIP
    >>> pred = model.step(state, torch.zeros(8, 1))               # doctest: +SKIP
    >>> pred.reward.shape, pred.disagreement.shape                # doctest: +SKIP
    (torch.Size([8]), torch.Size([8]))
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from neural_gym.world_models.calibration import RolloutCalibration

#: Bumped whenever the checkpoint layout changes; loaders refuse other versions with a message.
CHECKPOINT_FORMAT_VERSION = 1

State = Any
"""The opaque carry a family uses between steps (a tensor, or a dataclass of tensors)."""


@dataclass
class Calibration:
    """How the ensemble's disagreement maps to "this prediction is not to be trusted".

    Attributes:
        measure: which disagreement measure drives cut-offs (``"ensemble_std"``, ``"aleatoric_max"`` or
            ``"pairwise_max"``; see :mod:`neural_gym.world_models.uncertainty`).
        thresholds: per measure, the value above which a step counts as uncertain.
        quantile: the quantile of held-out real transitions the thresholds were taken at.
        scale: the factor applied to that quantile.
        heldout_quantiles: per measure, a few quantiles of the held-out values (for reports).
        heldout_size: number of held-out real transitions used.
        rollout: a cut-off calibrated on held-out open-loop rollouts (signal, threshold, the risk curve that turns
            any ``uncertainty_risk`` into a threshold, and what it was scored on), or ``None`` for a checkpoint
            calibrated on one-step values only (then left out of :meth:`to_dict`, so such specs read and write as
            before).
    """

    measure: str = "ensemble_std"
    thresholds: dict[str, float] = field(default_factory=dict)
    quantile: float = 0.999
    scale: float = 1.0
    heldout_quantiles: dict[str, dict[str, float]] = field(default_factory=dict)
    heldout_size: int = 0
    rollout: RolloutCalibration | None = None

    @property
    def threshold(self) -> float:
        """Threshold of the measure that drives cut-offs."""
        if self.measure not in self.thresholds:
            raise KeyError(f"calibration has no threshold for measure {self.measure!r}; has {sorted(self.thresholds)}")
        return self.thresholds[self.measure]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (without ``rollout`` when there is none)."""
        d = asdict(self)
        if self.rollout is None:
            del d["rollout"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        rollout = d.pop("rollout", None)
        return cls(**d, rollout=None if rollout is None else RolloutCalibration.from_dict(rollout))


@dataclass
class ModelSpec:
    """Everything a checkpoint says about the model besides its weights.

    Attributes:
        family: model family name (``"ensemble"``, ``"latent"``, ``"video"``, ``"wam"``).
        task: ground-truth task name, e.g. ``"HalfCheetah"`` (the gymnasium id is ``task_env_id``).
        task_env_id: the gymnasium id of the ground truth, e.g. ``"HalfCheetah-v5"``.
        obs_shape: observation shape the model reads and writes.
        action_dim: size of the continuous action vector.
        action_low: per-dimension lower action bound.
        action_high: per-dimension upper action bound.
        ensemble_size: number of ensemble members.
        elites: indices of the members used at inference.
        config: the family's constructor arguments (JSON-ready).
        calibration: uncertainty calibration.
        provenance: dataset id, command line, package versions, seed, training figures.
    """

    family: str
    task: str
    task_env_id: str
    obs_shape: tuple[int, ...]
    action_dim: int
    action_low: list[float]
    action_high: list[float]
    ensemble_size: int
    elites: list[int]
    config: dict[str, Any] = field(default_factory=dict)
    calibration: Calibration = field(default_factory=Calibration)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["obs_shape"] = list(self.obs_shape)
        d["calibration"] = self.calibration.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["obs_shape"] = tuple(d["obs_shape"])
        d["calibration"] = Calibration.from_dict(d.get("calibration", {}))
        return cls(**d)


@dataclass
class Prediction:
    """One batched model step.

    Attributes:
        state: next carry.
        reward: ``[B]`` predicted reward.
        terminated: ``[B]`` probability that the task's terminal condition holds after the step.
        disagreement: ``[B]`` value of the calibrated measure (``spec.calibration.measure``).
        uncertainty: every disagreement measure the family computes, each ``[B]``.
        member_means: ``[E, B, *obs_shape]`` next-observation mean of each inference member, when asked for.
    """

    state: State
    reward: torch.Tensor
    terminated: torch.Tensor
    disagreement: torch.Tensor
    uncertainty: Mapping[str, torch.Tensor] = field(default_factory=dict)
    member_means: torch.Tensor | None = None


class WorldModel(nn.Module, abc.ABC):
    """Base class of every learned simulator.

    Subclasses set ``self.spec`` and implement :meth:`initial_state`, :meth:`step` and :meth:`observe`.
    Families that can act (world action models) also implement :meth:`act` and :meth:`inverse`.
    """

    spec: ModelSpec

    @property
    def num_members(self) -> int:
        """Number of members used at inference (the elites)."""
        return len(self.spec.elites)

    @property
    def device(self) -> torch.device:
        """Device of the model's parameters."""
        return next(self.parameters()).device

    @property
    def context_length(self) -> int:
        """How many real steps :meth:`initial_state_from_history` wants (1: one observation; burn-in families: k)."""
        return 1

    @property
    def obs_std(self) -> torch.Tensor | None:
        """Per-dimension std of the training observations (``[*obs_shape]``), or ``None`` where the family keeps none.

        Reports use it to normalize errors (``docs/DESIGN.md``, "Metric definitions").
        """
        return None

    def initial_state_from_history(self, observations: torch.Tensor, actions: torch.Tensor) -> State:
        """Encode the last :attr:`context_length` real steps into a carry.

        Args:
            observations: ``[B, k, *obs_shape]`` real observations, oldest first, ``k = context_length``.
            actions: ``[B, k - 1, A]`` the actions taken between them (``[B, 0, A]`` when ``k == 1``).

        The default hands the newest observation to :meth:`initial_state` when ``k == 1`` and all ``k`` frames
        otherwise; families whose burn-in reads actions (RSSM) override this.
        """
        k = self.context_length
        if observations.ndim < 2 or observations.shape[1] != k:
            raise ValueError(
                f"observations must have shape [B, {k}, *obs_shape] (context_length={k}), got {tuple(observations.shape)}"
            )
        if actions.ndim != 3 or actions.shape[:2] != (observations.shape[0], k - 1):
            raise ValueError(
                f"actions must have shape [B={observations.shape[0]}, {k - 1}, A] (context_length={k}), "
                f"got {tuple(actions.shape)}"
            )
        return self.initial_state(observations[:, -1] if k == 1 else observations)

    @abc.abstractmethod
    def initial_state(self, context: torch.Tensor) -> State:
        """Encode real context (``[B, *obs_shape]``; or ``[B, k, ...]`` frames for burn-in families) into a carry."""

    @abc.abstractmethod
    def step(
        self, state: State, action: torch.Tensor, member: torch.Tensor | None = None, return_members: bool = False
    ) -> Prediction:
        """Advance every env by one step.

        Args:
            state: carry from :meth:`initial_state` or a previous :meth:`step`.
            action: ``[B, A]`` actions.
            member: ``[B]`` index into the inference members picking whose prediction each env follows,
                or ``None`` for the ensemble mean.
            return_members: also fill ``Prediction.member_means``.
        """

    @abc.abstractmethod
    def observe(self, state: State) -> torch.Tensor:
        """Decode a carry to the observation space (``[B, *obs_shape]``)."""

    def act(self, obs: torch.Tensor, instruction: list[str] | None = None) -> torch.Tensor:
        """``[B, H, A]`` action chunk (world action models only)."""
        raise NotImplementedError(f"the {self.spec.family!r} family does not act; use a 'wam' checkpoint")

    def inverse(self, obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """``[B, A]`` action that leads from ``obs`` to ``next_obs`` (world action models only)."""
        raise NotImplementedError(f"the {self.spec.family!r} family has no inverse dynamics; use a 'wam' checkpoint")
