"""Small file-system helpers for writes that survive a kill: flushing to disk, and telling whose leftovers are stale.

Standard library only, so the ground-truth layer (``neural_gym.envs``, dataset collection), the model layer
(``neural_gym.world_models``, checkpoints) and the dream-RL run folders share one copy without importing each other.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: str | Path) -> None:
    """Flush a file, or a folder's entries, to disk (best effort: platforms that cannot open a folder skip it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists; a leftover of a live (or reused) id is left alone.

    Args:
        pid: the process id written into a temporary file's or folder's name.
    """
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
