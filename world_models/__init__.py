"""Learned simulators: the ``WorldModel`` protocol, the model families, training loops and checkpoints.

Imports only torch, numpy, safetensors and tqdm (TensorBoard lazily, when asked for); never ``envs`` or ``neural_gym``.

Example:
    >>> from neural_gym.world_models import load_checkpoint
    >>> model = load_checkpoint("zoo:HalfCheetah", task="HalfCheetah", device="cpu")  # doctest: +SKIP
"""

from neural_gym.world_models.base import CHECKPOINT_FORMAT_VERSION, Calibration, ModelSpec, Prediction, WorldModel
from neural_gym.world_models.checkpoint import (
    CheckpointError,
    CheckpointNotFoundError,
    load_checkpoint,
    read_spec,
    register_family,
    save_checkpoint,
)
from neural_gym.world_models.device import resolve_device
from neural_gym.world_models.ensemble import EnsembleConfig, EnsembleModel, TrainReport, train_ensemble
from neural_gym.world_models.latent import (
    LatentConfig,
    LatentModel,
    LatentState,
    LatentTrainReport,
    SequenceData,
    train_latent,
)
from neural_gym.world_models.video import VideoConfig, VideoModel, VideoState, VideoTrainReport, train_video
from neural_gym.world_models.zoo import zoo_path

__all__ = [
    "CHECKPOINT_FORMAT_VERSION",
    "Calibration",
    "CheckpointError",
    "CheckpointNotFoundError",
    "EnsembleConfig",
    "EnsembleModel",
    "LatentConfig",
    "LatentModel",
    "LatentState",
    "LatentTrainReport",
    "ModelSpec",
    "Prediction",
    "SequenceData",
    "TrainReport",
    "VideoConfig",
    "VideoModel",
    "VideoState",
    "VideoTrainReport",
    "WorldModel",
    "load_checkpoint",
    "read_spec",
    "register_family",
    "resolve_device",
    "save_checkpoint",
    "train_ensemble",
    "train_latent",
    "train_video",
    "zoo_path",
]
