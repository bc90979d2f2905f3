"""Success judges for pixel dreams: a state probe plus the task's rule, and a frame success classifier.

A dream from a pixel world model (the latent and video families) produces frames, not states, so the task's exact
success rule cannot be applied to it directly. A :class:`FrameJudge` is one small network trained here on **real**
MuJoCo frames (a pixel dataset of the task, which records the state of every frame) with two heads:

- ``"probe"``: frame → the positions it shows (grasp point, pad gap, object centres; their velocities are finite
  differences between consecutive frames); the episode-constant dims (goal centres, the instructed object and goal,
  :data:`~neural_gym.envs.tabletop.rules.EPISODE_CONSTANT_DIMS`) come from the real episode's start state, which the
  harness knows; the task's success rule is applied to the result. The probed state is also what a policy that reads
  proprioception sees inside a pixel dream.
- ``"classifier"``: frame + the episode-constant dims → the probability that the success rule holds.

The judge is measured on real frames it was not trained on (:func:`measure_judge`: per-frame accuracy, balanced
accuracy, precision and recall of the success verdict; per-episode accuracy of "ever judged successful"), and the
evaluation harness measures it again on the real frames of every paired episode it plays
(:attr:`~neural_gym.evaluate.harness.PolicyEpisodes.judge_on_real`), so its verdicts are reported beside its own
accuracy.

Checkpoints: one ``.safetensors`` file, weights plus a JSON header (``format = "neural_gym_judge"``, the config, the
normalization statistics and ``info``: training data, steps, seed, the held-out accuracy and the exact command). The
shipped judges live in ``neural_gym/evaluate/zoo`` (``load_judge("zoo:TabletopReach")``); ``make zoo-pixel-tabletop``
regenerates them.

Example:
    >>> from neural_gym.evaluate.judges import load_judge
    >>> judge = load_judge("zoo:TabletopReach")
    >>> verdict = judge.success(frames, start_states, kind="probe")  # frames uint8 [B, 64, 64, 3], states [B, 54]
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save as save_safetensors_bytes
from torch import nn
from torch.nn import functional as F

from neural_gym.progress import progress_bar
from neural_gym.threads import torch_threads
from neural_gym.world_models.checkpoint import (
    CHECKSUM_KEY,
    CheckpointError,
    atomic_write,
    read_tagged_checkpoint,
    weights_checksum,
)

JUDGE_KINDS = ("probe", "classifier")
"""The two verdicts a :class:`FrameJudge` gives: state probe + rule, and the success classifier."""
JUDGE_FORMAT = "neural_gym_judge"
JUDGE_FORMAT_VERSION = "1"
ZOO_DIR = Path(__file__).resolve().parent / "zoo"
"""Folder of the shipped judges (``<Task>.safetensors``)."""


class JudgeError(CheckpointError):
    """A judge checkpoint that cannot be used here; the message names the file and what was expected."""


@dataclass
class JudgeConfig:
    """Architecture of a :class:`FrameJudge` network."""

    task: str = "TabletopReach"
    """The tabletop task whose frames and rule it judges."""
    image_size: int = 64
    """Frame side (frames are ``[S, S, 3]`` uint8)."""
    channels: tuple[int, ...] = (16, 32, 32, 32)
    """Conv channels (3x3; stride 2 on the first and third layers)."""
    keypoints: int = 32
    """Spatial soft-argmax keypoints read from the last conv maps."""
    hidden: int = 256
    """Hidden size of the heads."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JudgeConfig:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["channels"] = tuple(int(c) for c in d.get("channels", cls.channels))
        return cls(**d)


class _JudgeNet(nn.Module):
    """Conv encoder read out by spatial soft-argmax keypoints and average pooling, with a probe head (dynamic state
    dims) and a classifier head (features + episode-constant dims)."""

    def __init__(self, config: JudgeConfig, n_dynamic: int, n_constant: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i, c in enumerate(config.channels):  # stride 2 on every other layer: 64 -> 16 with four layers
            layers += [nn.Conv2d(c_in, c, 3, stride=2 if i % 2 == 0 else 1, padding=1), nn.GroupNorm(min(8, c), c)]
            layers.append(nn.SiLU())
            c_in = c
        self.encoder = nn.Sequential(*layers)
        self.keypoints = nn.Conv2d(c_in, config.keypoints, 1)
        feat = 2 * config.keypoints + c_in
        self.probe = nn.Sequential(nn.Linear(feat, config.hidden), nn.SiLU(), nn.Linear(config.hidden, n_dynamic))
        self.classifier = nn.Sequential(
            nn.Linear(feat + n_constant, config.hidden), nn.SiLU(), nn.Linear(config.hidden, 1)
        )

    def forward(self, frames: torch.Tensor, constants: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``frames [B, 3, S, S]`` in ``[-1, 1]``, ``constants [B, C]`` → normalized dynamic dims ``[B, D]``, logit ``[B]``."""
        from neural_gym.policies.vla.model import spatial_soft_argmax

        maps = self.encoder(frames)
        h = torch.cat([spatial_soft_argmax(self.keypoints(maps)), maps.mean((2, 3))], dim=-1)
        return self.probe(h), self.classifier(torch.cat([h, constants], dim=-1)).squeeze(-1)


def _dims() -> tuple[np.ndarray, np.ndarray]:
    """The tabletop state's dims a frame shows and the probe reads off it (grasp point, pad gap, object centres), and
    the episode-constant ones (copied from the start state; the classifier's extra input)."""
    from neural_gym.envs.tabletop import rules

    objects = [rules.OBJECT_POSE_SLICE.start + 7 * j + d for j in range(rules.N_OBJECTS) for d in range(3)]
    probed = np.array([*range(rules.GRIPPER_SLICE.start, rules.GRIPPER_SLICE.stop), rules.OPENING_INDEX, *objects])
    return probed, np.asarray(rules.EPISODE_CONSTANT_DIMS, dtype=np.int64)


def _velocity_pairs() -> list[tuple[int, int]]:
    """``(velocity dim, position dim)`` pairs of the state: the grasp point, the pad gap and the object centres."""
    from neural_gym.envs.tabletop import rules

    pairs = [(rules.GRIPPER_VEL_SLICE.start + d, rules.GRIPPER_SLICE.start + d) for d in range(3)]
    pairs.append((rules.OPENING_VEL_INDEX, rules.OPENING_INDEX))
    for j in range(rules.N_OBJECTS):
        pairs += [
            (rules.OBJECT_VEL_SLICE.start + 3 * j + d, rules.OBJECT_POSE_SLICE.start + 7 * j + d) for d in range(3)
        ]
    return pairs


def _control_dt() -> float:
    from neural_gym.envs.tabletop.model import FRAME_SKIP, TIMESTEP

    return float(TIMESTEP * FRAME_SKIP)


def _frames_to_net(frames: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(frames))
    if x.dtype != torch.uint8 or x.ndim != 4 or tuple(x.shape[1:]) != (size, size, 3):
        raise ValueError(f"frames must be uint8 [B, {size}, {size}, 3], got {x.dtype} {tuple(x.shape)}")
    return x.permute(0, 3, 1, 2).float() / 127.5 - 1.0


class FrameJudge:
    """A trained judge of one tabletop task (see the module doc); build with :func:`train_frame_judge` or
    :func:`load_judge`.

    Attributes:
        config: The network's :class:`JudgeConfig`.
        info: Training data, steps, seed, held-out accuracy (:func:`measure_judge`), command.
    """

    def __init__(
        self,
        config: JudgeConfig,
        net: _JudgeNet,
        state_mean: np.ndarray,
        state_std: np.ndarray,
        info: dict[str, Any] | None = None,
        num_threads: int | None = 1,
    ) -> None:
        from neural_gym.envs import get_task
        from neural_gym.envs.tabletop import TASK_FAMILIES

        if config.task not in TASK_FAMILIES:
            raise ValueError(f"A FrameJudge judges a tabletop task {list(TASK_FAMILIES)}, got {config.task!r}.")
        self.config = config
        self.net = net.eval()
        self.dynamic_dims, self.constant_dims = _dims()
        self.state_mean = np.asarray(state_mean, dtype=np.float64)
        self.state_std = np.asarray(state_std, dtype=np.float64)
        self.success_fn = get_task(config.task).success_fn
        self.info = dict(info or {})
        self.num_threads = num_threads
        self.classifier_threshold = float(self.info.get("classifier_threshold", 0.5))
        """Probability above which the classifier says success (chosen on calibration episodes by training)."""

    @property
    def best_kind(self) -> str:
        """The verdict with the higher per-episode balanced accuracy on the held-out real episodes (``"probe"``
        when the judge was not measured): the default judge of pixel dreams."""
        held = self.info.get("heldout", {}).get("episodes", {})
        scores = {k: (held.get(k) or {}).get("balanced_accuracy") for k in JUDGE_KINDS}
        if any(v is None for v in scores.values()):
            return "probe"
        return max(JUDGE_KINDS, key=lambda k: (scores[k], k == "probe"))

    @property
    def state_size(self) -> int:
        """Length of the task's state observation (54)."""
        from neural_gym.envs.tabletop import rules

        return int(rules.OBS_SIZE)

    def _check_states(self, start_states: Any, batch: int) -> np.ndarray:
        s = np.asarray(start_states, dtype=np.float64)
        if s.shape != (batch, self.state_size) or not np.isfinite(s).all():
            raise ValueError(
                f"start_states must be finite [{batch}, {self.state_size}] (the real episodes' start states, whose "
                f"episode-constant dims the judge reads), got {s.shape}"
            )
        return s

    @torch.no_grad()
    def predict(self, frames: Any, start_states: Any, previous: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Probed states ``[B, 54]`` and success probabilities ``[B]`` of uint8 ``frames [B, S, S, 3]``.

        The probe reads the positions a frame shows (:attr:`dynamic_dims`: grasp point, pad gap, object centres);
        the velocities of those positions are their change since ``previous`` (the probed states of the frames one
        step before, ``[B, 54]``) over the control step, or zero without ``previous``; every other dim (the
        episode-constant ones, the object orientations and the ``lifted`` flag) is copied from ``start_states``."""
        x = _frames_to_net(frames, self.config.image_size)
        s = self._check_states(start_states, x.shape[0])
        with torch_threads(self.num_threads):
            const = torch.as_tensor(s[:, self.constant_dims], dtype=torch.float32)
            dyn, logit = self.net(x, const)
        states = s.copy()
        states[:, self.dynamic_dims] = dyn.double().numpy() * self.state_std + self.state_mean
        vel, pos = (np.array(d) for d in zip(*_velocity_pairs(), strict=True))
        if previous is None:
            states[:, vel] = 0.0
        else:
            prev = self._check_states(previous, x.shape[0])
            states[:, vel] = (states[:, pos] - prev[:, pos]) / _control_dt()
        return states, torch.sigmoid(logit).double().numpy()

    def success(self, frames: Any, start_states: Any, kind: str = "probe") -> np.ndarray:
        """Bool ``[B]``: the verdict of ``kind`` (``"probe"``: the task's rule on the probed state; ``"classifier"``:
        probability above :attr:`classifier_threshold`) on each frame."""
        verdicts = self.verdicts(frames, start_states)
        if kind not in verdicts:
            raise ValueError(f"kind must be one of {JUDGE_KINDS}, got {kind!r}")
        return verdicts[kind]

    def verdicts(self, frames: Any, start_states: Any, previous: Any = None) -> dict[str, np.ndarray]:
        """Both verdicts (``{"probe", "classifier"}`` → bool ``[B]``) and the probed states (``"states"``; see
        :meth:`predict` for ``previous``)."""
        states, prob = self.predict(frames, start_states, previous)
        rule = np.asarray(self.success_fn(states, None, states), dtype=bool)
        return {"probe": rule, "classifier": prob > self.classifier_threshold, "states": states}  # type: ignore[dict-item]

    def episode_verdicts(self, frames: Any, start_state: Any) -> dict[str, np.ndarray]:
        """:meth:`verdicts` of one episode's frames ``[T, S, S, 3]`` in order, each frame's velocities taken from the
        one before it (as the evaluation harness does step by step); also ``"probability"`` ``[T]``."""
        x = np.asarray(frames)
        start = np.repeat(np.asarray(start_state, dtype=np.float64)[None], len(x), axis=0)
        states, prob = self.predict(x, start)
        vel, pos = (np.array(d) for d in zip(*_velocity_pairs(), strict=True))
        states[1:, vel] = (states[1:, pos] - states[:-1, pos]) / _control_dt()
        rule = np.asarray(self.success_fn(states, None, states), dtype=bool)
        return {"probe": rule, "classifier": prob > self.classifier_threshold, "states": states, "probability": prob}


# ------------------------------------------------------------------------------------------------------ training
def train_frame_judge(
    episodes: Sequence[Any],
    task: str,
    *,
    steps: int = 3000,
    batch_size: int = 64,
    lr: float = 1e-3,
    heldout_fraction: float = 0.2,
    seed: int = 0,
    config: JudgeConfig | None = None,
    progress: bool = True,
    num_threads: int | None = None,
    command: str | None = None,
) -> FrameJudge:
    """Train a :class:`FrameJudge` on real frames with states (episodes of a pixel dataset of ``task``).

    The last ``heldout_fraction`` of the episodes (by position) are held out, in two halves: on the first
    (calibration) the classifier's probability threshold is chosen to maximize the per-episode balanced accuracy of
    "some frame judged successful" (a dream judge sees every frame of an episode, so per-frame false positives add
    up); on the second :func:`measure_judge` scores the trained judge; its figures go into ``judge.info["heldout"]``. Success labels are the task's exact rule on
    each frame's recorded state; the classifier's loss weighs the rare successful frames up to balance the classes.

    Args:
        episodes: :class:`~neural_gym.envs.dataset.Episode` objects with ``frames`` (uint8) and state ``observations``.
        task: The tabletop task (``"TabletopReach"``, ...).
        steps: Gradient steps.
        batch_size: Frames per step.
        lr: Adam learning rate.
        heldout_fraction: Share of episodes held out for measurement, in ``(0, 0.5]``.
        seed: Seed of the initialization and the batches.
        config: Network config (default :class:`JudgeConfig` for ``task``, at the frames' size).
        progress: Show a progress bar.
        num_threads: Torch threads while training (``None``: leave as is).
        command: The command line to record in ``info``.

    Raises:
        ValueError: For fewer than 2 episodes, episodes without frames, frames that do not match the states, a task
            that is not a tabletop task, bad ``steps``/``batch_size``/``heldout_fraction``, or no successful frame in
            the training episodes.
    """
    from neural_gym.envs import get_task
    from neural_gym.envs.tabletop import TASK_FAMILIES

    if get_task(task).name not in TASK_FAMILIES:
        raise ValueError(f"train_frame_judge judges a tabletop task {list(TASK_FAMILIES)}, got {task!r}.")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be >= 1, got {steps}, {batch_size}")
    if not 0 < heldout_fraction <= 0.5:
        raise ValueError(f"heldout_fraction must be in (0, 0.5], got {heldout_fraction}")
    if len(episodes) < 3:
        raise ValueError(
            f"need at least 3 episodes (to train on, to calibrate the classifier on, to score on), got {len(episodes)}"
        )
    for ep in episodes:
        if ep.frames is None or ep.frames.dtype != np.uint8 or len(ep.frames) != len(ep.observations):
            raise ValueError(
                "every episode needs uint8 frames aligned with its state observations (a dataset collected with "
                "--obs-mode pixels)"
            )
    n_held = max(2, int(round(len(episodes) * heldout_fraction)))
    train_eps, held = list(episodes[:-n_held]), list(episodes[-n_held:])
    calib_eps, held_eps = held[: n_held // 2], held[n_held // 2 :]
    frames = np.concatenate([ep.frames for ep in train_eps])
    states = np.concatenate([ep.observations for ep in train_eps]).astype(np.float64)
    size = int(frames.shape[1])
    cfg = config or JudgeConfig(task=get_task(task).name, image_size=size)
    success_fn = get_task(task).success_fn
    labels = np.asarray(success_fn(states, None, states), dtype=bool)
    if not labels.any():
        raise ValueError("no training frame is a success (by the task's rule): the judge has nothing to learn from")

    dyn, const = _dims()
    mean = states[:, dyn].mean(0)
    std = np.maximum(states[:, dyn].std(0), 1e-3)
    gen = torch.Generator().manual_seed(int(seed))
    net = _JudgeNet(cfg, len(dyn), len(const))
    with torch.no_grad():  # seeded init independent of the global RNG
        for module in net.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.kaiming_uniform_(module.weight, a=5**0.5, generator=gen)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.GroupNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
    rng = np.random.default_rng(seed)
    pos_weight = torch.tensor(float((~labels).sum()) / max(float(labels.sum()), 1.0))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    targets = torch.as_tensor((states[:, dyn] - mean) / std, dtype=torch.float32)
    consts = torch.as_tensor(states[:, const], dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.float32)
    t0 = time.perf_counter()
    bar = progress_bar(total=steps, desc=f"judge {cfg.task}", unit="step", enabled=progress)
    with torch_threads(num_threads):
        net.train()
        for step in range(steps):
            idx = rng.integers(0, len(frames), size=batch_size)
            x = _frames_to_net(frames[idx], size)
            pred, logit = net(x, consts[idx])
            loss = F.mse_loss(pred, targets[idx]) + F.binary_cross_entropy_with_logits(
                logit, y[idx], pos_weight=pos_weight
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.update(1)
            if step % 50 == 0:
                bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        net.eval()
    bar.close()
    info = {
        "task": cfg.task,
        "train_episodes": len(train_eps),
        "train_frames": int(len(frames)),
        "train_successful_frames": int(labels.sum()),
        "calibration_episodes": len(calib_eps),
        "heldout_episodes": len(held_eps),
        "steps": int(steps),
        "batch_size": int(batch_size),
        "seed": int(seed),
        "train_s": round(time.perf_counter() - t0, 1),
        "torch": torch.__version__,
    }
    if command:
        info["command"] = command
    judge = FrameJudge(cfg, net, mean, std, info)
    judge.classifier_threshold = _choose_threshold(judge, calib_eps)
    judge.info["classifier_threshold"] = judge.classifier_threshold
    judge.info["heldout"] = measure_judge(judge, held_eps)
    return judge


THRESHOLD_GRID = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
"""Classifier thresholds :func:`train_frame_judge` chooses among."""


def _choose_threshold(judge: FrameJudge, episodes: Sequence[Any]) -> float:
    """The :data:`THRESHOLD_GRID` value with the best per-episode balanced accuracy on ``episodes`` (ties: the
    lower)."""
    peaks, truth = [], []
    for ep in episodes:
        states = np.asarray(ep.observations, dtype=np.float64)
        peaks.append(float(judge.episode_verdicts(ep.frames, states[0])["probability"].max()))
        truth.append(bool(np.asarray(judge.success_fn(states, None, states), dtype=bool).any()))
    peak, positive = np.array(peaks), np.array(truth)
    best, best_score = THRESHOLD_GRID[0], -1.0
    for t in THRESHOLD_GRID:
        said = peak > t
        recall = float(said[positive].mean()) if positive.any() else 1.0
        specificity = float((~said[~positive]).mean()) if (~positive).any() else 1.0
        score = (recall + specificity) / 2
        if score > best_score + 1e-12:
            best, best_score = t, score
    return float(best)


# --------------------------------------------------------------------------------------------------- measurement
def _confusion(pred: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    tp = int((pred & truth).sum())
    tn = int((~pred & ~truth).sum())
    fp = int((pred & ~truth).sum())
    fn = int((~pred & truth).sum())
    n = tp + tn + fp + fn
    recall = tp / (tp + fn) if tp + fn else None
    specificity = tn / (tn + fp) if tn + fp else None
    return {
        "n": n,
        "accuracy": (tp + tn) / n if n else None,
        "balanced_accuracy": (recall + specificity) / 2 if recall is not None and specificity is not None else None,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": recall,
        "false_positive_rate": fp / (fp + tn) if fp + tn else None,
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
    }


def measure_judge(judge: FrameJudge, episodes: Sequence[Any]) -> dict[str, Any]:
    """Score both verdicts of ``judge`` on real episodes (frames + states) it was not trained on.

    Returns:
        ``{"frames": {kind: confusion}, "episodes": {kind: confusion}, "probe_rmse_normalized", "episodes_n"}``:
        per frame, the verdict against the task's rule on the recorded state; per episode, "some frame judged
        successful" against "some state successful"; the probe's RMSE in units of the training std and its mean
        grasp-point error in metres (``probe_gripper_error_m``; the reach rule's tolerance is 0.03 m).

    Raises:
        ValueError: No episode, or episodes without frames.
    """
    if len(episodes) == 0:
        raise ValueError("measure_judge needs at least one episode")
    per_frame: dict[str, list[np.ndarray]] = {k: [] for k in JUDGE_KINDS}
    per_episode: dict[str, list[bool]] = {k: [] for k in JUDGE_KINDS}
    truths, ep_truth, sq, grip = [], [], [], []
    for ep in episodes:
        if ep.frames is None:
            raise ValueError("measure_judge needs episodes with frames (a pixel dataset)")
        states = np.asarray(ep.observations, dtype=np.float64)
        truth = np.asarray(judge.success_fn(states, None, states), dtype=bool)
        said = judge.episode_verdicts(ep.frames, states[0])
        for k in JUDGE_KINDS:
            per_frame[k].append(said[k])
            per_episode[k].append(bool(said[k].any()))
        diff = said["states"][:, judge.dynamic_dims] - states[:, judge.dynamic_dims]
        sq.append(np.square(diff / judge.state_std).mean(-1))
        grip.append(np.linalg.norm(diff[:, :3], axis=-1))
        truths.append(truth)
        ep_truth.append(bool(truth.any()))
    truth_all = np.concatenate(truths)
    return {
        "episodes_n": len(episodes),
        "frames": {k: _confusion(np.concatenate(per_frame[k]), truth_all) for k in JUDGE_KINDS},
        "episodes": {k: _confusion(np.array(per_episode[k]), np.array(ep_truth)) for k in JUDGE_KINDS},
        "probe_rmse_normalized": float(np.sqrt(np.concatenate(sq).mean())),
        "probe_gripper_error_m": float(np.concatenate(grip).mean()),
    }


# --------------------------------------------------------------------------------------------------- checkpoints
def save_judge(judge: FrameJudge, path: str | Path) -> Path:
    """Write ``judge`` atomically (weights, config, statistics, ``info``); returns the path.

    Raises:
        ValueError: ``info`` that is not JSON-serializable.
        JudgeError: A non-finite weight.
    """
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in judge.net.state_dict().items()}
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise JudgeError(f"Refusing to save {path}: tensor {name!r} has non-finite values.")
    try:
        header = {
            "format": JUDGE_FORMAT,
            "format_version": JUDGE_FORMAT_VERSION,
            "config": json.dumps(judge.config.to_dict()),
            "state_mean": json.dumps(judge.state_mean.tolist()),
            "state_std": json.dumps(judge.state_std.tolist()),
            "info": json.dumps(judge.info, allow_nan=False),
            CHECKSUM_KEY: weights_checksum(tensors),
        }
    except (TypeError, ValueError) as err:
        raise ValueError(f"The judge's info must be JSON-serializable to save {path}: {err}") from err
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, save_safetensors_bytes(tensors, metadata=header))
    return path


def resolve_judge_path(path_or_name: str | Path) -> Path:
    """A file path or ``"zoo:<Task>"`` → an existing file (:class:`JudgeError` naming the zoo otherwise)."""
    if isinstance(path_or_name, str) and path_or_name.startswith("zoo:"):
        path = ZOO_DIR / f"{path_or_name[4:]}.safetensors"
        if not path.is_file():
            names = sorted(p.stem for p in ZOO_DIR.glob("*.safetensors"))
            raise JudgeError(f"No shipped judge {path_or_name!r}; the zoo has {names} (`make zoo-pixel-tabletop`).")
        return path
    path = Path(path_or_name)
    if not path.is_file():
        raise JudgeError(f"No judge checkpoint file at {path}.")
    return path


def load_judge(path_or_name: str | Path, *, task: str | None = None, num_threads: int | None = 1) -> FrameJudge:
    """Rebuild a :class:`FrameJudge`, refusing a damaged file, another format or another task.

    Raises:
        JudgeError: Missing, truncated or corrupt file; not a judge checkpoint; other format version; checksum
            mismatch; a judge of another task; weights that do not fit the config.
    """
    path = resolve_judge_path(path_or_name)
    meta, tensors = read_tagged_checkpoint(
        path, fmt=JUDGE_FORMAT, version=JUDGE_FORMAT_VERSION, what="a judge", error=JudgeError
    )
    try:
        config = JudgeConfig.from_dict(json.loads(meta["config"]))
        mean = np.asarray(json.loads(meta["state_mean"]), dtype=np.float64)
        std = np.asarray(json.loads(meta["state_std"]), dtype=np.float64)
        info = json.loads(meta["info"])
    except (KeyError, TypeError, ValueError) as err:
        raise JudgeError(f"{path} is a judge with missing or malformed metadata: {err!r}") from err
    if task is not None:
        from neural_gym.envs import get_task

        if get_task(task).name != config.task:
            raise JudgeError(f"{path} judges {config.task}, expected {get_task(task).name}.")
    dyn, const = _dims()
    if mean.shape != (dyn.size,) or std.shape != (dyn.size,):
        raise JudgeError(f"{path}: the probe statistics have {mean.size} dims, expected {dyn.size}.")
    net = _JudgeNet(config, dyn.size, const.size)
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise JudgeError(f"{path}: the weights do not fit the stored judge config: {err}") from err
    return FrameJudge(config, net, mean, std, info, num_threads=num_threads)


__all__ = [
    "JUDGE_KINDS",
    "FrameJudge",
    "JudgeConfig",
    "JudgeError",
    "load_judge",
    "measure_judge",
    "resolve_judge_path",
    "save_judge",
    "train_frame_judge",
]
