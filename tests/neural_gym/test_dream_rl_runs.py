"""Dream-RL run folders: one generation per save, survive a SIGKILL mid-save, refuse to clobber or to mix settings."""

from __future__ import annotations

import argparse
import csv
import io
import json
import signal
import subprocess
import sys
from contextlib import redirect_stderr
from pathlib import Path

import numpy as np
import pytest
import torch

from neural_gym.dream_rl import train_dyna
from neural_gym.dream_rl.cli import DESCRIPTION, add_parser, run
from neural_gym.dream_rl.common import EVAL_COLUMNS, open_or_start
from neural_gym.dream_rl.runfolder import truncate_eval
from neural_gym.world_models import CheckpointError, EnsembleConfig

from .dream_rl_settings import DYNA_ARGS, TINY_FIELDS

# A child process that trains Dyna SAC and SIGKILLs itself during its second save, right after agent.zip was renamed
# into place and before the replay buffer, the world model and state.json: the moment that left a step-300 agent beside
# a step-150 buffer and state in the layout without generations.
KILL_SCRIPT = """
import os, signal, sys
import torch
from neural_gym.dream_rl import train_dyna
from neural_gym.world_models import EnsembleConfig

torch.set_num_threads(1)
original = os.replace
agents = []

def replace_then_die(src, dst, *args, **kwargs):
    original(src, dst, *args, **kwargs)
    if os.path.basename(dst) == "agent.zip":
        agents.append(dst)
        if len(agents) == 2:
            os.kill(os.getpid(), signal.SIGKILL)

os.replace = replace_then_die
train_dyna("InvertedPendulum", total_timesteps=450, out_dir=sys.argv[1], model_config=EnsembleConfig(**{tiny}),
           **{dyna})
"""


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)  # two torch threads on a busy 2-core box wait on each other


def _dyna(out: Path, steps: int, **kwargs: object) -> object:
    settings = {**DYNA_ARGS, "model_config": EnsembleConfig(**TINY_FIELDS), **kwargs}
    return train_dyna("InvertedPendulum", total_timesteps=steps, out_dir=out, **settings)  # type: ignore[arg-type]


def _csv_steps(path: Path) -> list[int]:
    with open(path, newline="") as f:
        return [int(float(row["timesteps"])) for row in csv.DictReader(f)]


def _state(out: Path) -> dict:
    return json.loads((out / "state.json").read_text())


@pytest.mark.slow
def test_sigkill_between_saves_resumes_from_last_complete_generation(tmp_path: Path) -> None:
    script = KILL_SCRIPT.format(tiny=TINY_FIELDS, dyna=DYNA_ARGS)
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert _state(tmp_path)["step"] == 150  # the generation at 300 never committed
    # resume: continues from the complete generation at 150 with all of its 150 real transitions, not from a
    # step-300 agent beside a step-150 buffer
    result = _dyna(tmp_path, 450, resume=True)
    assert result.steps == 450
    assert result.agent.replay_buffer.size() == 450  # every real step of the run is in the buffer
    assert _state(tmp_path)["step"] == 450
    assert _csv_steps(tmp_path / "eval.csv") == [150, 300, 450]  # the uncommitted row at 300 was not kept twice
    generations = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("gen-"))
    assert generations == [_state(tmp_path)["generation"]]  # the stale partial generation was cleaned


def test_run_folder_is_pickle_free_except_the_sb3_agent(tmp_path: Path) -> None:
    _dyna(tmp_path, 150)
    state = _state(tmp_path)
    gen = tmp_path / state["generation"]
    assert sorted(p.name for p in gen.iterdir()) == ["agent.zip", "model.safetensors", "replay_buffer.npz"]
    assert set(state["files"]) == {"agent.zip", "model.safetensors", "replay_buffer.npz"}
    with np.load(gen / "replay_buffer.npz", allow_pickle=False) as arrays:  # plain arrays, no object pickles
        assert arrays["real.rewards"].shape[0] == 150
    assert not list(tmp_path.rglob("*.pkl"))


def test_resume_refuses_a_generation_whose_file_was_changed(tmp_path: Path) -> None:
    _dyna(tmp_path, 150)
    state = _state(tmp_path)
    buffer = tmp_path / state["generation"] / "replay_buffer.npz"
    data = bytearray(buffer.read_bytes())
    data[-10] ^= 0xFF
    buffer.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"replay_buffer\.npz.*sha256"):
        _dyna(tmp_path, 300, resume=True)
    (tmp_path / state["generation"] / "agent.zip").unlink()
    with pytest.raises(CheckpointError, match=r"agent\.zip.*missing"):
        _dyna(tmp_path, 300, resume=True)


def test_fresh_run_refuses_an_existing_run_folder_unless_overwrite(tmp_path: Path) -> None:
    _dyna(tmp_path, 150)
    before = (tmp_path / "eval.csv").read_text()
    with pytest.raises(ValueError, match=r"already holds a run.*overwrite.*resume"):
        _dyna(tmp_path, 150)
    assert (tmp_path / "eval.csv").read_text() == before  # nothing was deleted
    with pytest.raises(ValueError, match="not both"):
        _dyna(tmp_path, 150, resume=True, overwrite=True)
    result = _dyna(tmp_path, 150, overwrite=True, seed=1)
    assert result.steps == 150 and _state(tmp_path)["settings"]["seed"] == 1
    assert _csv_steps(tmp_path / "eval.csv") == [150]


def test_resume_with_other_settings_lists_each_difference(tmp_path: Path) -> None:
    _dyna(tmp_path, 150)
    with pytest.raises(ValueError) as err:
        _dyna(tmp_path, 300, resume=True, horizon=3, on_uncertain="penalize", penalty=0.5)
    message = str(err.value)
    for line in ("horizon=2 saved, 3 given", "on_uncertain='truncate' saved, 'penalize' given", "penalty=1.0 saved"):
        assert line in message
    assert "total_timesteps" in message  # the message says what may change
    assert _state(tmp_path)["step"] == 150
    # the budget, checkpoint cadence, device and logging may change
    result = _dyna(tmp_path, 300, resume=True, save_freq=75, device="cpu")
    assert result.steps == 300


def _cli(tmp_path: Path, *extra: str) -> int:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    base = ["dream-train", "--task", "InvertedPendulum", "--mode", "dyna", "--out", str(tmp_path), "--quiet"]
    return run(parser.parse_args([*base, *extra]))


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--steps", "0"),
        ("--eval-freq", "0"),
        ("--eval-freq", "-5"),
        ("--eval-episodes", "0"),
        ("--horizon", "0"),
        ("--save-freq", "0"),
        ("--num-envs", "0"),
        ("--model-epochs", "0"),
        ("--gradient-steps", "0"),
        ("--model-train-freq", "0"),
        ("--rollout-batch-size", "0"),
        ("--learning-starts", "-1"),
        ("--real-ratio", "1.5"),
        ("--penalty", "-1"),
        ("--penalty", "nan"),
    ],
)
def test_cli_refuses_bad_counts_and_ratios(flag: str, value: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"{flag} must be .*got {value}"):
        _cli(tmp_path, flag, value)
    assert not (tmp_path / "eval.csv").exists()


def test_cli_help_warns_that_resume_unpickles_the_agent() -> None:
    parser = argparse.ArgumentParser()
    p = add_parser(parser.add_subparsers(dest="command"))
    text = " ".join(p.format_help().split())
    assert "unpickled" in DESCRIPTION and "trust" in DESCRIPTION
    assert "--overwrite" in text
    resume_help = next(a.help for a in p._actions if "--resume" in a.option_strings)
    assert "unpickle" in resume_help and "trust" in resume_help


def test_progress_lines_off_a_terminal(tmp_path: Path) -> None:
    err = io.StringIO()  # not a TTY
    with redirect_stderr(err):
        _dyna(tmp_path, 300, progress=True)
    lines = [line for line in err.getvalue().splitlines() if line.startswith("dream-train")]
    assert any("step 150/300" in line and "MuJoCo return" in line for line in lines), err.getvalue()
    assert any("step 300/300" in line for line in lines)
    # a model exists from step 100 (the first refit): every evaluation line names both returns and the gap
    evals = [line for line in lines if "MuJoCo return" in line]
    assert len(evals) >= 2 and all("dream return" in ln and "dream-real gap" in ln for ln in evals), evals
    assert all("% of MuJoCo" in ln for ln in evals), evals  # InvertedPendulum returns are >= 1, never 0


SETTINGS = {"task": "InvertedPendulum", "mode": "dyna", "algo": "SAC", "horizon": 2}


def test_resume_refuses_the_layout_without_generations(tmp_path: Path) -> None:
    (tmp_path / "agent.zip").write_bytes(b"PK")
    (tmp_path / "state.json").write_text(json.dumps({"task": "InvertedPendulum", "mode": "dyna", "algo": "SAC"}))
    with pytest.raises(CheckpointError, match="older neural_gym.*--overwrite"):
        open_or_start(tmp_path, SETTINGS, resume=True, overwrite=False)
    (tmp_path / "state.json").write_text('{"step": 3')  # cut by a kill of a foreign writer
    with pytest.raises(CheckpointError, match="not a readable run state"):
        open_or_start(tmp_path, SETTINGS, resume=True, overwrite=False)


def test_resume_with_nothing_committed_starts_from_zero_and_drops_leftovers(tmp_path: Path) -> None:
    (tmp_path / "gen-000001").mkdir()  # a first save killed before its commit
    (tmp_path / "gen-000001" / "agent.zip").write_bytes(b"half")
    (tmp_path / "eval.csv").write_text("timesteps,real_steps\n150,150\n")
    (tmp_path / "notes.txt").write_text("mine")
    assert open_or_start(tmp_path, SETTINGS, resume=True, overwrite=False) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # only run files were removed


def test_eval_rows_after_the_committed_step_and_cut_rows_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "eval.csv"
    header = ",".join(EVAL_COLUMNS)
    full = ",".join(["1.5"] * (len(EVAL_COLUMNS) - 1))
    path.write_text(f"{header}\n100,{full}\n200,{full}\n300,{full}\n400,1.5,2")  # 400: cut mid-row by a kill
    truncate_eval(path, 200, EVAL_COLUMNS)
    assert _csv_steps(path) == [100, 200]
    path.write_text(f"{header}\n300,{full}\n")
    truncate_eval(path, 0, EVAL_COLUMNS)
    assert not path.exists()


def test_eval_rows_of_a_run_older_than_the_gap_share_column_are_kept_and_the_share_derived(tmp_path: Path) -> None:
    from neural_gym.dream_rl.common import EvalLog

    old = [c for c in EVAL_COLUMNS if c != "dream_real_gap_share"]
    path = tmp_path / "eval.csv"
    row = {"timesteps": 100, "real_steps": 100, "real_return_mean": 40.0, "real_return_std": 1.0}
    row |= {"dream_return_mean": 50.0, "dream_real_gap": 10.0, "dream_length_mean": 9.0}
    row |= {"dream_ended_by_uncertainty": 0.0, "wall_s": 3.0}
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=old)
        writer.writeheader()
        writer.writerows([row, {**row, "timesteps": 300}])
    truncate_eval(path, 200, EVAL_COLUMNS)  # what a resume does first
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == list(EVAL_COLUMNS)
        assert [r["timesteps"] for r in reader] == ["100"]
    (kept,) = EvalLog(path).rows
    assert kept["dream_real_gap"] == 10.0 and kept["dream_real_gap_share"] == pytest.approx(0.25)
