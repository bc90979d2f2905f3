"""The neural-gym command: every subcommand explains itself, and collect → train → dream runs end to end."""

from __future__ import annotations

import json
import re

import pytest

from neural_gym.cli import main
from neural_gym.world_models import load_checkpoint


@pytest.mark.parametrize("command", ["collect", "train", "dream", "demo", "drift", "dream-train", "evaluate"])
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
    out = capsys.readouterr().out
    assert "MuJoCo return" in out and "mean" in out
    assert '"episodes"' not in out and "nan" not in out  # the summary is a table row, the JSON goes to --json only
    data = json.loads(summary.read_text())
    assert data["episodes"] == 2 and sum(data["dream_end"].values()) == 2


def test_collect_refuses_overwrite(minari_dir, capsys):
    args = ["collect", "--task", "InvertedPendulum", "--steps", "200", "--dataset-id", "cli/InvertedPendulum/dup-v0", "--quiet"]
    assert main(args) == 0
    assert f"to {minari_dir}" in capsys.readouterr().out  # says where the dataset went
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("neural-gym collect: error: Dataset 'cli/InvertedPendulum/dup-v0' already exists")
    assert "--overwrite" in err and err.count("\n") == 1
    with pytest.raises(FileExistsError, match="exists"):  # --debug: the exception itself, with its traceback
        main(["--debug", *args])


def test_collect_pixels_train_latent_from_frames_and_state(minari_dir, tmp_path, capsys):
    assert main([
        "collect", "--task", "Reacher", "--steps", "300", "--seed", "0", "--obs-mode", "pixels", "--image-size", "32",
        "--dataset-id", "cli/Reacher/random-pixels32-v0", "--quiet",
    ]) == 0
    common = ["--task", "Reacher", "--dataset-id", "cli/Reacher/random-pixels32-v0", "--family", "latent",
              "--preset", "debug", "--steps", "10", "--seq-len", "16", "--batch-size", "4", "--quiet"]
    pixels, state = tmp_path / "pixels.safetensors", tmp_path / "state.safetensors"
    assert main(["train", *common, "--obs", "pixels", "--set", "conv_depth=4", "--out", str(pixels)]) == 0
    assert main(["train", *common, "--obs", "state", "--out", str(state)]) == 0
    assert "held-out reconstruction MSE" in capsys.readouterr().out
    m_pixels, m_state = load_checkpoint(pixels), load_checkpoint(state)
    assert m_pixels.spec.family == m_state.spec.family == "latent"
    assert m_pixels.spec.obs_shape == (32, 32, 3) and m_state.spec.obs_shape == (10,)
    assert m_pixels.spec.provenance["observations"] == "pixels" and m_pixels.config.conv_depth == 4


def test_train_latent_pixels_needs_frames(minari_dir, tmp_path, capsys):
    assert main(["collect", "--task", "Reacher", "--steps", "200", "--seed", "0", "--dataset-id", "cli/Reacher/state-v0", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["train", "--task", "Reacher", "--dataset-id", "cli/Reacher/state-v0", "--family", "latent", "--obs", "pixels",
                 "--steps", "5", "--out", str(tmp_path / "x.safetensors"), "--quiet"]) == 2
    assert re.fullmatch(r"neural-gym train: error: dataset \S+ has no frames.*--obs-mode pixels`\n", capsys.readouterr().err)


def test_train_video_from_a_pixel_dataset(minari_dir, tmp_path, capsys):
    assert main([
        "collect", "--task", "Reacher", "--steps", "300", "--seed", "1", "--obs-mode", "pixels", "--image-size", "32",
        "--dataset-id", "cli/Reacher/video-pixels32-v0", "--quiet",
    ]) == 0
    out = tmp_path / "video.safetensors"
    assert main([
        "train", "--task", "Reacher", "--dataset-id", "cli/Reacher/video-pixels32-v0", "--family", "video",
        "--preset", "debug", "--steps", "5", "--batch-size", "4", "--out", str(out), "--quiet",
    ]) == 0
    assert "one-step PSNR" in capsys.readouterr().out
    model = load_checkpoint(out)
    assert model.spec.family == "video" and model.spec.obs_shape == (32, 32, 3) and model.has_probe


def test_collect_with_a_shipped_vla(minari_dir, capsys):
    """``--policy zoo:<name>`` collects with a shipped VLA checkpoint, given dict observations; in state mode the VLA
    refuses in one line."""
    from neural_gym.envs import load_episodes
    from neural_gym.policies.vla import zoo_names

    name = sorted(zoo_names())[0]
    argv = ["collect", "TabletopReach", "--policy", f"zoo:{name}", "--steps", "12", "--quiet"]
    assert main([*argv, "--obs-mode", "dict"]) == 0
    dataset_id = re.search(r"wrote dataset (\S+)", capsys.readouterr().out).group(1)
    episodes = load_episodes(dataset_id)
    assert sum(len(e) for e in episodes) == 12 and episodes[0].instruction
    assert episodes[0].frames is not None and episodes[0].frames.shape[1:] == (64, 64, 3)
    assert main([*argv, "--dataset-id", "neural_gym/TabletopReach/vla-state-v0"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "dict" in err, err
