"""Policies: the ``Policy`` protocol (batched observations -> action chunks ``(B, H, A)``), its adapters, chunk
execution, a remote policy in openpi's WebSocket wire format, and policies named on the command line.

Modules: :mod:`~.protocol` (the protocol and the checks of what a policy returns), :mod:`~.adapters` (plain callables,
SB3 models, random and scripted-expert policies), :mod:`~.chunking` (chunks to per-step actions for a batch of envs:
open loop, re-query every step, ACT temporal ensembling), :mod:`~.remote` (a policy behind a WebSocket in openpi's
wire format: :class:`RemotePolicy` and :func:`serve_policy`; the ``remote`` extra), :mod:`~.named` (a command-line name as a policy: ``random``,
``expert``, an SB3 ``.zip``, ``ws://host:port`` or a VLA ``.safetensors``).
"""

from neural_gym.policies.adapters import (
    TABLETOP_FAMILIES,
    CallablePolicy,
    ExpertPolicy,
    RandomPolicy,
    SB3Policy,
    check_state_width,
    state_part,
)
from neural_gym.policies.chunking import ACT_TEMPORAL_ENSEMBLE_COEFF, ChunkExecutor, ensemble_weights
from neural_gym.policies.named import POLICY_FORMS, SB3_ALGOS, load_policy, resolve_policy
from neural_gym.policies.protocol import (
    INSTRUCTION_KEY,
    PIXELS_KEY,
    STATE_KEY,
    ObsBatch,
    Policy,
    PolicyError,
    RowResettable,
    batch_size,
    check_chunk,
    instructions,
    obs_row,
    stack_observations,
)
from neural_gym.policies.remote import (
    OPENPI_LIBERO_KEYS,
    PolicyServer,
    RemotePolicy,
    RemotePolicyError,
    RemoteTimeoutError,
    serve_policy,
)

__all__ = [
    "ACT_TEMPORAL_ENSEMBLE_COEFF",
    "INSTRUCTION_KEY",
    "OPENPI_LIBERO_KEYS",
    "PIXELS_KEY",
    "POLICY_FORMS",
    "SB3_ALGOS",
    "STATE_KEY",
    "TABLETOP_FAMILIES",
    "CallablePolicy",
    "ChunkExecutor",
    "ExpertPolicy",
    "ObsBatch",
    "Policy",
    "PolicyError",
    "PolicyServer",
    "RandomPolicy",
    "RemotePolicy",
    "RemotePolicyError",
    "RemoteTimeoutError",
    "RowResettable",
    "SB3Policy",
    "batch_size",
    "check_chunk",
    "check_state_width",
    "ensemble_weights",
    "instructions",
    "load_policy",
    "obs_row",
    "resolve_policy",
    "serve_policy",
    "stack_observations",
    "state_part",
]
