"""Shared test setup: headless rendering and a private Minari folder for every test session."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")
