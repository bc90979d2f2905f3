"""Policies: the ``Policy`` protocol (batched observations -> action chunks ``(B, H, A)``), its adapters, chunk
execution, and policies named on the command line.

Modules: :mod:`~.protocol` (the protocol and the checks of what a policy returns), :mod:`~.named` (``"random"``,
``"expert"`` or a saved SB3 model from a command-line name).
"""

from neural_gym.policies.named import SB3_ALGOS, load_policy
from neural_gym.policies.protocol import (
    INSTRUCTION_KEY,
    PIXELS_KEY,
    STATE_KEY,
    ObsBatch,
    Policy,
    PolicyError,
    batch_size,
    check_chunk,
    instructions,
)

__all__ = [
    "INSTRUCTION_KEY",
    "PIXELS_KEY",
    "SB3_ALGOS",
    "STATE_KEY",
    "ObsBatch",
    "Policy",
    "PolicyError",
    "batch_size",
    "check_chunk",
    "instructions",
    "load_policy",
]
