"""Scripted experts: simple controllers that make medium-quality, wide-coverage datasets without training an agent.

A uniform random policy only ever sees the first few steps of a falling pendulum; a world model trained on that
knows nothing of the states a balancing policy visits, and an agent trained in its dream walks off the data. A scripted
controller, run with heavy action noise (``collect(..., policy="expert", action_noise=0.6)``), gives long episodes that
still fall now and then, covering both.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from neural_gym.envs.tasks import get_task


class LinearFeedback:
    """``a = clip(K @ obs, low, high)``: linear state feedback.

    Args:
        gain: ``[A, O]`` (or ``[O]`` for one action) feedback gains.
        low: action lower bound.
        high: action upper bound.
    """

    def __init__(self, gain: np.ndarray, low: float | np.ndarray, high: float | np.ndarray) -> None:
        self.gain = np.atleast_2d(np.asarray(gain, dtype=np.float64))
        self.low = np.asarray(low, dtype=np.float64)
        self.high = np.asarray(high, dtype=np.float64)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """The action for one observation."""
        return np.clip(self.gain @ np.asarray(obs, dtype=np.float64), self.low, self.high).astype(np.float32)


def _inverted_pendulum() -> LinearFeedback:
    # obs = [cart x, pole angle, cart velocity, pole angular velocity]. Gains from a seeded random search over
    # K ~ U([-5, 0, -5, -5], [5, 50, 5, 10]) (numpy default_rng(0)), keeping the first that balanced 1000 steps on
    # reset seeds 0-2. With Gaussian noise of std 0.5x the half-range added to its (clipped) action, median episode
    # length over 20 seeds was 910 steps; with 0.7x, 58 steps.
    return LinearFeedback(np.array([1.67889406, 47.92068159, 4.25714577, 6.22372755]), -3.0, 3.0)


def _kuka_reach() -> Callable[[np.ndarray], np.ndarray]:
    from neural_gym.envs.bullet import (
        KukaReachExpert,  # optional extra: raises an ImportError that says how to install it
    )

    return KukaReachExpert()


def _tabletop(family: str) -> Callable[[], Callable[[np.ndarray], np.ndarray]]:
    def make() -> Callable[[np.ndarray], np.ndarray]:
        from neural_gym.envs.tabletop import TabletopExpert

        # No noise of its own: collect(..., action_noise=...) adds it (a fraction of half the action range, here 1).
        return TabletopExpert(family)

    return make


#: Tasks with a scripted expert, each a factory of a fresh controller. Controllers with per-episode state (the
#: tabletop state machines) have a ``reset()`` method, which :func:`neural_gym.envs.collect.collect` calls at every
#: episode start (through :meth:`neural_gym.envs.policies.CheckedPolicy.reset`).
EXPERTS: dict[str, Callable[[], Callable[[np.ndarray], np.ndarray]]] = {
    "InvertedPendulum": _inverted_pendulum,
    "KukaReach": _kuka_reach,
    "TabletopReach": _tabletop("reach"),
    "TabletopPush": _tabletop("push"),
    "TabletopPickPlace": _tabletop("pick_place"),
}


def expert(task: str) -> Callable[[np.ndarray], np.ndarray]:
    """The scripted expert of ``task``.

    Raises:
        ValueError: when the task has none; the message lists the tasks that do.
    """
    name = get_task(task).name
    if name not in EXPERTS:
        raise ValueError(f"task {name} has no scripted expert; tasks with one: {sorted(EXPERTS)}")
    return EXPERTS[name]()
