"""The ``video`` family: a DIAMOND-style pixel-space generator of the next frame from the last ``k`` frames and the action.

- :mod:`~neural_gym.world_models.video.config` — :class:`VideoConfig`, named :data:`PRESETS` (``debug``, ``small32``, ``small``)
  and :func:`preset`.
- :mod:`~neural_gym.world_models.video.unet` — the small conditional UNet (residual blocks, adaptive group norm).
- :mod:`~neural_gym.world_models.video.edm` — EDM preconditioning, training loss, the few-step Euler/Heun sampler.
- :mod:`~neural_gym.world_models.video.heads` — the shared trunk, the ``E`` dynamics heads, reward/continue heads, state probe.
- :mod:`~neural_gym.world_models.video.model` — :class:`VideoModel` (the ``WorldModel``) and its carry :class:`VideoState`.
- :mod:`~neural_gym.world_models.video.train` — :func:`train_video`: fit, held-out evaluation, calibration.

The ensemble is over light dynamics heads on a trunk beside the generator: ``E`` MLPs predicting the change of the
next frame pooled to ``8 × 8``; their disagreement (in ``[0, 1]`` pixel units) is the uncertainty signal, calibrated on
held-out real transitions like the other families.
"""

from neural_gym.world_models.video.config import PRESETS, VideoConfig, preset
from neural_gym.world_models.video.model import VideoModel, VideoState
from neural_gym.world_models.video.train import VideoTrainReport, train_video

__all__ = [
    "PRESETS",
    "VideoConfig",
    "VideoModel",
    "VideoState",
    "VideoTrainReport",
    "preset",
    "train_video",
]
