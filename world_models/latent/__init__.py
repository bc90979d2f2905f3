"""The ``latent`` family: a Dreamer-style RSSM (GRU + categorical latent) from state vectors or 64×64 frames.

- :mod:`~neural_gym.world_models.latent.config` — :class:`LatentConfig`, named :data:`PRESETS` (``debug``, ``small``,
  ``medium``) and :func:`preset`.
- :mod:`~neural_gym.world_models.latent.networks` — vector/conv encoders and decoders, reward and continue heads, symlog.
- :mod:`~neural_gym.world_models.latent.rssm` — :class:`LatentState` (the carry), the RSSM, straight-through sampling, KL
  balancing with free bits.
- :mod:`~neural_gym.world_models.latent.model` — :class:`LatentModel` (the ``WorldModel``).
- :mod:`~neural_gym.world_models.latent.data` — :class:`SequenceData` episodes and the training-window sampler.
- :mod:`~neural_gym.world_models.latent.train` — :func:`train_latent`: fit, held-out evaluation, calibration.

The ensemble is over the RSSM's prior (transition) heads: ``E`` independent MLPs from the GRU state to the next
stochastic state, all trained against the same posterior; disagreement is measured between the observations their
predictions decode to.
"""

from neural_gym.world_models.latent.config import PRESETS, LatentConfig, preset
from neural_gym.world_models.latent.data import SequenceData
from neural_gym.world_models.latent.model import LatentModel
from neural_gym.world_models.latent.rssm import LatentState
from neural_gym.world_models.latent.train import LatentTrainReport, train_latent

__all__ = [
    "PRESETS",
    "LatentConfig",
    "LatentModel",
    "LatentState",
    "LatentTrainReport",
    "SequenceData",
    "preset",
    "train_latent",
]
