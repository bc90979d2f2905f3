"""A small VLA family trained from scratch: camera frame + instruction (+ gripper state) -> action chunks.

Modules: :mod:`~.vocab` (instruction vocabulary with ``<pad>`` / ``<unk>``), :mod:`~.model` (CNN + FiLM + heads:
``regression``, ``bins``, ``flow``), :mod:`~.data` (expert demonstrations, chunk targets), :mod:`~.train`
(behaviour cloning), :mod:`~.policy` (:class:`VLAPolicy`), :mod:`~.checkpoint` (``save_vla`` / ``load_vla``),
:mod:`~.evaluate` (ground-truth success in MuJoCo), :mod:`~.ladder` (the shipped checkpoints of spread quality).
CLI: ``python -m neural_gym.policies.vla {train,evaluate,ladder,list}``.
"""

from neural_gym.policies.vla.checkpoint import (
    VLACheckpointError,
    load_vla,
    read_vla_info,
    save_vla,
    zoo_names,
)
from neural_gym.policies.vla.data import Demo, chunk_targets, collect_demos, load_demos
from neural_gym.policies.vla.model import HEADS, VLAConfig, VLANet
from neural_gym.policies.vla.policy import VLAPolicy
from neural_gym.policies.vla.train import train_vla
from neural_gym.policies.vla.vocab import PAD, UNK, Vocabulary

__all__ = [
    "HEADS",
    "PAD",
    "UNK",
    "Demo",
    "VLACheckpointError",
    "VLAConfig",
    "VLANet",
    "VLAPolicy",
    "Vocabulary",
    "chunk_targets",
    "collect_demos",
    "load_demos",
    "load_vla",
    "read_vla_info",
    "save_vla",
    "train_vla",
    "zoo_names",
]
