"""Turn the ways people name a policy into one ``obs -> action`` callable.

Example:
    >>> act = as_policy("random", env.action_space, seed=0)
    >>> act = as_policy(lambda obs: np.zeros(6), env.action_space)
    >>> act = as_policy(PPO.load("ppo_cheetah.zip"), env.action_space)   # anything with .predict
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium import spaces

Policy = Callable[[np.ndarray], np.ndarray]
"""A policy: one observation in, one action out."""

PolicyLike = Any
"""``"random"``, a callable ``obs -> action``, or an object with ``.predict(obs, deterministic=True)`` (SB3 model)."""


def policy_label(policy: PolicyLike) -> str:
    """Short label of a policy for dataset ids: ``"random"``, ``"expert"`` or ``"policy"``.

    Args:
        policy: What :func:`as_policy` accepts.

    Returns:
        The label.
    """
    if isinstance(policy, str) and policy in ("random", "expert"):
        return policy
    return "policy"


def as_policy(policy: PolicyLike, action_space: spaces.Space, seed: int | None = None) -> Policy:
    """Wrap ``policy`` as a checked ``obs -> action`` callable.

    Args:
        policy: ``"random"`` (uniform in the ``Box``, drawn from its own ``np.random.Generator`` seeded by ``seed``;
            the global RNG is never touched), a callable ``obs -> action``, or an object with
            ``.predict(obs, deterministic=True)`` returning ``(action, state)`` like a stable-baselines3 model.
        action_space: The env's action space (a bounded ``Box`` for ``"random"``).
        seed: Seed of the random policy; ignored by the others.

    Returns:
        A callable whose actions are NumPy arrays of ``action_space.shape`` and dtype.

    Raises:
        ValueError: If ``policy`` is an unknown string, the space does not suit a random policy, or (when called) the
            policy returns an action of the wrong shape or a non-finite one.
        TypeError: If ``policy`` is none of the above.
    """
    shape = action_space.shape
    dtype = action_space.dtype if action_space.dtype is not None else np.float64

    if isinstance(policy, str):
        if policy != "random":
            raise ValueError(f"Unknown policy {policy!r}: use 'random', a callable obs -> action, or an SB3 model.")
        if not isinstance(action_space, spaces.Box) or not action_space.is_bounded("both"):
            raise ValueError(f"A random policy needs a bounded Box action space, got {action_space}.")
        rng = np.random.default_rng(seed)
        low = action_space.low.astype(np.float64)
        high = action_space.high.astype(np.float64)

        def random_policy(obs: np.ndarray) -> np.ndarray:
            del obs
            return rng.uniform(low, high).astype(dtype)

        return random_policy

    if hasattr(policy, "predict"):

        def act(obs: np.ndarray) -> np.ndarray:
            action, _ = policy.predict(obs, deterministic=True)
            return action

    elif callable(policy):
        act = policy
    else:
        raise TypeError(
            f"Expected 'random', a callable obs -> action, or an object with .predict(), got {type(policy).__name__}."
        )

    def checked_policy(obs: np.ndarray) -> np.ndarray:
        action = np.asarray(act(obs))
        if action.shape != shape:
            raise ValueError(f"Policy returned an action of shape {action.shape}, expected {shape} ({action_space}).")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"Policy returned a non-finite action: {action}")
        return action.astype(dtype, copy=False)

    return checked_policy
