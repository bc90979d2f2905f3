"""``neural-gym serve-policy``: a real subprocess serving the tabletop expert, queried by RemotePolicy; expected
errors are one line with status 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("msgpack")
pytest.importorskip("websockets")

from neural_gym.policies import ExpertPolicy, RemotePolicy  # noqa: E402


def test_serve_policy_subprocess_answers_like_the_local_policy(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "neural_gym", "serve-policy", "--policy", "expert", "--task", "push", "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        line = proc.stdout.readline()
        match = re.search(r"on (ws://127\.0\.0\.1:\d+) \(chunk size 1\)", line)
        assert match, (line, proc.poll(), proc.stderr.read() if proc.poll() is not None else "")
        obs = {"state": np.random.default_rng(0).normal(size=(2, 54)), "instruction": ["push it", "push that"]}
        with RemotePolicy(match.group(1), timeout=20) as remote:
            np.testing.assert_array_equal(remote.act(obs), ExpertPolicy("push").act(obs))
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--policy", "expert"], "needs the task"),
        (["--policy", "missing.zip"], "is not one of 'random'"),
        (["--policy", "random", "--task", "NoSuchTask"], "NoSuchTask"),
    ],
)
def test_expected_errors_are_one_line(argv, message, capsys):
    from neural_gym.cli import main

    assert main(["serve-policy", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("neural-gym serve-policy: error: ") and message in err and "\n" not in err


def test_port_in_use_is_one_line(capsys):
    import socket

    from neural_gym.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["serve-policy", "--policy", "random", "--task", "reach", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"cannot listen on 127.0.0.1:{port}" in err and "\n" not in err
