"""The demo: several training seeds, per-seed results and an interval; the evaluation and drift parts; one combined report;
the whole folder all or nothing."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
import torch

from neural_gym import demo as demo_module
from neural_gym.cli import main
from neural_gym.demo import run_demo
from neural_gym.demo_report import SECTION_TITLES

TINY = {"timesteps": 2048, "num_envs": 4, "eval_episodes": 2, "progress": False, "device": "cpu"}
RL_ONLY = {"evaluate": False, "drift": False}
#: The evaluation and drift parts on tiny budgets (two references, two episodes; four drift starts).
TINY_PARTS = {
    "policies": ("expert", "random"),
    "policy_episodes": 2,
    "record_episodes": 1,
    "drift_starts": 4,
    "drift_heldout_steps": 300,
    "n_boot": 50,
}


def test_demo_reports_every_seed_and_an_interval(tmp_path: Path) -> None:
    before = torch.get_num_threads()
    out = tmp_path / "demo"
    result = run_demo("InvertedPendulum", seed=3, n_seeds=2, out_dir=out, **TINY, **RL_ONLY)
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
    # the exploitation gap at every evaluation (each seed's) and over seeds
    for r in per_seed:
        gap = r["dream_return_mean"] - r["real_return_mean"]
        assert r["dream_real_gap"] == pytest.approx(gap)
        assert r["dream_real_gap_share"] == pytest.approx(gap / abs(r["real_return_mean"]))
    over = payload["agent_over_seeds"]
    assert over["dream_real_gap"]["per_seed"] == pytest.approx([r["dream_real_gap"] for r in per_seed])
    assert over["dream_real_gap"]["mean"] == pytest.approx(over["dream_return"]["mean"] - real["mean"])
    share = over["dream_real_gap_share"]
    assert share["value"] == pytest.approx(over["dream_real_gap"]["mean"] / abs(real["mean"]))
    assert share["per_seed"] == pytest.approx([r["dream_real_gap_share"] for r in per_seed])
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "demo_InvertedPendulum.json",
            "demo_InvertedPendulum.png",
            "ppo_InvertedPendulum_seed3.zip",
            "ppo_InvertedPendulum_seed4.zip",
            "report.html",
            "report.md",
        ]
    )
    assert result.evaluation is None and result.drift is None
    md = result.report_md.read_text()
    assert "Skipped (--skip-eval)" in md and "Skipped (--skip-drift)" in md

    table = result.table()
    assert "nan" not in table.lower()
    rows = [line.split() for line in table.splitlines() if line.startswith("PPO ")]
    assert [r[1] for r in rows if r[1].isdigit()] == ["3", "4"]  # one row per seed
    assert "t-interval" in table and "random" in table
    assert "gap/MuJoCo" in table and "dream - MuJoCo" in table and "of the MuJoCo return" in table
    assert "gap (dream − MuJoCo)" in md and "gap / MuJoCo" in md
    assert f"{100 * share['value']:+.1f}%" in md  # the over-seeds share in the report's mean row


def test_one_seed_has_no_interval_and_no_nan(tmp_path: Path) -> None:
    result = run_demo("InvertedPendulum", n_seeds=1, out_dir=tmp_path / "one", **{**TINY, "timesteps": 512}, **RL_ONLY)
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
        run_demo("InvertedPendulum", n_seeds=1, out_dir=out, **{**TINY, "timesteps": 512}, **RL_ONLY)
    assert not out.exists()
    assert not list(tmp_path.iterdir())  # no staging folder left beside it either


def test_bad_counts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_seeds"):
        run_demo("InvertedPendulum", n_seeds=0, out_dir=tmp_path / "x", progress=False)
    with pytest.raises(ValueError, match="num_threads"):
        run_demo("InvertedPendulum", num_threads=0, out_dir=tmp_path / "x", progress=False)
    with pytest.raises(ValueError, match="policy_episodes"):
        run_demo("InvertedPendulum", policy_episodes=0, out_dir=tmp_path / "x", progress=False)
    with pytest.raises(ValueError, match="policies"):
        run_demo("InvertedPendulum", policies=(), out_dir=tmp_path / "x", progress=False)
    with pytest.raises(ValueError, match="drift_starts"):
        run_demo("InvertedPendulum", drift_starts=0, out_dir=tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()


def test_all_three_parts_and_one_report_that_names_each(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = run_demo("InvertedPendulum", n_seeds=1, out_dir=out, **{**TINY, "timesteps": 512}, **TINY_PARTS)

    # every part's own files, inside the demo's folder
    assert (out / "demo_InvertedPendulum.json").is_file() and (out / "ppo_InvertedPendulum_seed0.zip").is_file()
    ev = out / "evaluation"
    for name in (
        "evaluation.json",
        "scatter.png",
        "ranks.png",
        "report.md",
        "report.html",
        "videos/expert.mp4",
        "videos/random.mp4",
    ):
        assert (ev / name).is_file(), name
    for name in ("drift.json", "error_vs_horizon.png", "calibration.png", "drift.mp4", "report.md"):
        assert (out / "drift" / name).is_file(), name
    assert not [p.name for p in tmp_path.iterdir() if p.name != "demo"]  # no staging folder left

    payload = json.loads((ev / "evaluation.json").read_text())
    assert payload["policies"] == ["expert", "random"] and payload["episodes"] == 2
    assert result.evaluation is not None and result.evaluation.payload["per_policy"] == payload["per_policy"]
    assert result.drift is not None and result.drift.result.meta["n_starts"] == 4
    assert set(result.seconds or {}) == {"dream_rl", "evaluation", "drift", "total"}

    # the combined report names each use, holds each part's key table, inlines its plots, links its files
    md, page = result.report_md.read_text(), result.report_html.read_text()
    for title in SECTION_TITLES.values():
        assert title in md and html.escape(title) in page
    for text in (
        "Pearson r (rates)",
        "Cohen's κ (episodes)",
        "expert",
        "random",
        "AUROC",
        "trusted horizon",
        "copy_last",
    ):
        assert text in md and html.escape(text) in page, text
    assert page.count("data:image/png;base64,") == 5  # RL plot, scatter, ranks, error vs horizon, calibration
    assert 'src="evaluation/' not in page and 'src="drift/' not in page  # plots inline, not beside the page
    links = re.findall(r'href="([^"]+)"', page)
    assert "evaluation/report.html" in links and "drift/report.md" in links and "evaluation/videos/expert.mp4" in links
    assert all((out / link).is_file() for link in links)
    assert not re.search(r"\bnan\b", md.lower())

    text = result.summary()
    assert "2. Policy evaluation" in text and "Pearson" in text and "MMRV" in text and "inconclusive" in text
    assert "3. Drift" in text and "AUROC" in text and "ensemble" in text


def test_a_failed_part_leaves_the_earlier_demo_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "demo"
    run_demo("InvertedPendulum", n_seeds=1, out_dir=out, **{**TINY, "timesteps": 512}, **RL_ONLY)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("drift failed")

    monkeypatch.setattr(demo_module, "_drift_part", broken)
    with pytest.raises(RuntimeError, match="drift failed"):
        run_demo("InvertedPendulum", n_seeds=1, seed=7, out_dir=out, **{**TINY, "timesteps": 512}, evaluate=False)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # the earlier demo, untouched; nothing of the failed run (seed 7) anywhere
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]


def test_a_folder_that_is_not_a_demo_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="replaces its whole output folder"):
        run_demo("InvertedPendulum", out_dir=out, progress=False)
    assert (out / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="is a file"):
        run_demo("InvertedPendulum", out_dir=tmp_path / "file", progress=False)


def test_cli_skip_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    args = [
        "demo",
        "--timesteps",
        "512",
        "--num-envs",
        "4",
        "--episodes",
        "2",
        "--seeds",
        "1",
        "--device",
        "cpu",
        "--skip-eval",
        "--skip-drift",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "skipped (--skip-eval)" in printed and "skipped (--skip-drift)" in printed
    assert str(out / "report.html") in printed
    assert not (out / "evaluation").exists() and not (out / "drift").exists()
    assert (out / "report.md").is_file() and (out / "demo_InvertedPendulum.json").is_file()
