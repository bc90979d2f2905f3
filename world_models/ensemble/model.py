"""Probabilistic MLP ensemble on state vectors (PETS / MBPO).

Each of ``E`` members maps a normalized ``(obs, action)`` to a Gaussian over the normalized *delta* of the observation
and the reward, plus a termination logit. All members run in one batched pass (:class:`EnsembleLinear`). After training,
the ``num_elites`` members with the lowest held-out error are the ones used at inference; disagreement between them is
the uncertainty signal (:mod:`neural_gym.world_models.uncertainty`).

Shapes: ``E`` members (or elites), ``B`` batch, ``O`` obs size, ``A`` action size, ``T = O + 1`` target size.

Example:
    >>> model = EnsembleModel(task="Toy", task_env_id="Toy-v0", obs_dim=3, action_dim=1,
    ...                       action_low=[-1.0], action_high=[1.0],
    ...                       config=EnsembleConfig(ensemble_size=3, num_elites=2, hidden_size=16, num_layers=2))
    >>> pred = model.step(model.initial_state(torch.zeros(4, 3)), torch.zeros(4, 1))
    >>> pred.state.shape, pred.reward.shape, pred.disagreement.shape
    (torch.Size([4, 3]), torch.Size([4]), torch.Size([4]))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from neural_gym.world_models.base import ModelSpec, Prediction, WorldModel
from neural_gym.world_models.ensemble.layers import EnsembleLinear, SoftBoundedLogVar, ensemble_linear, soft_bound
from neural_gym.world_models.uncertainty import LazyMeasures

Members = torch.Tensor | Literal["all"] | None
"""Which members to run: ``None`` → the elites, ``"all"`` → every member in order, or a ``[E']`` long index tensor."""


@dataclass
class EnsembleConfig:
    """Architecture of an :class:`EnsembleModel` (stored in ``spec.config``)."""

    ensemble_size: int = 7
    """Number of members trained."""
    num_elites: int = 5
    """Members kept for inference (lowest held-out error); at least 2 so disagreement is defined."""
    hidden_size: int = 200
    """Width of every hidden layer."""
    num_layers: int = 4
    """Number of hidden layers (SiLU)."""
    min_logvar_init: float = -10.0
    """Initial lower soft bound of the predicted log-variance (normalized units)."""
    max_logvar_init: float = 0.5
    """Initial upper soft bound of the predicted log-variance (normalized units)."""

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field when the configuration cannot build a model."""
        if self.ensemble_size < 2:
            raise ValueError(f"ensemble_size must be >= 2 so disagreement is defined, got {self.ensemble_size}")
        if not 2 <= self.num_elites <= self.ensemble_size:
            raise ValueError(f"num_elites must be in [2, ensemble_size={self.ensemble_size}], got {self.num_elites}")
        if self.hidden_size < 1 or self.num_layers < 1:
            raise ValueError(
                f"hidden_size and num_layers must be >= 1, got hidden_size={self.hidden_size}, "
                f"num_layers={self.num_layers}"
            )
        if not self.min_logvar_init < self.max_logvar_init:
            raise ValueError(
                f"min_logvar_init must be below max_logvar_init, got {self.min_logvar_init} and {self.max_logvar_init}"
            )


class EnsembleModel(WorldModel):
    """PETS/MBPO-style probabilistic ensemble; the carry is the observation itself (``[B, O]`` float32).

    Args:
        task: ground-truth task name, e.g. ``"HalfCheetah"``.
        task_env_id: gymnasium id of the ground truth, e.g. ``"HalfCheetah-v5"``.
        obs_dim: observation size ``O``.
        action_dim: action size ``A``.
        action_low: ``[A]`` lower action bounds.
        action_high: ``[A]`` upper action bounds.
        config: architecture.
        seed: seeds the initial weights (through a private ``torch.Generator``).

    Buffers (saved in checkpoints): ``input_mean``/``input_std`` ``[O+A]``, ``target_mean``/``target_std`` ``[O+1]``
    (delta obs + reward), ``elite_idx`` ``[num_elites]``, ``start_states`` ``[K, O]`` (real observations for
    ``start="dataset"``; ``K`` may be 0).
    """

    def __init__(
        self,
        *,
        task: str,
        task_env_id: str,
        obs_dim: int,
        action_dim: int,
        action_low: Sequence[float],
        action_high: Sequence[float],
        config: EnsembleConfig | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        config = EnsembleConfig() if config is None else config
        config.validate()
        if obs_dim < 1 or action_dim < 1:
            raise ValueError(f"obs_dim and action_dim must be >= 1, got obs_dim={obs_dim}, action_dim={action_dim}")
        action_low = [float(v) for v in action_low]
        action_high = [float(v) for v in action_high]
        if len(action_low) != action_dim or len(action_high) != action_dim:
            raise ValueError(
                f"action_low and action_high need {action_dim} values each, got {len(action_low)} and {len(action_high)}"
            )
        self.config = config
        self.obs_dim = int(obs_dim)
        self.action_dim = int(action_dim)
        self.target_dim = self.obs_dim + 1  # delta obs + reward
        E, H, T = config.ensemble_size, config.hidden_size, self.target_dim

        generator = torch.Generator().manual_seed(int(seed))
        sizes = [self.obs_dim + self.action_dim] + [H] * config.num_layers
        self.hidden_layers = torch.nn.ModuleList(
            EnsembleLinear(E, sizes[i], sizes[i + 1], generator=generator) for i in range(config.num_layers)
        )
        # One fused head: [mean (T) | raw log-variance (T) | termination logit (1)].
        self.head = EnsembleLinear(E, H, 2 * T + 1, generator=generator)
        self.logvar_bounds = SoftBoundedLogVar(E, T, config.min_logvar_init, config.max_logvar_init)

        self.register_buffer("input_mean", torch.zeros(self.obs_dim + self.action_dim))
        self.register_buffer("input_std", torch.ones(self.obs_dim + self.action_dim))
        self.register_buffer("target_mean", torch.zeros(T))
        self.register_buffer("target_std", torch.ones(T))
        self.register_buffer("elite_idx", torch.arange(config.num_elites, dtype=torch.long))
        self.register_buffer("start_states", torch.zeros(0, self.obs_dim))

        self.spec = ModelSpec(
            family="ensemble",
            task=task,
            task_env_id=task_env_id,
            obs_shape=(self.obs_dim,),
            action_dim=self.action_dim,
            action_low=action_low,
            action_high=action_high,
            ensemble_size=E,
            elites=list(range(config.num_elites)),
            config=asdict(config),
        )
        self._elite_cache: tuple[tuple[Any, ...], list[torch.Tensor]] | None = None
        self._param_refs: list[torch.Tensor] | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_spec(cls, spec: ModelSpec) -> EnsembleModel:
        """An untrained module with the shapes ``spec`` describes, carrying ``spec`` (used by ``load_checkpoint``)."""
        if spec.family != "ensemble":
            raise ValueError(f"EnsembleModel.from_spec needs a spec of family 'ensemble', got {spec.family!r}")
        if len(spec.obs_shape) != 1:
            raise ValueError(f"the ensemble family reads flat observations, got obs_shape {spec.obs_shape}")
        model = cls(
            task=spec.task,
            task_env_id=spec.task_env_id,
            obs_dim=spec.obs_shape[0],
            action_dim=spec.action_dim,
            action_low=spec.action_low,
            action_high=spec.action_high,
            config=EnsembleConfig(**spec.config),
        )
        if model.config.ensemble_size != spec.ensemble_size:
            raise ValueError(
                f"spec.ensemble_size={spec.ensemble_size} disagrees with spec.config ensemble_size="
                f"{model.config.ensemble_size}"
            )
        model.set_elites(spec.elites)
        model.spec = spec
        return model

    def set_normalization(self, inputs: np.ndarray | torch.Tensor, targets: np.ndarray | torch.Tensor) -> None:
        """Set input/target statistics from data.

        Args:
            inputs: ``[N, O + A]`` concatenated observations and actions.
            targets: ``[N, O + 1]`` concatenated ``next_obs - obs`` and reward.

        Dimensions that are constant in the data get std 1 (so they pass through unscaled instead of dividing by 0).
        """
        for name, arr, dim in (("inputs", inputs, self.input_mean.numel()), ("targets", targets, self.target_dim)):
            if arr.ndim != 2 or arr.shape[1] != dim or arr.shape[0] < 1:
                raise ValueError(f"{name} must have shape [N>=1, {dim}], got {tuple(arr.shape)}")
        with torch.no_grad():
            for arr, mean_buf, std_buf in (
                (inputs, self.input_mean, self.input_std),
                (targets, self.target_mean, self.target_std),
            ):
                x = torch.as_tensor(np.asarray(arr) if not isinstance(arr, torch.Tensor) else arr)
                x = x.to(dtype=torch.float64, device="cpu")
                mean = x.mean(dim=0)
                std = x.std(dim=0, unbiased=False)
                std = torch.where(std < 1e-6, torch.ones_like(std), std)
                mean_buf.copy_(mean.to(mean_buf.dtype))
                std_buf.copy_(std.to(std_buf.dtype))

    def set_elites(self, elites: Sequence[int] | torch.Tensor) -> None:
        """Choose the members used at inference (writes ``spec.elites`` and the ``elite_idx`` buffer)."""
        idx = [int(i) for i in (elites.tolist() if isinstance(elites, torch.Tensor) else elites)]
        E = self.config.ensemble_size
        if len(idx) != self.config.num_elites or len(set(idx)) != len(idx) or not all(0 <= i < E for i in idx):
            raise ValueError(f"elites must be {self.config.num_elites} distinct member indices in [0, {E}), got {idx}")
        with torch.no_grad():
            self.elite_idx.copy_(torch.tensor(idx, dtype=torch.long))
        self.spec.elites = idx
        self._elite_cache = None

    def set_start_states(self, obs: np.ndarray | torch.Tensor) -> None:
        """Store ``[K, O]`` real observations that ``start="dataset"`` draws initial states from."""
        x = torch.as_tensor(np.asarray(obs) if not isinstance(obs, torch.Tensor) else obs, dtype=torch.float32)
        if x.ndim != 2 or x.shape[1] != self.obs_dim:
            raise ValueError(f"start states must have shape [K, {self.obs_dim}], got {tuple(x.shape)}")
        self.start_states = x.to(self.input_mean.device).clone()

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any, **kwargs: Any) -> None:
        # ``start_states`` holds however many observations the trainer kept: take the checkpoint's row count.
        key = prefix + "start_states"
        incoming = state_dict.get(key)
        if isinstance(incoming, torch.Tensor) and incoming.ndim == 2 and incoming.shape[1] == self.obs_dim:
            self.start_states = torch.empty_like(incoming, dtype=torch.float32, device=self.input_mean.device)
        self._elite_cache = None
        self._param_refs = None
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ bare network
    def normalize_inputs(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """``(obs [..., O], action [..., A])`` → normalized network input ``[..., O + A]``."""
        return (torch.cat([obs, action], dim=-1) - self.input_mean) / self.input_std

    def _all_params(self) -> list[torch.Tensor]:
        """Every member-indexed tensor in forward order: weight, bias per layer, then min/max log-variance.

        The list is built once (reading it through ``nn.Module`` attribute lookups cost 20 µs a step at batch 1) and
        rebuilt after ``to()``/``load_state_dict``; the tensors' storage and versions still key the elite cache.
        """
        if self._param_refs is None:
            params: list[torch.Tensor] = []
            for layer in [*self.hidden_layers, self.head]:
                params += [layer.weight, layer.bias]
            self._param_refs = [*params, self.logvar_bounds.min_logvar, self.logvar_bounds.max_logvar]
        return self._param_refs

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> EnsembleModel:
        """``nn.Module._apply`` (``to``, ``cuda``, ``float``, ...), forgetting the cached parameter list."""
        self._param_refs = None
        self._elite_cache = None
        return super()._apply(fn, *args, **kwargs)

    def _member_params(self, members: Members) -> list[torch.Tensor]:
        """The member-indexed tensors restricted to ``members`` (see :data:`Members`)."""
        params = self._all_params()
        if isinstance(members, str):
            if members != "all":
                raise ValueError(f"members must be None, 'all' or an index tensor, got {members!r}")
            return params
        if members is not None:
            members = torch.as_tensor(members, dtype=torch.long, device=params[0].device)
            if members.ndim != 1 or members.numel() == 0:
                raise ValueError(f"members must be a non-empty 1-D index tensor, got shape {tuple(members.shape)}")
            return [p.index_select(0, members) for p in params]
        if torch.is_grad_enabled():  # differentiable path, no caching
            return [p.index_select(0, self.elite_idx) for p in params]
        # Inference: reuse the gathered elite weights until a parameter, the elites or the device change.
        try:
            key = tuple((p.data_ptr(), p._version) for p in [*params, self.elite_idx])
        except RuntimeError:  # inference tensors (model built under inference_mode) carry no version counter
            return [p.index_select(0, self.elite_idx) for p in params]
        if self._elite_cache is None or self._elite_cache[0] != key:
            with torch.no_grad():
                self._elite_cache = (key, [p.index_select(0, self.elite_idx) for p in params])
        return self._elite_cache[1]

    def forward_normalized(
        self, x: torch.Tensor, members: Members = None, bound_logvar: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Ensemble pass on already-normalized inputs.

        Args:
            x: ``[B, O + A]`` (the same batch for every member) or ``[E', B, O + A]`` (each member its own batch).
            members: see :data:`Members`.
            bound_logvar: soft-bound the log-variance (``False`` returns the head's raw output, for callers that
                bound it only if they read it, see :meth:`step`).

        Returns:
            ``mean [E', B, T]``, ``logvar [E', B, T]`` (normalized target units), ``term_logit [E', B]``.
        """
        return self._forward_params(x, self._member_params(members), bound_logvar)

    def _forward_params(
        self, x: torch.Tensor, params: list[torch.Tensor], bound_logvar: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`forward_normalized` with the member-indexed tensors already picked (see :meth:`_member_params`)."""
        n_members = params[0].shape[0]
        if x.ndim == 2:
            x = x.unsqueeze(0).expand(n_members, -1, -1)  # (E', B, O+A)
        elif x.ndim != 3 or x.shape[0] != n_members:
            raise ValueError(
                f"inputs must be [B, {self.input_mean.numel()}] or [{n_members}, B, {self.input_mean.numel()}] "
                f"for {n_members} members, got {tuple(x.shape)}"
            )
        h = x
        n_hidden = len(self.hidden_layers)
        for i in range(n_hidden):
            h = F.silu(ensemble_linear(h, params[2 * i], params[2 * i + 1]))  # (E', B, H)
        out = ensemble_linear(h, params[2 * n_hidden], params[2 * n_hidden + 1])  # (E', B, 2T + 1)
        T = self.target_dim
        mean, raw_logvar, term_logit = out.split([T, T, 1], dim=-1)
        logvar = soft_bound(raw_logvar, params[-2], params[-1]) if bound_logvar else raw_logvar
        return mean, logvar, term_logit.squeeze(-1)

    def forward_members(
        self, obs: torch.Tensor, action: torch.Tensor, members: Members = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The bare ensemble pass: raw ``obs``/``action`` are normalized with the stored statistics.

        Args:
            obs: ``[B, O]``, or ``[E', B, O]`` for a batch per member (training).
            action: ``[B, A]``, or ``[E', B, A]``.
            members: ``None`` → the elites (inference); ``"all"`` or an index tensor into all members.

        Returns:
            ``mean [E', B, O+1]``, ``logvar [E', B, O+1]`` in normalized target units (delta obs, then reward),
            and ``term_logit [E', B]``.
        """
        return self.forward_normalized(self.normalize_inputs(obs, action), members)

    def forward(
        self, obs: torch.Tensor, action: torch.Tensor, members: Members = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Alias of :meth:`forward_members` (so ``model(obs, action)`` works)."""
        return self.forward_members(obs, action, members)

    # ------------------------------------------------------------------ WorldModel protocol
    def _as_batch(self, x: Any, dim: int, name: str) -> torch.Tensor:
        t = torch.as_tensor(x, dtype=torch.float32, device=self.input_mean.device)
        if t.ndim != 2 or t.shape[1] != dim:
            raise ValueError(f"{name} must have shape [B, {dim}], got {tuple(t.shape)}")
        return t

    @property
    def obs_std(self) -> torch.Tensor:
        """``[O]`` std of the training observations (the observation part of ``input_std``; constant dims read 1)."""
        return self.input_std[: self.obs_dim]

    def initial_state(self, context: torch.Tensor) -> torch.Tensor:
        """Real observations ``[B, O]`` → carry (a float32 copy on the model's device)."""
        return self._as_batch(context, self.obs_dim, "context (observations)").clone()

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        """The carry is the observation: identity."""
        return state

    @torch.inference_mode()
    def step(
        self,
        state: torch.Tensor,
        action: torch.Tensor,
        member: torch.Tensor | None = None,
        return_members: bool = False,
    ) -> Prediction:
        """Advance ``B`` imagined envs by one step.

        Args:
            state: ``[B, O]`` current observations.
            action: ``[B, A]`` actions.
            member: ``[B]`` long in ``[0, num_elites)``: the elite each env follows; ``None`` → the elite mean.
            return_members: also return every elite's next-observation mean in ``member_means [E, B, O]``.

        Returns:
            A :class:`Prediction`; ``terminated`` is a probability, ``uncertainty`` holds every measure of
            :mod:`neural_gym.world_models.uncertainty` over the normalized obs-delta and reward dims, ``disagreement`` the
            calibrated one.
        """
        obs = self._as_batch(state, self.obs_dim, "state")
        act = self._as_batch(action, self.action_dim, "action")
        B = obs.shape[0]
        if act.shape[0] != B:
            raise ValueError(
                f"state and action batch sizes differ: state {tuple(obs.shape)}, action {tuple(act.shape)}"
            )
        params = self._member_params(None)
        mean_n, raw_logvar, term_logit = self._forward_params(self.normalize_inputs(obs, act), params, False)
        bounds = params[-2:]
        # Each measure is computed when read (the env reads one); the log-variance is bounded only if one needs it.
        uncertainty = LazyMeasures(mean_n, lambda: soft_bound(raw_logvar, *bounds))
        n_obs = self.obs_dim
        if member is None:
            mean = mean_n.mean(dim=0) * self.target_std + self.target_mean  # (B, T) raw units
            terminated = torch.sigmoid(term_logit).mean(dim=0)
        else:
            m = torch.as_tensor(member, dtype=torch.long, device=obs.device)
            E = mean_n.shape[0]
            if m.shape != (B,):
                raise ValueError(f"member must have shape [{B}] (one elite per env), got {tuple(m.shape)}")
            if int(m.min()) < 0 or int(m.max()) >= E:
                raise ValueError(f"member indices must be in [0, {E}) (the elites), got {m.tolist()[:8]}...")
            # Pick each env's member before denormalizing: B rows instead of E x B.
            flat = m * B + torch.arange(B, device=obs.device)
            mean = mean_n.reshape(E * B, -1).index_select(0, flat) * self.target_std + self.target_mean  # (B, T)
            terminated = torch.sigmoid(term_logit.reshape(E * B).index_select(0, flat))
        next_obs = obs + mean[:, :n_obs]
        reward = mean[:, n_obs]
        next_members = None
        if return_members:
            next_members = obs + (mean_n[..., :n_obs] * self.target_std[:n_obs] + self.target_mean[:n_obs])  # (E, B, O)
        return Prediction(
            state=next_obs,
            reward=reward,
            terminated=terminated,
            disagreement=uncertainty[self.spec.calibration.measure],
            uncertainty=uncertainty,
            member_means=next_members,
        )
