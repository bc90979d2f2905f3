"""The installed import names live under ``neural_gym``: a user's own ``envs/`` or ``world_models/`` never shadows them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_import_neural_gym_from_a_folder_with_its_own_envs_and_world_models(tmp_path: Path) -> None:
    for name in ("envs", "world_models"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("USER_PACKAGE = True\n")
    code = (
        "import envs, world_models, neural_gym, gymnasium as gym\n"
        "import neural_gym.envs as ne, neural_gym.world_models as nw\n"
        "assert envs.USER_PACKAGE and world_models.USER_PACKAGE\n"
        "assert not hasattr(ne, 'USER_PACKAGE') and not hasattr(nw, 'USER_PACKAGE')\n"
        "assert 'neural_gym/HalfCheetah-v0' in gym.registry\n"
        "print(ne.TASKS['Hopper'].env_id)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Hopper-v5"
