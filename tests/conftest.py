"""Shared test setup: headless rendering and a private Minari folder for every test session."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")


import pytest  # noqa: E402


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a whole test module (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``):
    tiny models gain nothing from threads, and a busy 2-core machine loses a lot to them. The count is restored."""
    from neural_gym.threads import torch_threads

    with torch_threads(1):
        yield
