"""Device selection: one place that turns ``"auto"`` / ``"cpu"`` / ``"cuda:1"`` into a checked ``torch.device``."""

from __future__ import annotations

import torch

_ACCEPTED = "'auto', 'cpu', 'cuda', 'cuda:<index>', 'mps' or a torch.device"


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Resolve a device request.

    Args:
        device: ``"auto"`` (CUDA when available, else CPU), or anything ``torch.device`` accepts.

    Returns:
        The ``torch.device`` to use.

    Raises:
        ValueError: the string is not a device, or the device is not available on this machine.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, str) and device.strip().lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise ValueError(f"device must be {_ACCEPTED}, got {type(device).__name__} {device!r}")
    try:
        dev = torch.device(device.strip() if isinstance(device, str) else device)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"unknown device {device!r}; expected {_ACCEPTED}") from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available here; use 'auto' or 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"device {device!r} requested but MPS is not available here; use 'auto' or 'cpu'")
    return dev
