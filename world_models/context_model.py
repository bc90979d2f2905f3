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

- the out-of-distribution check of the start context (below).

A subclass names its family, config class, heads and default uncertainty measure in class attributes, calls
``super().__init__`` with the checked config and ``obs_shape``, builds its networks, registers its own buffers, then
calls :meth:`HeadEnsembleModel._register_start_contexts` (which also registers the context statistics).

Out-of-range start contexts. The heads only disagree where the *dynamics* are unfamiliar; a context far outside the
training data can still be encoded into a carry the heads agree on (a state vector of 1e20, an all-white frame), and
the dream would run on a confident fiction. So the encoder's input is checked against statistics of the training
observations, and :meth:`HeadEnsembleModel.context_ood_score` gives each context a score ``[B]`` (``> 1``: out of
distribution; ``0`` when the model has no statistics). The model computes it at ``initial_state`` /
``initial_state_from_history``, carries it in the state (``context_ood``) and :meth:`HeadEnsembleModel.flag_out_of_range`
folds it into every step's ``Prediction.disagreement``: where the score is above 1, disagreement becomes
``max(disagreement, threshold * score)`` with ``threshold`` the calibrated one (``spec.calibration.threshold``; 1.0
while uncalibrated), so the Dream env's cut-off fires on the first step. The flag holds for the whole dream started from
that context. ``Prediction.uncertainty`` keeps the heads' raw measures; a user-set ``uncertainty_threshold`` above
``threshold * score`` would not cut.

- State vectors: per-dimension training ``context_low``/``context_high`` ``[O]`` (min/max). A context is out of
  distribution when some observation lies beyond that box by more than :data:`VECTOR_RANGE_MARGIN` times the
  dimension's range width (widths floored at :data:`VECTOR_WIDTH_FLOOR`): score = the largest such excess divided by
  ``VECTOR_RANGE_MARGIN * width``.
- Frames: per-pixel statistics alone are weak (an all-white frame lies inside ``[0, 255]``), so the score is
  distribution-level: the RMS z-score of a frame against the per-pixel training mean ``context_mean`` and std
  ``context_std`` ``[H, W, 3]`` (0–255 units, floored at :data:`FRAME_STD_FLOOR` so static background pixels do not
  explode), divided by ``context_limit``: :data:`FRAME_SCORE_MARGIN` times the largest RMS z-score of the training
  frames themselves. On the zoo's Reacher pixel models (statistics derived from their start contexts), 40 real contexts from
  the ground truth scored at most 0.52 and 0.64 (latent, video), all-white 3.4 and 3.7, all-black 6.2 and 6.7,
  uniform noise 3.1 and 3.4. The newest-to-oldest context frames are scored
  one by one and the largest counts.

Unfitted statistics (``context_fitted`` false: a fresh model) check nothing. Trainers call
:meth:`HeadEnsembleModel.fit_context_stats` with the training observations. A checkpoint written before these buffers
existed still loads: the statistics are derived on load from the start contexts it stores (``start_obs``; subclasses
may widen them, see :meth:`HeadEnsembleModel._derive_context_stats`), or left unfitted when it stores none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
import torch

from neural_gym.world_models.base import ModelSpec, WorldModel

__all__ = [
    "FRAME_SCORE_MARGIN",
    "FRAME_STD_FLOOR",
    "OOD_SCORE_CAP",
    "VECTOR_RANGE_MARGIN",
    "VECTOR_WIDTH_FLOOR",
    "HeadEnsembleConfig",
    "HeadEnsembleModel",
]

#: A state-vector context is out of distribution beyond the training range by more than this share of its width.
VECTOR_RANGE_MARGIN = 0.5
#: Smallest range width of a state dimension (dimensions constant in the training data).
VECTOR_WIDTH_FLOOR = 1e-3
#: Smallest per-pixel std (0–255 units) in the frame z-score.
FRAME_STD_FLOOR = 8.0
#: The frame score limit is this factor times the largest RMS z-score of the training frames.
FRAME_SCORE_MARGIN = 2.0
#: Context scores are capped here, so that a raised disagreement stays finite.
OOD_SCORE_CAP = 1e6
#: Names of the context-statistics buffers, by observation kind.
_VECTOR_STATS = ("context_fitted", "context_low", "context_high")
_FRAME_STATS = ("context_fitted", "context_mean", "context_std", "context_limit")
#: Frames per chunk when fitting frame statistics (frames stay uint8 in memory).
_CHUNK = 512

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
    #: The context statistics: ``context_low``/``context_high`` (vectors) or ``context_mean``/``context_std``/
    #: ``context_limit`` (frames), and ``context_fitted`` (bool scalar); see the module docstring.
    context_fitted: torch.Tensor
    context_low: torch.Tensor
    context_high: torch.Tensor
    context_mean: torch.Tensor
    context_std: torch.Tensor
    context_limit: torch.Tensor

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
        self._register_context_stats()

    # ------------------------------------------------------------------ context statistics (out-of-range starts)
    @property
    def frame_obs(self) -> bool:
        """Whether observations are channels-last ``(H, W, 3)`` frames (else ``(O,)`` state vectors)."""
        return len(self.obs_shape) == 3 and self.obs_shape[-1] == 3

    def _register_context_stats(self) -> None:
        """Register the unfitted context statistics (they check nothing until fitted or derived).

        Every value is finite (checkpoints refuse non-finite tensors); ``context_fitted`` says whether they hold.
        """
        self.register_buffer("context_fitted", torch.tensor(False))
        if self.frame_obs:
            self.register_buffer("context_mean", torch.zeros(self.obs_shape))
            self.register_buffer("context_std", torch.ones(self.obs_shape))
            self.register_buffer("context_limit", torch.tensor(1.0))
        else:
            self.register_buffer("context_low", torch.zeros(self.obs_shape))
            self.register_buffer("context_high", torch.zeros(self.obs_shape))
        self._stats_missing_prefix: str | None = None
        self.register_load_state_dict_post_hook(_derive_missing_context_stats)

    @property
    def context_stats_fitted(self) -> bool:
        """Whether the context check is active (statistics fitted at training time or derived on load)."""
        return bool(self.context_fitted)

    def fit_context_stats(self, observations: np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor]) -> None:
        """Set the context statistics from training observations.

        Args:
            observations: ``[N, *obs_shape]`` raw observations (uint8 or float frames in ``[0, 255]``, or float
                vectors), or a sequence of such arrays (e.g. each training episode's observations).

        Raises:
            ValueError: no observations, a wrong shape, or non-finite values.
        """
        parts = [observations] if isinstance(observations, np.ndarray | torch.Tensor) else list(observations)
        chunks = [_as_tensor(p) for p in parts]
        for c in chunks:
            if c.ndim != 1 + len(self.obs_shape) or tuple(c.shape[1:]) != self.obs_shape:
                raise ValueError(
                    f"observations must have shape [N, {', '.join(map(str, self.obs_shape))}], got {tuple(c.shape)}"
                )
        n = sum(int(c.shape[0]) for c in chunks)
        if n < 1:
            raise ValueError("fit_context_stats needs at least one observation")
        if self.frame_obs:
            self._fit_frame_stats(chunks, n)
            return
        x = torch.cat([c.to(torch.float64) for c in chunks])
        if not torch.isfinite(x).all():
            raise ValueError("observations must be finite to fit the context statistics")
        self._set_context_range(x.amin(dim=0), x.amax(dim=0))

    def _set_context_range(self, low: torch.Tensor, high: torch.Tensor) -> None:
        """Write the ``[O]`` training range of state-vector contexts."""
        with torch.no_grad():
            self.context_low.copy_(low.to(self.context_low.dtype))
            self.context_high.copy_(high.to(self.context_high.dtype))
            self.context_fitted.fill_(True)

    def _fit_frame_stats(self, chunks: list[torch.Tensor], n: int) -> None:
        """Per-pixel mean/std of ``n`` frames (two passes in float64, chunked), then the limit of the RMS z-score."""
        total = torch.zeros(self.obs_shape, dtype=torch.float64)
        for c in chunks:
            in_range = c.dtype == torch.uint8 or not c.numel()
            in_range = in_range or (
                c.is_floating_point() and bool(torch.isfinite(c).all() & (c.min() >= 0) & (c.max() <= 255))
            )
            if not in_range:
                raise ValueError(
                    f"frames must be uint8, or float in [0, 255], to fit the context statistics; got dtype "
                    f"{c.dtype} with range [{float(c.min()):.3g}, {float(c.max()):.3g}]"
                )
            for i in range(0, c.shape[0], _CHUNK):
                total += c[i : i + _CHUNK].to(torch.float64).sum(dim=0)
        mean = total / n
        sq = torch.zeros(self.obs_shape, dtype=torch.float64)
        for c in chunks:
            for i in range(0, c.shape[0], _CHUNK):
                sq += (c[i : i + _CHUNK].to(torch.float64) - mean).square().sum(dim=0)
        std = (sq / n).sqrt().clamp(min=FRAME_STD_FLOOR)
        dev = self.context_mean.device
        with torch.no_grad():
            self.context_mean.copy_(mean.to(device=dev, dtype=self.context_mean.dtype))
            self.context_std.copy_(std.to(device=dev, dtype=self.context_std.dtype))
        worst = max(
            float(self._frame_rms_z(c[i : i + _CHUNK].to(dev)).max())
            for c in chunks
            for i in range(0, c.shape[0], _CHUNK)
        )
        with torch.no_grad():
            self.context_limit.fill_(FRAME_SCORE_MARGIN * max(worst, 1e-3))
            self.context_fitted.fill_(True)

    def _frame_rms_z(self, frames: torch.Tensor) -> torch.Tensor:
        """``[*lead, H, W, 3]`` frames in ``[0, 255]`` → ``[*lead]`` RMS z-score against the training frames."""
        z = (frames.to(torch.float32) - self.context_mean) / self.context_std
        return z.square().flatten(-3).mean(dim=-1).sqrt()

    @torch.no_grad()
    def context_ood_score(self, observations: torch.Tensor) -> torch.Tensor:
        """How far each context lies outside the training data (see the module docstring).

        Args:
            observations: ``[B, k, *obs_shape]`` (or ``[B, *obs_shape]``) raw observations, already checked by the
                caller (finite vectors; uint8 or float frames in ``[0, 255]``).

        Returns:
            ``[B]`` float32 score, above 1 when out of distribution: the worst of the ``k`` steps. All zeros while
            the statistics are unfitted; capped at :data:`OOD_SCORE_CAP`.
        """
        x = torch.as_tensor(observations, device=self.action_low.device)
        if x.ndim == 1 + len(self.obs_shape):
            x = x.unsqueeze(1)
        B = x.shape[0]
        if not self.context_stats_fitted:
            return torch.zeros(B, device=x.device)
        if self.frame_obs:
            score = (self._frame_rms_z(x) / self.context_limit).amax(dim=1)  # (B,)
        else:
            x = x.to(torch.float32)
            width = (self.context_high - self.context_low).clamp(min=VECTOR_WIDTH_FLOOR)
            excess = torch.maximum(self.context_low - x, x - self.context_high).clamp(min=0.0)  # (B, k, O)
            score = (excess / (VECTOR_RANGE_MARGIN * width)).flatten(1).amax(dim=1)
        return torch.nan_to_num(score, nan=OOD_SCORE_CAP).clamp(max=OOD_SCORE_CAP).to(torch.float32)

    def flag_out_of_range(self, disagreement: torch.Tensor, context_ood: torch.Tensor | None) -> torch.Tensor:
        """Raise the disagreement of envs whose start context was out of distribution.

        Args:
            disagreement: ``[B]`` the calibrated measure of one step.
            context_ood: ``[B]`` the score carried in the state (:meth:`context_ood_score`), or ``None`` (no check).

        Returns:
            ``[B]``: ``max(disagreement, threshold * score)`` where the score is above 1, else ``disagreement``.
            ``threshold`` is the calibrated one of ``spec.calibration.measure`` (1.0 while there is none), so a
            flagged step exceeds it by the factor its context lies outside the training data.
        """
        if context_ood is None:
            return disagreement
        threshold = self.spec.calibration.thresholds.get(self.spec.calibration.measure, 0.0)
        base = float(threshold) if np.isfinite(threshold) and threshold > 0 else 1.0
        ood = context_ood.to(device=disagreement.device, dtype=disagreement.dtype)
        return torch.where(ood > 1.0, torch.maximum(disagreement, base * ood), disagreement)

    def _derive_context_stats(self) -> None:
        """Fill the context statistics of a checkpoint written without them, from its stored start contexts.

        Leaves them unfitted when the checkpoint stores no start context. Subclasses may widen the result with other
        training statistics they keep (the latent family's vector models add the encoder's mean ± 4 std).
        """
        if self.start_obs.shape[0] > 0:
            self.fit_context_stats(self.start_obs.flatten(0, 1))

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
        # A checkpoint from before the context statistics existed: derive them once every buffer has loaded.
        names = _FRAME_STATS if self.frame_obs else _VECTOR_STATS
        self._stats_missing_prefix = prefix if all(prefix + n not in state_dict for n in names) else None
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


def _as_tensor(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``x`` as a CPU tensor (no copy where possible)."""
    return x.detach().cpu() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


def _derive_missing_context_stats(module: torch.nn.Module, incompatible: Any) -> None:
    """``load_state_dict`` post-hook: accept a checkpoint without context statistics and derive them."""
    assert isinstance(module, HeadEnsembleModel)
    prefix = module._stats_missing_prefix
    if prefix is None:
        return
    module._stats_missing_prefix = None
    names = {prefix + n for n in (_FRAME_STATS if module.frame_obs else _VECTOR_STATS)}
    incompatible.missing_keys[:] = [k for k in incompatible.missing_keys if k not in names]
    module._derive_context_stats()
