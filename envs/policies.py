"""Turn the ways people name a policy into one ``obs -> action`` callable with a per-episode ``reset``.

Example:
    >>> act = as_policy("random", env.action_space, seed=0)
    >>> act = as_policy(lambda obs: np.zeros(6), env.action_space)
    >>> act = as_policy(PPO.load("ppo_cheetah.zip"), env.action_space)   # anything with .predict
    >>> act = as_policy(my_vla, env.action_space)                         # anything with .act(batch) and .reset(seed)
    >>> act.reset(seed=0)                                                 # at every episode start
    >>> action = act(obs)

Policy-protocol objects (``neural_gym.policies.Policy``, duck-typed here: an ``act(obs_batch) -> (B, H, A)`` method
and a ``reset(seed=None)`` method) are given the *whole* observation as a batch of one: a state observation as
``obs[None]`` (shape ``(1, D)``), a dict observation as ``{"pixels": (1, H, W, 3) uint8, "state": (1, D),
"instruction": [str]}`` (the keys the env has). The first action of the returned chunk is executed and the policy is
queried again at the next step (re-query every step; ``(1, A)`` is accepted as a chunk of one). Every other policy is
given the state vector only (``obs["state"]`` of a dict observation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from neural_gym.envs.observations import STATE_KEY

Policy = Callable[[np.ndarray], np.ndarray]
"""A policy: one observation in, one action out."""

PolicyLike = Any
"""``"random"``, a callable ``obs -> action``, an object with ``.predict(obs, deterministic=True)`` (SB3 model), or
a Policy-protocol object (``.act(obs_batch) -> (B, H, A)`` and ``.reset(seed=None)``)."""


def is_protocol_policy(policy: Any) -> bool:
    """Whether ``policy`` follows the batched Policy protocol: callable ``act`` and ``reset`` methods (duck-typed)."""
    return (
        not isinstance(policy, str)
        and callable(getattr(policy, "act", None))
        and callable(getattr(policy, "reset", None))
    )


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


def _batched(obs: Any) -> Any:
    """One observation as a batch of one, in the Policy protocol's layout (instructions as a list of strings)."""
    if isinstance(obs, Mapping):
        return {key: [value] if isinstance(value, str) else np.asarray(value)[None] for key, value in obs.items()}
    return np.asarray(obs)[None]


def _state_of(obs: Any) -> Any:
    """The state vector of an observation (``obs["state"]`` of a dict observation)."""
    return obs[STATE_KEY] if isinstance(obs, Mapping) else obs


class CheckedPolicy:
    """``obs -> action`` with checked actions, and :meth:`reset` to call at every episode start.

    Built by :func:`as_policy`. Called with an env's observation (a state vector, or a dict observation).

    Args:
        act: The unchecked ``obs -> action`` function (given what :attr:`full_observation` says).
        shape: Action shape.
        dtype: Action dtype.
        reset: Called by :meth:`reset` with the seed, or ``None``.
        full_observation: Whether ``act`` gets the whole observation (Policy protocol) rather than the state vector.
    """

    def __init__(
        self,
        act: Callable[[Any], Any],
        shape: tuple[int, ...],
        dtype: Any,
        reset: Callable[[int | None], None] | None = None,
        full_observation: bool = False,
    ) -> None:
        self._act = act
        self._reset = reset
        self.shape = shape
        self.dtype = dtype
        self.full_observation = full_observation

    def reset(self, seed: int | None = None) -> None:
        """Start a new episode: resets the wrapped policy where it has per-episode state (experts, Policy objects)."""
        if self._reset is not None:
            self._reset(seed)

    def __call__(self, obs: Any) -> np.ndarray:
        """The checked action for one observation.

        Raises:
            ValueError: If the policy returns an action of the wrong shape or a non-finite one.
        """
        action = np.asarray(self._act(obs if self.full_observation else _state_of(obs)))
        if action.shape != self.shape:
            raise ValueError(f"Policy returned an action of shape {action.shape}, expected {self.shape}.")
        if not np.issubdtype(action.dtype, np.number) or not np.all(np.isfinite(action)):
            raise ValueError(f"Policy returned a non-finite or non-numeric action: {action}")
        return action.astype(self.dtype, copy=False)


def _reset_without_seed(policy: Any) -> Callable[[int | None], None] | None:
    """``policy.reset()`` as a seed-taking hook when the policy has a ``reset`` method (scripted experts), else None."""
    reset = getattr(policy, "reset", None)
    if not callable(reset):
        return None

    def hook(seed: int | None) -> None:
        del seed
        reset()

    return hook


def as_policy(policy: PolicyLike, action_space: spaces.Space, seed: int | None = None) -> CheckedPolicy:
    """Wrap ``policy`` as a checked ``obs -> action`` callable.

    Args:
        policy: ``"random"`` (uniform in the ``Box``, drawn from its own ``np.random.Generator`` seeded by ``seed``;
            the global RNG is never touched), a callable ``obs -> action`` (its ``reset()`` method, if any, runs at
            each :meth:`CheckedPolicy.reset`), an object with ``.predict(obs, deterministic=True)`` returning
            ``(action, state)`` like a stable-baselines3 model, or a Policy-protocol object (``.act(obs_batch) ->
            (B, H, A)`` and ``.reset(seed=None)``; see the module doc for what it is given).
        action_space: The env's action space (a bounded ``Box`` for ``"random"``).
        seed: Seed of the random policy; ignored by the others.

    Returns:
        A :class:`CheckedPolicy` whose actions are NumPy arrays of ``action_space.shape`` and dtype.

    Raises:
        ValueError: If ``policy`` is an unknown string, the space does not suit a random policy, or (when called) the
            policy returns an action of the wrong shape or a non-finite one (a Policy object: a chunk that is not
            ``(1, H, A)`` or ``(1, A)``).
        TypeError: If ``policy`` is none of the above.
    """
    shape = tuple(action_space.shape or ())
    dtype = action_space.dtype if action_space.dtype is not None else np.float64

    if isinstance(policy, str):
        if policy != "random":
            raise ValueError(
                f"Unknown policy {policy!r}: use 'random', a callable obs -> action, an SB3 model or a Policy object."
            )
        if not isinstance(action_space, spaces.Box) or not action_space.is_bounded("both"):
            raise ValueError(f"A random policy needs a bounded Box action space, got {action_space}.")
        rng = np.random.default_rng(seed)
        low = action_space.low.astype(np.float64)
        high = action_space.high.astype(np.float64)

        def random_policy(obs: Any) -> np.ndarray:
            del obs
            return rng.uniform(low, high).astype(dtype)

        return CheckedPolicy(random_policy, shape, dtype)

    if is_protocol_policy(policy):
        name = type(policy).__name__

        def first_action(obs: Any) -> np.ndarray:
            chunk = np.asarray(policy.act(_batched(obs)))
            if chunk.ndim == 2:
                chunk = chunk[:, None, :]
            if chunk.ndim != 3 or chunk.shape[0] != 1 or chunk.shape[1] < 1 or chunk.shape[2:] != shape:
                raise ValueError(
                    f"Policy {name}.act returned a chunk of shape {np.shape(chunk)} for a batch of one; expected "
                    f"(1, H, {', '.join(map(str, shape))}) or (1, {', '.join(map(str, shape))})."
                )
            return chunk[0, 0]

        return CheckedPolicy(first_action, shape, dtype, reset=lambda s: policy.reset(seed=s), full_observation=True)

    if hasattr(policy, "predict"):

        def act(obs: np.ndarray) -> np.ndarray:
            action, _ = policy.predict(obs, deterministic=True)
            return action

        return CheckedPolicy(act, shape, dtype)
    if callable(policy):
        return CheckedPolicy(policy, shape, dtype, reset=_reset_without_seed(policy))
    raise TypeError(
        "Expected 'random', a callable obs -> action, an object with .predict(), or a Policy object with .act() and "
        f".reset(), got {type(policy).__name__}."
    )
