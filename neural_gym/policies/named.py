"""Policies named on the command line.

* :func:`load_policy`: a keyword (``"random"``, ``"expert"``, ...) passed through, or a saved SB3 model; what
  ``neural-gym collect`` / ``dream`` / ``drift`` take (their per-step ``obs -> action`` world).
* :func:`resolve_policy`: any command-line name as a :class:`~neural_gym.policies.protocol.Policy` (batched
  observations -> chunks): ``random``, ``expert``, an SB3 ``.zip``, ``ws://host:port`` (a remote policy in openpi's
  wire format), a VLA checkpoint ``*.safetensors``, or the policy mode of a world action model,
  ``wam:<checkpoint>[?imagine=1][&sample_noise=0]`` (:func:`wam_policy`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
from gymnasium import spaces

from neural_gym.envs.tabletop import TASK_FAMILIES
from neural_gym.policies.protocol import Policy

SB3_ALGOS = ("PPO", "SAC", "TD3", "A2C", "DDPG")
TABLETOP_TASK_FAMILIES = TASK_FAMILIES  # registered tabletop task name -> family (one table, in envs.tabletop)
"""Registered tabletop task names and the family each runs (what the VLA loader checks a checkpoint against)."""
POLICY_FORMS = (
    "'random', 'expert', an SB3 model (.zip), ws://host:port (a remote policy), a VLA checkpoint (.safetensors "
    "or zoo:<name>) or a world action model's policy mode (wam:<checkpoint>[?imagine=1][&sample_noise=0])"
)
"""The policy names :func:`resolve_policy` understands, for messages and ``--help``."""


def load_policy(name: str, algo: str = "PPO", *, keywords: tuple[str, ...] = ("random", "expert")) -> Any:
    """``name`` itself when it is one of ``keywords``, else the SB3 model saved at that path.

    Args:
        name: a keyword, or the path of a saved stable-baselines3 model (with or without ``.zip``).
        algo: the SB3 class the model was saved from.
        keywords: names passed through unchanged (understood by :func:`neural_gym.envs.as_policy` and the evaluators).

    Raises:
        ValueError: when ``name`` is neither a keyword nor an existing model file, or ``algo`` is unknown.
    """
    if name in keywords:
        return name
    path = Path(name)
    if not path.exists() and not path.with_suffix(".zip").exists():
        raise ValueError(f"policy {name!r} is neither one of {list(keywords)} nor an existing SB3 model file")
    if algo.upper() not in SB3_ALGOS:
        raise ValueError(f"unknown algo {algo!r}; use one of {', '.join(SB3_ALGOS)}")
    import stable_baselines3

    return getattr(stable_baselines3, algo.upper()).load(name, device="cpu")


def task_action_space(task: str) -> spaces.Box:
    """The action ``Box`` of a task (a registered task name or a tabletop family).

    Raises:
        ValueError: For an unknown task.
    """
    from neural_gym.policies.adapters import TABLETOP_FAMILIES

    if task in TABLETOP_FAMILIES:
        return spaces.Box(-1.0, 1.0, (4,), np.float32)
    from neural_gym.envs import get_task

    env = get_task(task).make()
    try:
        return env.action_space
    finally:
        env.close()


WAM_OPTIONS = ("imagine", "sample_noise")
"""The options of a ``wam:`` policy name (:class:`~neural_gym.policies.wam.WAMPolicy` arguments, each 0 or 1)."""
_FLAGS = {"0": False, "1": True, "false": False, "true": True}


def wam_policy(spec: str, *, task: str | None = None, seed: int | None = None) -> Policy:
    """The :class:`~neural_gym.policies.wam.WAMPolicy` of ``wam:<checkpoint>[?imagine=1][&sample_noise=0]``.

    Args:
        spec: ``"wam:"``, then a ``wam`` checkpoint (a path or ``zoo:<name>``, e.g. ``wam:zoo:TabletopReach-wam``),
            then optionally ``?`` and ``&``-joined options of :data:`WAM_OPTIONS`, each ``0`` or ``1`` (defaults as
            ``WAMPolicy``: ``imagine=0``, ``sample_noise=1``).
        task: The task the policy will run (a tabletop family or a registered task name); the checkpoint is checked
            against it.
        seed: Seed of the sampler's noise (default 0).

    Raises:
        ValueError: A malformed name or option, or a checkpoint for another task
            (:class:`~neural_gym.world_models.CheckpointError`, a ``ValueError``, when it is missing, damaged or of
            another family).
    """
    from neural_gym.policies.wam import WAMPolicy
    from neural_gym.world_models import load_checkpoint

    checkpoint, _, query = spec.removeprefix("wam:").partition("?")
    if not checkpoint:
        raise ValueError(f"A wam policy is named 'wam:<checkpoint>[?imagine=1][&sample_noise=0]', got {spec!r}.")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True) if query else []
    except ValueError as err:
        raise ValueError(f"Options of {spec!r} must be KEY=0|1 joined by '&' ({', '.join(WAM_OPTIONS)}).") from err
    options: dict[str, bool] = {}
    for key, value in pairs:
        if key not in WAM_OPTIONS or value.lower() not in _FLAGS:
            raise ValueError(f"Option {key}={value!r} of {spec!r}: expected one of {WAM_OPTIONS}, each 0 or 1.")
        options[key] = _FLAGS[value.lower()]
    names = {family: name for name, family in TABLETOP_TASK_FAMILIES.items()}  # "reach" -> "TabletopReach"
    expected = None if task is None else names.get(task, task)
    model = load_checkpoint(checkpoint, task=expected, family="wam", device="auto")
    return WAMPolicy(model, seed=0 if seed is None else seed, **options)


def resolve_policy(
    spec: str,
    *,
    task: str | None = None,
    action_space: spaces.Box | None = None,
    algo: str = "PPO",
    seed: int | None = None,
    action_noise: float = 0.0,
    timeout: float = 30.0,
) -> Policy:
    """The :class:`~neural_gym.policies.protocol.Policy` a command-line name stands for.

    Args:
        spec: ``"random"``, ``"expert"``, ``ws://host:port`` / ``wss://...``, a path ending in ``.safetensors`` (a VLA
            checkpoint, loaded by :func:`neural_gym.policies.vla.load_vla`), ``wam:<checkpoint>[?options]`` (a world
            action model's policy mode, :func:`wam_policy`), or the path of a saved SB3 model (with or without
            ``.zip``).
        task: The task the policy will run: needed by ``expert``, and by ``random`` without ``action_space``; a VLA
            checkpoint is checked against it (a tabletop family, or the registered ``Tabletop*`` name of one).
        action_space: The action space for ``random`` (default: the task's).
        algo: SB3 class of a saved model.
        seed: Seed of the random policy, of the expert's noise, and of a VLA's sampling.
        action_noise: Expert action noise (fraction of half the action range).
        timeout: Seconds a remote policy waits for its server.

    Raises:
        ValueError: When ``spec`` is none of these forms, the task is missing or unknown for ``random``/``expert``, the
            file does not exist, or the SB3 class is unknown (a VLA checkpoint that does not load raises the loader's
            error, a ``ValueError``).
        PolicyError: When a remote server cannot be reached in ``timeout`` (``RemoteTimeoutError``) or breaks the
            protocol.
        ImportError: For a remote policy without the ``remote`` extra, or a VLA checkpoint when
            ``neural_gym.policies.vla`` is not installed.
    """
    from neural_gym.policies.adapters import ExpertPolicy, RandomPolicy, SB3Policy

    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"A policy name must be a non-empty string: {POLICY_FORMS}; got {spec!r}.")
    if spec == "random":
        if action_space is None:
            if task is None:
                raise ValueError("The random policy needs the task (or an action space) to know its actions.")
            action_space = task_action_space(task)
        return RandomPolicy(action_space, seed=seed)
    if spec == "expert":
        if task is None:
            raise ValueError("The expert policy needs the task: pass --task.")
        return ExpertPolicy(task, action_noise=action_noise, seed=seed)
    if spec.startswith(("ws://", "wss://")):
        from neural_gym.policies.remote import RemotePolicy

        return RemotePolicy(spec, timeout=timeout)
    if spec.startswith("wam:"):
        return wam_policy(spec, task=task, seed=seed)
    if spec.startswith("zoo:"):  # a shipped VLA checkpoint (neural_gym.policies.vla.zoo_names())
        from neural_gym.policies.vla import load_vla

        family = TABLETOP_TASK_FAMILIES.get(task, task) if task is not None else None
        return load_vla(spec, task=family, seed=0 if seed is None else seed)
    path = Path(spec)
    if path.suffix == ".safetensors":
        if not path.is_file():
            raise ValueError(f"VLA checkpoint {spec!r} does not exist.")
        from neural_gym.policies.vla import load_vla

        family = TABLETOP_TASK_FAMILIES.get(task, task) if task is not None else None
        return load_vla(path, task=family, seed=0 if seed is None else seed)
    if path.exists() or path.with_suffix(".zip").exists():
        return SB3Policy(load_policy(spec, algo))
    raise ValueError(f"Policy {spec!r} is not one of {POLICY_FORMS} (no such file).")


__all__ = [
    "POLICY_FORMS",
    "SB3_ALGOS",
    "TABLETOP_TASK_FAMILIES",
    "WAM_OPTIONS",
    "load_policy",
    "resolve_policy",
    "task_action_space",
    "wam_policy",
]
