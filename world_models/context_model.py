"""``HeadEnsembleModel``: the part the latent and video families share.

Both read ``k`` real steps of context (``context_length``) and carry an ensemble of ``E`` heads (the latent family's
prior heads, the video family's dynamics heads), all of which are used at inference. What is the same between them
lives here:

- the action bounds: checked in ``__init__``, kept in the buffers ``action_low``/``action_high`` ``[A]``, used by
  :meth:`HeadEnsembleModel.scale_action` (raw actions → ``[-1, 1]``) and the action checks;
- the spec (``ensemble_size = E``, ``elites`` = every head) and :meth:`HeadEnsembleModel.from_spec`;
- the shape and value checks of channels-last frames (every video model, pixel latent models);
- the real start contexts for ``start="dataset"``: the buffers ``start_obs`` ``[n, k, *obs_shape]`` and
  ``start_actions`` ``[n, k - 1, A]`` (raw actions; ``n`` may be 0), which take the checkpoint's row count on load.

A subclass names its family, config class, heads and default uncertainty measure in class attributes, calls
``super().__init__`` with the checked config and ``obs_shape``, builds its networks, registers its own buffers, then
calls :meth:`HeadEnsembleModel._register_start_contexts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
import torch

from neural_gym.world_models.base import ModelSpec, WorldModel

__all__ = ["HeadEnsembleConfig", "HeadEnsembleModel"]

_Model = TypeVar("_Model", bound="HeadEnsembleModel")


class HeadEnsembleConfig(Protocol):
    """What :class:`HeadEnsembleModel` reads from a family's config dataclass."""

    @property
    def num_heads(self) -> int:
        """Number of heads ``E``."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (stored as ``spec.config``)."""
        ...


class HeadEnsembleModel(WorldModel):
    """A world model that reads ``k`` real steps of context and has an ensemble of ``E`` heads, all used at inference.

    Args:
        task: ground-truth task name, e.g. ``"Reacher"``.
        task_env_id: gymnasium id of the ground truth, e.g. ``"Reacher-v5"``.
        obs_shape: observation shape, already checked by the subclass.
        action_dim: action size ``A``.
        action_low: ``[A]`` lower action bounds (actions are scaled to ``[-1, 1]`` inside).
        action_high: ``[A]`` upper action bounds.
        config: the family's architecture, already validated by the subclass.

    Raises:
        ValueError: the action bounds do not have ``action_dim`` values each, or a lower bound is not below its upper.
    """

    #: ``spec.family`` of this family's checkpoints, e.g. ``"latent"``.
    family: ClassVar[str]
    #: The config dataclass :meth:`from_spec` rebuilds from ``spec.config`` (with ``from_dict``).
    config_class: ClassVar[Any]
    #: What one head of the ensemble is called in messages, e.g. ``"prior head"``.
    head_name: ClassVar[str]
    #: What the observations are called in messages (``"observations"``, or ``"frames"``).
    obs_name: ClassVar[str] = "observations"
    #: The uncertainty measure a new model's calibration drives cut-offs with.
    default_measure: ClassVar[str]

    action_low: torch.Tensor
    action_high: torch.Tensor
    start_obs: torch.Tensor
    start_actions: torch.Tensor

    def __init__(
        self,
        *,
        task: str,
        task_env_id: str,
        obs_shape: tuple[int, ...],
        action_dim: int,
        action_low: Sequence[float],
        action_high: Sequence[float],
        config: HeadEnsembleConfig,
    ) -> None:
        super().__init__()
        action_low = [float(v) for v in action_low]
        action_high = [float(v) for v in action_high]
        if action_dim < 1 or len(action_low) != action_dim or len(action_high) != action_dim:
            raise ValueError(
                f"action_low and action_high need action_dim={action_dim} (>= 1) values each, got "
                f"{len(action_low)} and {len(action_high)}"
            )
        if not all(lo < hi for lo, hi in zip(action_low, action_high, strict=True)):
            raise ValueError(f"action_low must be below action_high, got {action_low} and {action_high}")
        self.config = config
        self.obs_shape = obs_shape
        self.action_dim = int(action_dim)
        self.register_buffer("action_low", torch.tensor(action_low))
        self.register_buffer("action_high", torch.tensor(action_high))
        self.spec = ModelSpec(
            family=self.family,
            task=task,
            task_env_id=task_env_id,
            obs_shape=obs_shape,
            action_dim=self.action_dim,
            action_low=action_low,
            action_high=action_high,
            ensemble_size=config.num_heads,
            elites=list(range(config.num_heads)),
            config=config.to_dict(),
        )
        self.spec.calibration.measure = self.default_measure

    def _register_start_contexts(self, obs_dtype: torch.dtype | None = None) -> None:
        """Register the empty ``start_obs`` ``[0, k, *obs_shape]`` and ``start_actions`` ``[0, k - 1, A]`` buffers.

        Called by the subclass after its own buffers (``context_length`` reads the config).
        """
        k = self.context_length
        self.register_buffer("start_obs", torch.zeros(0, k, *self.obs_shape, dtype=obs_dtype))
        self.register_buffer("start_actions", torch.zeros(0, k - 1, self.action_dim))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_spec(cls: type[_Model], spec: ModelSpec) -> _Model:
        """An untrained module with the shapes ``spec`` describes, carrying ``spec`` (used by ``load_checkpoint``)."""
        if spec.family != cls.family:
            raise ValueError(f"{cls.__name__}.from_spec needs a spec of family {cls.family!r}, got {spec.family!r}")
        config = cls.config_class.from_dict(spec.config)
        if config.num_heads != spec.ensemble_size:
            raise ValueError(
                f"spec.ensemble_size={spec.ensemble_size} disagrees with spec.config num_heads={config.num_heads}"
            )
        if sorted(spec.elites) != list(range(config.num_heads)):
            raise ValueError(
                f"{cls.family} models use every {cls.head_name}; spec.elites must be 0..{config.num_heads - 1}"
            )
        model = cls(
            task=spec.task,
            task_env_id=spec.task_env_id,
            obs_shape=spec.obs_shape,
            action_dim=spec.action_dim,
            action_low=spec.action_low,
            action_high=spec.action_high,
            config=config,
        )
        model.spec = spec
        return model

    def set_start_contexts(self, observations: np.ndarray | torch.Tensor, actions: np.ndarray | torch.Tensor) -> None:
        """Store real start contexts for ``start="dataset"``: observations ``[n, k, *obs_shape]`` (frames: uint8
        ``[n, k, H, W, 3]``) and raw actions ``[n, k - 1, A]``."""
        k = self.context_length
        obs = torch.as_tensor(np.asarray(observations) if not isinstance(observations, torch.Tensor) else observations)
        act = torch.as_tensor(np.asarray(actions) if not isinstance(actions, torch.Tensor) else actions)
        if obs.ndim != 2 + len(self.obs_shape) or tuple(obs.shape[1:]) != (k, *self.obs_shape):
            raise ValueError(
                f"start {self.obs_name} must have shape [n, {k}, *{self.obs_shape}], got {tuple(obs.shape)}"
            )
        if tuple(act.shape) != (obs.shape[0], k - 1, self.action_dim):
            raise ValueError(
                f"start actions must have shape [{obs.shape[0]}, {k - 1}, {self.action_dim}], got {tuple(act.shape)}"
            )
        dev = self.action_low.device
        self.start_obs = obs.to(device=dev, dtype=self.start_obs.dtype).clone()
        self.start_actions = act.to(device=dev, dtype=torch.float32).clone()

    @property
    def start_states(self) -> torch.Tensor:
        """``[n, *obs_shape]`` newest observation of each stored start context (``start_obs[:, -1]``)."""
        return self.start_obs[:, -1]

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any, **kwargs: Any) -> None:
        # The start buffers hold however many contexts the trainer kept: take the checkpoint's row count.
        for name in ("start_obs", "start_actions"):
            incoming = state_dict.get(prefix + name)
            current = getattr(self, name)
            if isinstance(incoming, torch.Tensor) and incoming.shape[1:] == current.shape[1:]:
                setattr(self, name, torch.empty_like(incoming, dtype=current.dtype, device=current.device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ actions
    def scale_action(self, action: torch.Tensor) -> torch.Tensor:
        """Raw ``[..., A]`` actions → ``[-1, 1]`` by the action bounds."""
        return 2.0 * (action - self.action_low) / (self.action_high - self.action_low) - 1.0

    def _check_actions(self, x: Any, lead: tuple[int, ...], what: str = "action") -> torch.Tensor:
        """``x`` as a finite float32 tensor of shape ``[*lead, A]`` on the model's device."""
        t = torch.as_tensor(x, device=self.action_low.device)
        expected = (*lead, self.action_dim)
        if tuple(t.shape) != expected:
            raise ValueError(f"{what} must have shape {list(expected)} (A = action_dim), got {tuple(t.shape)}")
        if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64)):
            raise ValueError(f"{what} must be real numbers, got dtype {t.dtype}")
        t = t.to(torch.float32)
        if t.numel() and not torch.isfinite(t).all():
            raise ValueError(f"{what} must be finite")
        return t

    # ------------------------------------------------------------------ frame checks (frame observations only)
    def _check_frame_shape(
        self, t: torch.Tensor, lead: tuple[int | None, ...], what: str, size_prefix: str = ""
    ) -> str:
        """Raise unless ``t`` has ``len(lead) + 3`` dims and ends in the model's ``(H, W, 3)``; return the expected form.

        The leading sizes are left to the caller; ``size_prefix`` goes before the form in the wrong-size message.
        """
        S = self.obs_shape[0]
        names = ", ".join("B" if s is None else str(s) for s in lead)
        form = f"channels-last frames [{names}, {S}, {S}, 3] (uint8, or float in [0, 255])"
        if t.ndim != len(lead) + 3:
            raise ValueError(f"{what} must be {form}, got shape {tuple(t.shape)}")
        if tuple(t.shape[-3:]) != self.obs_shape:
            hint = " (channels-first? move the channel axis last)" if t.shape[-3] == 3 else ""
            raise ValueError(
                f"{what} must be {size_prefix}{form}, got frames of size {tuple(t.shape[-3:])}{hint}; "
                f"render at width={S}, height={S}"
            )
        return form

    def _check_frame_values(self, t: torch.Tensor, what: str) -> None:
        """Raise unless the frames ``t`` are uint8, or float with every value in ``[0, 255]``."""
        if t.dtype != torch.uint8:
            if not t.is_floating_point():
                raise ValueError(f"{what} must be uint8 or float in [0, 255], got dtype {t.dtype}")
            if t.numel() and not (torch.isfinite(t).all() and t.min() >= 0 and t.max() <= 255):
                raise ValueError(
                    f"{what} as float ({t.dtype}) must lie in [0, 255] (not [0, 1] or normalized), "
                    f"got range [{float(t.min()):.3g}, {float(t.max()):.3g}]"
                )
