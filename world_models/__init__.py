"""Learned simulators: the ``WorldModel`` protocol, the model families, training loops and checkpoints.

Imports only torch, numpy, safetensors and tqdm (TensorBoard lazily, when asked for); never ``envs`` or ``neural_gym``.

Example:
    >>> from world_models import load_checkpoint
    >>> model = load_checkpoint("zoo:HalfCheetah", task="HalfCheetah", device="cpu")  # doctest: +SKIP
"""

from world_models.base import CHECKPOINT_FORMAT_VERSION, Calibration, ModelSpec, Prediction, WorldModel
from world_models.checkpoint import (
    CheckpointError,
    CheckpointNotFoundError,
    load_checkpoint,
    read_spec,
    register_family,
    save_checkpoint,
)
from world_models.device import resolve_device
from world_models.ensemble import EnsembleConfig, EnsembleModel, TrainReport, train_ensemble
from world_models.latent import LatentConfig, LatentModel, LatentState, LatentTrainReport, SequenceData, train_latent
from world_models.video import VideoConfig, VideoModel, VideoState, VideoTrainReport, train_video
from world_models.zoo import zoo_path

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
