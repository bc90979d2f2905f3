"""An inverse-dynamics model trained on real transitions: ``(o_t, o_{t+1}) → a_t``, the judge of action recoverability.

:class:`InverseDynamicsModel` reads two consecutive observations of one task and predicts the action taken between
them, scaled to ``[-1, 1]`` by the task's action bounds (``2 (a − low) / (high − low) − 1``, clipped). One model and
one training loop serve both observation kinds; only the encoder is chosen by the observation's shape:

- state vectors ``[O]``: an MLP on the normalized ``o_t`` and the normalized change ``o_{t+1} − o_t`` (mean and std
  of each over the training transitions; dims that never vary are left unscaled);
- RGB frames ``(H, W, 3)`` uint8: one small CNN applied to each frame (in ``[-1, 1]``; stride-2 convolutions with
  group norm down to 16x16 maps), read out as spatial soft-argmax keypoints, and an MLP on the keypoints of ``o_t``
  and their displacement to ``o_{t+1}``. Why not one CNN on the two frames stacked as 6 channels: on TabletopReach
  at 64x64 that one reached a held-out RMSE of 0.53 (mean action 0.64) after 1500 steps on 8000 real steps and
  overfit from step 500; the keypoint encoder reached 0.40 after 600 steps on the same data (the gripper moves about
  a pixel per step, which keypoints locate below a pixel and a stacked CNN has to discover).

:func:`train_inverse_model` trains it on real episodes (what :func:`neural_gym.envs.load_episodes` returns; frames come
from pixel datasets, ``observation="frames"``): whole episodes are held out (the last ``heldout_fraction`` by
position), AdamW on the mean squared error in ``[-1, 1]`` units for a fixed number of steps, with the held-out RMSE
measured every ``eval_every`` steps and the weights of the best one kept (early stopping by selection). Batches and
initialization come from ``seed`` alone (a ``torch.Generator`` and a NumPy generator; the global RNGs are never
touched). The report holds the held-out RMSE beside the trivial baseline, the training data's mean action.

Checkpoints: one ``.safetensors`` file, weights plus a JSON header (``format = "neural_gym_inverse_dynamics"``, the
config, the mean action and ``info``: training data, steps, seed, held-out figures), written atomically with a
checksum of the weights (:func:`save_inverse_model`, :func:`load_inverse_model`).

Example:
    >>> from neural_gym.envs import load_episodes
    >>> episodes = load_episodes("neural_gym/TabletopReach/idm-pixels64-v0")                       # doctest: +SKIP
    >>> idm, report = train_inverse_model(episodes, task="TabletopReach", observation="frames")   # doctest: +SKIP
    >>> report.heldout_rmse < report.heldout_mean_action_rmse                                    # doctest: +SKIP
    True
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from safetensors.torch import save as save_safetensors_bytes
from torch import nn
from torch.nn import functional as F

from neural_gym.progress import progress_bar
from neural_gym.world_models.checkpoint import (
    CHECKSUM_KEY,
    CheckpointError,
    atomic_write,
    read_tagged_checkpoint,
    weights_checksum,
)

from .observation_kinds import is_frame_shape

DISPLACEMENT_GAIN = 20.0
"""Keypoint displacements (a pixel or less per step, in [-1, 1] image units) are scaled by this before the MLP."""
IDM_FORMAT = "neural_gym_inverse_dynamics"
IDM_FORMAT_VERSION = "1"
Observation = Literal["state", "frames"]
"""Which observation of an episode the model reads: the state vectors or the frames of a pixel dataset."""


class InverseModelError(CheckpointError):
    """An inverse-dynamics checkpoint that cannot be used here; the message names the file and what was expected."""


@dataclass
class InverseDynamicsConfig:
    """What an :class:`InverseDynamicsModel` reads and its network's size."""

    task: str
    """The task whose transitions it reads (its canonical name, e.g. ``"TabletopReach"``)."""
    obs_shape: tuple[int, ...]
    """``(O,)`` for state vectors, ``(H, W, 3)`` for frames."""
    action_low: tuple[float, ...]
    """The task's lower action bounds (actions are scaled to ``[-1, 1]`` by them)."""
    action_high: tuple[float, ...]
    """The task's upper action bounds."""
    hidden: int = 256
    """Hidden width of the MLP (state encoder, and the head after the CNN)."""
    layers: int = 3
    """Hidden layers of the state MLP."""
    channels: tuple[int, ...] = (16, 32, 32)
    """CNN channels (3x3 convolutions, stride 2 until the maps are 16 wide)."""
    keypoints: int = 16
    """Spatial soft-argmax keypoints read from the last conv maps."""

    @property
    def observation(self) -> Observation:
        """``"frames"`` for an ``(H, W, 3)`` shape, else ``"state"``."""
        return "frames" if is_frame_shape(self.obs_shape) else "state"

    @property
    def action_dim(self) -> int:
        """Size of the action."""
        return len(self.action_low)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        for key in ("obs_shape", "action_low", "action_high", "channels"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InverseDynamicsConfig:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["obs_shape"] = tuple(int(s) for s in d["obs_shape"])
        d["action_low"] = tuple(float(x) for x in d["action_low"])
        d["action_high"] = tuple(float(x) for x in d["action_high"])
        d["channels"] = tuple(int(c) for c in d.get("channels", cls.channels))
        return cls(**d)


class _StateEncoder(nn.Module):
    """MLP on the normalized ``(o_t, o_{t+1} − o_t)``."""

    def __init__(self, config: InverseDynamicsConfig) -> None:
        super().__init__()
        (dim,) = config.obs_shape
        for name in ("obs_mean", "obs_std", "delta_mean", "delta_std"):
            self.register_buffer(name, torch.zeros(dim) if "mean" in name else torch.ones(dim))
        layers: list[nn.Module] = []
        width = 2 * dim
        for _ in range(config.layers):
            layers += [nn.Linear(width, config.hidden), nn.LayerNorm(config.hidden), nn.SiLU()]
            width = config.hidden
        layers.append(nn.Linear(width, config.action_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """``[B, O]`` float observations → ``[B, A]``."""
        x = (obs - self.obs_mean) / self.obs_std
        d = (next_obs - obs - self.delta_mean) / self.delta_std
        return self.net(torch.cat([x, d], dim=-1))


class _FrameEncoder(nn.Module):
    """One CNN applied to each frame, read out as spatial soft-argmax keypoints; an MLP on the keypoints of ``o_t``
    and their displacement to ``o_{t+1}`` (how far what each keypoint tracks moved)."""

    def __init__(self, config: InverseDynamicsConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in, side = 3, max(config.obs_shape[:2])
        for c in config.channels:  # stride 2 down to 16x16 maps, then 1: the keypoints keep fine positions
            stride = 2 if side > 16 else 1
            side = (side + 1) // stride if stride == 2 else side
            layers += [nn.Conv2d(c_in, c, 3, stride=stride, padding=1), nn.GroupNorm(min(8, c), c), nn.SiLU()]
            c_in = c
        self.conv = nn.Sequential(*layers)
        self.keypoints = nn.Conv2d(c_in, config.keypoints, 1)
        self.head = nn.Sequential(
            nn.Linear(4 * config.keypoints, config.hidden),
            nn.SiLU(),
            nn.Linear(config.hidden, config.hidden),
            nn.SiLU(),
            nn.Linear(config.hidden, config.action_dim),
        )

    def forward(self, obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """``[B, H, W, 3]`` frames (uint8 or float in ``[0, 255]``) → ``[B, A]``."""
        from neural_gym.policies.vla.model import spatial_soft_argmax

        B = obs.shape[0]
        x = torch.cat([obs, next_obs]).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (2B, 3, H, W)
        kp = spatial_soft_argmax(self.keypoints(self.conv(x)))  # (2B, 2K) in [-1, 1]
        first, second = kp[:B], kp[B:]
        return self.head(torch.cat([first, DISPLACEMENT_GAIN * (second - first)], dim=-1))


class InverseDynamicsModel(nn.Module):
    """``(o_t, o_{t+1}) → a_t`` in ``[-1, 1]`` units (see the module docstring); build with
    :func:`train_inverse_model` or :func:`load_inverse_model`.

    Args:
        config: what it reads and its size.
        mean_action: ``[A]`` the training data's mean action in ``[-1, 1]`` units (the trivial baseline).
        info: training data, steps, seed, held-out figures.

    Raises:
        ValueError: bounds of different lengths or with ``high <= low``, or a mean action of another size.
    """

    def __init__(
        self, config: InverseDynamicsConfig, mean_action: Sequence[float] | None = None, info: dict | None = None
    ) -> None:
        super().__init__()
        low, high = np.asarray(config.action_low, np.float64), np.asarray(config.action_high, np.float64)
        if low.shape != high.shape or low.ndim != 1 or not (high > low).all():
            raise ValueError(f"action bounds must be two equal-length vectors with high > low, got {low}, {high}")
        self.config = config
        with torch.random.fork_rng(devices=[]):  # torch's default init draws from the global RNG: give it back
            # (train_inverse_model re-initializes from its own seeded generator; a loaded model gets its weights)
            self.encoder: nn.Module = _FrameEncoder(config) if config.observation == "frames" else _StateEncoder(config)
        mean = np.zeros(config.action_dim) if mean_action is None else np.asarray(mean_action, np.float64)
        if mean.shape != (config.action_dim,):
            raise ValueError(f"mean_action must have {config.action_dim} entries, got shape {mean.shape}")
        self.mean_action = mean
        self.info: dict[str, Any] = dict(info or {})

    @property
    def task(self) -> str:
        """The task it reads."""
        return self.config.task

    @property
    def obs_shape(self) -> tuple[int, ...]:
        """Shape of one observation."""
        return self.config.obs_shape

    @property
    def observation(self) -> Observation:
        """``"state"`` or ``"frames"``."""
        return self.config.observation

    @property
    def device(self) -> torch.device:
        """Device of the weights."""
        return next(self.parameters()).device

    def scale_actions(self, actions: np.ndarray) -> np.ndarray:
        """Actions in the task's units ``[..., A]`` → ``[-1, 1]`` (clipped, as the simulator clamps controls).

        Raises:
            ValueError: the last axis is not the action size.
        """
        a = np.asarray(actions, dtype=np.float64)
        if a.ndim < 1 or a.shape[-1] != self.config.action_dim:
            raise ValueError(f"actions must be [..., {self.config.action_dim}], got shape {a.shape}")
        low, high = np.asarray(self.config.action_low), np.asarray(self.config.action_high)
        return np.clip(2.0 * (a - low) / (high - low) - 1.0, -1.0, 1.0)

    def check_pairs(self, obs: np.ndarray, next_obs: np.ndarray) -> None:
        """Refuse observation pairs the model cannot read.

        Raises:
            TypeError: frames that are not uint8.
            ValueError: shapes other than ``[B, *obs_shape]`` each, or different batch sizes.
        """
        want = tuple(self.obs_shape)
        for name, x in (("obs", obs), ("next_obs", next_obs)):
            if x.ndim != len(want) + 1 or tuple(x.shape[1:]) != want:
                raise ValueError(
                    f"{name} must be [B, {', '.join(map(str, want))}] ({self.observation} of {self.task}), "
                    f"got shape {tuple(x.shape)}"
                )
            if self.observation == "frames" and x.dtype != np.uint8:
                raise TypeError(f"{name} must be uint8 frames, got {x.dtype}")
        if len(obs) != len(next_obs):
            raise ValueError(f"obs and next_obs must have the same batch size, got {len(obs)} and {len(next_obs)}")

    def forward(self, obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """``[B, *obs_shape]`` twice → ``[B, A]`` raw action estimates (``[-1, 1]`` units, not clipped)."""
        return self.encoder(obs, next_obs)

    def predict(self, obs: np.ndarray, next_obs: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
        """The action taken between each pair, in ``[-1, 1]`` units (clipped).

        Args:
            obs: ``[B, *obs_shape]`` observations before the action (uint8 for frames).
            next_obs: ``[B, *obs_shape]`` observations after it.
            batch_size: pairs per forward pass.

        Returns:
            ``[B, A]`` float64.

        Raises:
            TypeError, ValueError: see :meth:`check_pairs`.
        """
        obs, next_obs = np.asarray(obs), np.asarray(next_obs)
        self.check_pairs(obs, next_obs)
        dtype = torch.uint8 if self.observation == "frames" else torch.float32
        out = np.zeros((len(obs), self.config.action_dim))
        was_training = self.training
        self.eval()
        with torch.inference_mode():
            for b in range(0, len(obs), batch_size):
                o = torch.as_tensor(obs[b : b + batch_size], dtype=dtype, device=self.device)
                n = torch.as_tensor(next_obs[b : b + batch_size], dtype=dtype, device=self.device)
                out[b : b + batch_size] = self(o, n).double().clamp(-1.0, 1.0).cpu().numpy()
        self.train(was_training)
        return out


# --------------------------------------------------------------------------------------------------------- training
@dataclass
class InverseDynamicsReport:
    """What :func:`train_inverse_model` did and how well the result recovers held-out real actions.

    RMSEs are over held-out real transitions and action dimensions, in ``[-1, 1]`` units.
    """

    observation: Observation
    train_episodes: int
    heldout_episodes: int
    train_transitions: int
    heldout_transitions: int
    steps: int
    batch_size: int
    seed: int
    best_step: int
    heldout_rmse: float
    """The model's RMSE on the held-out real transitions (its kept weights)."""
    heldout_mean_action_rmse: float
    """The trivial baseline's: always the training data's mean action."""
    heldout_rmse_per_dim: list[float]
    train_s: float
    curve: list[tuple[int, float]] = field(default_factory=list)
    """``(step, held-out RMSE)`` at every evaluation."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["curve"] = [list(p) for p in self.curve]
        return d


def _transitions(episodes: Sequence[Any], observation: Observation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x [M, ...], first [N], actions [N, A])``: every observation of ``episodes`` in one array, and for each
    transition the index of its first observation (the next one is at ``first + 1``)."""
    xs, first, act = [], [], []
    offset = 0
    for ep in episodes:
        x = ep.frames if observation == "frames" else ep.observations
        xs.append(np.asarray(x))
        first.append(offset + np.arange(len(ep.actions)))
        act.append(ep.actions)
        offset += len(x)
    return np.concatenate(xs), np.concatenate(first), np.concatenate(act)


def _check_episodes(episodes: Sequence[Any], observation: Observation, action_dim: int, task: str) -> None:
    if observation not in ("state", "frames"):
        raise ValueError(f"observation must be 'state' or 'frames', got {observation!r}")
    if len(episodes) < 2:
        raise ValueError(f"need at least 2 episodes (to train on and to hold out), got {len(episodes)}")
    shape = None
    for ep in episodes:
        for name in ("observations", "actions"):
            if not hasattr(ep, name):
                raise TypeError(f"episodes must be neural_gym.envs.Episode objects (load_episodes), got {type(ep)}")
        x = ep.frames if observation == "frames" else ep.observations
        if x is None:
            raise ValueError(
                "observation='frames' needs episodes with frames (a dataset collected with --obs-mode pixels)"
            )
        x = np.asarray(x)
        if observation == "frames" and (x.dtype != np.uint8 or not is_frame_shape(x.shape[1:])):
            raise ValueError(f"frames must be uint8 [T + 1, H, W, 3], got {x.dtype} {x.shape}")
        if observation == "state" and x.ndim != 2:
            raise ValueError(f"state observations must be [T + 1, O], got shape {x.shape}")
        if len(x) != len(ep.actions) + 1:
            raise ValueError(f"episode {ep.id}: {len(x)} observations for {len(ep.actions)} actions (expected T + 1)")
        if np.asarray(ep.actions).ndim != 2 or ep.actions.shape[1] != action_dim:
            raise ValueError(
                f"episode {ep.id} has actions of shape {np.asarray(ep.actions).shape}, but {task} actions have "
                f"{action_dim} dims: was it collected on another task?"
            )
        if shape is not None and x.shape[1:] != shape:
            raise ValueError(f"episodes have observations of different shapes: {shape} and {x.shape[1:]}")
        shape = x.shape[1:]


def _init(net: nn.Module, gen: torch.Generator) -> None:
    """Seeded initialization that never reads the global RNG."""
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.kaiming_uniform_(module.weight, a=5**0.5, generator=gen)
                nn.init.zeros_(module.bias)


def _rmse(model: InverseDynamicsModel, obs: np.ndarray, nxt: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-dimension RMSE ``[A]`` of the model on pairs, in ``[-1, 1]`` units."""
    pred = model.predict(obs, nxt, batch_size=512)
    return np.sqrt(np.mean((pred - target) ** 2, axis=0))


def train_inverse_model(
    episodes: Sequence[Any],
    *,
    task: str,
    observation: Observation = "state",
    steps: int = 2000,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    heldout_fraction: float = 0.2,
    eval_every: int = 250,
    seed: int = 0,
    config: InverseDynamicsConfig | None = None,
    progress: bool = True,
    dataset_id: str | None = None,
) -> tuple[InverseDynamicsModel, InverseDynamicsReport]:
    """Train an :class:`InverseDynamicsModel` on real episodes of ``task`` (see the module docstring).

    Args:
        episodes: :class:`~neural_gym.envs.Episode` objects (``load_episodes``); with ``frames`` for
            ``observation="frames"``.
        task: the task they were collected on (its action bounds scale the actions).
        observation: read the state vectors (``"state"``) or the frames (``"frames"``).
        steps: optimizer steps.
        batch_size: transitions per step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        heldout_fraction: share of the episodes (the last ones) held out, in ``(0, 0.5]``.
        eval_every: steps between held-out evaluations (the best one's weights are kept).
        seed: seed of the initialization and the batches.
        config: network size (default :class:`InverseDynamicsConfig` for the task and observation); its task,
            shape and bounds must match.
        progress: progress bar.
        dataset_id: the training data's id, recorded in ``info``.

    Returns:
        ``(model, report)``; the model in eval mode on the CPU.

    Raises:
        ValueError: bad arguments, fewer than 2 episodes, episodes without frames (frames asked for), actions of
            another size than the task's, or a ``config`` for another task or shape.
        TypeError: episodes that are not ``Episode`` objects.
    """
    from neural_gym.envs import get_task

    spec = get_task(task)
    env = spec.make()
    try:
        low = tuple(float(x) for x in env.action_space.low)
        high = tuple(float(x) for x in env.action_space.high)
    finally:
        env.close()
    for name, v in (("steps", steps), ("batch_size", batch_size), ("eval_every", eval_every)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if not 0 < heldout_fraction <= 0.5:
        raise ValueError(f"heldout_fraction must be in (0, 0.5], got {heldout_fraction}")
    if not (lr > 0 and weight_decay >= 0):
        raise ValueError(f"need lr > 0 and weight_decay >= 0, got {lr}, {weight_decay}")
    _check_episodes(episodes, observation, len(low), spec.name)
    n_held = max(1, int(round(len(episodes) * heldout_fraction)))
    train_eps, held_eps = list(episodes[:-n_held]), list(episodes[-n_held:])
    x_np, first, act = _transitions(train_eps, observation)
    h_x, h_first, h_act = _transitions(held_eps, observation)
    h_obs, h_nxt = h_x[h_first], h_x[h_first + 1]
    shape = tuple(int(s) for s in x_np.shape[1:])
    cfg = config or InverseDynamicsConfig(task=spec.name, obs_shape=shape, action_low=low, action_high=high)
    if cfg.task != spec.name or tuple(cfg.obs_shape) != shape or cfg.action_dim != len(low):
        raise ValueError(
            f"config is for {cfg.task} observations {cfg.obs_shape} with {cfg.action_dim} action dims; the data is "
            f"{spec.name} {observation} {shape} with {len(low)}"
        )
    model = InverseDynamicsModel(cfg)
    target = model.scale_actions(act)
    h_target = model.scale_actions(h_act)
    model.mean_action = target.mean(axis=0)
    gen = torch.Generator().manual_seed(int(seed))
    _init(model, gen)
    if observation == "state":
        enc = model.encoder
        assert isinstance(enc, _StateEncoder)
        obs = x_np[first]
        delta = x_np[first + 1] - obs

        def _std(x: np.ndarray) -> np.ndarray:
            s = x.std(axis=0)
            return np.where(s < 1e-6, 1.0, s)

        for name, value in (
            ("obs_mean", obs.mean(0)),
            ("obs_std", _std(obs)),
            ("delta_mean", delta.mean(0)),
            ("delta_std", _std(delta)),
        ):
            getattr(enc, name).copy_(torch.as_tensor(value, dtype=torch.float32))
        x_all = torch.as_tensor(x_np, dtype=torch.float32)
    else:
        x_all = torch.as_tensor(x_np)  # uint8, converted per batch
    first_t = torch.as_tensor(first)
    y_all = torch.as_tensor(target, dtype=torch.float32)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    best = (np.inf, 0, copy.deepcopy(model.state_dict()))
    curve: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    bar = progress_bar(total=steps, desc=f"inverse dynamics {spec.name} ({observation})", unit="step", enabled=progress)
    for step in range(1, steps + 1):
        model.train()
        idx = torch.as_tensor(rng.integers(0, len(y_all), size=batch_size))
        i = first_t[idx]
        loss = F.mse_loss(model(x_all[i], x_all[i + 1]), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.update(1)
        if step % eval_every == 0 or step == steps:
            held = float(np.sqrt(np.mean(_rmse(model, h_obs, h_nxt, h_target) ** 2)))
            curve.append((step, held))
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}", heldout_rmse=f"{held:.4f}")
            if held < best[0]:
                best = (held, step, copy.deepcopy(model.state_dict()))
    bar.close()
    model.load_state_dict(best[2])
    model.eval()
    per_dim = _rmse(model, h_obs, h_nxt, h_target)
    report = InverseDynamicsReport(
        observation=observation,
        train_episodes=len(train_eps),
        heldout_episodes=len(held_eps),
        train_transitions=len(target),
        heldout_transitions=len(h_target),
        steps=int(steps),
        batch_size=int(batch_size),
        seed=int(seed),
        best_step=int(best[1]),
        heldout_rmse=float(np.sqrt(np.mean(per_dim**2))),
        heldout_mean_action_rmse=float(np.sqrt(np.mean((h_target - model.mean_action) ** 2))),
        heldout_rmse_per_dim=[float(x) for x in per_dim],
        train_s=round(time.perf_counter() - t0, 1),
        curve=curve,
    )
    model.info = {
        "dataset_id": dataset_id,
        "lr": lr,
        "weight_decay": weight_decay,
        "heldout_fraction": heldout_fraction,
        "torch": torch.__version__,
        **report.to_dict(),
    }
    return model, report


# ------------------------------------------------------------------------------------------------------ checkpoints
def save_inverse_model(model: InverseDynamicsModel, path: str | Path) -> Path:
    """Write ``model`` atomically (weights, config, mean action, ``info``); returns the path.

    Raises:
        ValueError: ``info`` that is not JSON-serializable.
        InverseModelError: a non-finite weight.
    """
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise InverseModelError(f"Refusing to save {path}: tensor {name!r} has non-finite values.")
    try:
        header = {
            "format": IDM_FORMAT,
            "format_version": IDM_FORMAT_VERSION,
            "config": json.dumps(model.config.to_dict()),
            "mean_action": json.dumps([float(x) for x in model.mean_action]),
            "info": json.dumps(model.info, allow_nan=False),
            CHECKSUM_KEY: weights_checksum(tensors),
        }
    except (TypeError, ValueError) as err:
        raise ValueError(f"The inverse model's info must be JSON-serializable to save {path}: {err}") from err
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, save_safetensors_bytes(tensors, metadata=header))
    return path


def load_inverse_model(path: str | Path, *, task: str | None = None) -> InverseDynamicsModel:
    """Rebuild an :class:`InverseDynamicsModel` (CPU, eval mode), refusing a damaged file, another format or task.

    Args:
        path: the ``.safetensors`` file.
        task: if given, the task the model must read.

    Raises:
        InverseModelError: missing, truncated or corrupt file; not an inverse-dynamics checkpoint; another format
            version; checksum mismatch; a model of another task; weights that do not fit the config.
    """
    path = Path(path)
    if not path.is_file():
        raise InverseModelError(f"No inverse-dynamics checkpoint file at {path}.")
    meta, tensors = read_tagged_checkpoint(
        path, fmt=IDM_FORMAT, version=IDM_FORMAT_VERSION, what="an inverse-dynamics model", error=InverseModelError
    )
    try:
        config = InverseDynamicsConfig.from_dict(json.loads(meta["config"]))
        mean = json.loads(meta["mean_action"])
        info = json.loads(meta["info"])
    except (KeyError, TypeError, ValueError) as err:
        raise InverseModelError(
            f"{path} is an inverse-dynamics model with missing or malformed metadata: {err!r}"
        ) from err
    if task is not None:
        from neural_gym.envs import get_task

        if get_task(task).name != config.task:
            raise InverseModelError(f"{path} reads {config.task} transitions, expected {get_task(task).name}.")
    model = InverseDynamicsModel(config, mean, info)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise InverseModelError(f"{path}: the weights do not fit the stored config: {err}") from err
    return model.eval()


__all__ = [
    "IDM_FORMAT",
    "IDM_FORMAT_VERSION",
    "InverseDynamicsConfig",
    "InverseDynamicsModel",
    "InverseDynamicsReport",
    "InverseModelError",
    "Observation",
    "load_inverse_model",
    "save_inverse_model",
    "train_inverse_model",
]
