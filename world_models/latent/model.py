"""``LatentModel``: a Dreamer-style RSSM behind the :class:`~neural_gym.world_models.base.WorldModel` protocol.

Observations are state vectors ``[O]`` or channels-last frames ``[H, W, 3]`` (``config.obs_kind``). The carry is a
:class:`~neural_gym.world_models.latent.rssm.LatentState`. Imagination (:meth:`LatentModel.step`) runs the GRU, then the ``E``
prior heads; ``member`` picks the head each env follows (``spec.elites`` = every head), ``None`` follows the mixture
(the mean of the heads' probabilities).

Randomness: ``step``, ``initial_state`` and the burn-in take the *mode* of each categorical unless a
``torch.Generator`` is passed (``generator=``), so a dream is a deterministic function of its start and actions.

Uncertainty (``Prediction.uncertainty``, each ``[B]``):

- ``latent_std`` (calibrated by default) — :func:`neural_gym.world_models.uncertainty.ensemble_std` of the heads' class
  probabilities ``[E, B, G * C]``: where the heads disagree about the next stochastic state. No decoding needed.
- ``ensemble_std`` — the same spread of the observation each head decodes to (from its own mode of the next
  stochastic state), in normalized units: vectors divided by the training std, frames in ``[0, 1]`` per pixel; reads
  like the ensemble family's measure of the same name.
- ``pairwise_max`` — the largest distance between two heads' decoded observations (MOReL-style), same units.

Why ``latent_std`` drives cut-offs: it tracks the true error better. Measured on Reacher-v5 (``small`` preset, 1500
steps on 200 random-action episodes; 30 fresh episodes, burn-in 5 then 20 imagined steps with the true actions),
Spearman correlation with the normalized squared error of the imagined observation: ``latent_std`` 0.28 over all
steps (0.40 at one step, 0.13 at ten), ``ensemble_std`` 0.03 (0.15, 0.04), ``pairwise_max`` 0.03 (0.11, 0.06).
Decoding each head's *mode* discards how sure the head is, and heads that pick different but nearby classes decode to
nearly the same observation. ``train_latent(measure=...)`` picks another.

Out-of-range starts: ``initial_state`` / ``initial_state_from_history`` score the context against the training
observations (:meth:`~neural_gym.world_models.context_model.HeadEnsembleModel.context_ood_score`: per-dimension
training min/max for vectors, the RMS z-score against the per-pixel training mean/std for frames; see
:mod:`neural_gym.world_models.context_model`) and return a :class:`LatentDreamState`, a ``LatentState`` that carries
the score (``context_ood [B]``). Every :meth:`LatentModel.step` from it raises ``disagreement`` above the calibrated
threshold where the score is above 1 (``Prediction.uncertainty`` keeps the raw measures). The statistics are recorded
by ``train_latent``; checkpoints written before them (the zoo's ``*-latent*`` models) derive them on load from their
stored start contexts, widened for vectors to the encoder's training mean ± :data:`DERIVED_RANGE_STDS` std.

Shapes: ``B`` batch, ``k`` context length (``config.burn_in``), ``E`` prior heads, ``D`` deter, ``G × C`` stoch.

Example:
    >>> model = LatentModel(task="Toy", task_env_id="Toy-v0", obs_shape=(3,), action_dim=1,
    ...                     action_low=[-1.0], action_high=[1.0], config=preset("debug"))
    >>> state = model.initial_state(torch.zeros(4, 3))
    >>> pred = model.step(state, torch.zeros(4, 1))
    >>> model.observe(pred.state).shape, pred.reward.shape, pred.disagreement.shape
    (torch.Size([4, 3]), torch.Size([4]), torch.Size([4]))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neural_gym.world_models.base import Prediction
from neural_gym.world_models.context_model import HeadEnsembleModel
from neural_gym.world_models.latent.config import LatentConfig, preset
from neural_gym.world_models.latent.networks import (
    ContinueHead,
    ConvDecoder,
    ConvEncoder,
    RewardHead,
    VectorDecoder,
    VectorEncoder,
    frames_to_unit,
    symexp,
    unit_to_frames,
)
from neural_gym.world_models.latent.rssm import RSSM, LatentState
from neural_gym.world_models.uncertainty import ensemble_std

__all__ = ["LATENT_MEASURES", "LatentDreamState", "LatentModel"]

#: Uncertainty measures :meth:`LatentModel.step` computes (keys of ``Prediction.uncertainty``).
LATENT_MEASURES: tuple[str, ...] = ("latent_std", "ensemble_std", "pairwise_max")
#: Continue logit written into the head when the data holds no terminal transition (P(terminate) ≈ 2e-9).
NEVER_TERMINATES_LOGIT = 20.0
#: Vector checkpoints without context statistics: the derived range reaches at least this many training stds from
#: the training mean (the stored start contexts alone are a small sample of the training range).
DERIVED_RANGE_STDS = 4.0


@dataclass
class LatentDreamState(LatentState):
    """A :class:`~neural_gym.world_models.latent.rssm.LatentState` that also carries the start context's
    out-of-distribution score (what :meth:`LatentModel.initial_state` and :meth:`LatentModel.step` return).

    Attributes:
        context_ood: ``[B]`` score of the context the dream started from (``> 1``: outside the training data; see
            :mod:`neural_gym.world_models.context_model`); ``None`` reads as zeros.
    """

    context_ood: torch.Tensor | None = None

    def clone(self) -> LatentDreamState:
        """A copy whose tensors share no memory with this one."""
        ood = None if self.context_ood is None else self.context_ood.clone()
        return LatentDreamState(self.deter.clone(), self.stoch.clone(), ood)

    def detach(self) -> LatentDreamState:
        """The same values, cut from the autograd graph."""
        ood = None if self.context_ood is None else self.context_ood.detach()
        return LatentDreamState(self.deter.detach(), self.stoch.detach(), ood)

    def index(self, idx: torch.Tensor | slice) -> LatentDreamState:
        """Rows ``idx`` of every field."""
        ood = None if self.context_ood is None else self.context_ood[idx]
        return LatentDreamState(self.deter[idx], self.stoch[idx], ood)


class LatentModel(HeadEnsembleModel):
    """Dreamer-style RSSM world model with an ensemble of prior heads.

    Args:
        task: ground-truth task name, e.g. ``"Reacher"``.
        task_env_id: gymnasium id of the ground truth, e.g. ``"Reacher-v5"``.
        obs_shape: ``(O,)`` for vectors or ``(H, W, 3)`` for frames (must match ``config.obs_kind``/``image_size``).
        action_dim: action size ``A``.
        action_low: ``[A]`` lower action bounds (actions are scaled to ``[-1, 1]`` inside).
        action_high: ``[A]`` upper action bounds.
        config: architecture (default: the ``"small"`` preset).
        seed: seeds the initial weights (through a private ``torch.Generator``).

    Buffers (saved in checkpoints): ``encoder.obs_mean``/``encoder.obs_std`` ``[O]`` (vectors), ``frame_mean``
    ``[3, H, W]`` (frames, in ``[-0.5, 0.5]`` units), ``action_low``/
    ``action_high`` ``[A]``, ``start_obs`` ``[n, k, *obs_shape]`` (float32 vectors, uint8 frames) and ``start_actions``
    ``[n, k - 1, A]``: real start contexts for ``start="dataset"`` (``n`` may be 0); the context statistics
    ``context_low``/``context_high`` ``[O]`` (vectors) or ``context_mean``/``context_std`` ``[H, W, 3]`` and
    ``context_limit`` (frames), see :mod:`neural_gym.world_models.context_model`.
    """

    family = "latent"
    config_class = LatentConfig
    head_name = "prior head"
    default_measure = "latent_std"

    config: LatentConfig

    def __init__(
        self,
        *,
        task: str,
        task_env_id: str,
        obs_shape: Sequence[int],
        action_dim: int,
        action_low: Sequence[float],
        action_high: Sequence[float],
        config: LatentConfig | None = None,
        seed: int = 0,
    ) -> None:
        config = preset("small") if config is None else config
        config.validate()
        obs_shape = tuple(int(s) for s in obs_shape)
        if config.obs_kind == "vector":
            if len(obs_shape) != 1 or obs_shape[0] < 1:
                raise ValueError(f"obs_kind='vector' needs obs_shape (O,), got {obs_shape}")
        else:
            expected = (config.image_size, config.image_size, 3)
            if obs_shape != expected:
                raise ValueError(
                    f"obs_kind='pixels' with image_size={config.image_size} needs obs_shape {expected} "
                    f"(channels-last), got {obs_shape}"
                )
        super().__init__(
            task=task,
            task_env_id=task_env_id,
            obs_shape=obs_shape,
            action_dim=action_dim,
            action_low=action_low,
            action_high=action_high,
            config=config,
        )
        self.pixels = config.obs_kind == "pixels"

        # nn.Linear/Conv2d draw default weights from the global RNG when built; fork it so the caller's global state is
        # untouched. Every such weight is then overwritten from the private generator (networks.init_weights).
        with torch.random.fork_rng(devices=[]):
            self._build(config, obs_shape, torch.Generator().manual_seed(int(seed)))

        if self.pixels:  # training mean frame in [-0.5, 0.5] units, channels-first (see set_normalization)
            self.register_buffer("frame_mean", torch.zeros(3, config.image_size, config.image_size))
        self._register_start_contexts(torch.uint8 if self.pixels else None)

    def _build(self, config: LatentConfig, obs_shape: tuple[int, ...], generator: torch.Generator) -> None:
        """Create the networks (weights drawn from ``generator``)."""
        self.encoder: VectorEncoder | ConvEncoder
        self.decoder: VectorDecoder | ConvDecoder
        if self.pixels:
            self.encoder = ConvEncoder(config.image_size, config.conv_depth, generator=generator)
            self.decoder = ConvDecoder(config.feat_size, config.image_size, config.conv_depth, generator=generator)
        else:
            self.encoder = VectorEncoder(obs_shape[0], config.hidden, config.layers, config.embed, generator=generator)
            self.decoder = VectorDecoder(
                config.feat_size, obs_shape[0], config.hidden, config.layers, generator=generator
            )
        self.rssm = RSSM(config, self.action_dim, self.encoder.out_size, generator=generator)
        self.reward_head = RewardHead(config.feat_size, config.hidden, config.layers, generator=generator)
        self.continue_head = ContinueHead(config.feat_size, config.hidden, config.layers, generator=generator)

    # ------------------------------------------------------------------ construction
    def set_normalization(self, observations: np.ndarray | torch.Tensor) -> None:
        """Set the observation statistics from training data.

        Args:
            observations: ``[N, O]`` vectors (sets the encoder's mean/std; dimensions that are constant in the data
                get std 1, so they pass through unscaled), or ``[N, H, W, 3]`` frames (sets ``frame_mean``, the mean
                frame the encoder's input is centered on and the decoder's output is added to).
        """
        x = torch.as_tensor(np.asarray(observations) if not isinstance(observations, torch.Tensor) else observations)
        if x.ndim != 1 + len(self.obs_shape) or tuple(x.shape[1:]) != self.obs_shape or x.shape[0] < 1:
            raise ValueError(
                f"observations must have shape [N>=1, {', '.join(map(str, self.obs_shape))}], got {tuple(x.shape)}"
            )
        if self.pixels:
            total = torch.zeros(self.obs_shape, dtype=torch.float64)
            for start in range(0, x.shape[0], 1024):  # chunked: frames stay uint8 in memory
                total += x[start : start + 1024].to(torch.float64).sum(dim=0)
            mean = frames_to_unit(total / x.shape[0])  # (3, H, W)
            with torch.no_grad():
                self.frame_mean.copy_(mean.to(self.frame_mean.dtype))
            return
        x = x.to(torch.float64)
        std = x.std(dim=0, unbiased=False)
        std = torch.where(std < 1e-6, torch.ones_like(std), std)
        enc = self.encoder
        assert isinstance(enc, VectorEncoder)
        with torch.no_grad():
            enc.obs_mean.copy_(x.mean(dim=0).to(enc.obs_mean.dtype))
            enc.obs_std.copy_(std.to(enc.obs_std.dtype))

    def _derive_context_stats(self) -> None:
        """Context statistics of a checkpoint written without them: the range of the stored start contexts, and for
        vectors at least the encoder's training mean ± :data:`DERIVED_RANGE_STDS` std (set even with no contexts)."""
        super()._derive_context_stats()
        if self.pixels:
            return
        enc = self.encoder
        assert isinstance(enc, VectorEncoder)
        low = enc.obs_mean - DERIVED_RANGE_STDS * enc.obs_std
        high = enc.obs_mean + DERIVED_RANGE_STDS * enc.obs_std
        if self.context_stats_fitted:
            low, high = torch.minimum(low, self.context_low), torch.maximum(high, self.context_high)
        self._set_context_range(low, high)

    # ------------------------------------------------------------------ pieces (used by training too)
    @property
    def context_length(self) -> int:
        """Real steps the burn-in reads (``config.burn_in``)."""
        return self.config.burn_in

    @property
    def obs_std(self) -> torch.Tensor | None:
        """``[O]`` std of the training observations for vector models; ``None`` for frames."""
        return None if self.pixels else self.encoder.obs_std  # type: ignore[return-value]

    def embed(self, obs: torch.Tensor) -> torch.Tensor:
        """``[N, *obs_shape]`` raw observations → ``[N, X]`` encoder output."""
        if self.pixels:
            return self.encoder(obs, self.frame_mean)  # type: ignore[call-arg]
        return self.encoder(obs)

    def decode(self, feat: torch.Tensor) -> torch.Tensor:
        """``[N, F]`` features → decoder output in model units (normalized ``[N, O]``, or ``[N, 3, H, W]`` in ±0.5)."""
        if self.pixels:
            return self.decoder(feat) + self.frame_mean
        return self.decoder(feat)

    def to_obs(self, decoded: torch.Tensor) -> torch.Tensor:
        """Decoder output → raw observations ``[N, *obs_shape]`` (de-normalized vectors, or frames in ``[0, 255]``)."""
        if self.pixels:
            return unit_to_frames(decoded)
        enc = self.encoder
        return decoded * enc.obs_std + enc.obs_mean  # type: ignore[operator]

    def observe_sequence(
        self,
        obs: torch.Tensor,
        prev_actions: torch.Tensor,
        generator: torch.Generator | None = None,
        start: LatentState | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Posterior over a sequence: ``obs_t`` after ``prev_actions_t`` (zero at the first step).

        Args:
            obs: ``[B, T, *obs_shape]`` raw observations.
            prev_actions: ``[B, T, A]`` raw actions, ``prev_actions[:, t]`` taken just before ``obs[:, t]``.
            generator: draws the stochastic states; ``None`` takes the modes.
            start: state before ``obs[:, 0]`` (default: the zero state).

        Returns:
            ``deter [B, T, D]``, ``stoch [B, T, G, C]`` and posterior log-probabilities ``[B, T, G, C]``.
        """
        B, T = obs.shape[:2]
        embeds = self.embed(obs.flatten(0, 1)).view(B, T, -1)  # (B, T, X)
        actions = self.scale_action(prev_actions)  # (B, T, A)
        state = self.rssm.initial(B, obs.device) if start is None else start
        deters, stochs, posts = [], [], []
        for t in range(T):
            state, post = self.rssm.obs_step(state, actions[:, t], embeds[:, t], generator)
            deters.append(state.deter)
            stochs.append(state.stoch)
            posts.append(post)
        return torch.stack(deters, 1), torch.stack(stochs, 1), torch.stack(posts, 1)

    # ------------------------------------------------------------------ input checks
    def _check_obs(self, x: Any, lead: tuple[int | None, ...], what: str) -> torch.Tensor:
        """``x`` as a float32 tensor on the model's device with shape ``[*lead, *obs_shape]`` (``None`` = any size)."""
        t = torch.as_tensor(x)
        names = ", ".join("B" if s is None else str(s) for s in lead)
        expected = f"[{names}, {', '.join(map(str, self.obs_shape))}]"
        if self.pixels:
            H = self.config.image_size
            self._check_frame_shape(t, lead, what, size_prefix=f"{H}x{H}x3 ")
            self._check_frame_values(t, what)
        else:
            if t.ndim != len(lead) + 1 or t.shape[-1] != self.obs_shape[0]:
                raise ValueError(f"{what} must have shape {expected}, got {tuple(t.shape)}")
            if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64)):
                raise ValueError(f"{what} must be real numbers, got dtype {t.dtype}")
            if t.numel() and not torch.isfinite(t.to(torch.float32)).all():
                raise ValueError(f"{what} must be finite")
        for i, size in enumerate(lead):
            if size is not None and t.shape[i] != size:
                raise ValueError(f"{what} must have shape {expected}, got {tuple(t.shape)}")
        dev = self.action_low.device
        return t.to(device=dev) if (self.pixels and t.dtype == torch.uint8) else t.to(device=dev, dtype=torch.float32)

    # ------------------------------------------------------------------ WorldModel protocol
    @torch.no_grad()
    def initial_state_from_history(
        self, observations: torch.Tensor, actions: torch.Tensor, generator: torch.Generator | None = None
    ) -> LatentDreamState:
        """Posterior burn-in over ``k`` real steps; the carry after the last real observation.

        The first observation is read from the zero state after a zero action, as in training.

        Args:
            observations: ``[B, k, *obs_shape]`` real observations, oldest first (``k = context_length``).
            actions: ``[B, k - 1, A]`` raw actions taken between them.
            generator: sample the posterior; ``None`` takes its mode.

        Raises:
            ValueError: wrong context length, shape, dtype or frame size (the message names the expected shape).
        """
        k = self.context_length
        t = torch.as_tensor(observations)
        if t.ndim < 2 or t.shape[1] != k:
            raise ValueError(
                f"observations must have shape [B, k={k}, {', '.join(map(str, self.obs_shape))}] "
                f"(context_length={k}), got {tuple(t.shape)}"
            )
        obs = self._check_obs(t, (None, k), "observations")
        B = obs.shape[0]
        act = self._check_actions(actions, (B, k - 1), "actions")
        # The first observation follows a zero *scaled* action: the bounds' midpoint in raw units.
        mid = ((self.action_low + self.action_high) / 2).expand(B, 1, self.action_dim)
        prev = torch.cat([mid, act], dim=1)  # (B, k, A)
        deter, stoch, _ = self.observe_sequence(obs, prev, generator)
        return LatentDreamState(deter[:, -1].contiguous(), stoch[:, -1].contiguous(), self.context_ood_score(obs))

    @torch.no_grad()
    def initial_state(self, context: torch.Tensor, generator: torch.Generator | None = None) -> LatentDreamState:
        """Encode real context into a carry.

        Args:
            context: ``[B, *obs_shape]`` one observation (posterior from the zero state after a zero action), or
                ``[B, k, *obs_shape]`` with ``k = context_length`` (burn-in with zero actions, the midpoint of the bounds,
                in between). When the actions are known, :meth:`initial_state_from_history` is the right call.
            generator: sample the posterior; ``None`` takes its mode.
        """
        t = torch.as_tensor(context)
        if t.ndim == len(self.obs_shape) + 1:
            return self._single(self._check_obs(t, (None,), "context"), generator)
        if t.ndim == len(self.obs_shape) + 2:
            k = self.context_length
            obs = self._check_obs(t, (None, k), "context")
            mid = (self.action_low + self.action_high) / 2
            actions = mid.expand(obs.shape[0], k - 1, self.action_dim)
            return self.initial_state_from_history(obs, actions, generator)
        raise ValueError(
            f"context must be [B, {', '.join(map(str, self.obs_shape))}] or "
            f"[B, k={self.context_length}, {', '.join(map(str, self.obs_shape))}], got {tuple(t.shape)}"
        )

    def _single(self, obs: torch.Tensor, generator: torch.Generator | None) -> LatentDreamState:
        """Posterior of one observation ``[B, *obs_shape]`` from the zero state after a zero action."""
        B = obs.shape[0]
        mid = ((self.action_low + self.action_high) / 2).expand(B, 1, self.action_dim)
        deter, stoch, _ = self.observe_sequence(obs.unsqueeze(1), mid, generator)
        return LatentDreamState(deter[:, -1].contiguous(), stoch[:, -1].contiguous(), self.context_ood_score(obs))

    def _check_state(self, state: Any) -> LatentState:
        if not isinstance(state, LatentState):
            raise ValueError(f"state must be a LatentState (from initial_state or step), got {type(state).__name__}")
        B, D = state.deter.shape[0], self.config.deter
        G, C = self.config.stoch_groups, self.config.stoch_classes
        if tuple(state.deter.shape) != (B, D) or tuple(state.stoch.shape) != (B, G, C):
            raise ValueError(
                f"state must have deter [B, {D}] and stoch [B, {G}, {C}], got {tuple(state.deter.shape)} and "
                f"{tuple(state.stoch.shape)}"
            )
        ood = getattr(state, "context_ood", None)
        if ood is not None and tuple(ood.shape) != (B,):
            raise ValueError(f"state.context_ood must have shape [{B}] (one score per env), got {tuple(ood.shape)}")
        return state

    @torch.no_grad()
    def step(
        self,
        state: LatentState,
        action: torch.Tensor,
        member: torch.Tensor | None = None,
        return_members: bool = False,
        generator: torch.Generator | None = None,
    ) -> Prediction:
        """Imagine one step for ``B`` envs with the prior.

        Args:
            state: carry from :meth:`initial_state` or a previous step (a plain ``LatentState`` counts as an
                in-distribution start).
            action: ``[B, A]`` raw actions.
            member: ``[B]`` long in ``[0, E)``: the prior head each env follows; ``None`` → the mixture of heads
                (the mean of their probabilities).
            return_members: also return each head's decoded next observation in ``member_means [E, B, *obs_shape]``
                (and compute the decoded measures).
            generator: sample the next stochastic state; ``None`` takes the mode.

        Returns:
            A :class:`Prediction`: ``reward`` = ``symexp`` of the reward head, ``terminated`` = 1 − P(continue),
            ``disagreement`` the calibrated measure (raised above its threshold for an out-of-range start, see the
            module docstring); ``uncertainty`` holds ``latent_std`` always, and the decoded
            measures (``ensemble_std``, ``pairwise_max``: E extra decodes) when ``return_members`` is set or the
            calibrated measure is one of them.
        """
        state = self._check_state(state)
        B = state.batch_size
        act = self.scale_action(self._check_actions(action, (B,)))
        head = None
        if member is not None:
            head = torch.as_tensor(member, dtype=torch.long, device=act.device)
            E = self.config.num_heads
            if head.shape != (B,):
                raise ValueError(f"member must have shape [{B}] (one prior head per env), got {tuple(head.shape)}")
            if bool(((head < 0) | (head >= E)).any()):
                raise ValueError(f"member indices must be in [0, {E}) (the prior heads), got {head.tolist()[:8]}")
        nxt, heads = self.rssm.img_step(state, act, head, generator)  # heads (E, B, G, C)
        feat = nxt.feat()  # (B, F)
        reward = symexp(self.reward_head(feat))  # (B,)
        terminated = 1.0 - torch.sigmoid(self.continue_head(feat))  # (B,)

        E = heads.shape[0]
        probs = heads.exp().flatten(2)  # (E, B, G*C)
        uncertainty = {"latent_std": ensemble_std(probs)}
        member_means = None
        # The decoded measures cost E extra decodes per step (E frames per env for pixel models), so they are computed
        # only when they drive the cut-offs or the members' observations are asked for.
        if return_members or self.spec.calibration.measure != "latent_std":
            head_stoch = torch.nn.functional.one_hot(heads.argmax(-1), self.config.stoch_classes).float()  # (E,B,G,C)
            head_feat = torch.cat([nxt.deter.expand(E, -1, -1), head_stoch.flatten(2)], dim=-1)  # (E, B, F)
            decoded = self.decode(head_feat.flatten(0, 1))  # (E*B, ...) model units
            flat = decoded.view(E, B, -1)  # (E, B, O) or (E, B, 3*H*W)
            uncertainty.update(ensemble_std=ensemble_std(flat), pairwise_max=_pairwise_max(flat))
            if return_members:
                member_means = self.to_obs(decoded).view(E, B, *self.obs_shape)
        ood = getattr(state, "context_ood", None)
        ood = torch.zeros(B, device=act.device) if ood is None else ood
        return Prediction(
            state=LatentDreamState(nxt.deter, nxt.stoch, ood),
            reward=reward,
            terminated=terminated,
            disagreement=self.flag_out_of_range(uncertainty[self.spec.calibration.measure], ood),
            uncertainty=uncertainty,
            member_means=member_means,
        )

    @torch.no_grad()
    def observe(self, state: LatentState) -> torch.Tensor:
        """Decode a carry: ``[B, O]`` de-normalized float32 vectors, or ``[B, H, W, 3]`` float32 frames in [0, 255]."""
        state = self._check_state(state)
        return self.to_obs(self.decode(state.feat()))


def _pairwise_max(means: torch.Tensor) -> torch.Tensor:
    """:func:`neural_gym.world_models.uncertainty.pairwise_max` of ``[E, B, X]`` without the ``[E, E, B, X]`` temporary.

    Frames make ``X`` large (12288 at 64×64), so the distances come from ``torch.cdist`` per env instead.
    """
    per_env = means.transpose(0, 1)  # (B, E, X)
    dist = torch.cdist(per_env, per_env)  # (B, E, E)
    return dist.amax(dim=(1, 2)) / means.shape[-1] ** 0.5
