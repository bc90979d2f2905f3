"""The ``wam`` family: a world action model, one network of future observations and action chunks (UWM-style).

- :mod:`~neural_gym.world_models.wam.config` — :class:`WAMConfig`, the training mix of noise patterns, named
  :data:`PRESETS` (``debug``, ``small``) and :func:`preset`.
- :mod:`~neural_gym.world_models.wam.instructions` — instruction words to token ids.
- :mod:`~neural_gym.world_models.wam.network` — the shared transformer backbone, its velocity heads, the reward head.
- :mod:`~neural_gym.world_models.wam.model` — :class:`WAMModel` (the ``WorldModel``, with the modes ``step``,
  ``forward_dynamics``, ``act``, ``inverse``, ``joint``, ``imagine``) and its carry :class:`WAMState`.
- :mod:`~neural_gym.world_models.wam.train` — :func:`train_wam`: fit on action-labelled episodes and action-free
  clips, held-out evaluation of every mode, calibration.

The ensemble is over ``E`` future-velocity heads on the shared backbone, each trained on its own bootstrap mask; their
disagreement about the next observation is the uncertainty signal, calibrated on held-out real transitions like the
other families.
"""

from neural_gym.world_models.wam.config import PATTERNS, PRESETS, WAMConfig, preset
from neural_gym.world_models.wam.model import WAM_MEASURES, WAMModel, WAMState
from neural_gym.world_models.wam.train import WAMTrainReport, train_wam

__all__ = [
    "PATTERNS",
    "PRESETS",
    "WAM_MEASURES",
    "WAMConfig",
    "WAMModel",
    "WAMState",
    "WAMTrainReport",
    "preset",
    "train_wam",
]
