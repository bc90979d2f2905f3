"""Progress shows in logs: off a terminal, plain lines every 10 % or 30 s (tqdm would hide itself there)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def progress():
    """The module under test (imported here so the subprocess test below stands on its own)."""
    from neural_gym import progress

    return progress



class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_plain_lines_every_tenth_with_count_elapsed_and_rate(progress):
    stream, clock = io.StringIO(), _Clock()
    bar = progress.ProgressBar(range(50), desc="latent Hopper", unit="step", stream=stream, every_s=0, clock=clock)
    for _ in bar:
        clock.t += 2.0
        bar.set_postfix(loss="0.123")
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10  # 10 %, 20 %, ..., 100 %; no repeated last line at close
    assert lines[0] == "latent Hopper: 5/50 step (10%), 10 s elapsed, 0.5 step/s, loss=0.123"
    assert lines[-1].startswith("latent Hopper: 50/50 step (100%), 1m 40s elapsed")


def test_plain_line_every_30_s_when_the_tenths_are_far_apart(progress):
    stream, clock = io.StringIO(), _Clock()
    with progress.ProgressBar(total=1000, desc="collect Hopper", unit="step", stream=stream, clock=clock) as bar:
        for _ in range(50):  # 5 % of the total, one step every 2 s
            clock.t += 2.0
            bar.update(1)
    text = stream.getvalue()
    assert re.findall(r"collect Hopper: (\d+)/1000 step", text) == ["15", "30", "45", "50"], text
    assert text.splitlines()[-1].endswith("stopped")


def test_early_stop_counts_the_last_item_and_says_stopped(progress):
    stream = io.StringIO()
    bar = progress.progress_bar(range(100), desc="ensemble Hopper", unit="epoch", stream=stream, every_fraction=0.5, every_s=0)
    for epoch in bar:
        if epoch == 6:  # early stopping after the 7th epoch
            break
    bar.close()
    assert stream.getvalue().splitlines()[-1].startswith("ensemble Hopper: 7/100 epoch (7%)")
    assert stream.getvalue().rstrip().endswith("stopped")


def test_a_loop_of_seconds_prints_only_its_closing_line(progress):
    stream, clock = io.StringIO(), _Clock()
    for _ in progress.ProgressBar(range(10), desc="paired episodes", unit="episode", stream=stream, clock=clock):
        clock.t += 0.3  # 3 s in all: lines at each tenth would be noise
    assert stream.getvalue().splitlines() == ["paired episodes: 10/10 episode (100%), 3 s elapsed, 3.33 episode/s, done"]


def test_disabled_prints_nothing(progress):
    stream = io.StringIO()
    for _ in progress.progress_bar(range(20), enabled=False, stream=stream):
        pass
    assert stream.getvalue() == ""


def test_format_duration(progress):
    assert [progress.format_duration(s) for s in (0.4, 59.6, 185, 3725)] == ["0 s", "1m 00s", "3m 05s", "1h 02m"]


@pytest.mark.slow
def test_collect_and_train_print_progress_lines_when_output_is_redirected(tmp_path):
    env = {**os.environ, "MINARI_DATASETS_PATH": str(tmp_path / "minari")}

    def neural_gym(*argv: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "neural_gym", *argv], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout + out.stderr

    text = neural_gym("collect", "--task", "InvertedPendulum", "--steps", "200", "--dataset-id", "progress/ip-v0")
    assert "collect InvertedPendulum: 200/200 step (100%)" in text  # a run of seconds: its closing line only
    assert f"to {tmp_path / 'minari'}" in text
    text = neural_gym(
        "train", "--task", "InvertedPendulum", "--dataset-id", "progress/ip-v0", "--out", "m.safetensors",
        "--members", "2", "--elites", "2", "--hidden", "8", "--layers", "1", "--max-epochs", "2", "--patience", "5",
        "--device", "cpu",
    )
    assert re.search(r"ensemble InvertedPendulum: 2/2 epoch \(100%\), \d+ s elapsed, [\d.]+ epoch/s, loss=", text), text
