"""Every ``neural-gym`` command turns bad input into one line on stderr and exit status 2 (``--debug``: traceback)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from neural_gym.cli import main


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit status and stderr of ``neural-gym argv`` (argparse errors exit; the others return)."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def _assert_one_line(err: str, command: str, *fragments: str) -> None:
    assert err.count("\n") == 1 and err.endswith("\n"), f"expected one line on stderr, got {err!r}"
    assert err.startswith(f"neural-gym {command}: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["tasks", "--verbose"], ["unrecognized arguments: --verbose"]),
        (["collect", "--task", "Reacher", "--steps", "0"], ["--steps", "positive integer, got 0"]),
        (["collect", "--task", "Reacher", "--image-size", "-1"], ["--image-size", "got -1"]),
        (["collect", "--task", "Reacher", "--action-noise", "-0.5"], ["--action-noise", "must be >= 0"]),
        (["collect", "--task", "NoSuchTask", "--steps", "10"], ["Unknown task 'NoSuchTask'", "Known tasks"]),
        (["collect", "--task", "Reacher", "--policy", "no_such_policy.zip"], ["no_such_policy.zip"]),
        (["train", "--task", "Reacher", "--dataset-id", "x/y-v0", "--out", "o.safetensors", "--steps", "0"], ["--steps"]),
        (
            ["train", "--task", "Reacher", "--dataset-id", "x/y-v0", "--out", "o.safetensors", "--members", "2",
             "--elites", "1"],
            ["--elites", "got 1"],
        ),
        (
            ["train", "--task", "Reacher", "--dataset-id", "x/y-v0", "--out", "o.safetensors", "--members", "2",
             "--elites", "3"],
            ["--elites (3)", "--members (2)"],
        ),
        (
            ["train", "--task", "Reacher", "--dataset-id", "cli_errors/missing-v0", "--out", "o.safetensors"],
            ["'cli_errors/missing-v0' not found", "neural-gym collect"],
        ),
        (
            ["train", "--task", "Reacher", "--dataset-id", "x/y-v0", "--out", "o.safetensors", "--family", "latent",
             "--set", "conv_depth"],
            ["--set needs FIELD=VALUE"],
        ),
        (["dream", "--task", "Reacher", "--episodes", "0"], ["--episodes", "positive integer, got 0"]),
        (["dream", "--task", "Reacher", "--checkpoint", "no/such.safetensors"], ["no/such.safetensors"]),
        (["dream", "--task", "NoSuchTask"], ["Unknown task 'NoSuchTask'"]),
        (["demo", "--timesteps", "-5"], ["--timesteps", "positive integer, got -5"]),
        (["demo", "--episodes", "0"], ["--episodes"]),
        (["demo", "--num-envs", "0"], ["--num-envs"]),
        (["demo", "--seeds", "0"], ["--seeds", "positive integer, got 0"]),
        (["drift", "--task", "Hopper", "--starts", "0"], ["--starts"]),
        (["drift", "--task", "NoSuchTask"], ["Unknown task 'NoSuchTask'"]),
        (["dream-train", "--task", "InvertedPendulum", "--algo", "TD3"], ["--algo", "'TD3'"]),
    ],
)
def test_bad_input_is_one_line_and_status_2(argv, fragments, capsys, minari_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing a command might write lands in the repository
    code, err = _run(argv, capsys)
    assert code == 2
    _assert_one_line(err, argv[0], *fragments)


def test_dream_train_errors_from_run_are_one_line(capsys, monkeypatch):
    """``dream-train``'s ``run(args)`` is covered by ``main``'s handler too (and ``--debug`` lets the error through)."""
    import neural_gym.dream_rl.cli as dream_rl_cli

    def bad_run(args):
        raise ValueError(f"dyna needs SAC, got {args.algo}\n(PPO is on-policy)")

    monkeypatch.setattr(dream_rl_cli, "run", bad_run)
    code, err = _run(["dream-train", "--task", "InvertedPendulum", "--mode", "dyna", "--algo", "PPO"], capsys)
    assert code == 2
    _assert_one_line(err, "dream-train", "dyna needs SAC, got PPO (PPO is on-policy)")
    with pytest.raises(ValueError, match="dyna needs SAC"):
        main(["dream-train", "--task", "InvertedPendulum", "--algo", "PPO", "--debug"])


def test_debug_shows_the_error_itself(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="Unknown task 'NoSuchTask'"):
        main(["--debug", "dream", "--task", "NoSuchTask"])


def test_unexpected_errors_are_not_hidden(capsys, monkeypatch):
    """Only expected errors become one line; a bug keeps its traceback."""
    import neural_gym.dream_rl.cli as dream_rl_cli

    def broken_run(args):
        raise AttributeError("a bug")

    monkeypatch.setattr(dream_rl_cli, "run", broken_run)
    with pytest.raises(AttributeError, match="a bug"):
        main(["dream-train", "--task", "InvertedPendulum"])


def test_subprocess_bad_counts_exit_2_without_traceback(tmp_path):
    env = {**os.environ, "MINARI_DATASETS_PATH": str(tmp_path / "minari")}
    for argv in (["dream", "--task", "Reacher", "--episodes", "0"], ["collect", "--task", "NoSuchTask", "--steps", "5"]):
        out = subprocess.run(
            [sys.executable, "-m", "neural_gym", *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 2, out
        assert out.stdout == ""
        _assert_one_line(out.stderr, argv[0])


def test_ensemble_settings_error_names_the_setting_not_the_dataset(minari_dir):
    from neural_gym.envs import collect
    from neural_gym.train import fit_world_model
    from neural_gym.world_models import EnsembleConfig

    dataset_id = collect("InvertedPendulum", 100, dataset_id="cli_errors/settings-v0", progress=False, overwrite=True)
    with pytest.raises(ValueError, match=r"^num_elites must be in \[2, ensemble_size=3\], got 4"):
        fit_world_model(
            "InvertedPendulum", dataset_id, config=EnsembleConfig(ensemble_size=3, num_elites=4), progress=False
        )


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [(float("nan"), 2, "n/a"), (None, 2, "n/a"), (float("inf"), 2, "n/a"), (1.23456, 2, "1.23"), (-0.5, 4, "-0.5000")],
)
def test_fmt(value, digits, text):
    from neural_gym.cli import fmt

    assert fmt(value, digits) == text


@pytest.mark.parametrize("command", ["collect", "dream", "drift", "dream-train"])
def test_help_of_every_command_that_loads_sb3_files_warns_about_unpickling(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "unpickle" in text and "trust" in text
