"""Torch's intra-op thread count around the engine's own forward passes, restored afterwards.

A dream step at small batch is a few sub-millisecond matrix products. Torch's intra-op thread pool synchronizes its
threads at every operation; on a small machine where another process holds a core, each of those waits can take
milliseconds, so one HalfCheetah step went from 3.6 ms to 35 ms beside another job. Below
:data:`AUTO_SINGLE_THREAD_MAX_BATCH` envs the engine therefore runs its forward pass on one thread, and gives the
previous setting back when it returns: library code never changes the process-wide setting for good.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch

#: ``num_threads="auto"`` runs batches of at most this many envs on one thread (one forward pass of a few hundred
#: samples is too small to gain from a thread pool; measured by ``benchmarks/throughput.py``).
AUTO_SINGLE_THREAD_MAX_BATCH = 256

NumThreads = int | Literal["auto"] | None


def resolve_num_threads(num_threads: NumThreads, batch_size: int) -> int | None:
    """The thread count the engine applies for ``batch_size`` envs; ``None`` leaves torch's setting alone.

    Args:
        num_threads: ``"auto"`` (one thread up to :data:`AUTO_SINGLE_THREAD_MAX_BATCH` envs, torch's own setting
            above), a positive int, or ``None`` (never touch torch's setting).
        batch_size: number of envs stepped in one forward pass.

    Raises:
        ValueError: ``num_threads`` is none of the above.
    """
    if num_threads is None:
        return None
    if num_threads == "auto":
        return 1 if batch_size <= AUTO_SINGLE_THREAD_MAX_BATCH else None
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"num_threads must be 'auto', None or a positive int, got {num_threads!r}")
    return num_threads


@contextmanager
def torch_threads(num_threads: int | None) -> Iterator[None]:
    """Run the body with ``torch.set_num_threads(num_threads)`` and restore the previous count on exit.

    ``None`` or the current count changes nothing. The setting is process-wide while the body runs, so another Python
    thread running torch at the same moment sees it too.
    """
    previous = torch.get_num_threads()
    if num_threads is None or num_threads == previous:
        yield
        return
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
