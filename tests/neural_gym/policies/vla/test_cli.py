"""``python -m neural_gym.policies.vla``: evaluate, train, list; expected errors as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neural_gym.policies.vla.__main__ import main


def test_evaluate_a_reference_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "r.json"
    assert main(["evaluate", "expert", "--episodes", "2", "--quiet", "--json", str(out)]) == 0
    assert "GT success 100%" in capsys.readouterr().out
    assert json.loads(out.read_text())["successes"] == 2


def test_train_saves_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "v.safetensors"
    args = [
        "train",
        "--episodes",
        "2",
        "--steps",
        "2",
        "--batch-size",
        "4",
        "--head",
        "bins",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 0
    assert out.is_file() and "saved" in capsys.readouterr().out


def test_expected_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", str(tmp_path / "missing.safetensors"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No VLA checkpoint file") and err.count("\n") == 1
