"""Write a paired policy evaluation as a folder: JSON, plots, side-by-side videos, Markdown and one HTML file.

:func:`write_evaluation_report` writes, all or nothing (:func:`neural_gym.drift.report.atomic_folder`: a temporary
folder renamed into place at the end, so a failure leaves nothing half-written and an existing report is only replaced
by a complete one):

- ``evaluation.json`` — every figure of :meth:`~neural_gym.evaluate.PolicyEvaluation.to_dict` (agreement with both
  intervals, with and without inconclusive episodes; per-policy rates; speed; settings; per-episode verdicts) plus the
  judge's own accuracy (:func:`judge_accuracy`) and the files written.
- ``scatter.png`` — dream vs MuJoCo success per policy, Wilson 95 % intervals both ways, the line y = x.
- ``ranks.png`` — each policy's rank in MuJoCo and in the dream, joined by a line.
- ``videos/<policy>.mp4`` — MuJoCo | dream frames of the recorded paired episodes
  (``evaluate_policies(..., record_episodes=n)``), one after the other.
- ``report.md`` and ``report.html`` (one self-contained file: the PNGs inline as data URIs, the videos inline too
  unless they would make it larger than :data:`MAX_INLINE_BYTES`, then linked relatively, as the page says).
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..drift.report import _figure, _save, atomic_folder
from ..metrics import success_interval
from .harness import PolicyEvaluation

REPORT_FILES = {
    "json": "evaluation.json",
    "scatter": "scatter.png",
    "ranks": "ranks.png",
    "videos": "videos",
    "markdown": "report.md",
    "html": "report.html",
}
"""Files of a report folder (``videos`` is a folder of ``<policy>.mp4``)."""
MAX_INLINE_BYTES = 20_000_000
"""Above this size of the base64 videos, ``report.html`` links the videos instead of inlining them."""
FIGURE_LABELS = {
    "pearson": "Pearson r (rates)",
    "spearman": "Spearman ρ (rates)",
    "kendall": "Kendall τ-b (rates)",
    "mae": "MAE of rates",
    "mmrv": "MMRV",
    "mean_gap": "mean gap dream − real",
    "agreement": "episode agreement",
    "kappa": "Cohen's κ (episodes)",
}
"""The agreement figures in the order of the report tables, with their labels."""
VIDEO_SIDE = 256
"""Pixels per side of each half of a video frame (frames are scaled up, nearest neighbour)."""


def write_evaluation_report(
    evaluation: PolicyEvaluation,
    out_dir: str | Path,
    *,
    videos: bool = True,
    overwrite: bool = True,
    n_boot: int = 1000,
    bootstrap_seed: int = 0,
    fps: int = 10,
) -> Path:
    """Write the JSON, plots, videos, Markdown and HTML report of ``evaluation`` into ``out_dir``, atomically.

    Args:
        evaluation: From :func:`~neural_gym.evaluate.evaluate_policies` (with ``record_episodes > 0`` for videos).
        out_dir: Destination folder (created, its parent too).
        videos: Write ``videos/<policy>.mp4`` for the policies with recorded episodes.
        overwrite: Replace an existing ``out_dir`` (only once the new report is complete).
        n_boot: Bootstrap resamples of the agreement intervals.
        bootstrap_seed: Seed of those bootstraps.
        fps: Frames per second of the videos.

    Returns:
        ``out_dir``.

    Raises:
        FileExistsError: ``out_dir`` exists and ``overwrite`` is false, or is a file.
        ValueError: An evaluation without policies, bad ``n_boot`` or ``fps < 1``.
    """
    if not evaluation.policies:
        raise ValueError("The evaluation has no policies; nothing to report.")
    if int(fps) != fps or fps < 1:
        raise ValueError(f"fps must be a whole number >= 1, got {fps!r}")
    out = Path(out_dir)
    with atomic_folder(out, overwrite=overwrite) as tmp:
        payload = evaluation.to_dict(n_boot=n_boot, bootstrap_seed=bootstrap_seed)
        payload["judge_accuracy"] = judge_accuracy(evaluation)
        video_files: dict[str, str] = {}
        if videos:
            (tmp / REPORT_FILES["videos"]).mkdir()
            video_files = write_videos(evaluation, tmp / REPORT_FILES["videos"], fps=int(fps))
        payload["report_files"] = {
            **{k: v for k, v in REPORT_FILES.items() if k != "videos"},
            "videos": {name: f"{REPORT_FILES['videos']}/{f}" for name, f in video_files.items()},
        }
        (tmp / REPORT_FILES["json"]).write_text(json.dumps(_finite(payload), indent=1))
        plot_scatter(payload, tmp / REPORT_FILES["scatter"])
        plot_ranks(payload, tmp / REPORT_FILES["ranks"])
        (tmp / REPORT_FILES["markdown"]).write_text(markdown_report(payload))
        (tmp / REPORT_FILES["html"]).write_text(html_report(payload, tmp))
    return out


# ---------------------------------------------------------------------------------------------------- the judge
def judge_accuracy(evaluation: PolicyEvaluation) -> dict[str, Any]:
    """The dream's judge (the task's success rule) applied to the real episodes' final states, against MuJoCo.

    Every MuJoCo episode's last state observation (:attr:`~neural_gym.evaluate.PolicyEpisodes.real_final_states`)
    is judged by the task's ``success_fn`` (the tabletop rules read only the resulting state; the action passed is
    zeros) and compared with MuJoCo's ``info["is_success"]`` of that step. The rule is the one MuJoCo's
    ``is_success`` is computed with, so this measures the judge on real held-out states (any disagreement would be a
    bug or a precision loss in the state observation), not the dream's prediction errors.

    Args:
        evaluation: From :func:`~neural_gym.evaluate.evaluate_policies`.

    Returns:
        ``{"judge", "states", "overall", "per_policy", "note"}``; ``overall`` and each ``per_policy[name]`` hold
        ``episodes``, ``accuracy`` (Wilson 95 % rate and interval), ``true_positive``, ``false_positive``,
        ``false_negative``, ``true_negative``. ``overall`` is ``None`` when no final states were kept.
    """
    from neural_gym.envs import get_task

    kind = evaluation.judge_kind
    if evaluation.policies and all(kind in run.judge_on_real for run in evaluation.policies.values()):
        return _frame_judge_accuracy(evaluation, kind)
    spec = get_task(evaluation.task)
    per_policy: dict[str, Any] = {}
    said: list[np.ndarray] = []
    truth: list[np.ndarray] = []
    for name, run in evaluation.policies.items():
        states = np.asarray(run.real_final_states)
        if states.ndim != 2 or states.shape[0] != run.episodes:
            per_policy[name] = None
            continue
        action = np.zeros((states.shape[0], 4), dtype=states.dtype)
        verdict = np.asarray(spec.success_fn(states, action, states), dtype=bool)
        per_policy[name] = _confusion(verdict, run.real_success.astype(bool))
        said.append(verdict)
        truth.append(run.real_success.astype(bool))
    overall = _confusion(np.concatenate(said), np.concatenate(truth)) if said else None
    return {
        "judge": evaluation.judge,
        "states": "the final state observation of every MuJoCo episode, against MuJoCo's info['is_success']",
        "overall": overall,
        "per_policy": per_policy,
        "note": None if overall is not None else "no real final states were kept by the harness",
    }


def _frame_judge_accuracy(evaluation: PolicyEvaluation, kind: str) -> dict[str, Any]:
    """:func:`judge_accuracy` of a frame judge: its verdict on every MuJoCo frame of each real episode."""
    per_policy = {
        name: _confusion(run.judge_on_real[kind].astype(bool), run.real_success.astype(bool))
        for name, run in evaluation.policies.items()
    }
    said = np.concatenate([run.judge_on_real[kind] for run in evaluation.policies.values()]).astype(bool)
    truth = np.concatenate([run.real_success for run in evaluation.policies.values()]).astype(bool)
    return {
        "judge": evaluation.judge,
        "states": "every MuJoCo frame of each real episode (some frame judged successful), against MuJoCo's "
        "info['is_success']",
        "overall": _confusion(said, truth),
        "per_policy": per_policy,
        "note": None,
        "frame_judge": True,
    }


def _confusion(said: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    correct = int(np.sum(said == truth))
    n = int(said.size)
    rate, low, high = success_interval(correct, n)
    return {
        "episodes": n,
        "accuracy": {"correct": correct, "n": n, "rate": rate, "ci_low": low, "ci_high": high},
        "true_positive": int(np.sum(said & truth)),
        "false_positive": int(np.sum(said & ~truth)),
        "false_negative": int(np.sum(~said & truth)),
        "true_negative": int(np.sum(~said & ~truth)),
    }


# ---------------------------------------------------------------------------------------------------------- plots
def plot_scatter(payload: dict[str, Any], path: Path) -> None:
    """Dream vs MuJoCo success per policy with Wilson 95 % intervals both ways, y = x, labelled points."""
    names = payload["policies"]
    real = [payload["per_policy"][n]["real"] for n in names]
    dream = [payload["per_policy"][n]["dream"] for n in names]
    x = np.array([r["rate"] for r in real])
    y = np.array([d["rate"] for d in dream])
    xerr = np.array([[r["rate"] - r["ci_low"] for r in real], [r["ci_high"] - r["rate"] for r in real]])
    yerr = np.array([[d["rate"] - d["ci_low"] for d in dream], [d["ci_high"] - d["rate"] for d in dream]])
    fig, axes = _figure(1, 1, (6.4, 6.0))
    ax = axes[0, 0]
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="y = x")
    ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", ms=5, capsize=3, lw=0.8, label="policy (Wilson 95 %)")
    for (xi, yi), group in _grouped(names, zip(x, y, strict=True)).items():
        ax.annotate(_tex_safe(", ".join(group)), (xi, yi), xytext=(4, 4), textcoords="offset points", fontsize=7)
    fig_all = payload["agreement"]["all_episodes"]["figures"]
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(-0.03, 1.03)
    ax.set_aspect("equal")
    ax.set_xlabel("success in MuJoCo")
    ax.set_ylabel("success in the dream (inconclusive = failure)")
    ax.set_title(
        f"{payload['task']}: {len(names)} policies x {payload['episodes']} paired episodes\n"
        f"Pearson {_f(fig_all['pearson']['value'])}, MMRV {_f(fig_all['mmrv']['value'])}",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="upper left")
    _save(fig, path)


def ranks(rates: list[float]) -> np.ndarray:
    """Rank 1 = the highest success rate; ties share their average rank."""
    from scipy.stats import rankdata

    return rankdata(-np.asarray(rates, dtype=np.float64), method="average")


def plot_ranks(payload: dict[str, Any], path: Path) -> None:
    """Each policy's rank in MuJoCo (left) and in the dream (right), joined by a line."""
    names = payload["policies"]
    real = ranks([payload["per_policy"][n]["real"]["rate"] for n in names])
    dream = ranks([payload["per_policy"][n]["dream"]["rate"] for n in names])
    k = len(names)
    fig, axes = _figure(1, 1, (6.4, max(3.0, 0.35 * k + 1.5)))
    ax = axes[0, 0]
    for a, b in zip(real, dream, strict=True):
        ax.plot([0, 1], [a, b], marker="o", lw=1.2)
    for side, values, ha, dx in ((0, real, "right", -6), (1, dream, "left", 6)):
        for (rank,), group in _grouped(names, ((v,) for v in values)).items():
            text = f"{', '.join(group)} ({rank:g})" if side == 0 else f"({rank:g}) {', '.join(group)}"
            ax.annotate(
                _tex_safe(text),
                (side, rank),
                xytext=(dx, 0),
                textcoords="offset points",
                ha=ha,
                va="center",
                fontsize=7,
            )
    ax.set_xlim(-0.9, 1.9)
    ax.set_ylim(k + 0.5, 0.5)
    ax.set_xticks([0, 1], ["MuJoCo", "dream"])
    ax.set_yticks([])
    ax.set_ylabel("rank (1 = highest success)")
    ax.set_title(f"{payload['task']}: policy ranks in both worlds", fontsize=10)
    _save(fig, path)


def _grouped(names: list[str], points: Any) -> dict[tuple[float, ...], list[str]]:
    """Names by their point, so that policies on one point share one label."""
    out: dict[tuple[float, ...], list[str]] = {}
    for name, point in zip(names, points, strict=True):
        out.setdefault(tuple(float(v) for v in point), []).append(name)
    return out


def _tex_safe(text: str) -> str:
    """``$`` escaped, so that Matplotlib does not read a policy name as mathtext."""
    return text.replace("$", r"\$")


# --------------------------------------------------------------------------------------------------------- videos
def video_name(name: str, taken: set[str]) -> str:
    """A file name for policy ``name``: letters, digits, ``.``, ``_`` and ``-``, unique among ``taken``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "policy"
    out, i = f"{stem}.mp4", 2
    while out in taken:
        out, i = f"{stem}-{i}.mp4", i + 1
    taken.add(out)
    return out


def write_videos(evaluation: PolicyEvaluation, folder: Path, *, fps: int = 10) -> dict[str, str]:
    """One side-by-side MP4 per policy with recorded episodes: MuJoCo left, the dream right, episodes in turn.

    Args:
        evaluation: From ``evaluate_policies(..., record_episodes=n)``.
        folder: Where the ``.mp4`` files go (exists).
        fps: Frames per second.

    Returns:
        Policy name -> file name in ``folder`` (policies without recorded episodes are left out).
    """
    import imageio.v2 as imageio

    taken: set[str] = set()
    files: dict[str, str] = {}
    for name, run in evaluation.policies.items():
        if not run.real_frames:
            continue
        frames: list[np.ndarray] = []
        for i, (real, dream) in enumerate(zip(run.real_frames, run.dream_frames, strict=True)):
            n = max(len(real), len(dream))
            for j in range(n):
                left = _label(
                    real[min(j, len(real) - 1)],
                    [
                        f"MuJoCo  ep {i}  step {min(j, len(real) - 1)}",
                        _verdict(run.real_success[i], j >= len(real) - 1),
                    ],
                )
                right = _label(
                    dream[min(j, len(dream) - 1)],
                    [f"dream  ep {i}  step {min(j, len(dream) - 1)}", _dream_verdict(run, i, j >= len(dream) - 1)],
                )
                frames.append(np.concatenate([left, right], axis=1))
        file = video_name(name, taken)
        imageio.mimwrite(str(folder / file), frames, fps=fps, macro_block_size=16)
        files[name] = file
    return files


def _verdict(success: bool, ended: bool) -> str:
    return ("success" if success else "failure") if ended else ""


def _dream_verdict(run: Any, i: int, ended: bool) -> str:
    if not ended:
        return ""
    return "inconclusive" if run.inconclusive[i] else _verdict(bool(run.dream_success[i]), True)


def _label(frame: np.ndarray, lines: list[str]) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    img = Image.fromarray(np.asarray(frame, dtype=np.uint8)).resize((VIDEO_SIDE, VIDEO_SIDE), Image.NEAREST)
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.load_default(size=14)
    except TypeError:  # Pillow < 10.1 has one fixed-size default font
        font = ImageFont.load_default()
    for k, text in enumerate(lines):
        draw.text((4, 3 + 17 * k), text, fill=(255, 255, 255), font=font, stroke_width=2, stroke_fill=(0, 0, 0))
    return np.asarray(img)


# ------------------------------------------------------------------------------------------------------- markdown
def _f(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def _interval(pair: Any) -> str:
    if pair is None or any(v is None for v in pair):
        return "n/a"
    return f"[{_f(pair[0])}, {_f(pair[1])}]"


def _rate(r: dict[str, Any] | None) -> str:
    if r is None or r.get("rate") is None:
        return "n/a"
    return f"{r['rate']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def tables(payload: dict[str, Any]) -> list[tuple[str, str, list[str], list[list[str]]]]:
    """The report's tables as ``(title, intro, header, rows)`` of plain text (shared by Markdown and HTML)."""
    agreement = payload["agreement"]
    blocks = [("all_episodes", "all episodes"), ("conclusive_only", "conclusive only")]
    header = ["figure"] + [f"{label}: {col}" for _, label in blocks for col in ("value", "CI episodes", "CI policies")]
    rows = []
    for key, label in FIGURE_LABELS.items():
        row = [label]
        for block, _ in blocks:
            f = agreement[block]["figures"][key]
            row += [_f(f["value"]), _interval(f["interval_over_episodes"]), _interval(f["interval_over_policies"])]
        rows.append(row)
    inc = agreement["inconclusive"]
    level = int(round(100 * agreement["level"]))
    out = [
        (
            "Agreement of the dream with MuJoCo",
            f"{agreement['policies']} policies, {agreement['episodes']} paired episodes; {inc['episodes']} dream "
            f"episodes inconclusive ({_pct(inc['share'])}). 'All episodes' counts an inconclusive episode as a dream "
            f"failure; 'conclusive only' leaves those out of the dream's rates and the episode figures. Intervals: "
            f"{level}% bootstrap over episodes and over policies ({agreement['n_boot']} resamples, seed "
            f"{agreement['seed']}).",
            header,
            rows,
        )
    ]
    per = payload["per_policy"]
    rows = []
    for name in payload["policies"]:
        s = per[name]
        gap = None if s["dream"]["rate"] is None else s["dream"]["rate"] - s["real"]["rate"]
        rows.append(
            [
                name,
                _rate(s["real"]),
                _rate(s["dream"]),
                "n/a" if gap is None else f"{gap:+.2f}",
                _rate(s["dream_conclusive"]),
                _pct(s["inconclusive_share"]),
                _pct(s["episode_agreement"]),
                "yes" if s["step0_identical"] else "NO",
            ]
        )
    out.append(
        (
            "Per policy",
            "Success with Wilson 95% intervals; gap = dream − MuJoCo; dream (conclusive) over the conclusive episodes.",
            [
                "policy",
                "MuJoCo",
                "dream",
                "gap",
                "dream (conclusive)",
                "inconclusive",
                "episode agreement",
                "step-0 identical",
            ],
            rows,
        )
    )
    judge = payload["judge_accuracy"]
    rows = []
    for name, c in [("all policies", judge["overall"]), *judge["per_policy"].items()]:
        if c is None:
            rows.append([name, "n/a", "", "", "", ""])
            continue
        a = c["accuracy"]
        rows.append(
            [
                name,
                f"{a['correct']}/{a['n']} = {_rate(a)}",
                str(c["true_positive"]),
                str(c["false_positive"]),
                str(c["false_negative"]),
                str(c["true_negative"]),
            ]
        )
    out.append(
        (
            "The judge",
            f"The dream's verdict: {judge['judge']}. Its own accuracy, measured on {judge['states']}"
            + (
                " (a network trained on other real frames: its errors add to the dream's)."
                if judge.get("frame_judge")
                else " (the rule is the one MuJoCo's is_success uses, so this checks the judge on real states; the "
                "dream's errors come from the predicted states)."
            )
            + (f" {judge['note']}" if judge["note"] else ""),
            ["policies", "accuracy (Wilson 95%)", "TP", "FP", "FN", "TN"],
            rows,
        )
    )
    judges = payload.get("judges") or {}
    if len(judges) > 1:
        rows = []
        for kind, j in judges.items():
            fig = j["agreement"]["all_episodes"]["figures"]
            acc = j.get("accuracy_on_real_episodes")
            rows.append(
                [
                    kind + (" (primary)" if j["primary"] else ""),
                    j["judge"],
                    _f(fig["pearson"]["value"]),
                    _f(fig["mmrv"]["value"]),
                    _pct(fig["agreement"]["value"]),
                    _f(fig["kappa"]["value"]),
                    "n/a" if acc is None else f"{acc['correct']}/{acc['n']} = {_pct(acc['rate'])}",
                ]
            )
        out.append(
            (
                "Every judge on the same dream episodes",
                "Each judge's verdicts on the same dream episodes against MuJoCo (inconclusive episodes count as "
                "failures), and each frame judge's own per-episode accuracy on the real frames.",
                ["judge", "what", "Pearson", "MMRV", "episode agreement", "kappa", "accuracy on real episodes"],
                rows,
            )
        )
    sp = payload["speed"]
    out.append(
        (
            "Speed",
            f"Episodes per second over all {sp['episodes']} episodes of each world, with rendering ("
            + (
                "the dream's frames are the model's own, judged by the frame judge"
                if payload.get("frame_judge")
                else "the dream's frames are the scene drawing the predicted state"
            )
            + f"); setup {payload['setup_s']} s, not counted.",
            ["world", "episodes/s", "episodes/s without the policy's time", "wall s"],
            [
                [
                    "MuJoCo",
                    _f(sp["mujoco_episodes_per_s"]),
                    _f(sp["mujoco_episodes_per_s_without_policy"]),
                    _f(sp["mujoco_wall_s"]),
                ],
                [
                    "dream",
                    _f(sp["dream_episodes_per_s"]),
                    _f(sp["dream_episodes_per_s_without_policy"]),
                    _f(sp["dream_wall_s"]),
                ],
            ],
        )
    )
    settings = [
        ["task", payload["task"]],
        ["instruction split", payload["split"]],
        ["episodes per policy", str(payload["episodes"])],
        ["seeds", f"{payload['seed']} .. {payload['seed'] + payload['episodes'] - 1}"],
        ["dream checkpoint", payload["checkpoint"]],
        ["uncertainty threshold", _f(payload["uncertainty_threshold"])],
        ["time limit (steps)", str(payload["max_episode_steps"])],
        ["chunk execution", f"{payload['chunk_execution']} (n_action_steps {payload['n_action_steps']})"],
        ["image size", str(payload["image_size"])],
        ["step-0 observations identical in both worlds", "yes" if payload["step0_identical"] else "NO"],
    ]
    out.append(("Settings", "", ["setting", "value"], settings))
    return out


def _md_cell(text: str) -> str:
    """Text safe in a Markdown table cell: ``|`` escaped, no line breaks, no raw HTML."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table of plain-text cells (each made safe by escaping ``|``, line breaks and raw HTML), as lines."""
    lines = ["| " + " | ".join(map(_md_cell, header)) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(map(_md_cell, row)) + " |" for row in rows]


def markdown_report(payload: dict[str, Any]) -> str:
    """``report.md``: the tables, the plots and the videos of ``payload`` (``evaluation.json``'s content)."""
    lines = [
        f"# Policy evaluation: {payload['task']} in the dream vs MuJoCo",
        "",
        f"Each policy played the same {payload['episodes']} start states in MuJoCo and in the dream "
        f"(`{_md_cell(payload['checkpoint'])}`). Every figure is in `{REPORT_FILES['json']}`.",
        "",
    ]
    for title, intro, header, rows in tables(payload):
        lines += [f"## {title}", ""]
        if intro:
            lines += [intro, ""]
        lines += [*markdown_table(header, rows), ""]
    lines += [
        "## Plots",
        "",
        f"![dream vs MuJoCo success]({REPORT_FILES['scatter']})",
        "",
        f"![ranks]({REPORT_FILES['ranks']})",
        "",
    ]
    videos = payload["report_files"]["videos"]
    if videos:
        lines += ["## Videos", "", "MuJoCo left, dream right; the recorded paired episodes one after the other.", ""]
        lines += [f"- {_md_cell(name)}: [{path}]({path})" for name, path in videos.items()]
        lines += [""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------- html
_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.9em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f3f3f3}
img{max-width:100%}video{max-width:100%;display:block;margin:0.3em 0 1em}.note{color:#555}
"""


def html_report(payload: dict[str, Any], folder: Path) -> str:
    """``report.html``: one self-contained page (plots inline; videos inline up to :data:`MAX_INLINE_BYTES`).

    Args:
        payload: ``evaluation.json``'s content.
        folder: The report folder holding the PNGs and videos already written.

    Returns:
        The page; every text from the evaluation (policy names, instructions, checkpoint) is HTML-escaped.
    """
    e = html.escape
    parts = [
        f"<h1>Policy evaluation: {e(payload['task'])} in the dream vs MuJoCo</h1>",
        f"<p>Each policy played the same {payload['episodes']} start states in MuJoCo and in the dream "
        f"(<code>{e(payload['checkpoint'])}</code>). Every figure is in <code>{REPORT_FILES['json']}</code>.</p>",
    ]
    for title, intro, header, rows in tables(payload):
        parts.append(f"<h2>{e(title)}</h2>")
        if intro:
            parts.append(f'<p class="note">{e(intro)}</p>')
        parts.append(html_table(header, rows))
    parts.append("<h2>Plots</h2>")
    for key, alt in (("scatter", "dream vs MuJoCo success"), ("ranks", "ranks in both worlds")):
        parts.append(html_png(folder / REPORT_FILES[key], alt))
    videos = payload["report_files"]["videos"]
    if videos:
        size = sum((folder / path).stat().st_size for path in videos.values()) * 4 // 3
        inline = size <= MAX_INLINE_BYTES
        parts.append("<h2>Videos</h2>")
        note = "MuJoCo left, dream right; the recorded paired episodes one after the other."
        if not inline:
            note += (
                f" The videos ({size / 1e6:.0f} MB in base64) would make this page larger than "
                f"{MAX_INLINE_BYTES / 1e6:.0f} MB, so they are linked from the report folder's {REPORT_FILES['videos']}/ "
                "and play only beside it."
            )
        parts.append(f'<p class="note">{e(note)}</p>')
        for name, path in videos.items():
            if inline:
                data = base64.b64encode((folder / path).read_bytes()).decode("ascii")
                src = f"data:video/mp4;base64,{data}"
            else:
                src = e(path)
            parts.append(f'<h3>{e(name)}</h3><video controls loop muted src="{src}"></video>')
    return html_page(f"Policy evaluation: {payload['task']}", parts)


def html_table(header: list[str], rows: list[list[str]]) -> str:
    """An HTML table of plain-text cells (every cell HTML-escaped)."""
    e = html.escape
    lines = ["<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"]
    lines += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
    return "\n".join([*lines, "</table>"])


def html_png(path: Path, alt: str) -> str:
    """An ``<img>`` holding the PNG at ``path`` inline as a data URI (the page needs no file beside it).

    Raises:
        FileNotFoundError: No file at ``path``.
    """
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def html_page(title: str, body: list[str]) -> str:
    """A whole HTML page in the reports' style: ``title`` (escaped) in ``<title>``, ``body`` (HTML) joined by lines."""
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
    ]
    return "\n".join([*head, *body, "</body></html>"]) + "\n"


def _finite(x: Any) -> Any:
    """NaN/inf as ``None`` so the JSON is strict."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


__all__ = [
    "FIGURE_LABELS",
    "MAX_INLINE_BYTES",
    "REPORT_FILES",
    "html_page",
    "html_png",
    "html_report",
    "html_table",
    "judge_accuracy",
    "markdown_report",
    "markdown_table",
    "plot_ranks",
    "plot_scatter",
    "ranks",
    "tables",
    "video_name",
    "write_evaluation_report",
    "write_videos",
]
