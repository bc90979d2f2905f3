"""The ``ensemble`` family: probabilistic MLP ensemble on state vectors (PETS / MBPO).

- :mod:`~neural_gym.world_models.ensemble.layers` — batched per-member linear layer, soft-bounded log-variance.
- :mod:`~neural_gym.world_models.ensemble.model` — :class:`EnsembleModel` (the ``WorldModel``) and :class:`EnsembleConfig`.
- :mod:`~neural_gym.world_models.ensemble.train` — :func:`train_ensemble`: fit, elites, calibration.

The ensemble is over whole MLPs: each member has its own weights; disagreement is measured between the elites.
"""

from neural_gym.world_models.ensemble.model import EnsembleConfig, EnsembleModel
from neural_gym.world_models.ensemble.train import TrainReport, train_ensemble

__all__ = ["EnsembleConfig", "EnsembleModel", "TrainReport", "train_ensemble"]
