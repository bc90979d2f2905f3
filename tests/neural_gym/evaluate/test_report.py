"""The evaluation report folder (JSON, plots, videos, Markdown, self-contained HTML), all or nothing, the judge's own
accuracy on real final states, and ``neural-gym evaluate`` with its one-line errors."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest

from neural_gym.cli import main
from neural_gym.evaluate import EPISODE_FIGURES, POLICY_FIGURES, evaluate_policies, judge_accuracy
from neural_gym.evaluate import report as report_mod
from neural_gym.evaluate.report import write_evaluation_report

ODD = 'noisy <b>&"x"</b>'  # a policy name that HTML and Markdown must escape


@pytest.fixture(scope="module")
def evaluation():
    return evaluate_policies(
        {"expert": "expert", "random": "random", ODD: "noisy-expert"},
        "TabletopReach",
        episodes=2,
        max_episode_steps=30,
        record_episodes=1,
        progress=False,
    )


@pytest.fixture(scope="module")
def folder(evaluation, tmp_path_factory):
    return write_evaluation_report(evaluation, tmp_path_factory.mktemp("eval") / "report", n_boot=20)


def test_the_folder_has_every_file(folder) -> None:
    names = {p.name for p in folder.iterdir()}
    assert names == {"evaluation.json", "scatter.png", "ranks.png", "videos", "report.md", "report.html"}
    videos = sorted(p.name for p in (folder / "videos").iterdir())
    assert videos == ["expert.mp4", "noisy_b_x_b.mp4", "random.mp4"]
    for p in [*folder.glob("*.png"), *(folder / "videos").iterdir()]:
        assert p.stat().st_size > 1000
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")], "temporary folders left behind"


def test_the_json_has_every_figure(folder, evaluation) -> None:
    data = json.loads((folder / "evaluation.json").read_text())
    assert data["policies"] == ["expert", "random", ODD]
    for block in ("all_episodes", "conclusive_only"):
        figures = data["agreement"][block]["figures"]
        assert set(figures) == {*POLICY_FIGURES, *EPISODE_FIGURES}
        for f in figures.values():
            assert {"value", "interval_over_episodes", "interval_over_policies", "note"} <= set(f)
    assert data["agreement"]["n_boot"] == 20
    for name in data["policies"]:
        s = data["per_policy"][name]
        assert {"real", "dream", "dream_conclusive", "inconclusive_share", "speed"} <= set(s)
        run = evaluation.policies[name]
        assert data["episodes_detail"][name]["real_success"] == run.real_success.tolist()
        assert data["episodes_detail"][name]["dream_success"] == run.dream_success.tolist()
        assert data["episodes_detail"][name]["inconclusive"] == run.inconclusive.tolist()
    for key in ("task", "split", "seed", "checkpoint", "judge", "uncertainty_threshold", "max_episode_steps"):
        assert key in data
    assert data["max_episode_steps"] == 30
    assert {"mujoco_episodes_per_s", "dream_episodes_per_s"} <= set(data["speed"])
    judge = data["judge_accuracy"]
    assert judge["judge"] == evaluation.judge
    assert judge["overall"]["episodes"] == 6
    positives = sum(int(r.real_success.sum()) for r in evaluation.policies.values())
    assert judge["overall"]["true_positive"] + judge["overall"]["false_negative"] == positives
    assert set(data["report_files"]["videos"]) == set(data["policies"])
    md = (folder / "report.md").read_text()
    for text in ("Pearson", "MMRV", "Cohen", "conclusive only", "The judge", "Speed", "scatter.png", "ranks.png"):
        assert text in md
    assert "noisy &lt;b&gt;&amp;" in md and "<b>" not in md


def test_judge_accuracy_applies_the_rule_to_the_real_final_states(evaluation) -> None:
    clean = judge_accuracy(evaluation)
    assert clean["overall"]["accuracy"]["rate"] == 1.0  # the rule MuJoCo's is_success is computed with
    expert = evaluation.policies["expert"]
    assert expert.real_success.all(), "the scripted expert reaches within 30 steps"
    tampered = copy.deepcopy(evaluation)
    states = tampered.policies["expert"].real_final_states
    states[0, :3] += 1.0  # move the recorded grasp point a metre away: the rule must now call it a failure
    out = judge_accuracy(tampered)
    assert out["per_policy"]["expert"]["false_negative"] == 1
    assert out["overall"]["accuracy"]["correct"] == 5
    tampered.policies["random"].real_final_states = np.zeros((0, 0), dtype=np.float32)
    assert judge_accuracy(tampered)["per_policy"]["random"] is None


def test_the_html_is_self_contained_and_escapes_names(folder) -> None:
    page = (folder / "report.html").read_text()
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert len(sources) == 5  # two plots, three videos
    assert all(s.startswith("data:") for s in sources)
    assert page.count('src="data:image/png;base64,') == 2
    assert page.count('src="data:video/mp4;base64,') == 3
    assert "http://" not in page and "https://" not in page and "<link" not in page and "<script" not in page
    assert ODD not in page
    assert "noisy &lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;" in page


def test_large_videos_are_linked_and_the_page_says_so(evaluation, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(report_mod, "MAX_INLINE_BYTES", 10)
    out = write_evaluation_report(evaluation, tmp_path / "r", n_boot=5)
    page = (out / "report.html").read_text()
    assert 'src="videos/expert.mp4"' in page
    assert "linked from the report folder" in page
    assert page.count('src="data:image/png;base64,') == 2


def test_without_videos(evaluation, tmp_path) -> None:
    out = write_evaluation_report(evaluation, tmp_path / "r", videos=False, n_boot=5)
    assert not (out / "videos").exists()
    assert "## Videos" not in (out / "report.md").read_text()
    assert "<video" not in (out / "report.html").read_text()


def test_a_failure_mid_write_leaves_no_folder_and_keeps_an_old_report(evaluation, tmp_path, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(report_mod, "plot_ranks", boom)
    with pytest.raises(RuntimeError, match="plotting failed"):
        write_evaluation_report(evaluation, tmp_path / "new", n_boot=5)
    assert list(tmp_path.iterdir()) == []
    old = tmp_path / "old"
    old.mkdir()
    (old / "evaluation.json").write_text("{}")
    with pytest.raises(RuntimeError):
        write_evaluation_report(evaluation, old, n_boot=5, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["old"]
    assert (old / "evaluation.json").read_text() == "{}"


def test_overwrite_refusal(evaluation, tmp_path) -> None:
    out = tmp_path / "r"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="exists"):
        write_evaluation_report(evaluation, out, overwrite=False, n_boot=5)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    write_evaluation_report(evaluation, out, overwrite=True, videos=False, n_boot=5)
    assert not (out / "keep.txt").exists() and (out / "evaluation.json").exists()


def test_bad_report_arguments(evaluation, tmp_path) -> None:
    with pytest.raises(ValueError, match="fps"):
        write_evaluation_report(evaluation, tmp_path / "r", fps=0)
    empty = copy.copy(evaluation)
    empty.policies = {}
    with pytest.raises(ValueError, match="no policies"):
        write_evaluation_report(empty, tmp_path / "r")
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------------------------------------------------ CLI
def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_writes_a_report_and_prints_the_summary(tmp_path, capsys) -> None:
    out = tmp_path / "evaluate"
    argv = ["evaluate", "--policies", "expert", "random", "--episodes", "2", "--max-episode-steps", "20"]
    argv += ["--out", str(out), "--quiet", "--n-boot", "10", "--record", "1"]
    code, printed, err = _run(argv, capsys)
    assert code == 0, err
    assert (out / "report.html").exists() and (out / "videos" / "random.mp4").exists()
    data = json.loads((out / "evaluation.json").read_text())
    lines = printed.splitlines()
    assert lines[0].split()[:3] == ["policy", "MuJoCo", "dream"]
    expert = data["per_policy"]["expert"]
    assert lines[1].split()[:3] == ["expert", f"{expert['real']['rate']:.2f}", f"{expert['dream']['rate']:.2f}"]
    for text in ("Pearson", "Spearman", "Kendall", "MMRV", "kappa", "inconclusive", str(out)):
        assert text in printed
    code, _, err = _run(argv, capsys)  # the folder exists now
    assert code == 2 and err.count("\n") == 1 and "--overwrite" in err
    code, _, err = _run([*argv, "--overwrite", "--no-videos"], capsys)
    assert code == 0, err
    assert not (out / "videos").exists()


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        (["--policies", "no-such-policy"], ["Unknown policy 'no-such-policy'"]),
        (["--policies", "random", "--task", "Hopper"], ["Hopper", "has no instructions"]),
        (["--policies", "random", "--episodes", "0"], ["--episodes", "positive integer, got 0"]),
        (["--policies", "random", "random"], ["random given more than once"]),
        (["--policies", "random", "--judge", "probe"], ["judge 'probe' cannot judge a state world model"]),
        (
            ["--policies", "random", "--checkpoint", "zoo:TabletopReach-video", "--frame-judge", "nope.safetensors"],
            ["No judge checkpoint file at nope.safetensors"],
        ),
    ],
)
def test_cli_bad_input_is_one_line(extra, fragments, tmp_path, capsys) -> None:
    code, _, err = _run(["evaluate", *extra, "--out", str(tmp_path / "r"), "--quiet"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("neural-gym evaluate: error: "), err
    for fragment in fragments:
        assert fragment in err, err
    assert not (tmp_path / "r").exists()
