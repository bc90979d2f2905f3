"""The data engine (DreamGen-style): demonstrations dreamt by a world action model, labelled by its inverse mode.

:func:`dream_demos` turns a :class:`~neural_gym.world_models.wam.WAMModel` of a tabletop task into behaviour-cloning
data for the VLA family (:func:`neural_gym.policies.vla.train_vla`). For every episode:

1. **Start.** The real env is reset with seed ``seed + i`` (seen instructions, ``split="train"``): a real start state
   and its instruction.
2. **Imagine.** The WAM's ``imagine`` mode generates the next ``K`` states conditioned on the instruction, with the
   actions marginalised; the next chunk starts from the last imagined state, and so on up to ``max_steps`` states.
   Why ``imagine`` and not ``joint``: this is DreamGen's split (an action-free video model, then an inverse-dynamics
   model labels the frames), so the labels come from the inverse mode only; ``joint`` would hand back the policy
   mode's own chunk as the labels, i.e. distil the WAM's policy rather than label its dreams.
3. **Judge.** The task's exact success rule (:data:`neural_gym.envs.tabletop.SUCCESS_FNS`) runs on each consecutive
   pair of imagined states; the episode ends at its first successful state (the real env terminates there too) or is
   truncated after ``max_steps``. ``keep="success"`` keeps only the successful ones (DreamGen filters too);
   :attr:`DreamResult.kept_share` is the kept share.
4. **Label.** Each consecutive pair of imagined states gets the action of the WAM's ``inverse`` mode.
5. **Render.** Each imagined state becomes a frame by the real renderer: the env builds a physics state from it
   (:meth:`~neural_gym.envs.tabletop.TabletopEnv.physics_state_from_obs`, with the episode's instruction phrasing and
   ``elapsed_steps`` set to the step), restores it and renders it.

The sampler's noise comes from two ``torch.Generator`` streams (imagination, labels) derived from ``seed`` by a
``numpy.random.SeedSequence``; episodes are dreamt ``batch_size`` at a time, so the same ``seed``, ``batch_size`` and
model give the same demos (the global RNGs are never touched). By default (``sample_noise=False``) every sampler run
starts from zero noise instead, the deterministic path of the noise's mean: on TabletopReach its labels are far
smoother (mean change between consecutive labels 0.07 against 0.41 with sampled noise, the expert's 0.07) and a VLA
trained on them did much better in MuJoCo (``benchmarks/results/data_engine.json``).

:func:`export_minari` writes the demos as a local Minari dataset of the layout of the ladder's real demonstrations
(``neural_gym/TabletopReach/vla-expert-v0``, written by :func:`neural_gym.envs.collect`): dict observations
``{"instruction", "pixels", "state"}``, the physics state each frame was rendered from in every step's info, the
instruction and the producer in each episode's metadata; written atomically by the collector's own writer, so
:func:`neural_gym.policies.vla.load_demos` reads it back.

Command line (``python -m neural_gym.dream_rl.data_engine --help``)::

    python -m neural_gym.dream_rl.data_engine --episodes 300 --out-dataset neural_gym/TabletopReach/wam-dream-v0
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

KEEP_MODES: tuple[str, ...] = ("success", "all")
"""Values of ``keep``: only the episodes the task's rule calls successful, or every dreamt episode."""
DEFAULT_CHECKPOINT = "zoo:TabletopReach-wam"
"""The shipped world action model the command line dreams with by default."""
PRODUCER = "neural_gym.dream_rl.data_engine (WAM imagine, inverse-mode labels)"
"""The ``policy`` entry of each exported episode's metadata."""


@dataclass
class DreamDemo:
    """One dreamt episode, in the layout :func:`~neural_gym.policies.vla.train_vla` reads (a ``DemoLike``).

    Attributes:
        frames: ``(T + 1, S, S, 3)`` uint8, the real renderer's frame of each imagined state.
        observations: ``(T + 1, O)`` float64 imagined states (``observations[0]`` is the real start state).
        actions: ``(T, A)`` float32 labels of the inverse mode, ``actions[t]`` leads from state ``t`` to ``t + 1``.
        instruction: The episode's instruction.
        success: Whether the task's success rule holds on the last imagined transition.
        seed: The real env's reset seed of the start state.
        rewards: ``(T,)`` float64, the task's reward rule on the imagined transitions and labels.
        physics_states: ``(T + 1, P)`` float64, the physics state each frame was rendered from.
    """

    frames: np.ndarray
    observations: np.ndarray
    actions: np.ndarray
    instruction: str
    success: bool
    seed: int
    rewards: np.ndarray
    physics_states: np.ndarray

    def __len__(self) -> int:
        return len(self.actions)


@dataclass
class DreamResult:
    """What :func:`dream_demos` returns.

    Attributes:
        demos: The kept episodes, in seed order.
        attempted: Episodes dreamt.
        successes: Dreamt episodes the task's rule calls successful.
        keep: The filter used (``"success"`` or ``"all"``).
        wall_s: Seconds per phase (``imagine``, ``label``, ``render``) and in all (``total``).
        settings: The arguments of the run (checkpoint task, seeds, sizes), for provenance.
    """

    demos: list[DreamDemo]
    attempted: int
    successes: int
    keep: str
    wall_s: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def kept_share(self) -> float:
        """Kept episodes over the episodes dreamt."""
        return len(self.demos) / self.attempted

    @property
    def success_share(self) -> float:
        """Dreamt episodes the task's rule calls successful, over the episodes dreamt."""
        return self.successes / self.attempted


def _check_model(wam: Any, task: str) -> Any:
    """``wam`` as a ``WAMModel`` of the tabletop family ``task`` (a checkpoint path or ``zoo:`` name is loaded)."""
    from neural_gym.policies.vla.data import TABLETOP_TASKS
    from neural_gym.world_models import load_checkpoint
    from neural_gym.world_models.wam import WAMModel

    if task not in TABLETOP_TASKS:
        raise ValueError(f"Unknown tabletop family {task!r}; expected one of {sorted(TABLETOP_TASKS)}.")
    if isinstance(wam, str | Path):
        wam = load_checkpoint(wam, task=TABLETOP_TASKS[task], family="wam", device="cpu")
    if not isinstance(wam, WAMModel):
        raise TypeError(f"wam must be a WAMModel or a 'wam' checkpoint path, got {type(wam).__name__}.")
    if wam.spec.task != TABLETOP_TASKS[task]:
        raise ValueError(f"The WAM was trained on {wam.spec.task}, not on {TABLETOP_TASKS[task]} (task {task!r}).")
    return wam.eval()


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}.")
    return int(value)


def _imagine(
    wam: Any, starts: np.ndarray, instructions: list[str], max_steps: int, success_fn: Any, generator: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Imagined states ``(B, max_steps + 1, O)``, each episode's length ``(B,)`` and success ``(B,)``.

    An episode's length is the step of its first successful state (``max_steps`` without one); its states after that
    step are left in the array but are not part of the episode.
    """
    import torch

    b = len(starts)
    states = [torch.as_tensor(starts, dtype=torch.float32)]
    while len(states) <= max_steps:
        future = wam.imagine(states[-1], instructions, generator=generator)  # (B, K, O)
        states.extend(future.unbind(dim=1))
    traj = torch.stack(states[: max_steps + 1], dim=1).to(torch.float64).cpu().numpy()  # (B, max_steps + 1, O)
    traj[:, 0] = starts  # the real start states, exactly (not their float32 copies)
    if not np.isfinite(traj).all():
        raise ValueError("The WAM imagined non-finite states; the checkpoint is broken or far outside its data.")
    no_action = np.zeros((b, max_steps, int(wam.action_dim)))  # the rules read states only
    hit = np.asarray(success_fn(traj[:, :-1], no_action, traj[:, 1:]), dtype=bool)  # (B, max_steps)
    success = hit.any(axis=1)
    lengths = np.where(success, hit.argmax(axis=1) + 1, max_steps)
    return traj, lengths, success


def _label(wam: Any, traj: np.ndarray, lengths: np.ndarray, generator: Any) -> list[np.ndarray]:
    """The inverse mode's action for each consecutive pair of every episode's states, one batched call."""
    import torch

    before = np.concatenate([traj[i, :n] for i, n in enumerate(lengths)])
    after = np.concatenate([traj[i, 1 : n + 1] for i, n in enumerate(lengths)])
    actions = wam.inverse(
        torch.as_tensor(before, dtype=torch.float32), torch.as_tensor(after, dtype=torch.float32), generator=generator
    )
    flat = actions.cpu().numpy().astype(np.float32)
    return np.split(flat, np.cumsum(lengths)[:-1])


def render_states(env: Any, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``(T + 1, S, S, 3)`` and physics states ``(T + 1, P)`` of a sequence of tabletop state observations.

    ``env`` must be a :class:`~neural_gym.envs.tabletop.TabletopEnv` reset to the episode (its instruction phrasing
    goes into the physics states) with a render mode; state ``t`` is restored with ``elapsed_steps = t`` and rendered.
    ``env`` is left in the last state.
    """
    from neural_gym.envs.tabletop.env import EXTRA_STATE_FIELDS

    elapsed = EXTRA_STATE_FIELDS.index("elapsed_steps") - len(EXTRA_STATE_FIELDS)
    frames, physics = [], []
    for t, state in enumerate(states):
        ps = env.physics_state_from_obs(state)
        ps[elapsed] = t
        env.set_physics_state(ps)
        frames.append(env.render())
        physics.append(ps)
    return np.stack(frames), np.stack(physics)


def dream_demos(
    wam: Any,
    task: str = "reach",
    *,
    n_episodes: int,
    seed: int = 0,
    max_steps: int | None = None,
    keep: str = "success",
    sample_noise: bool = False,
    batch_size: int = 64,
    image_size: int = 64,
    num_threads: int | None = 1,
    progress: bool = True,
) -> DreamResult:
    """Dream ``n_episodes`` episodes with a WAM from real start states and label them with its inverse mode.

    See the module docstring for the five steps.

    Args:
        wam: A ``WAMModel`` of the task, or a checkpoint path / ``"zoo:<name>"`` of one (loaded on the CPU).
        task: Tabletop family (``"reach"``, ``"push"``, ``"pick_place"``) the WAM was trained on.
        n_episodes: Episodes to dream (>= 1); episode ``i`` starts from the real reset with seed ``seed + i``.
        seed: First reset seed, and the seed of the sampler's noise.
        max_steps: Longest episode (imagined transitions); ``None``: the family's time limit.
        keep: ``"success"`` (only the episodes the task's rule calls successful) or ``"all"``.
        sample_noise: Draw the sampler's start noise from the seeded generators (``False``, the default: zero noise).
        batch_size: Episodes dreamt together (changes which noise each episode draws).
        image_size: Side of the rendered frames.
        num_threads: Torch threads while dreaming (``None``: leave torch's setting alone); restored afterwards.
        progress: Show a progress bar over episodes.

    Returns:
        A :class:`DreamResult`: the kept :class:`DreamDemo` episodes, the counts and the timings.

    Raises:
        TypeError: ``wam`` is not a WAM (or its checkpoint), or a count is not an int.
        ValueError: An unknown family or ``keep``, a WAM of another task, counts below 1, or non-finite dreams.
    """
    import torch

    from neural_gym.envs.tabletop import MAX_EPISODE_STEPS, SUCCESS_FNS, TabletopEnv
    from neural_gym.envs.tabletop.rules import REWARD_FNS
    from neural_gym.progress import progress_bar
    from neural_gym.threads import torch_threads

    if keep not in KEEP_MODES:
        raise ValueError(f"keep must be one of {KEEP_MODES}, got {keep!r}.")
    wam = _check_model(wam, task)
    n_episodes = _check_int("n_episodes", n_episodes, 1)
    seed = _check_int("seed", seed, 0)
    batch_size = _check_int("batch_size", batch_size, 1)
    max_steps = MAX_EPISODE_STEPS[task] if max_steps is None else _check_int("max_steps", max_steps, 1)
    imagine_seed, label_seed = (int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(2))
    imagine_gen = torch.Generator().manual_seed(imagine_seed) if sample_noise else None
    label_gen = torch.Generator().manual_seed(label_seed) if sample_noise else None
    success_fn, reward_fn = SUCCESS_FNS[task], REWARD_FNS[task]
    env = TabletopEnv(task=task, split="train", render_mode="rgb_array", image_size=image_size)
    demos: list[DreamDemo] = []
    successes = 0
    wall = {"imagine": 0.0, "label": 0.0, "render": 0.0}
    started = time.perf_counter()
    bar = progress_bar(total=n_episodes, desc=f"dream {task}", unit="episode", enabled=progress)
    try:
        with torch_threads(num_threads), torch.inference_mode():
            for first in range(0, n_episodes, batch_size):
                seeds = list(range(seed + first, seed + min(first + batch_size, n_episodes)))
                resets = [env.reset(seed=s) for s in seeds]
                starts = np.stack([obs for obs, _ in resets])
                instructions = [str(info["instruction"]) for _, info in resets]
                t0 = time.perf_counter()
                traj, lengths, success = _imagine(wam, starts, instructions, max_steps, success_fn, imagine_gen)
                t1 = time.perf_counter()
                labels = _label(wam, traj, lengths, label_gen)
                t2 = time.perf_counter()
                successes += int(success.sum())
                for i, s in enumerate(seeds):
                    if keep == "success" and not success[i]:
                        continue
                    states = traj[i, : lengths[i] + 1]
                    env.reset(seed=s)  # the episode's instruction phrasing, for its physics states
                    frames, physics = render_states(env, states)
                    rewards = np.asarray(reward_fn(states[:-1], labels[i].astype(np.float64), states[1:]))
                    demos.append(
                        DreamDemo(
                            frames=frames,
                            observations=states,
                            actions=labels[i],
                            instruction=instructions[i],
                            success=bool(success[i]),
                            seed=s,
                            rewards=rewards.astype(np.float64),
                            physics_states=physics,
                        )
                    )
                wall["imagine"] += t1 - t0
                wall["label"] += t2 - t1
                wall["render"] += time.perf_counter() - t2
                bar.update(len(seeds))
                bar.set_postfix(kept=f"{len(demos)}/{first + len(seeds)}")
    finally:
        bar.close()
        env.close()
    wall["total"] = time.perf_counter() - started
    return DreamResult(
        demos=demos,
        attempted=n_episodes,
        successes=successes,
        keep=keep,
        wall_s={k: round(v, 2) for k, v in wall.items()},
        settings={
            "task": task,
            "wam_task": wam.spec.task,
            "wam_provenance_command": wam.spec.provenance.get("command"),
            "n_episodes": n_episodes,
            "seed": seed,
            "reset_seeds": f"{seed}..{seed + n_episodes - 1}",
            "split": "train",
            "max_steps": max_steps,
            "keep": keep,
            "sample_noise": bool(sample_noise),
            "batch_size": batch_size,
            "image_size": image_size,
            "imagination": "WAMModel.imagine, K states per call, from the last imagined state",
            "labels": "WAMModel.inverse on each consecutive pair of imagined states",
        },
    )


def export_minari(
    demos: Sequence[DreamDemo],
    dataset_id: str,
    *,
    task: str = "reach",
    overwrite: bool = False,
    description: str | None = None,
) -> str:
    """Write dreamt demos as a local Minari dataset in the layout of the collector's tabletop pixel datasets.

    Each step's observation is ``{"instruction", "pixels", "state"}`` (the imagined state and its frame), each step's
    info ``{"physics_state": ...}`` (what the frame was rendered from), each episode's metadata its instruction and
    ``"policy"`` (:data:`PRODUCER`); the last transition is ``terminated`` when the episode succeeded, else
    ``truncated``. The writing goes through :func:`neural_gym.envs.collect`'s own staging writer: a failure leaves
    nothing at ``dataset_id`` and an old dataset there untouched.

    Args:
        demos: What :func:`dream_demos` kept (``DreamResult.demos``).
        dataset_id: Minari id ``(namespace/)name-v<version>``.
        task: Tabletop family of the demos.
        overwrite: Replace an existing dataset of that id.
        description: Minari description (default: says what the data are).

    Returns:
        ``dataset_id``.

    Raises:
        ValueError: No demos, a demo of the wrong shape, an unknown family or a malformed id.
        FileExistsError: The dataset exists and ``overwrite`` is False.
    """
    from minari.dataset.minari_dataset import parse_dataset_id

    # The collector's writer is the project's one atomic Minari writer (staging folder, renames, recovery); reused
    # rather than written twice.
    from neural_gym.envs.collect import DatasetWriter, EpisodeRecorder, dataset_metadata, recover_dataset
    from neural_gym.envs.dataset import dataset_path
    from neural_gym.envs.tasks import get_task
    from neural_gym.policies.vla.data import TABLETOP_TASKS

    if task not in TABLETOP_TASKS:
        raise ValueError(f"Unknown tabletop family {task!r}; expected one of {sorted(TABLETOP_TASKS)}.")
    if not demos:
        raise ValueError("export_minari needs at least one demo; got none.")
    for i, d in enumerate(demos):
        if not isinstance(d, DreamDemo):
            raise TypeError(f"demos[{i}] is a {type(d).__name__}; export_minari writes DreamDemo (from dream_demos).")
        n = len(d.actions)
        if n < 1 or not (len(d.observations) == len(d.frames) == len(d.physics_states) == n + 1 == len(d.rewards) + 1):
            raise ValueError(
                f"demos[{i}]: {len(d.frames)} frames, {len(d.observations)} states, {len(d.physics_states)} physics "
                f"states, {n} actions, {len(d.rewards)} rewards; expected T + 1, T + 1, T + 1, T >= 1 and T."
            )
    parse_dataset_id(dataset_id)
    recover_dataset(dataset_id)
    if dataset_path(dataset_id).exists() and not overwrite:
        raise FileExistsError(
            f"Dataset {dataset_id!r} already exists at {dataset_path(dataset_id)}; pass overwrite=True "
            "(--overwrite) or choose another id."
        )
    size = int(np.asarray(demos[0].frames).shape[1])
    spec = get_task(TABLETOP_TASKS[task])
    env = spec.make(obs_mode="dict", image_size=size)
    if description is None:
        description = (
            f"{len(demos)} episodes ({sum(len(d) for d in demos)} transitions) of {spec.env_id} dreamt by a world "
            "action model (WAMModel.imagine from real reset states, seen instructions), actions labelled by its "
            "inverse mode, frames rendered by the real renderer from physics states built from the imagined states "
            f"(infos['physics_state']). Observations are dicts: 'pixels' ({size}, {size}, 3) uint8, 'state' (the "
            "imagined state vector), 'instruction'."
        )
    writer = DatasetWriter(
        dataset_id,
        env,
        metadata=dataset_metadata(dataset_id, eval_env=env, algorithm_name=PRODUCER, description=description),
    )
    unwrapped = env.unwrapped
    try:
        with writer:  # committed when complete, discarded on any error or interrupt
            env.reset(seed=0)
            recorders = []
            for k, d in enumerate(demos):
                obs = [
                    {
                        "pixels": d.frames[t],
                        "state": np.asarray(d.observations[t], np.float64),
                        "instruction": d.instruction,
                    }
                    for t in range(len(d.observations))
                ]
                unwrapped.set_physics_state(d.physics_states[0])  # the recorder reads the env's physics state
                rec = EpisodeRecorder(k, d.seed, env, obs[0], {"instruction": d.instruction, "policy": PRODUCER})
                for t in range(len(d)):
                    unwrapped.set_physics_state(d.physics_states[t + 1])
                    last = t == len(d) - 1
                    rec.add(d.actions[t], obs[t + 1], float(d.rewards[t]), last and d.success, last and not d.success)
                recorders.append(rec)
            writer.write(recorders)
    finally:
        env.close()
    return dataset_id


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m neural_gym.dream_rl.data_engine",
        description="Dream tabletop demonstrations with a world action model (imagine from real reset states, label "
        "with the inverse mode, render with the real renderer, keep the successful ones) and write them as a local "
        "Minari dataset that neural_gym.policies.vla.load_demos reads. Prints a JSON summary.",
    )
    p.add_argument("--episodes", type=int, required=True, help="episodes to dream (reset seeds seed .. seed + n - 1)")
    p.add_argument(
        "--out-dataset", required=True, help="Minari id to write, e.g. neural_gym/TabletopReach/wam-dream-v0"
    )
    p.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT, help=f"WAM checkpoint (default {DEFAULT_CHECKPOINT})")
    p.add_argument("--task", default="reach", help="tabletop family the WAM was trained on (default reach)")
    p.add_argument("--seed", type=int, default=0, help="first reset seed and the noise seed (default 0)")
    p.add_argument("--max-steps", type=int, default=None, help="longest episode (default: the family's time limit)")
    p.add_argument("--keep", default="success", choices=KEEP_MODES, help="keep successful episodes only (default)")
    p.add_argument(
        "--sample-noise", action="store_true", help="draw the sampler's noise from the seed (default: zero noise)"
    )
    p.add_argument("--batch-size", type=int, default=64, help="episodes dreamt together (default 64)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset of that id")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; expected failures print one ``error:`` line to stderr and return 2."""
    from neural_gym.world_models import CheckpointError

    args = _parser().parse_args(argv)
    try:
        result = dream_demos(
            args.checkpoint,
            args.task,
            n_episodes=args.episodes,
            seed=args.seed,
            max_steps=args.max_steps,
            keep=args.keep,
            sample_noise=args.sample_noise,
            batch_size=args.batch_size,
            progress=not args.quiet,
        )
        if not result.demos:
            raise ValueError(f"none of the {result.attempted} dreamt episodes succeeded; nothing to write")
        started = time.perf_counter()
        export_minari(result.demos, args.out_dataset, task=args.task, overwrite=args.overwrite)
        export_s = round(time.perf_counter() - started, 2)
    except (ValueError, TypeError, FileExistsError, FileNotFoundError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = {
        "dataset_id": args.out_dataset,
        "attempted": result.attempted,
        "kept": len(result.demos),
        "kept_share": result.kept_share,
        "success_share": result.success_share,
        "transitions": int(sum(len(d) for d in result.demos)),
        "wall_s": {**result.wall_s, "export": export_s},
        "settings": {**result.settings, "checkpoint": args.checkpoint},
    }
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
