"""The neural-gym command: every subcommand explains itself, and collect → train → dream runs end to end."""

from __future__ import annotations

import json

import pytest

from neural_gym.cli import main
from world_models import load_checkpoint


@pytest.mark.parametrize("command", ["collect", "train", "dream", "demo", "drift", "dream-train"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: neural-gym " + command in out and "--seed" in out


def test_collect_train_dream(minari_dir, tmp_path, capsys):
    assert main(["collect", "--task", "Reacher", "--steps", "1000", "--seed", "0", "--dataset-id", "cli/Reacher/random-v0", "--quiet"]) == 0
    ckpt = tmp_path / "reacher.safetensors"
    assert main([
        "train", "--task", "Reacher", "--dataset-id", "cli/Reacher/random-v0", "--out", str(ckpt),
        "--members", "3", "--elites", "2", "--hidden", "32", "--layers", "2", "--max-epochs", "3", "--quiet",
    ]) == 0
    model = load_checkpoint(ckpt)
    assert model.spec.task == "Reacher" and model.spec.provenance["dataset_id"] == "cli/Reacher/random-v0"
    assert "neural-gym train" in model.spec.provenance["command"]
    summary = tmp_path / "dream.json"
    capsys.readouterr()
    assert main(["dream", "--task", "Reacher", "--checkpoint", str(ckpt), "--episodes", "2", "--quiet", "--json", str(summary)]) == 0
    assert "MuJoCo return" in capsys.readouterr().out
    data = json.loads(summary.read_text())
    assert data["episodes"] == 2 and sum(data["dream_end"].values()) == 2


def test_collect_refuses_overwrite(minari_dir):
    args = ["collect", "--task", "InvertedPendulum", "--steps", "200", "--dataset-id", "cli/InvertedPendulum/dup-v0", "--quiet"]
    assert main(args) == 0
    with pytest.raises(Exception, match="exists|overwrite"):
        main(args)
