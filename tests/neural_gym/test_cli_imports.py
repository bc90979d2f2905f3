"""``neural-gym --help`` stays fast: the CLI and ``import neural_gym`` load neither torch nor SB3; no pybullet banner."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

HEAVY = ("torch", "stable_baselines3")


def _python(code: str, tmp_path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MINARI_DATASETS_PATH": str(tmp_path / "minari")}
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_parsing_every_command_imports_no_torch(tmp_path):
    code = (
        "import sys\n"
        "import neural_gym.cli as cli\n"
        "parser = cli.build_parser()\n"
        "for argv in (['tasks'], ['collect', '--task', 'Hopper'], ['train', '--task', 'Hopper', '--dataset-id', 'a/b-v0',"
        " '--out', 'x'], ['dream', '--task', 'Hopper'], ['demo'], ['drift', '--task', 'Hopper'],"
        " ['dream-train', '--task', 'Hopper']):\n"
        "    parser.parse_args(argv)\n"
        "try:\n"
        "    cli.main(['train', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = _python(code, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_import_neural_gym_registers_the_ids_without_torch(tmp_path):
    code = (
        "import sys, gymnasium as gym, neural_gym\n"
        "assert 'neural_gym/HalfCheetah-v0' in gym.registry and 'neural_gym/HalfCheetah-v0' in neural_gym.ENV_IDS\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
        "print(neural_gym.DreamEnv.__name__, neural_gym.TASKS['Hopper'].env_id, 'torch' in sys.modules)\n"
    )
    out = _python(code, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[]", "DreamEnv Hopper-v5 True"], out.stdout


def test_unknown_attribute_of_neural_gym_is_an_attribute_error():
    import neural_gym

    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        neural_gym.NoSuchName  # noqa: B018


@pytest.mark.skipif(importlib.util.find_spec("pybullet") is None, reason="needs the bullet extra")
def test_tasks_prints_no_pybullet_banner(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "neural_gym", "tasks"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "pybullet build time" not in out.stdout + out.stderr
    assert "neural_gym/KukaReach-v0" in out.stdout and "neural_gym/Hopper-v0" in out.stdout
