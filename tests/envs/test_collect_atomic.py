"""A collection killed at any moment leaves the complete dataset or nothing at its id (and an old one untouched)."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import minari
import numpy as np
import pytest

from neural_gym.envs import collect, load_episodes, load_transitions
from neural_gym.envs.collect import recover_dataset
from neural_gym.envs.dataset import dataset_path

DATASET_ID = "tests/Reacher/atomic-v0"

# Collects 200 Reacher steps (4 episodes of 50, one chunk written per episode) and SIGKILLs itself at a known point.
_KILLED_COLLECT = """
import importlib, os, signal, sys
C = importlib.import_module("neural_gym.envs.collect")  # the module (neural_gym.envs.collect is also the function)

mode, dataset_id, overwrite = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
C._FLUSH_STEPS = 50
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
if mode == "mid-write":
    real_write, calls = C.DatasetWriter.write, []
    def write(self, episodes):
        calls.append(1)
        if len(calls) == 3:
            real_write(self, episodes)  # three chunks are on disk, the fourth never comes
            die()
        real_write(self, episodes)
    C.DatasetWriter.write = write
else:
    real_rename = os.rename
    def rename(src, dst):
        real_rename(src, dst)
        if mode == "between-renames" and ".ng-trash-" in str(dst):
            die()  # the old dataset is moved aside, the new one not yet in place
        if mode == "before-cleanup" and ".ng-staging-" in str(src):
            die()  # the new dataset is in place, the old one still in the trash
    os.rename = rename
C.collect("Reacher", 200, seed=1, dataset_id=dataset_id, overwrite=overwrite, progress=False)
"""


def _killed_collect(mode: str, overwrite: bool) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _KILLED_COLLECT, mode, DATASET_ID, "1" if overwrite else "0"],
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == -signal.SIGKILL, (
        f"expected the collection to be killed at {mode!r}, it exited {result.returncode}: {result.stderr.decode()}"
    )


def _listed() -> list[str]:
    """Minari's own listing, failing on any 'misconfigured dataset' warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return sorted(minari.list_local_datasets())


def _hidden_leftovers() -> list[str]:
    parent = dataset_path(DATASET_ID).parent
    return sorted(n for n in os.listdir(parent) if n.startswith(".")) if parent.is_dir() else []


def _assert_same(a: object, b: object) -> None:
    for key in ("observations", "actions", "rewards", "next_observations", "terminations", "truncations"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)


@pytest.fixture
def old(minari_root: Path) -> object:
    """An existing dataset (120 steps, seed 0) at DATASET_ID."""
    collect("Reacher", 120, seed=0, dataset_id=DATASET_ID, progress=False)
    return load_transitions(DATASET_ID)


def test_dataset_path_is_where_collect_writes(minari_root: Path) -> None:
    dataset_id = collect("Reacher", 20, seed=0, progress=False)
    assert dataset_path(dataset_id) == minari_root / "neural_gym" / "Reacher" / "random-v0"
    assert (dataset_path(dataset_id) / "data" / "metadata.json").is_file()
    assert sorted(os.listdir(dataset_path(dataset_id).parent)) == ["namespace_metadata.json", "random-v0"]
    with pytest.raises(ValueError, match="Malformed dataset ID"):
        dataset_path("no version here/")


def test_killed_overwrite_keeps_the_old_dataset(old: object) -> None:
    _killed_collect("mid-write", overwrite=True)
    _assert_same(load_transitions(DATASET_ID), old)
    assert len(load_transitions(DATASET_ID)) == 120
    assert _listed() == [DATASET_ID]  # the killed run's staging folder is not a dataset to Minari
    assert len(_hidden_leftovers()) == 1 and ".ng-staging-" in _hidden_leftovers()[0]

    collect("Reacher", 200, seed=1, dataset_id=DATASET_ID, overwrite=True, progress=False)
    assert len(load_transitions(DATASET_ID)) == 200
    assert _hidden_leftovers() == []  # the stale staging folder was cleaned up
    assert _listed() == [DATASET_ID]


def test_killed_fresh_collect_leaves_nothing(minari_root: Path) -> None:
    _killed_collect("mid-write", overwrite=False)
    assert not dataset_path(DATASET_ID).exists()
    assert _listed() == []
    with pytest.raises(FileNotFoundError, match="not found"):
        load_episodes(DATASET_ID)
    # The id is free: a new collection without overwrite works and removes the leftover.
    collect("Reacher", 60, seed=1, dataset_id=DATASET_ID, progress=False)
    assert [len(ep) for ep in load_episodes(DATASET_ID)] == [50, 10]
    assert _hidden_leftovers() == []


def test_kill_between_the_renames_is_undone_on_the_next_start(old: object) -> None:
    _killed_collect("between-renames", overwrite=True)
    assert not dataset_path(DATASET_ID).exists()
    staging, trash = _hidden_leftovers()
    assert ".ng-staging-" in staging and ".ng-trash-" in trash
    assert _listed() == []
    # On start, collect moves the old dataset back (and then refuses to overwrite it without overwrite=True).
    with pytest.raises(FileExistsError, match="already exists at"):
        collect("Reacher", 60, seed=1, dataset_id=DATASET_ID, progress=False)
    _assert_same(load_transitions(DATASET_ID), old)
    assert _hidden_leftovers() == [] and _listed() == [DATASET_ID]


def test_kill_after_the_swap_keeps_the_new_dataset(old: object) -> None:
    _killed_collect("before-cleanup", overwrite=True)
    assert len(load_transitions(DATASET_ID)) == 200  # complete, already in place
    assert len(_hidden_leftovers()) == 1 and ".ng-trash-" in _hidden_leftovers()[0]
    recover_dataset(DATASET_ID)
    assert _hidden_leftovers() == []
    assert len(load_transitions(DATASET_ID)) == 200


def test_failed_collect_leaves_old_dataset_and_nothing_else(old: object, monkeypatch: pytest.MonkeyPatch) -> None:
    collect_module = importlib.import_module("neural_gym.envs.collect")

    monkeypatch.setattr(collect_module, "_FLUSH_STEPS", 50)  # the first episode is written before the crash
    calls = []

    def bad_policy(obs: np.ndarray) -> np.ndarray:
        calls.append(1)
        if len(calls) > 80:
            raise RuntimeError("policy crashed")
        return np.zeros(2, dtype=np.float32)

    with pytest.raises(RuntimeError, match="policy crashed"):
        collect("Reacher", 120, policy=bad_policy, dataset_id=DATASET_ID, overwrite=True, progress=False)
    _assert_same(load_transitions(DATASET_ID), old)
    assert _hidden_leftovers() == []


def test_an_error_inside_the_writer_leaves_the_old_dataset_and_no_staging(old: object) -> None:
    """``with DatasetWriter(...)``: an exception in the block discards the staging folder; a clean block commits."""
    from neural_gym.envs.collect import DatasetWriter, EpisodeRecorder, dataset_metadata
    from neural_gym.envs.tasks import get_task

    env = get_task("Reacher").make()
    meta = dataset_metadata(DATASET_ID, env, "test", "two episodes")

    def episodes() -> list[EpisodeRecorder]:
        out = []
        for k in range(2):
            obs, _ = env.reset(seed=k)
            rec = EpisodeRecorder(k, k, env, obs, {})
            for t in range(5):
                obs, r, *_ = env.step(env.action_space.sample())
                rec.add(env.action_space.sample(), obs, float(r), False, t == 4)
            out.append(rec)
        return out

    with pytest.raises(KeyError, match="boom"), DatasetWriter(DATASET_ID, env, meta) as writer:
        writer.write(episodes())
        raise KeyError("boom")
    _assert_same(load_transitions(DATASET_ID), old)  # untouched
    assert _hidden_leftovers() == []  # the staging folder is gone
    with DatasetWriter(DATASET_ID, env, meta) as writer:
        writer.write(episodes())
    assert [len(ep) for ep in load_episodes(DATASET_ID)] == [5, 5] and _hidden_leftovers() == []
    env.close()
