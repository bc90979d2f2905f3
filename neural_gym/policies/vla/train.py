"""Behaviour cloning of a :class:`~.model.VLANet` on demonstrations (frames, gripper state, instruction -> chunks).

Every training sample is one step ``t`` of one episode: the frame and state before action ``t``, the episode's
instruction, and the chunk target of :func:`~.data.chunk_targets` (actions ``t .. t + H - 1``, padded at the episode's
end by repeating its last action; the padded entries are masked out of the loss). Minibatches are drawn with
replacement from the training run's own ``torch.Generator`` (seeded by ``seed``; so are the weights' initialization,
the image shifts and the flow head's noise and times), so one seed gives the same weights on the same machine. Frames
are augmented by a random shift of up to ``shift`` pixels (replicate padding, DrQ-style). AdamW with a cosine learning
rate; training runs on ``num_threads`` torch threads (default one), restored afterwards.

Example:
    >>> demos = collect_demos("reach", 100)                                  # doctest: +SKIP
    >>> policy = train_vla(demos, head="flow", steps=1500, seed=0)          # doctest: +SKIP
"""

from __future__ import annotations

import copy
import math
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from neural_gym.policies.vla.data import DemoLike, check_demos, chunk_targets
from neural_gym.policies.vla.model import PROPRIO_DIM, VLAConfig, VLANet
from neural_gym.policies.vla.policy import VLAPolicy
from neural_gym.policies.vla.vocab import Vocabulary
from neural_gym.progress import progress_bar
from neural_gym.threads import torch_threads


def current_command() -> str:
    """The command line of this process, shell-quoted (``python -m ...`` for module runs)."""
    argv = list(sys.argv)
    if argv and argv[0].endswith("__main__.py"):
        argv = ["python", "-m", "neural_gym.policies.vla", *argv[1:]]
    return shlex.join(argv)


def _shift(pixels: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Random shift of each frame by up to ``pad`` pixels: ``(B, S, S, 3)`` -> float ``(B, S, S, 3)``."""
    b, s = pixels.shape[0], pixels.shape[1]
    x = F.pad(pixels.permute(0, 3, 1, 2).to(torch.float32), (pad, pad, pad, pad), mode="replicate")
    offsets = torch.randint(0, 2 * pad + 1, (b, 2), generator=generator)
    out = torch.stack([x[i, :, oy : oy + s, ox : ox + s] for i, (oy, ox) in enumerate(offsets.tolist())])
    return out.permute(0, 2, 3, 1)


def _flatten(demos: Sequence[DemoLike], vocab: Vocabulary, chunk_size: int) -> dict[str, torch.Tensor]:
    pixels, proprio, targets, masks, episode = [], [], [], [], []
    for i, d in enumerate(demos):
        actions = np.asarray(d.actions, dtype=np.float32)
        t = len(actions)
        pixels.append(np.asarray(d.frames)[:t])
        proprio.append(np.asarray(d.observations, dtype=np.float32)[:t, :PROPRIO_DIM])
        target, mask = chunk_targets(np.clip(actions, -1.0, 1.0), chunk_size)
        targets.append(target)
        masks.append(mask)
        episode.append(np.full(t, i))
    tokens = vocab.encode([d.instruction for d in demos])
    return {
        "pixels": torch.as_tensor(np.concatenate(pixels)),
        "proprio": torch.as_tensor(np.concatenate(proprio)),
        "targets": torch.as_tensor(np.concatenate(targets)),
        "masks": torch.as_tensor(np.concatenate(masks)),
        "tokens": torch.as_tensor(tokens[np.concatenate(episode)]),
    }


def train_vla(
    demos: Sequence[DemoLike],
    *,
    head: str = "regression",
    steps: int = 2000,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    chunk_size: int = 8,
    image_size: int = 64,
    use_proprio: bool = True,
    shift: int = 4,
    config: Mapping[str, Any] | None = None,
    tasks: Sequence[str] = ("reach",),
    data_info: Mapping[str, Any] | None = None,
    snapshot_steps: Sequence[int] = (),
    on_snapshot: Callable[[int, VLAPolicy], None] | None = None,
    num_threads: int | None = 1,
    progress: bool = True,
    command: str | None = None,
) -> VLAPolicy:
    """Train a VLA by behaviour cloning and return it as a policy whose ``metadata`` records the run.

    Args:
        demos: Episodes with ``frames``, ``observations``, ``actions`` and ``instruction``
            (:func:`~.data.collect_demos`, :func:`~.data.load_demos`).
        head: ``"regression"``, ``"bins"`` or ``"flow"``.
        steps: Optimizer steps.
        batch_size: Samples per step.
        lr: Peak AdamW learning rate (cosine decay to 0 over ``steps``).
        seed: Seed of the run's generator (initialization, minibatches, shifts, flow noise).
        chunk_size: ``H``.
        image_size: Side of the demos' frames.
        use_proprio: Feed the first 8 state entries (gripper) to the network.
        shift: Largest random image shift in pixels (0: none).
        config: Further :class:`~.model.VLAConfig` fields (``channels``, ``hidden``, ...).
        tasks: Task families of the demos (recorded; loaders check against them).
        data_info: Where the demos came from (dataset ids or collection settings), recorded in the metadata.
        snapshot_steps: Steps (``1 .. steps``) after which ``on_snapshot(step, policy)`` gets a copy of the model.
        on_snapshot: Called with each snapshot (e.g. to save it).
        num_threads: Torch threads while training (``None``: leave torch's setting alone).
        progress: Show a progress bar.
        command: Command line to record (default: this process's).

    Raises:
        ValueError: For no demos, demos of the wrong frame size or inconsistent lengths, bad settings or snapshot
            steps outside ``1 .. steps``.
    """
    if steps < 1 or batch_size < 1 or not lr > 0 or shift < 0:
        raise ValueError(
            f"steps and batch_size must be >= 1, lr > 0, shift >= 0; got {steps}, {batch_size}, {lr}, {shift}."
        )
    bad = [s for s in snapshot_steps if not 1 <= s <= steps]
    if bad:
        raise ValueError(f"snapshot_steps {bad} lie outside 1..{steps}.")
    check_demos(demos, image_size)
    vocab = Vocabulary.from_instructions(d.instruction for d in demos)
    cfg = VLAConfig(
        head=head,
        vocab_size=len(vocab),
        chunk_size=chunk_size,
        image_size=image_size,
        use_proprio=use_proprio,
        **dict(config or {}),
    )
    generator = torch.Generator().manual_seed(int(seed))
    start = time.perf_counter()
    n_transitions = int(sum(len(d.actions) for d in demos))
    info: dict[str, Any] = {
        "tasks": list(tasks),
        "data": {**dict(data_info or {}), "episodes": len(demos), "steps": n_transitions},
        "seed": int(seed),
        "batch_size": int(batch_size),
        "lr": float(lr),
        "image_shift": int(shift),
        "proprio": "state[:8] (grasp point, pad gap, their velocities)" if use_proprio else None,
        "chunk_padding": "last action repeated past the episode end, masked out of the loss",
        "command": command if command is not None else current_command(),
        "torch": torch.__version__,
    }
    with torch_threads(num_threads):
        net = VLANet(cfg)
        net.init_weights(generator)
        data = _flatten(demos, vocab, chunk_size)
        if use_proprio:
            net.proprio_mean.copy_(data["proprio"].mean(0))
            net.proprio_std.copy_(data["proprio"].std(0).clamp(min=1e-3))
        optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda k: min(1.0, (k + 1) / 50) * 0.5 * (1 + math.cos(math.pi * min(k, steps) / steps))
        )
        n = data["pixels"].shape[0]
        snapshots = set(snapshot_steps)
        losses: list[float] = []
        bar = progress_bar(total=steps, desc=f"vla {head}", unit="step", enabled=progress)
        net.train()
        try:
            for step in range(1, steps + 1):
                idx = torch.randint(0, n, (batch_size,), generator=generator)
                pixels = data["pixels"][idx]
                if shift:
                    pixels = _shift(pixels, shift, generator)
                feat = net.features(pixels, data["tokens"][idx], data["proprio"][idx])
                loss = net.loss(feat, data["targets"][idx], data["masks"][idx], generator)
                if not torch.isfinite(loss):
                    raise ValueError(f"The {head} loss became {loss.item()} at step {step}; lower lr.")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                losses.append(loss.item())
                bar.update(1)
                if step % 50 == 0:
                    bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
                if step in snapshots and on_snapshot is not None:
                    snap_info = {
                        **info,
                        "train_steps": step,
                        "train_wall_s": round(time.perf_counter() - start, 1),
                        "final_loss": float(np.mean(losses[-50:])),
                    }
                    on_snapshot(step, VLAPolicy(copy.deepcopy(net), vocab, snap_info))
                    net.train()
        finally:
            bar.close()
    info.update(
        train_steps=steps,
        train_wall_s=round(time.perf_counter() - start, 1),
        final_loss=float(np.mean(losses[-50:])),
    )
    return VLAPolicy(net, vocab, info)
