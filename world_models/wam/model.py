"""``WAMModel``: a world action model, one network of future observations and action chunks, ``p(o', a | o, ℓ)``.

UWM-style (Zhu et al., "Unified World Models", 2025): one transformer (:mod:`~neural_gym.world_models.wam.network`)
reads the current observation ``o_t``, the instruction ``ℓ``, ``K`` noisy future observations ``o_{t+1} .. o_{t+K}``
and a noisy chunk of ``H`` actions ``a_t .. a_{t+H-1}``, and predicts a flow-matching velocity for each noisy token.
Each token carries its own noise level, and the levels decide which conditional the model samples.

Noise-level convention (rectified flow): a token's value at level ``t ∈ [0, 1]`` is ``x_t = (1 − t) x_0 + t ε``
with ``ε ~ N(0, I)``; the network predicts the velocity ``u = ε − x_0`` and the sampler integrates from ``t = 1`` to
``t = 0`` in ``config.sampling_steps`` Euler steps, ``x ← x − u / N``. Level ``0`` means *clean* (the part is given),
level ``1`` is the *maximum*: the token is pure noise and tells nothing, so that part is marginalised out.

Modes (each a method; all batched, all seeded by a ``torch.Generator``, ``None``: zero start noise, deterministic):

=================  =================================  ==============================  ================================
mode               future observations                actions                         returns
=================  =================================  ==============================  ================================
:meth:`step`       generated                          first clean, rest max           the next observation (Dream env)
``forward``        generated                          first ``n`` clean, rest max     ``[B, K, O]`` futures
``act``            max (marginalised)                 generated                       ``[B, H, A]`` action chunk
``act(imagine)``   generated first, then clean        generated second                ``[B, H, A]`` action chunk
``inverse``        first clean, rest max              generated                       ``[B, A]`` first action
``joint``          generated                          generated (together)            futures and chunk
``imagine``        generated                          max (marginalised)              ``[B, K, O]`` futures
=================  =================================  ==============================  ================================

(``forward`` is :meth:`forward_dynamics`; the training mix that teaches each conditional is in
:mod:`~neural_gym.world_models.wam.config`.)

Units. Observations are state vectors ``[O]``; the network reads ``(o_t − mean) / std`` and generates the normalized
changes ``(o_{t+k} − o_t − μ_k) / σ_k`` (statistics per future step ``k``). Dimensions whose change is constant in
the training data (the tabletop's goal positions and instruction one-hots) are reproduced exactly: their generated
change is multiplied by 0 (buffer ``change_active``). Actions are scaled to ``[-1, 1]`` by the action bounds, and the
chunks the modes return are clipped to the bounds.

Dynamics ensemble and uncertainty. ``E = config.num_heads`` future-velocity heads share the backbone (each trained on
its own bootstrap mask of the samples). In the forward mode every head runs the sampler along its own velocity field
(one batched run, :meth:`WAMModel.forward_heads`), so each head gives its own next observation, like the members of
the ``ensemble`` family; the prediction is their mean, or with ``member`` (one head per env, as the Dream engine
passes) the followed head's sample. Their spread over the dimensions whose change varies in the data, in units of the
observations' training std (the units of the project's normalized RMSE), gives ``Prediction.uncertainty``:

- ``ensemble_std`` (calibrated by default) — :func:`neural_gym.world_models.uncertainty.ensemble_std` over heads;
- ``pairwise_max`` — the largest RMS distance between two heads (MOReL-style);
- ``member_dev`` — RMS distance of the head picked by ``member`` from the heads' mean (``member=None``: the largest).

``member_means [E, B, O]`` are the heads' next observations. (Measured on 2 075 held-out TabletopReach transitions:
Spearman 0.36 between ``ensemble_std`` and the one-step error; the heads' estimates of the clean change at the first
sampler step, an E-times cheaper signal, correlated negatively, −0.25.) A start context outside the training range
raises the disagreement as in the other families (:mod:`~neural_gym.world_models.context_model`).

Reward and termination: a small head on ``(o_t, a_t, generated change)`` trained on real transitions; Dream envs use
the task's exact rules instead where it has them (the tabletop tasks), the head where it has none.

Carry (:class:`WAMState`): the observation ``[B, O]`` and the start context's out-of-range score.

Example:
    >>> model = WAMModel(task="Toy", task_env_id="Toy-v0", obs_shape=(6,), action_dim=2,
    ...                  action_low=[-1.0, -1.0], action_high=[1.0, 1.0], config=preset("debug"))
    >>> pred = model.step(model.initial_state(torch.zeros(3, 6)), torch.zeros(3, 2))
    >>> pred.state.obs.shape, pred.reward.shape, pred.disagreement.shape
    (torch.Size([3, 6]), torch.Size([3]), torch.Size([3]))
    >>> g = torch.Generator().manual_seed(0)
    >>> model.act(torch.zeros(3, 6), ["reach the cube"] * 3, generator=g).shape
    torch.Size([3, 8, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neural_gym.world_models.base import Prediction
from neural_gym.world_models.context_model import HeadEnsembleModel
from neural_gym.world_models.uncertainty import ensemble_std, pairwise_max
from neural_gym.world_models.wam.config import WAMConfig, preset
from neural_gym.world_models.wam.instructions import encode
from neural_gym.world_models.wam.network import RewardHead, WAMBackbone, init_weights

__all__ = ["NEVER_TERMINATES_LOGIT", "WAM_MEASURES", "WAMModel", "WAMState"]

#: Uncertainty measures :meth:`WAMModel.step` computes (keys of ``Prediction.uncertainty``).
WAM_MEASURES: tuple[str, ...] = ("ensemble_std", "pairwise_max", "member_dev")
#: Termination logit written into the reward head when the data hold no terminal transition (sigmoid ≈ 2e-9).
NEVER_TERMINATES_LOGIT = -20.0


@dataclass
class WAMState:
    """The carry of a :class:`WAMModel`; every field is batch-first.

    Attributes:
        obs: ``[B, O]`` float32 current observations.
        context_ood: ``[B]`` out-of-distribution score of the start context (``> 1``: outside the training range);
            ``None`` reads as zeros.
    """

    obs: torch.Tensor
    context_ood: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        """Number of envs ``B``."""
        return int(self.obs.shape[0])


@dataclass
class _Part:
    """How one part (future observations or actions) enters a sampler run.

    Attributes:
        values: ``[B, n, D]`` model-unit values of the clean tokens (others ignored), or ``None``.
        clean: ``[n]`` bool, tokens given at level 0.
        free: ``[n]`` bool, tokens generated from level 1 to 0. Tokens neither clean nor free stay at level 1.
    """

    values: torch.Tensor | None
    clean: torch.Tensor
    free: torch.Tensor


class WAMModel(HeadEnsembleModel):
    """A world action model on state vectors: forward dynamics, policy, inverse dynamics and joint sampling in one net.

    Args:
        task: ground-truth task name, e.g. ``"TabletopReach"``.
        task_env_id: gymnasium id of the ground truth, e.g. ``"TabletopReach-v0"``.
        obs_shape: ``(O,)``.
        action_dim: action size ``A``.
        action_low: ``[A]`` lower action bounds (actions are scaled to ``[-1, 1]`` inside).
        action_high: ``[A]`` upper action bounds.
        config: architecture (default: the ``"small"`` preset); its ``vocab`` is the instruction vocabulary.
        seed: seeds the initial weights (through a private ``torch.Generator``; the global RNG is left untouched).

    Buffers (saved in checkpoints): ``action_low``/``action_high`` ``[A]``; ``obs_loc``/``obs_scale`` ``[O]``;
    ``change_loc``/``change_scale``/``change_active`` ``[K, O]`` (see the module docstring); ``reward_loc``/
    ``reward_scale`` (scalars); ``start_obs`` ``[n, 1, O]``/``start_actions`` ``[n, 0, A]`` (real start states for
    ``start="dataset"``); the context statistics of :class:`~neural_gym.world_models.context_model.HeadEnsembleModel`.
    """

    family = "wam"
    config_class = WAMConfig
    head_name = "dynamics head"
    obs_name = "observations"
    default_measure = "ensemble_std"

    config: WAMConfig
    obs_loc: torch.Tensor
    obs_scale: torch.Tensor
    change_loc: torch.Tensor
    change_scale: torch.Tensor
    change_active: torch.Tensor
    reward_loc: torch.Tensor
    reward_scale: torch.Tensor

    def __init__(
        self,
        *,
        task: str,
        task_env_id: str,
        obs_shape: Sequence[int],
        action_dim: int,
        action_low: Sequence[float],
        action_high: Sequence[float],
        config: WAMConfig | None = None,
        seed: int = 0,
    ) -> None:
        config = preset("small") if config is None else config
        config.validate()
        obs_shape = tuple(int(s) for s in obs_shape)
        if len(obs_shape) != 1 or obs_shape[0] < 1:
            raise ValueError(f"the wam family reads state vectors: obs_shape must be (O,), got {obs_shape}")
        super().__init__(
            task=task,
            task_env_id=task_env_id,
            obs_shape=obs_shape,
            action_dim=action_dim,
            action_low=action_low,
            action_high=action_high,
            config=config,
        )
        n_obs, A, K = obs_shape[0], self.action_dim, config.future_steps
        self.obs_dim = n_obs
        # nn modules draw default weights from the global RNG when built: fork it so the caller's state is untouched,
        # then overwrite every weight from the private generator.
        with torch.random.fork_rng(devices=[]):
            self.backbone = WAMBackbone(
                obs_dim=n_obs,
                action_dim=A,
                vocab_size=len(config.vocab),
                chunk_size=config.chunk_size,
                future_steps=K,
                width=config.width,
                depth=config.depth,
                attention_heads=config.attention_heads,
                num_heads=config.num_heads,
                head_hidden=config.head_hidden,
                word_embed=config.word_embed,
                noise_embed=config.noise_embed,
                obs_tokens=config.obs_tokens,
            )
            self.reward_head = RewardHead(n_obs, A, config.head_hidden)
        generator = torch.Generator().manual_seed(int(seed))
        init_weights(self.backbone, generator)
        init_weights(self.reward_head, generator)
        self.register_buffer("obs_loc", torch.zeros(n_obs))
        self.register_buffer("obs_scale", torch.ones(n_obs))
        self.register_buffer("change_loc", torch.zeros(K, n_obs))
        self.register_buffer("change_scale", torch.ones(K, n_obs))
        self.register_buffer("change_active", torch.ones(K, n_obs))
        self.register_buffer("reward_loc", torch.zeros(()))
        self.register_buffer("reward_scale", torch.ones(()))
        self._register_start_contexts()

    # ------------------------------------------------------------------ normalization
    def set_normalization(
        self,
        *,
        observations: np.ndarray,
        changes: np.ndarray,
        change_mask: np.ndarray,
        rewards: np.ndarray | None = None,
    ) -> None:
        """Set the observation, change and reward statistics from training data.

        Args:
            observations: ``[N, O]`` training observations.
            changes: ``[M, K, O]`` changes ``o_{t+k} − o_t`` of training windows.
            change_mask: ``[M, K]`` 1 where step ``k`` of the window exists (inside its episode).
            rewards: ``[R]`` training rewards (``None``: leave the reward statistics alone).

        Dimensions constant in the data get scale 1; changes constant in the data are marked inactive (reproduced
        exactly, see the module docstring).

        Raises:
            ValueError: wrong shapes, non-finite values, or a future step without any window.
        """
        n_obs, K = self.obs_dim, self.config.future_steps
        obs = np.asarray(observations, dtype=np.float64)
        ch = np.asarray(changes, dtype=np.float64)
        mask = np.asarray(change_mask, dtype=bool)
        if obs.ndim != 2 or obs.shape[1] != n_obs or len(obs) < 1:
            raise ValueError(f"observations must have shape [N>=1, {n_obs}], got {obs.shape}")
        if ch.ndim != 3 or ch.shape[1:] != (K, n_obs) or mask.shape != ch.shape[:2]:
            raise ValueError(
                f"changes must be [M, {K}, {n_obs}] with change_mask [M, {K}], got {ch.shape}, {mask.shape}"
            )
        if not (np.isfinite(obs).all() and np.isfinite(ch).all()):
            raise ValueError("observations and changes must be finite to set the normalization")
        std = obs.std(axis=0)
        loc, scale, active = np.zeros((K, n_obs)), np.ones((K, n_obs)), np.ones((K, n_obs))
        for k in range(K):
            rows = ch[mask[:, k], k]
            if len(rows) == 0:
                raise ValueError(f"no training window reaches future step {k + 1}; episodes are too short")
            loc[k] = rows.mean(axis=0)
            s = rows.std(axis=0)
            active[k] = s > 1e-6
            scale[k] = np.where(active[k] > 0, s, 1.0)
        with torch.no_grad():
            self.obs_loc.copy_(torch.as_tensor(obs.mean(axis=0)))
            self.obs_scale.copy_(torch.as_tensor(np.where(std < 1e-6, 1.0, std)))
            self.change_loc.copy_(torch.as_tensor(loc))
            self.change_scale.copy_(torch.as_tensor(scale))
            self.change_active.copy_(torch.as_tensor(active))
            if rewards is not None:
                r = np.asarray(rewards, dtype=np.float64)
                if r.size:
                    self.reward_loc.fill_(float(r.mean()))
                    self.reward_scale.fill_(max(float(r.std()), 1e-3))

    @property
    def obs_std(self) -> torch.Tensor:
        """``[O]`` std of the training observations (constant dims read 1)."""
        return self.obs_scale

    def normalize_obs(self, obs: torch.Tensor) -> torch.Tensor:
        """Raw ``[..., O]`` observations → network units."""
        return (obs - self.obs_loc) / self.obs_scale

    def normalize_changes(self, changes: torch.Tensor) -> torch.Tensor:
        """Raw changes ``[B, k, O]`` (``o_{t+j} − o_t`` for ``j = 1 .. k <= K``) → model units."""
        k = changes.shape[1]
        return (changes - self.change_loc[:k]) / self.change_scale[:k] * self.change_active[:k]

    def changes_from_model(self, x: torch.Tensor) -> torch.Tensor:
        """Model-unit changes ``[B, k, O]`` → raw changes (inactive dims get exactly their constant change)."""
        k = x.shape[1]
        return self.change_loc[:k] + x * self.change_scale[:k] * self.change_active[:k]

    def unscale_action(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled ``[..., A]`` actions in ``[-1, 1]`` → raw actions, clipped to the bounds."""
        x = x.clamp(-1.0, 1.0)
        return self.action_low + (x + 1.0) * 0.5 * (self.action_high - self.action_low)

    def instruction_tokens(self, instruction: Sequence[str | None] | None, batch: int) -> torch.Tensor:
        """Token ids ``[B, L]`` on the model's device (``None``, or ``None`` rows: no instruction).

        Raises:
            ValueError: ``instruction`` is a single string or does not have ``batch`` entries.
        """
        if instruction is None:
            return torch.zeros(batch, 1, dtype=torch.long, device=self.obs_loc.device)
        if isinstance(instruction, str) or not isinstance(instruction, Sequence | np.ndarray):
            raise ValueError(
                f"instruction must be a list of {batch} strings (one per row) or None, got {type(instruction).__name__}"
            )
        if len(instruction) != batch:
            raise ValueError(f"instruction must have {batch} entries (one per row), got {len(instruction)}")
        try:
            ids = encode(self.config.vocab, [None if t is None else str(t) for t in instruction])
        except TypeError as err:
            raise ValueError(str(err)) from err
        return torch.as_tensor(ids, device=self.obs_loc.device)

    # ------------------------------------------------------------------ the sampler
    def _noise(self, shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
        dev = self.obs_loc.device
        if generator is None:
            return torch.zeros(shape, device=dev)
        return torch.randn(shape, generator=generator, device=generator.device).to(dev)

    def _part(
        self, n: int, *, clean: Sequence[int] = (), free: bool = False, values: torch.Tensor | None = None
    ) -> _Part:
        """A :class:`_Part` of ``n`` tokens: ``clean`` indices given, the others generated (``free``) or held at max."""
        dev = self.obs_loc.device
        is_clean = torch.zeros(n, dtype=torch.bool, device=dev)
        is_clean[list(clean)] = True
        is_free = ~is_clean if free else torch.zeros(n, dtype=torch.bool, device=dev)
        return _Part(values=values, clean=is_clean, free=is_free)

    def sample(
        self,
        obs_n: torch.Tensor,
        tokens: torch.Tensor,
        future: _Part,
        actions: _Part,
        *,
        generator: torch.Generator | None,
        member: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One sampler run: integrate the free tokens from level 1 to 0, the others held at their levels.

        Args:
            obs_n: ``[B, O]`` normalized observations.
            tokens: ``[B, L]`` instruction token ids (all ``<pad>``: none).
            future: how the ``K`` future tokens enter (model units).
            actions: how the ``H`` action tokens enter (scaled actions).
            generator: start noise of the free and the held tokens; ``None``: zeros.
            member: ``[B]`` dynamics head each row's future follows, or ``None`` for the heads' mean.

        Returns:
            Future tokens ``[B, K, O]`` and action tokens ``[B, H, A]`` (model units) after the last step.
        """
        B = obs_n.shape[0]
        K, H, N = self.config.future_steps, self.config.chunk_size, self.config.sampling_steps
        x_f = self._noise((B, K, self.obs_dim), generator)
        x_a = self._noise((B, H, self.action_dim), generator)
        if future.values is not None:
            x_f = torch.where(future.clean[:, None], future.values, x_f)
        if actions.values is not None:
            x_a = torch.where(actions.clean[:, None], actions.values, x_a)
        base_f = (~future.clean).to(x_f.dtype)  # level 0 for clean tokens, 1 for held and (at first) free ones
        base_a = (~actions.clean).to(x_a.dtype)
        instruction = self.backbone.instruction_token(tokens)
        rows = torch.arange(B, device=x_f.device)
        for i in range(N):
            t, t_next = 1.0 - i / N, 1.0 - (i + 1) / N
            level_f = torch.where(future.free, torch.full_like(base_f, t), base_f).expand(B, K)
            level_a = torch.where(actions.free, torch.full_like(base_a, t), base_a).expand(B, H)
            u_f, u_a = self.backbone(obs_n, instruction, x_f, level_f, x_a, level_a)  # (E, B, K, O), (B, H, A)
            u_f = u_f.mean(dim=0) if member is None else u_f[member, rows]  # (B, K, O)
            x_f = torch.where(future.free[:, None], x_f + (t_next - t) * u_f, x_f)
            x_a = torch.where(actions.free[:, None], x_a + (t_next - t) * u_a, x_a)
        return x_f, x_a

    # ------------------------------------------------------------------ input checks
    def _check_obs(self, x: Any, what: str, batch: int | None = None) -> torch.Tensor:
        """``x`` as a finite float32 ``[B, O]`` tensor on the model's device."""
        t = torch.as_tensor(x, device=self.obs_loc.device)
        if t.ndim != 2 or t.shape[1] != self.obs_dim or (batch is not None and t.shape[0] != batch):
            b = "B" if batch is None else str(batch)
            raise ValueError(f"{what} must have shape [{b}, {self.obs_dim}] (state vectors), got {tuple(t.shape)}")
        if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64)):
            raise ValueError(f"{what} must be real numbers, got dtype {t.dtype}")
        t = t.to(torch.float32)
        if not torch.isfinite(t).all():
            raise ValueError(f"{what} must be finite")
        return t

    def _check_state(self, state: Any) -> WAMState:
        if not isinstance(state, WAMState):
            raise ValueError(f"state must be a WAMState (from initial_state or step), got {type(state).__name__}")
        B = state.obs.shape[0] if state.obs.ndim else -1
        if tuple(state.obs.shape) != (B, self.obs_dim):
            raise ValueError(f"state.obs must have shape [B, {self.obs_dim}], got {tuple(state.obs.shape)}")
        if state.context_ood is not None and tuple(state.context_ood.shape) != (B,):
            raise ValueError(f"state.context_ood must have shape [{B}], got {tuple(state.context_ood.shape)}")
        return state

    def _check_member(self, member: Any, B: int) -> torch.Tensor | None:
        if member is None:
            return None
        head = torch.as_tensor(member, device=self.obs_loc.device)
        E = self.config.num_heads
        if head.shape != (B,) or head.is_floating_point():
            raise ValueError(
                f"member must be integer indices of shape [{B}] (one head per env), got {tuple(head.shape)}"
            )
        head = head.to(torch.long)
        if bool(((head < 0) | (head >= E)).any()):
            raise ValueError(f"member indices must be in [0, {E}) (the dynamics heads), got {head.tolist()[:8]}")
        return head

    def forward_heads(
        self, obs_n: torch.Tensor, actions: torch.Tensor, *, generator: torch.Generator | None
    ) -> torch.Tensor:
        """Forward mode for every dynamics head: each head's sample of the ``K`` future changes ``[E, B, K, O]``.

        Args:
            obs_n: ``[B, O]`` normalized observations.
            actions: ``[B, n, A]`` scaled known actions, ``1 <= n <= H`` (the rest of the chunk is marginalised).
            generator: start noise (``None``: zeros); each head's rows draw their own.

        Every head follows its own velocity field in one batched sampler run (rows ``e * B + b``).
        """
        B, n = actions.shape[:2]
        E, H = self.config.num_heads, self.config.chunk_size
        chunk = torch.zeros(B, H, self.action_dim, device=obs_n.device)
        chunk[:, :n] = actions
        x_f, _ = self.sample(
            obs_n.repeat(E, 1),
            self.instruction_tokens(None, E * B),
            self._part(self.config.future_steps, free=True),
            self._part(H, clean=range(n), values=chunk.repeat(E, 1, 1)),
            generator=generator,
            member=torch.arange(E, device=obs_n.device).repeat_interleave(B),
        )
        return x_f.view(E, B, *x_f.shape[1:])

    # ------------------------------------------------------------------ WorldModel protocol
    @torch.no_grad()
    def initial_state(self, context: torch.Tensor) -> WAMState:
        """Real observations ``[B, O]`` → carry (with the start context's out-of-range score)."""
        obs = self._check_obs(context, "context (observations)")
        return WAMState(obs=obs.clone(), context_ood=self.context_ood_score(obs))

    @torch.no_grad()
    def observe(self, state: WAMState) -> torch.Tensor:
        """The carry's observation ``[B, O]``."""
        return self._check_state(state).obs

    @torch.no_grad()
    def step(
        self,
        state: WAMState,
        action: torch.Tensor,
        member: torch.Tensor | None = None,
        return_members: bool = False,
        generator: torch.Generator | None = None,
    ) -> Prediction:
        """Forward mode with one known action: the next observation of ``B`` envs (the Dream env's step).

        Args:
            state: carry from :meth:`initial_state` or a previous step.
            action: ``[B, A]`` raw actions (the first of the chunk; the rest is marginalised).
            member: ``[B]`` long in ``[0, E)``: the dynamics head each env's sample follows; ``None`` → heads' mean.
            return_members: also return ``member_means [E, B, O]`` (see the module docstring).
            generator: start noise when ``config.dream_noise`` is set; ignored otherwise (zero start noise).

        Returns:
            A :class:`Prediction`: the next observation in ``state.obs``, ``reward`` and ``terminated`` (a
            probability) from the reward head, ``uncertainty`` with every measure of :data:`WAM_MEASURES`,
            ``disagreement`` the calibrated one (raised for an out-of-range start).
        """
        state = self._check_state(state)
        B = state.batch_size
        act = self.scale_action(self._check_actions(action, (B,)))  # (B, A)
        head = self._check_member(member, B)
        obs_n = self.normalize_obs(state.obs)
        x_heads = self.forward_heads(obs_n, act[:, None], generator=generator if self.config.dream_noise else None)[
            :, :, 0
        ]  # (E, B, O) each head's next change, model units
        rows = torch.arange(B, device=act.device)
        x_own = x_heads.mean(dim=0) if head is None else x_heads[head, rows]  # (B, O)
        next_obs = state.obs + self.changes_from_model(x_own[:, None])[:, 0]
        members = state.obs + self.changes_from_model(x_heads.transpose(0, 1)).transpose(0, 1)  # (E, B, O)
        reward_n, term_logit = self.reward_head(obs_n, act, x_own)
        active = self.change_active[0] > 0
        if not bool(active.any()):  # nothing changes in the data: measure over every dim
            active = torch.ones_like(active)
        spread = members[..., active] / self.obs_scale[active]  # (E, B, O') in training-std units
        dev_from_mean = (spread - spread.mean(dim=0)).square().mean(dim=-1).sqrt()  # (E, B)
        uncertainty = {
            "ensemble_std": ensemble_std(spread),
            "pairwise_max": pairwise_max(spread),
            "member_dev": dev_from_mean.amax(dim=0) if head is None else dev_from_mean[head, rows],
        }
        ood = torch.zeros(B, device=act.device) if state.context_ood is None else state.context_ood
        return Prediction(
            state=WAMState(obs=next_obs, context_ood=ood),
            reward=reward_n * self.reward_scale + self.reward_loc,
            terminated=torch.sigmoid(term_logit),
            disagreement=self.flag_out_of_range(uncertainty[self.spec.calibration.measure], ood),
            uncertainty=uncertainty,
            member_means=members if return_members else None,
        )

    # ------------------------------------------------------------------ the other modes
    @torch.no_grad()
    def forward_dynamics(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        member: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Forward mode: the ``K`` future observations ``[B, K, O]`` given the first ``n`` actions of a chunk.

        Args:
            obs: ``[B, O]`` current observations.
            actions: ``[B, n, A]`` raw actions, ``1 <= n <= H`` (the rest of the chunk is marginalised).
            generator: start noise (``None``: zeros, deterministic).
            member: ``[B]`` dynamics head whose sample each row returns (``None``: the mean of the heads' samples).
        """
        o = self._check_obs(obs, "obs")
        B, H = o.shape[0], self.config.chunk_size
        a = torch.as_tensor(actions, device=o.device)
        if a.ndim != 3 or not 1 <= a.shape[1] <= H:
            raise ValueError(
                f"actions must have shape [B, n, {self.action_dim}] with 1 <= n <= H={H}, got {tuple(a.shape)}"
            )
        n = a.shape[1]
        a = self.scale_action(self._check_actions(a, (B, n), "actions"))
        head = self._check_member(member, B)
        x_heads = self.forward_heads(self.normalize_obs(o), a, generator=generator)  # (E, B, K, O)
        x_f = x_heads.mean(dim=0) if head is None else x_heads[head, torch.arange(B, device=o.device)]
        return o[:, None] + self.changes_from_model(x_f)

    @torch.no_grad()
    def imagine(
        self,
        obs: torch.Tensor,
        instruction: Sequence[str | None] | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Imagination: the ``K`` future observations ``[B, K, O]`` with the actions marginalised (as on action-free
        clips), conditioned on the instruction."""
        o = self._check_obs(obs, "obs")
        B = o.shape[0]
        x_f, _ = self.sample(
            self.normalize_obs(o),
            self.instruction_tokens(instruction, B),
            self._part(self.config.future_steps, free=True),
            self._part(self.config.chunk_size),
            generator=generator,
        )
        return o[:, None] + self.changes_from_model(x_f)

    @torch.no_grad()
    def act(
        self,
        obs: torch.Tensor,
        instruction: Sequence[str | None] | None = None,
        *,
        imagine: bool = False,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Policy mode: an action chunk ``[B, H, A]`` (raw units, clipped to the bounds).

        Args:
            obs: ``[B, O]`` current observations.
            instruction: ``B`` instructions (``None``, or ``None`` rows: none).
            imagine: ``False``: the future is marginalised (held at the maximum level); ``True``: the ``K`` future
                observations are imagined first (:meth:`imagine`), then the chunk is sampled given them as clean.
            generator: start noise (``None``: zeros, deterministic).
        """
        o = self._check_obs(obs, "obs")
        B, K, H = o.shape[0], self.config.future_steps, self.config.chunk_size
        obs_n, tokens = self.normalize_obs(o), self.instruction_tokens(instruction, B)
        future = self._part(K)
        if imagine:
            x_f, _ = self.sample(obs_n, tokens, self._part(K, free=True), self._part(H), generator=generator)
            future = self._part(K, clean=range(K), values=x_f)
        _, x_a = self.sample(obs_n, tokens, future, self._part(H, free=True), generator=generator)
        return self.unscale_action(x_a)

    @torch.no_grad()
    def inverse(
        self, obs: torch.Tensor, next_obs: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Inverse dynamics: the action ``[B, A]`` that leads from ``obs`` to ``next_obs`` (raw units, clipped).

        The next observation is the clean first future token, the later ones are marginalised, and the chunk is
        generated; its first action is returned.
        """
        o = self._check_obs(obs, "obs")
        nxt = self._check_obs(next_obs, "next_obs", batch=o.shape[0])
        B, K = o.shape[0], self.config.future_steps
        values = torch.zeros(B, K, self.obs_dim, device=o.device)
        values[:, :1] = self.normalize_changes((nxt - o)[:, None])
        _, x_a = self.sample(
            self.normalize_obs(o),
            self.instruction_tokens(None, B),
            self._part(K, clean=[0], values=values),
            self._part(self.config.chunk_size, free=True),
            generator=generator,
        )
        return self.unscale_action(x_a[:, 0])

    @torch.no_grad()
    def joint(
        self,
        obs: torch.Tensor,
        instruction: Sequence[str | None] | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Joint sampling: future observations ``[B, K, O]`` and an action chunk ``[B, H, A]`` generated together."""
        o = self._check_obs(obs, "obs")
        B = o.shape[0]
        x_f, x_a = self.sample(
            self.normalize_obs(o),
            self.instruction_tokens(instruction, B),
            self._part(self.config.future_steps, free=True),
            self._part(self.config.chunk_size, free=True),
            generator=generator,
        )
        return o[:, None] + self.changes_from_model(x_f), self.unscale_action(x_a)
