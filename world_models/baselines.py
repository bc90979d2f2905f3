"""Reference predictors that any world model should beat, behind the same :class:`~neural_gym.world_models.base.WorldModel` API.

- :class:`CopyLastModel` — the next observation is the current one (``ŝ_{t+1} = s_t``).
- :class:`LinearExtrapolationModel` — constant velocity in observation space (``ŝ_{t+1} = s_t + (s_t − s_{t−1})``);
  it asks for two real observations of context (``context_length = 2``).
- :class:`CopyLastFrameModel` — the pixel counterpart of ``CopyLastModel``: every predicted frame is the last context
  frame (``x̂_{t+h} = x_t``), for models whose observations are RGB frames ``[H, W, 3]``.
- :class:`SingleMLPModel` — one deterministic MLP (no ensemble) on normalized inputs predicting the normalized delta of
  the observation and the reward, plus a termination logit; trained by :func:`train_single_mlp` with plain MSE (and
  binary cross-entropy for termination) for a fixed number of epochs, keeping the epoch with the lowest held-out MSE.

They are *baselines*, not families: none has an ensemble, so ``Prediction.disagreement`` is NaN, and none is saved as a
checkpoint. ``CopyLastModel`` and ``LinearExtrapolationModel`` predict no reward or termination (NaN).
``CopyLastFrameModel`` reports reward 0, termination 0 and disagreement 0 (a copy is certain of itself), so frame
reports can run it through the same code as a model.

Example:
    >>> spec = ModelSpec(family="ensemble", task="Toy", task_env_id="Toy-v0", obs_shape=(2,), action_dim=1,
    ...                  action_low=[-1.0], action_high=[1.0], ensemble_size=2, elites=[0, 1])
    >>> lin = LinearExtrapolationModel(spec)
    >>> state = lin.initial_state_from_history(torch.tensor([[[0.0, 1.0], [1.0, 1.5]]]), torch.zeros(1, 1, 1))
    >>> lin.observe(lin.step(state, torch.zeros(1, 1)).state)
    tensor([[2., 2.]])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from neural_gym.world_models.base import Calibration, ModelSpec, Prediction, WorldModel
from neural_gym.world_models.device import resolve_device


def _baseline_spec(spec: ModelSpec, family: str, config: dict[str, Any] | None = None) -> ModelSpec:
    """A spec for ``family`` with the task, spaces and provenance of ``spec`` (no ensemble, no calibration)."""
    if len(spec.obs_shape) != 1:
        raise ValueError(f"baselines read flat observations, got obs_shape {spec.obs_shape}")
    return replace(
        spec,
        family=family,
        ensemble_size=1,
        elites=[0],
        config=dict(config or {}),
        calibration=Calibration(),
        provenance=dict(spec.provenance),
    )


class _ParameterFree(WorldModel):
    """Shared plumbing of the baselines that have no weights (a buffer carries the device)."""

    def __init__(self, spec: ModelSpec, family: str) -> None:
        super().__init__()
        self.spec = _baseline_spec(spec, family)
        self.obs_dim = int(self.spec.obs_shape[0])
        self.register_buffer("_anchor", torch.zeros(0))

    @property
    def device(self) -> torch.device:
        """Device the carries are put on."""
        return self._anchor.device

    def _nan(self, batch: int) -> torch.Tensor:
        return torch.full((batch,), math.nan, device=self.device)

    def _obs(self, x: Any, name: str) -> torch.Tensor:
        t = torch.as_tensor(x, dtype=torch.float32, device=self.device)
        if t.ndim != 2 or t.shape[1] != self.obs_dim:
            raise ValueError(f"{name} must have shape [B, {self.obs_dim}], got {tuple(t.shape)}")
        return t


class CopyLastModel(_ParameterFree):
    """Predicts no change: ``ŝ_{t+1} = s_t``. The carry is the observation ``[B, O]``.

    Args:
        spec: the spec of the model it is compared with (task and spaces are copied).
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec, "copy_last")

    def initial_state(self, context: torch.Tensor) -> torch.Tensor:
        """Real observations ``[B, O]`` → carry."""
        return self._obs(context, "context (observations)").clone()

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        """The carry is the observation."""
        return state

    def step(
        self,
        state: torch.Tensor,
        action: torch.Tensor,
        member: torch.Tensor | None = None,
        return_members: bool = False,
    ) -> Prediction:
        """The same observation again; reward, termination and disagreement are NaN (not predicted)."""
        del member
        obs = self._obs(state, "state")
        B = obs.shape[0]
        return Prediction(
            state=obs.clone(),
            reward=self._nan(B),
            terminated=self._nan(B),
            disagreement=self._nan(B),
            member_means=obs.unsqueeze(0).clone() if return_members else None,
        )


class CopyLastFrameModel(WorldModel):
    """Predicts the last real frame forever: ``x̂_{t+h} = x_t``. The carry is the frame ``[B, H, W, 3]`` (float32).

    The pixel baseline of frame drift reports: any frame model should beat it on a task where things move.
    Reward, termination and disagreement are 0; ``observe`` returns float frames in ``[0, 255]`` like pixel models do.

    Args:
        spec: the spec of the pixel model it is compared with (task, action space and ``obs_shape = (H, W, 3)`` are
            copied; no ensemble, no calibration).

    Raises:
        ValueError: ``spec.obs_shape`` is not an RGB frame shape ``(H, W, 3)``.

    Example:
        >>> spec = ModelSpec(family="latent", task="Toy", task_env_id="Toy-v0", obs_shape=(8, 8, 3), action_dim=1,
        ...                  action_low=[-1.0], action_high=[1.0], ensemble_size=2, elites=[0, 1])
        >>> copy = CopyLastFrameModel(spec)
        >>> state = copy.initial_state(torch.full((2, 8, 8, 3), 7, dtype=torch.uint8))
        >>> pred = copy.step(state, torch.zeros(2, 1))
        >>> copy.observe(pred.state)[0, 0, 0].tolist(), pred.disagreement.tolist()
        ([7.0, 7.0, 7.0], [0.0, 0.0])
    """

    _anchor: torch.Tensor

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        shape = tuple(int(s) for s in spec.obs_shape)
        if len(shape) != 3 or shape[-1] != 3 or min(shape) < 1:
            raise ValueError(
                f"CopyLastFrameModel needs a pixel spec with obs_shape (H, W, 3), got {spec.obs_shape}; "
                "use CopyLastModel for state vectors"
            )
        self.spec = replace(
            spec,
            family="copy_last_frame",
            obs_shape=shape,
            ensemble_size=1,
            elites=[0],
            config={},
            calibration=Calibration(),
            provenance=dict(spec.provenance),
        )
        self.register_buffer("_anchor", torch.zeros(0))

    @property
    def device(self) -> torch.device:
        """Device the carries are put on."""
        return self._anchor.device

    def _frames(self, x: Any, name: str) -> torch.Tensor:
        t = torch.as_tensor(x, device=self.device).to(torch.float32)
        if t.ndim != 4 or tuple(t.shape[1:]) != self.spec.obs_shape:
            raise ValueError(
                f"{name} must have shape [B, {', '.join(map(str, self.spec.obs_shape))}], got {tuple(t.shape)}"
            )
        return t

    def initial_state(self, context: torch.Tensor) -> torch.Tensor:
        """Real frames ``[B, H, W, 3]`` (uint8 or float in ``[0, 255]``), or ``[B, k, H, W, 3]`` (the last is kept)."""
        t = torch.as_tensor(context, device=self.device)
        if t.ndim == 5:
            t = t[:, -1]
        return self._frames(t, "context (frames)").clone()

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        """The carry is the frame (float32 in ``[0, 255]``)."""
        return state

    def step(
        self,
        state: torch.Tensor,
        action: torch.Tensor,
        member: torch.Tensor | None = None,
        return_members: bool = False,
    ) -> Prediction:
        """The same frame again; reward, termination and disagreement are 0."""
        del member
        frames = self._frames(state, "state")
        B = frames.shape[0]
        act = torch.as_tensor(action)
        if act.shape != (B, self.spec.action_dim):
            raise ValueError(f"action must have shape [B={B}, {self.spec.action_dim}], got {tuple(act.shape)}")
        zeros = torch.zeros(B, device=self.device)
        return Prediction(
            state=frames.clone(),
            reward=zeros,
            terminated=zeros.clone(),
            disagreement=zeros.clone(),
            member_means=frames.unsqueeze(0).clone() if return_members else None,
        )


class LinearExtrapolationModel(_ParameterFree):
    """Constant velocity in observation space: ``ŝ_{t+1} = s_t + (s_t − s_{t−1})``.

    The carry is ``[B, 2, O]`` (previous, current). Given a single observation it has no velocity and copies it.

    Args:
        spec: the spec of the model it is compared with (task and spaces are copied).
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec, "linear")

    @property
    def context_length(self) -> int:
        """Two real observations (the previous one gives the velocity)."""
        return 2

    def initial_state(self, context: torch.Tensor) -> torch.Tensor:
        """``[B, 2, O]`` (previous, current) or ``[B, O]`` (no velocity) → carry ``[B, 2, O]``."""
        t = torch.as_tensor(context, dtype=torch.float32, device=self.device)
        if t.ndim == 2:
            t = self._obs(t, "context (observations)").unsqueeze(1).expand(-1, 2, -1)
        if t.ndim != 3 or t.shape[1:] != (2, self.obs_dim):
            raise ValueError(
                f"context must have shape [B, 2, {self.obs_dim}] or [B, {self.obs_dim}], got {tuple(t.shape)}"
            )
        return t.clone()

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        """The current observation ``[B, O]``."""
        return state[:, -1]

    def step(
        self,
        state: torch.Tensor,
        action: torch.Tensor,
        member: torch.Tensor | None = None,
        return_members: bool = False,
    ) -> Prediction:
        """One constant-velocity step; reward, termination and disagreement are NaN (not predicted)."""
        del member
        prev, cur = state[:, 0], state[:, 1]
        nxt = cur + (cur - prev)  # (B, O)
        B = state.shape[0]
        return Prediction(
            state=torch.stack([cur, nxt], dim=1),
            reward=self._nan(B),
            terminated=self._nan(B),
            disagreement=self._nan(B),
            member_means=nxt.unsqueeze(0).clone() if return_members else None,
        )


class SingleMLPModel(WorldModel):
    """One deterministic MLP (SiLU) on normalized ``(obs, action)`` → normalized ``(Δobs, reward)`` and a termination
    logit. The carry is the observation ``[B, O]``.

    Args:
        spec: the spec of the model it is compared with (task and spaces are copied).
        hidden_size: width of every hidden layer.
        num_layers: number of hidden layers.
        seed: seeds the initial weights (a private ``torch.Generator``).
    """

    def __init__(self, spec: ModelSpec, hidden_size: int = 200, num_layers: int = 4, seed: int = 0) -> None:
        super().__init__()
        if hidden_size < 1 or num_layers < 1:
            raise ValueError(f"hidden_size and num_layers must be >= 1, got {hidden_size} and {num_layers}")
        self.spec = _baseline_spec(spec, "single_mlp", {"hidden_size": hidden_size, "num_layers": num_layers})
        self.obs_dim = int(self.spec.obs_shape[0])
        self.action_dim = int(self.spec.action_dim)
        self.target_dim = self.obs_dim + 1  # delta obs + reward
        sizes = [self.obs_dim + self.action_dim] + [hidden_size] * num_layers + [self.target_dim + 1]
        generator = torch.Generator().manual_seed(int(seed))
        layers: list[nn.Linear] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            layer = nn.Linear(fan_in, fan_out)
            bound = 1.0 / math.sqrt(fan_in)  # torch's default init, drawn from the private generator
            with torch.no_grad():
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)
            layers.append(layer)
        self.layers = nn.ModuleList(layers)
        self.register_buffer("input_mean", torch.zeros(self.obs_dim + self.action_dim))
        self.register_buffer("input_std", torch.ones(self.obs_dim + self.action_dim))
        self.register_buffer("target_mean", torch.zeros(self.target_dim))
        self.register_buffer("target_std", torch.ones(self.target_dim))

    @property
    def obs_std(self) -> torch.Tensor:
        """``[O]`` std of the training observations."""
        return self.input_std[: self.obs_dim]

    def set_normalization(self, inputs: np.ndarray, targets: np.ndarray) -> None:
        """Statistics of ``[N, O + A]`` inputs and ``[N, O + 1]`` targets (constant dims get std 1)."""
        with torch.no_grad():
            for arr, mean_buf, std_buf in (
                (inputs, self.input_mean, self.input_std),
                (targets, self.target_mean, self.target_std),
            ):
                x = torch.as_tensor(np.asarray(arr), dtype=torch.float64)
                std = x.std(dim=0, unbiased=False)
                mean_buf.copy_(x.mean(dim=0).to(mean_buf.dtype))
                std_buf.copy_(torch.where(std < 1e-6, torch.ones_like(std), std).to(std_buf.dtype))

    def forward_normalized(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalized inputs ``[B, O + A]`` → normalized targets ``[B, O + 1]`` and termination logits ``[B]``."""
        h = x
        for layer in self.layers[:-1]:
            h = F.silu(layer(h))
        out = self.layers[-1](h)  # (B, T + 1)
        return out[:, : self.target_dim], out[:, self.target_dim]

    def initial_state(self, context: torch.Tensor) -> torch.Tensor:
        """Real observations ``[B, O]`` → carry."""
        t = torch.as_tensor(context, dtype=torch.float32, device=self.input_mean.device)
        if t.ndim != 2 or t.shape[1] != self.obs_dim:
            raise ValueError(f"context must have shape [B, {self.obs_dim}], got {tuple(t.shape)}")
        return t.clone()

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        """The carry is the observation."""
        return state

    @torch.inference_mode()
    def step(
        self,
        state: torch.Tensor,
        action: torch.Tensor,
        member: torch.Tensor | None = None,
        return_members: bool = False,
    ) -> Prediction:
        """One step; ``terminated`` is a probability, ``disagreement`` is NaN (a single network has none)."""
        del member
        dev = self.input_mean.device
        obs = torch.as_tensor(state, dtype=torch.float32, device=dev)
        act = torch.as_tensor(action, dtype=torch.float32, device=dev)
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim or act.shape != (obs.shape[0], self.action_dim):
            raise ValueError(
                f"state must be [B, {self.obs_dim}] and action [B, {self.action_dim}], got {tuple(obs.shape)} and "
                f"{tuple(act.shape)}"
            )
        x = (torch.cat([obs, act], dim=-1) - self.input_mean) / self.input_std
        y, term_logit = self.forward_normalized(x)
        y = y * self.target_std + self.target_mean
        nxt = obs + y[:, : self.obs_dim]
        return Prediction(
            state=nxt,
            reward=y[:, self.obs_dim],
            terminated=torch.sigmoid(term_logit),
            disagreement=torch.full((obs.shape[0],), math.nan, device=dev),
            member_means=nxt.unsqueeze(0).clone() if return_members else None,
        )


@dataclass
class SingleMLPReport:
    """What :func:`train_single_mlp` did.

    Attributes:
        epochs: epochs run.
        best_epoch: the epoch (1-based) whose weights were kept (lowest held-out MSE).
        holdout_mse: per epoch, held-out MSE in normalized target units.
        n_train: training rows.
        n_holdout: held-out rows.
    """

    epochs: int
    best_epoch: int
    holdout_mse: list[float]
    n_train: int
    n_holdout: int


def train_single_mlp(
    obs: np.ndarray,
    actions: np.ndarray,
    next_obs: np.ndarray,
    rewards: np.ndarray,
    terminated: np.ndarray,
    *,
    spec: ModelSpec,
    hidden_size: int = 200,
    num_layers: int = 4,
    epochs: int = 100,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 5e-5,
    episode_ids: np.ndarray | None = None,
    holdout_fraction: float = 0.1,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> tuple[SingleMLPModel, SingleMLPReport]:
    """Fit a :class:`SingleMLPModel` for exactly ``epochs`` epochs; keep the epoch with the lowest held-out MSE.

    The loss is the mean squared error of the normalized ``(Δobs, reward)`` targets, plus binary cross-entropy of the
    termination logit when the data holds a terminal transition (else the logit is fixed very negative).

    Args:
        obs: ``[N, O]`` observations.
        actions: ``[N, A]`` actions.
        next_obs: ``[N, O]`` next observations.
        rewards: ``[N]`` rewards.
        terminated: ``[N]`` terminal flags.
        spec: spec of the model this baseline is compared with (task and spaces).
        hidden_size: hidden width.
        num_layers: hidden layers.
        epochs: epochs to run (no early stopping: the budget is fixed).
        batch_size: rows per step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        episode_ids: ``[N]``; when given, whole episodes are held out.
        holdout_fraction: share of rows (or episodes) held out to pick the best epoch.
        seed: seeds the weights, the split and the batches.
        device: where to train.
        progress: show a tqdm bar over epochs.

    Returns:
        The trained model (eval mode) and a :class:`SingleMLPReport`.

    Raises:
        ValueError: arrays of mismatching shapes, fewer than 2 rows, or arguments out of range.
    """
    obs = np.asarray(obs, dtype=np.float64)
    actions = np.asarray(actions, dtype=np.float64)
    next_obs = np.asarray(next_obs, dtype=np.float64)
    rewards = np.asarray(rewards, dtype=np.float64).reshape(-1)
    term = np.asarray(terminated).reshape(-1).astype(bool)
    n = len(obs)
    if n < 2 or obs.ndim != 2 or next_obs.shape != obs.shape or actions.shape != (n, spec.action_dim):
        raise ValueError(
            f"need obs [N>=2, O], next_obs like obs, actions [N, {spec.action_dim}]; got {obs.shape}, "
            f"{next_obs.shape}, {actions.shape}"
        )
    if rewards.shape != (n,) or term.shape != (n,):
        raise ValueError(f"rewards and terminated must have shape [{n}], got {rewards.shape} and {term.shape}")
    if epochs < 1 or batch_size < 1 or not 0.0 < holdout_fraction < 1.0:
        raise ValueError(
            f"need epochs >= 1, batch_size >= 1, 0 < holdout_fraction < 1; got {epochs}, {batch_size}, {holdout_fraction}"
        )

    rng = np.random.default_rng(seed)
    if episode_ids is not None:
        episodes = np.unique(episode_ids)
        n_hold = min(max(1, round(holdout_fraction * len(episodes))), max(len(episodes) - 1, 0))
        hold_mask = (
            np.isin(episode_ids, rng.choice(episodes, size=n_hold, replace=False)) if n_hold else np.zeros(n, bool)
        )
    else:
        hold_mask = np.zeros(n, dtype=bool)
        hold_mask[rng.permutation(n)[: max(1, round(holdout_fraction * n))]] = True
    if hold_mask.all() or not hold_mask.any():  # one episode only: hold out random rows instead
        hold_mask = np.zeros(n, dtype=bool)
        hold_mask[rng.permutation(n)[: max(1, round(holdout_fraction * n))]] = True
    train_idx, hold_idx = np.flatnonzero(~hold_mask), np.flatnonzero(hold_mask)

    dev = resolve_device(device)
    model = SingleMLPModel(spec, hidden_size=hidden_size, num_layers=num_layers, seed=seed)
    inputs = np.concatenate([obs, actions], axis=1)
    targets = np.concatenate([next_obs - obs, rewards[:, None]], axis=1)
    model.set_normalization(inputs[train_idx], targets[train_idx])
    model.to(dev)

    def normalized(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = (torch.as_tensor(inputs[rows], dtype=torch.float32, device=dev) - model.input_mean) / model.input_std
        y = (torch.as_tensor(targets[rows], dtype=torch.float32, device=dev) - model.target_mean) / model.target_std
        return x, y, torch.as_tensor(term[rows], dtype=torch.float32, device=dev)

    x_tr, y_tr, z_tr = normalized(train_idx)
    x_ho, y_ho, _ = normalized(hold_idx)
    learn_termination = bool(term[train_idx].any())
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    batch_gen = torch.Generator().manual_seed(seed + 1)
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    best_mse, best_epoch, history = math.inf, 0, []
    n_tr = len(train_idx)
    for epoch in tqdm(range(epochs), desc="single MLP", unit="epoch", disable=None if progress else True):
        model.train()
        order = torch.randperm(n_tr, generator=batch_gen).to(dev)
        for start in range(0, n_tr, batch_size):
            idx = order[start : start + batch_size]
            pred, logit = model.forward_normalized(x_tr[idx])
            loss = F.mse_loss(pred, y_tr[idx])
            if learn_termination:
                loss = loss + F.binary_cross_entropy_with_logits(logit, z_tr[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            mse = float(F.mse_loss(model.forward_normalized(x_ho)[0], y_ho))
        history.append(mse)
        if mse < best_mse:
            best_mse, best_epoch = mse, epoch + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    if not learn_termination:  # never saw a terminal transition: never predict one
        with torch.no_grad():
            model.layers[-1].weight[model.target_dim].zero_()
            model.layers[-1].bias[model.target_dim] = -20.0
    model.eval()
    report = SingleMLPReport(
        epochs=epochs, best_epoch=best_epoch, holdout_mse=history, n_train=n_tr, n_holdout=len(hold_idx)
    )
    return model, report


__all__: Sequence[str] = [
    "CopyLastFrameModel",
    "CopyLastModel",
    "LinearExtrapolationModel",
    "SingleMLPModel",
    "SingleMLPReport",
    "train_single_mlp",
]
