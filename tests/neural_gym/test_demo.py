"""The demo: several training seeds, per-seed results and an interval in the JSON and the table, files all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from neural_gym import demo as demo_module
from neural_gym.demo import run_demo

TINY = {"timesteps": 2048, "num_envs": 4, "eval_episodes": 2, "progress": False, "device": "cpu"}


def test_demo_reports_every_seed_and_an_interval(tmp_path: Path) -> None:
    before = torch.get_num_threads()
    out = tmp_path / "demo"
    result = run_demo("InvertedPendulum", seed=3, n_seeds=2, out_dir=out, **TINY)
    assert torch.get_num_threads() == before  # the demo's one-thread setting is given back

    payload = json.loads(result.json.read_text())
    assert payload["seeds"] == [3, 4] and payload["torch_threads"] == 1
    per_seed = payload["per_seed"]
    assert [r["seed"] for r in per_seed] == [3, 4]
    for r in per_seed:
        assert len(r["real_returns"]) == 2 and len(r["dream_returns"]) == 2
        assert (out / r["agent_file"]).is_file()
    real = payload["agent_over_seeds"]["real_return"]
    assert real["n_seeds"] == 2 and real["interval"] == "student_t_over_seeds"
    assert real["per_seed"] == pytest.approx([r["real_return_mean"] for r in per_seed])
    assert real["ci_low"] is not None and real["ci_low"] <= real["mean"] <= real["ci_high"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["demo_InvertedPendulum.json", "demo_InvertedPendulum.png", "ppo_InvertedPendulum_seed3.zip",
         "ppo_InvertedPendulum_seed4.zip"]
    )

    table = result.table()
    assert "nan" not in table.lower()
    rows = [line.split() for line in table.splitlines() if line.startswith("PPO ")]
    assert [r[1] for r in rows if r[1].isdigit()] == ["3", "4"]  # one row per seed
    assert "t-interval" in table and "random" in table


def test_one_seed_has_no_interval_and_no_nan(tmp_path: Path) -> None:
    result = run_demo("InvertedPendulum", n_seeds=1, out_dir=tmp_path / "one", **{**TINY, "timesteps": 512})
    real = json.loads(result.json.read_text())["agent_over_seeds"]["real_return"]
    assert real["ci_low"] is None and real["ci_high"] is None and real["std"] is None
    table = result.table()
    assert "nan" not in table.lower() and "n/a" in table


def test_a_failed_demo_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("plot failed")

    monkeypatch.setattr(demo_module, "_plot", broken)
    out = tmp_path / "demo"
    with pytest.raises(RuntimeError, match="plot failed"):
        run_demo("InvertedPendulum", n_seeds=1, out_dir=out, **{**TINY, "timesteps": 512})
    assert not out.exists()


def test_bad_counts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_seeds"):
        run_demo("InvertedPendulum", n_seeds=0, out_dir=tmp_path / "x", progress=False)
    with pytest.raises(ValueError, match="num_threads"):
        run_demo("InvertedPendulum", num_threads=0, out_dir=tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()
