"""What an imagined step does when the ensemble disagrees too much.

The disagreement measures themselves live with the models (:mod:`neural_gym.world_models.uncertainty`); their thresholds are
calibrated on held-out real transitions and stored in each checkpoint. This module applies one of three rules:

- ``"truncate"`` (default): the episode is cut (``truncated=True``) — the agent bootstraps from the last trusted state.
- ``"terminate"``: MOReL's HALT — ``terminated=True`` and the step's reward becomes ``-halt_penalty``.
- ``"penalize"``: MOPO — no cut; the reward becomes ``r - penalty * uncertainty``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ON_UNCERTAIN = ("truncate", "terminate", "penalize")


@dataclass(frozen=True)
class UncertaintyRule:
    """One of the ``on_uncertain`` rules, with its threshold and penalties.

    Args:
        mode: ``"truncate"``, ``"terminate"`` or ``"penalize"``.
        threshold: disagreement above which a step is uncertain.
        penalty: MOPO's lambda for ``"penalize"``.
        halt_penalty: the HALT reward magnitude for ``"terminate"``.
    """

    mode: str
    threshold: float
    penalty: float = 1.0
    halt_penalty: float = 100.0

    def __post_init__(self) -> None:
        if self.mode not in ON_UNCERTAIN:
            raise ValueError(f"on_uncertain must be one of {ON_UNCERTAIN}, got {self.mode!r}")
        if not np.isfinite(self.threshold) or self.threshold <= 0:
            raise ValueError(f"uncertainty_threshold must be a positive finite number, got {self.threshold}")
        if not np.isfinite(self.penalty) or self.penalty < 0:
            raise ValueError(f"penalty must be a finite number >= 0, got {self.penalty}")
        if not np.isfinite(self.halt_penalty):
            raise ValueError(f"halt_penalty must be finite, got {self.halt_penalty}")

    def apply(
        self, reward: np.ndarray, terminated: np.ndarray, truncated: np.ndarray, uncertainty: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(reward, terminated, truncated, exceeded)`` after the rule, for ``[N]`` arrays."""
        exceeded = uncertainty > self.threshold
        reward = reward.astype(np.float64, copy=True)
        terminated = terminated.copy()
        truncated = truncated.copy()
        if self.mode == "truncate":
            truncated |= exceeded
        elif self.mode == "terminate":
            terminated |= exceeded
            reward[exceeded] = -self.halt_penalty
        else:
            finite = np.isfinite(uncertainty)
            reward[finite] -= self.penalty * uncertainty[finite]
        return reward, terminated, truncated, exceeded
