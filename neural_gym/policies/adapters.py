"""Adapters that put what people already have behind the :class:`~neural_gym.policies.protocol.Policy` protocol.

* :class:`CallablePolicy`: a plain function, batched (``obs_batch -> (B, H, A)`` or ``(B, A)``) or per row
  (``batched=False``: one unbatched observation in, ``(H, A)`` or ``(A,)`` out).
* :class:`SB3Policy`: a stable-baselines3 model (``.predict(obs, deterministic=...)``) on state or dict observations;
  only the keys of the model's observation space reach it (the instruction never does).
* :class:`RandomPolicy`: uniform actions in a bounded ``Box`` from the policy's own generator.
* :class:`ExpertPolicy`: the envs' scripted experts, one per batch row, with optional Gaussian action noise.

Every adapter checks the observation batch before it calls the wrapped policy (batch size, state width, a missing
instruction for a language-conditioned policy) and the chunk it returns (:func:`~.protocol.check_chunk`: shape,
dtype, NaN), so a bad policy fails with a message that names it, not three calls later in an env.

Example:
    >>> from neural_gym.envs.tabletop import TabletopEnv
    >>> from neural_gym.policies import ExpertPolicy, stack_observations
    >>> env = TabletopEnv(task="push", obs_mode="dict")
    >>> policy = ExpertPolicy("push", action_noise=0.1, seed=0)
    >>> obs, _ = env.reset(seed=0)
    >>> chunk = policy.act(stack_observations([obs]))     # (1, 1, 4) float32
    >>> obs, *_ = env.step(chunk[0, 0])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from neural_gym.policies.protocol import (
    STATE_KEY,
    ObsBatch,
    PolicyError,
    batch_size,
    check_chunk,
    instructions,
    obs_row,
)

TABLETOP_FAMILIES = ("reach", "push", "pick_place")
"""Task names :class:`ExpertPolicy` maps to :class:`neural_gym.envs.tabletop.TabletopExpert`."""


def _action_box(action_space: spaces.Space | int, who: str) -> tuple[int, spaces.Box | None]:
    """``(A, box)`` of an action space given as a 1-D ``Box`` or as its size."""
    if isinstance(action_space, bool):
        raise TypeError(f"{who}: action_space must be a gymnasium Box or a positive int, got a bool.")
    if isinstance(action_space, int | np.integer):
        if action_space < 1:
            raise ValueError(f"{who}: the action size must be >= 1, got {action_space}.")
        return int(action_space), None
    if not isinstance(action_space, spaces.Box) or len(action_space.shape) != 1:
        raise TypeError(f"{who}: action_space must be a 1-D gymnasium Box (or its size), got {action_space!r}.")
    return int(action_space.shape[0]), action_space


def _check_chunk_size(chunk_size: int, who: str) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer) or chunk_size < 1:
        raise ValueError(f"{who}: chunk_size must be a positive integer, got {chunk_size!r}.")
    return int(chunk_size)


def state_part(obs: ObsBatch, who: str = "policy") -> np.ndarray:
    """The ``(B, D)`` state of an observation batch: the array itself, or ``obs["state"]``.

    Raises:
        PolicyError: When a dict observation has no ``"state"`` entry.
    """
    if isinstance(obs, Mapping):
        if STATE_KEY not in obs:
            raise PolicyError(f"{who} reads the state observation, but the observation dict has only {sorted(obs)}.")
        return np.asarray(obs[STATE_KEY])
    return np.asarray(obs)


def check_state_width(obs: ObsBatch, width: int, who: str = "policy") -> np.ndarray:
    """The batch's ``(B, D)`` state, checked against the ``D`` a policy was built for.

    Raises:
        PolicyError: When the state is not ``(B, width)``: observations of another task than the policy's.
    """
    state = state_part(obs, who)
    if state.ndim != 2 or state.shape[1] != width:
        raise PolicyError(
            f"{who} was built for state observations of size {width} (a batch (B, {width})), got shape {state.shape}; "
            f"are these observations of another task?"
        )
    return state


class _CheckedPolicy:
    """Shared checks: observation batch in, :func:`check_chunk` on the way out."""

    def __init__(
        self, action_space: spaces.Space | int, chunk_size: int, name: str, needs_instruction: bool = False
    ) -> None:
        self.name = name
        self.action_dim, self.action_space = _action_box(action_space, name)
        self.chunk_size = _check_chunk_size(chunk_size, name)
        self.needs_instruction = bool(needs_instruction)

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget (subclasses with state override this)."""
        del seed

    def act(self, obs: ObsBatch) -> np.ndarray:
        """Checked action chunks ``(B, chunk_size, A)`` float32 for a batch of observations.

        Raises:
            PolicyError: For a malformed batch, a missing instruction when the policy needs one, observations of
                another task, or a chunk of the wrong shape or dtype or with NaN actions.
        """
        batch = batch_size(obs)
        if self.needs_instruction:
            instructions(obs)
        raw = self._act(obs, batch)
        return check_chunk(raw, batch, self.action_dim, chunk_size=self.chunk_size, who=self.name)

    def _act(self, obs: ObsBatch, batch: int) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, chunk_size={self.chunk_size}, action_dim={self.action_dim})"


class CallablePolicy(_CheckedPolicy):
    """A plain function as a :class:`~.protocol.Policy`.

    Args:
        fn: With ``batched=True``, ``fn(obs_batch) -> (B, H, A)`` (or ``(B, A)`` when ``chunk_size`` is 1). With
            ``batched=False``, ``fn(obs) -> (H, A)`` (or ``(A,)``) for one unbatched observation (a ``(D,)`` array, or
            a dict whose instruction is a ``str``), called once per row.
        action_space: The env's action ``Box``, or the action size ``A``.
        chunk_size: ``H``, the number of actions ``fn`` returns per observation.
        batched: Whether ``fn`` takes a whole batch.
        needs_instruction: Refuse observations without ``obs["instruction"]`` (language-conditioned policies).
        state_size: If given, refuse observations whose state is not ``(B, state_size)``.
        reset_fn: Called by :meth:`reset` with the seed (``None`` by default: nothing to reset).
        name: Name in error messages.

    Raises:
        TypeError: If ``fn`` is not callable or ``action_space`` is neither a 1-D ``Box`` nor an int.
        ValueError: If ``chunk_size`` or the action size is not a positive integer.
    """

    def __init__(
        self,
        fn: Callable[[Any], Any],
        action_space: spaces.Space | int,
        *,
        chunk_size: int = 1,
        batched: bool = True,
        needs_instruction: bool = False,
        state_size: int | None = None,
        reset_fn: Callable[[int | None], None] | None = None,
        name: str | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"CallablePolicy needs a callable, got {type(fn).__name__}.")
        super().__init__(
            action_space, chunk_size, name or getattr(fn, "__name__", "callable policy"), needs_instruction
        )
        self.fn = fn
        self.batched = bool(batched)
        self.state_size = state_size
        self.reset_fn = reset_fn

    def reset(self, seed: int | None = None) -> None:
        """Call ``reset_fn(seed)`` when one was given."""
        if self.reset_fn is not None:
            self.reset_fn(seed)

    def _act(self, obs: ObsBatch, batch: int) -> Any:
        if self.state_size is not None:
            check_state_width(obs, self.state_size, self.name)
        if self.batched:
            return self.fn(obs)
        rows = []
        for i in range(batch):
            out = np.asarray(self.fn(obs_row(obs, i)))
            if out.ndim == 1:
                out = out[None, :]
            if out.ndim != 2:
                raise PolicyError(
                    f"{self.name} (per row) returned shape {out.shape} for row {i}; expected ({self.chunk_size}, "
                    f"{self.action_dim}) or ({self.action_dim},)."
                )
            rows.append(out)
        shapes = {r.shape for r in rows}
        if len(shapes) != 1:
            raise PolicyError(f"{self.name} (per row) returned chunks of different shapes: {sorted(shapes)}.")
        return np.stack(rows)


class RandomPolicy(_CheckedPolicy):
    """Uniform actions in a bounded ``Box``, drawn from the policy's own ``np.random.Generator``.

    Args:
        action_space: A bounded 1-D ``Box``.
        seed: Seed of the generator; :meth:`reset` with a seed reseeds it.
        chunk_size: ``H``, actions per observation (each drawn independently).

    Raises:
        ValueError: If the ``Box`` is unbounded or ``chunk_size`` is not a positive integer.
        TypeError: If ``action_space`` is not a 1-D ``Box``.
    """

    def __init__(self, action_space: spaces.Box, seed: int | None = None, *, chunk_size: int = 1) -> None:
        super().__init__(action_space, chunk_size, "random policy")
        if self.action_space is None or not self.action_space.is_bounded("both"):
            raise ValueError(f"A random policy needs a bounded Box action space, got {action_space!r}.")
        self.low = self.action_space.low.astype(np.float64)
        self.high = self.action_space.high.astype(np.float64)
        self._rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        """Reseed the generator when ``seed`` is given (else keep drawing from it)."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)

    def _act(self, obs: ObsBatch, batch: int) -> np.ndarray:
        del obs
        return self._rng.uniform(self.low, self.high, size=(batch, self.chunk_size, self.action_dim))


def _sb3_obs_space(model: Any) -> spaces.Space:
    space = getattr(model, "observation_space", None)
    if space is None:
        raise TypeError(f"{type(model).__name__} has no observation_space; SB3Policy needs a stable-baselines3 model.")
    return space


class SB3Policy(_CheckedPolicy):
    """A stable-baselines3 model (anything with ``.predict(obs, deterministic=...)``, ``observation_space`` and
    ``action_space``) as a :class:`~.protocol.Policy` with ``chunk_size = 1``.

    Observations are cut down to what the model was trained on: for a ``Dict`` observation space, only its keys
    (others, the instruction included, are dropped; a missing key is an error); for a ``Box`` space, the state
    array or ``obs["state"]`` of a dict observation. The batch goes to ``predict`` in one call.

    Args:
        model: The SB3 model (e.g. ``PPO.load(path)``).
        deterministic: Passed to ``predict``.
        name: Name in error messages.

    Raises:
        TypeError: If ``model`` has no ``predict``, ``observation_space`` or 1-D ``Box`` ``action_space``.
    """

    def __init__(self, model: Any, *, deterministic: bool = True, name: str | None = None) -> None:
        if not callable(getattr(model, "predict", None)):
            raise TypeError(f"SB3Policy needs a model with .predict(), got {type(model).__name__}.")
        super().__init__(getattr(model, "action_space", None), 1, name or f"SB3 {type(model).__name__} policy")
        self.model = model
        self.deterministic = bool(deterministic)
        self.observation_space = _sb3_obs_space(model)

    def model_obs(self, obs: ObsBatch) -> Any:
        """The part of ``obs`` the model reads, checked against its observation space.

        Raises:
            PolicyError: When a key of the model's ``Dict`` space is missing or an entry's shape does not match.
        """
        space = self.observation_space
        if isinstance(space, spaces.Dict):
            if not isinstance(obs, Mapping):
                raise PolicyError(
                    f"{self.name} was trained on dict observations with keys {sorted(space.spaces)}, got an array of "
                    f"shape {np.shape(obs)}."
                )
            missing = sorted(set(space.spaces) - set(obs))
            if missing:
                raise PolicyError(f"{self.name} needs obs keys {missing}; the observation has {sorted(obs)}.")
            out = {key: np.asarray(obs[key]) for key in space.spaces}
            for key, sub in space.spaces.items():
                self._check_shape(out[key], sub, f"obs[{key!r}]")
            return out
        arr = state_part(obs, self.name) if isinstance(obs, Mapping) else np.asarray(obs)
        self._check_shape(arr, space, "the observation")
        return arr

    def _check_shape(self, arr: np.ndarray, space: spaces.Space, what: str) -> None:
        shape = getattr(space, "shape", None)
        if shape is None:
            return
        ok = arr.shape[1:] == tuple(shape)
        if not ok and len(shape) == 3 and arr.ndim == 4:  # SB3 transposes HWC images to its CHW space itself
            ok = arr.shape[1:] == (shape[1], shape[2], shape[0])
        if not ok:
            raise PolicyError(
                f"{self.name} was trained on {what} of shape {tuple(shape)} (a batch (B, {', '.join(map(str, shape))})), "
                f"got {arr.shape}; are these observations of another task?"
            )

    def _act(self, obs: ObsBatch, batch: int) -> Any:
        action, _ = self.model.predict(self.model_obs(obs), deterministic=self.deterministic)
        return action


def _expert_factory(task: str) -> tuple[Callable[[], Callable[[np.ndarray], np.ndarray]], spaces.Box, int]:
    """``(make_expert, action_space, state_size)`` of a task with a scripted expert."""
    if task in TABLETOP_FAMILIES:
        from neural_gym.envs.tabletop import TabletopExpert
        from neural_gym.envs.tabletop.rules import OBS_SIZE

        return (lambda: TabletopExpert(task)), spaces.Box(-1.0, 1.0, (4,), np.float32), OBS_SIZE
    from neural_gym.envs import expert, get_task

    expert(task)  # raises ValueError naming the tasks with experts
    env = get_task(task).make()
    try:
        action_space, obs_space = env.action_space, env.observation_space
    finally:
        env.close()
    if isinstance(obs_space, spaces.Dict):
        obs_space = obs_space[STATE_KEY]
    return (lambda: expert(task)), action_space, int(np.prod(obs_space.shape))


class ExpertPolicy(_CheckedPolicy):
    """The scripted expert of a task, one stateful controller per batch row, as a :class:`~.protocol.Policy`.

    The experts read the state observation (the array, or ``obs["state"]`` of a dict observation). :meth:`reset`
    restarts every row's expert; :meth:`reset_rows` only some (the chunk executor calls it when some envs of a batch
    start new episodes). A batch of another size than the last one also starts fresh experts.

    Args:
        task: A task with a scripted expert (:data:`neural_gym.envs.EXPERTS`, e.g. ``"InvertedPendulum"``) or a
            tabletop family (``"reach"``, ``"push"``, ``"pick_place"``).
        action_noise: Standard deviation of Gaussian noise added to each action, as a fraction of half the action
            range (as ``neural-gym collect --action-noise``), then clipped to the bounds.
        seed: Seed of the noise generator (the policy's own; the experts' own noise is off).

    Raises:
        ValueError: If the task has no expert (the message lists those that do) or ``action_noise`` is negative.
    """

    def __init__(self, task: str, action_noise: float = 0.0, seed: int | None = None) -> None:
        if not action_noise >= 0.0:
            raise ValueError(f"action_noise must be >= 0, got {action_noise}.")
        make, action_space, state_size = _expert_factory(task)
        super().__init__(action_space, 1, f"{task} expert policy")
        self.task = task
        self.action_noise = float(action_noise)
        self.state_size = state_size
        self._make = make
        self._experts: list[Callable[[np.ndarray], np.ndarray]] = []
        self._rng = np.random.default_rng(seed)
        box = self.action_space
        self._low = box.low.astype(np.float64)
        self._high = box.high.astype(np.float64)
        self._half_range = (self._high - self._low) / 2.0

    def reset(self, seed: int | None = None) -> None:
        """Restart every row's expert; ``seed`` reseeds the noise generator."""
        self._experts = []
        if seed is not None:
            self._rng = np.random.default_rng(seed)

    def reset_rows(self, mask: np.ndarray) -> None:
        """Restart the experts of the rows where the bool ``(B,)`` ``mask`` is true.

        Raises:
            PolicyError: When ``mask`` is not one flag per row of the current batch.
        """
        mask = np.asarray(mask, dtype=bool)
        if not self._experts:
            return
        if mask.shape != (len(self._experts),):
            raise PolicyError(f"reset mask of shape {mask.shape} for a batch of {len(self._experts)} experts.")
        for i in np.flatnonzero(mask):
            self._experts[i] = self._make()

    def _act(self, obs: ObsBatch, batch: int) -> np.ndarray:
        state = check_state_width(obs, self.state_size, self.name)
        if len(self._experts) != batch:
            self._experts = [self._make() for _ in range(batch)]
        actions = np.stack([np.asarray(e(state[i]), dtype=np.float64).reshape(-1) for i, e in enumerate(self._experts)])
        if self.action_noise > 0.0:
            noise = self._rng.normal(0.0, 1.0, size=actions.shape) * self.action_noise * self._half_range
            actions = np.clip(actions + noise, self._low, self._high)
        return actions[:, None, :]


__all__ = [
    "TABLETOP_FAMILIES",
    "CallablePolicy",
    "ExpertPolicy",
    "RandomPolicy",
    "SB3Policy",
    "check_state_width",
    "state_part",
]
