"""The demo's combined report: one section per use (dream RL, policy evaluation, drift) in Markdown and one HTML page.

:func:`write_demo_report` writes ``report.md`` and ``report.html`` into the demo's folder, beside the parts' own files.
The page is self-contained: each section's key table, its plots inline (data URIs, :func:`neural_gym.evaluate.report.
html_png`), and links to the part's own report in its sub-folder (``evaluation/report.html``, ``drift/report.md``).
Tables come from the parts' own table builders (:func:`neural_gym.evaluate.report.tables` for the evaluation) and are
drawn by the evaluation report's HTML and Markdown helpers, so every report of the project looks and escapes the same.
The plain-text tables the CLI prints (:func:`evaluation_text`, :func:`drift_text`) hold the same figures.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .dream_rl.gap import exploitation_gap
from .evaluate.report import FIGURE_LABELS, html_page, html_png, html_table, markdown_table, tables

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from .demo import DemoResult
    from .drift import DriftResult

REPORT_FILES = {"html": "report.html", "markdown": "report.md"}
"""The combined report's files in the demo's folder."""
KEY_FIGURES = ("pearson", "spearman", "kendall", "mmrv", "kappa")
"""The agreement figures in the combined report and the printed table (``evaluation/report.html`` has them all)."""
SECTION_TITLES = {
    "dream_rl": "1. Dream RL: PPO trained inside the dream, scored in MuJoCo",
    "evaluation": "2. Policy evaluation: the dream as judge of policies",
    "drift": "3. Drift: how far the dream's rollouts stray from MuJoCo",
}
"""Section headings of the combined report (one per use)."""

Block = tuple[str, list[str], list[list[str]]]
"""``(intro, header, rows)`` of one table."""


def _g(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def _r(x: Any) -> str:
    """A return or length with one decimal, as the demo's own table prints them."""
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.1f}"


def _pct(x: Any) -> str:
    """A share as a signed percentage (``+12.5%``)."""
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:+.1f}%"


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """Plain-text columns, each as wide as its widest cell (the first left-aligned, the rest right-aligned)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(header), *(line(r) for r in rows)])


# ----------------------------------------------------------------------------------------------------- dream RL
def dream_rl_block(result: DemoResult) -> Block:
    """The dream-RL table: per seed (and the random floor) the dream and MuJoCo returns and the exploitation gap
    (dream − MuJoCo, and as a share of the MuJoCo return), then the mean over seeds."""
    header = ["policy", "seed", "dream return", "MuJoCo return", "gap (dream − MuJoCo)", "gap / MuJoCo", "dream length"]
    header.append("MuJoCo length")
    rows = []
    for label, seed, p in [
        *((result.algo, str(r.seed), r.episodes) for r in result.runs),
        ("random", "-", result.random),
    ]:
        s = p.summary()
        gap = exploitation_gap(s["dream_return_mean"], s["real_return_mean"])
        rows.append(
            [
                label,
                seed,
                f"{_r(s['dream_return_mean'])} ± {_r(s['dream_return_std'])}",
                f"{_r(s['real_return_mean'])} ± {_r(s['real_return_std'])}",
                _r(gap["dream_real_gap"]),
                _pct(gap["dream_real_gap_share"]),
                _r(s["dream_length_mean"]),
                _r(s["real_length_mean"]),
            ]
        )
    cells = []
    for key in ("dream_return", "real_return", "dream_real_gap"):
        o = result.over_seeds[key]
        ci = "" if o["ci_low"] is None else f" [{_r(o['ci_low'])}, {_r(o['ci_high'])}]"
        cells.append(f"{_r(o['mean'])}{ci}")
    cells.append(_pct(result.over_seeds["dream_real_gap_share"]["value"]))
    rows.append([f"{result.algo}, mean over {len(result.runs)} seed(s)", "-", *cells, "", ""])
    n_ep = len(result.random.real_returns)
    intro = (
        f"{result.algo} trained for {result.timesteps} dream steps in neural_gym/{result.task}-v0, one agent per seed; "
        f"each agent and a uniform random policy played the same {n_ep} paired episodes (same real start state in "
        f"both worlds). ± is the std over episodes; the gap (how much the agent exploits the dream) is the dream "
        "return minus the MuJoCo return, and that gap over |MuJoCo return|; the mean row gives the mean of the "
        f"per-seed means with its {result.over_seeds['real_return']['ci_level']:.0%} Student-t interval over seeds "
        "(none for one seed), and the gap of the two means over |mean MuJoCo return|."
    )
    return intro, header, rows


# -------------------------------------------------------------------------------------------------- evaluation
def evaluation_blocks(payload: dict[str, Any]) -> list[Block]:
    """The evaluation's per-policy table and its key agreement figures, from ``evaluation.json``'s content.

    Both are columns of :func:`neural_gym.evaluate.report.tables` (the evaluation report's own tables).
    """
    agreement, per_policy = tables(payload)[:2]
    _, _, per_header, per_rows = per_policy
    keep = [0, 1, 2, 3, 5, 6]  # policy, MuJoCo, dream, gap, inconclusive, episode agreement
    per = (per_policy[1], [per_header[i] for i in keep], [[r[i] for i in keep] for r in per_rows])
    _, intro, a_header, a_rows = agreement
    labels = {FIGURE_LABELS[k] for k in KEY_FIGURES}
    cols = [0, 1, 2, 4, 5]  # figure, all episodes (value, CI over episodes), conclusive only (value, CI over episodes)
    agree = (intro, [a_header[i] for i in cols], [[r[i] for i in cols] for r in a_rows if r[0] in labels])
    return [per, agree]


def evaluation_text(payload: dict[str, Any]) -> str:
    """The evaluation part as printed: per policy real vs dream success, the agreement figures, the inconclusive share."""
    (_, per_header, per_rows), (_, a_header, a_rows) = evaluation_blocks(payload)
    inc = payload["agreement"]["inconclusive"]
    share = "n/a" if inc["share"] is None else f"{100 * inc['share']:.1f}%"
    return "\n".join(
        [
            f"{len(payload['policies'])} policies x {payload['episodes']} paired episodes in the {payload['task']} "
            f"dream ({payload['checkpoint']}) and in MuJoCo; success with Wilson 95% intervals",
            "",
            text_table(per_header, per_rows),
            "",
            text_table(a_header, a_rows),
            "",
            f"inconclusive dream episodes (cut by uncertainty without success): {inc['episodes']} of "
            f"{payload['agreement']['episodes']} ({share})",
        ]
    )


# ------------------------------------------------------------------------------------------------------- drift
def drift_blocks(result: DriftResult) -> list[Block]:
    """Normalized RMSE by horizon per predictor, and the uncertainty's figures against the true error."""
    curves = {n: result.base["predictors"][n]["nrmse"] for n in result.predictors}
    rows = []
    for k, h in enumerate(result.horizons):
        rows.append(
            [str(h)] + [f"{_g(c['value'][k])} [{_g(c['low'][k])}, {_g(c['high'][k])}]" for c in curves.values()]
        )
    error = (
        "Normalized RMSE of the free rollout after h steps (per dimension, in units of the training data's std), "
        f"{int(round(100 * result.meta.get('ci_level', 0.95)))}% bootstrap interval over start states.",
        ["h", *curves],
        rows,
    )
    return [error, _uncertainty_block(result)]


def _uncertainty_block(result: DriftResult) -> Block:
    unc = result.base["uncertainty"]
    if unc is None:
        return ("This checkpoint has no uncertainty measure.", ["figure", "value"], [])

    def iv(d: dict[str, Any] | None) -> str:
        if d is None:
            return "n/a"
        return f"{_g(d.get('value'))} [{_g(d.get('low'))}, {_g(d.get('high'))}]"

    def hz(d: dict[str, Any]) -> str:
        return f"median {_g(d['median'])} [{_g(d['low'])}, {_g(d['high'])}] steps"

    rows = [
        ["Spearman (disagreement vs error)", iv(unc["spearman"])],
        ["AUROC (disagreement flags error > τ)", iv(unc["auroc"])],
        ["cut-off steps with error > τ (justified share)", iv(unc["justified_share"])],
        ["first cut-offs justified", iv(unc["first_cutoff_justified"])],
        ["trusted horizon (error first > τ)", hz(unc["trusted_horizon"])],
        ["dream horizon (uncertainty first cuts)", hz(unc["dream_horizon"])],
        ["starts cut no later than the error exceeded τ", _g(unc["cut_no_later_than_error"])],
    ]
    intro = (
        f"How the calibrated uncertainty held against the true error over {unc['pairs']} (step, start) pairs, "
        f"{unc['error_above_tau']} of them with error > τ = {_g(result.meta.get('tau', 1.0))}."
    )
    return intro, ["figure", "value [interval]"], rows


def drift_text(result: DriftResult) -> str:
    """The drift part as printed: error by horizon per predictor and how uncertainty held against the true error."""
    (e_intro, e_header, e_rows), (u_intro, u_header, u_rows) = drift_blocks(result)
    lines = [
        f"{result.task}: {result.meta.get('checkpoint', 'the dream')} from {result.meta.get('n_starts', '?')} held-out "
        "start states, actions replayed in MuJoCo and in every predictor",
        "",
        e_intro,
        text_table(e_header, e_rows),
        "",
        u_intro,
    ]
    if u_rows:
        lines.append(text_table(u_header, u_rows))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------ report
def _sections(result: DemoResult) -> list[tuple[str, str, list[Block], list[tuple[str, str]], list[tuple[str, str]]]]:
    """Per use: ``(title, intro, tables, plots (file, alt), links (file, label))``, files relative to the folder."""
    rl_plot = result.plot.name
    out = [
        (
            SECTION_TITLES["dream_rl"],
            "",
            [dream_rl_block(result)],
            [(rl_plot, "dream vs MuJoCo returns per seed")],
            [
                (result.json.name, "every episode of every seed (JSON)"),
                *((r.agent_path.name, f"agent, seed {r.seed}") for r in result.runs),
            ],
        )
    ]
    ev = result.evaluation
    if ev is None:
        out.append((SECTION_TITLES["evaluation"], "Skipped (--skip-eval).", [], [], []))
    else:
        f = ev.folder.name
        files = ev.payload["report_files"]
        out.append(
            (
                SECTION_TITLES["evaluation"],
                f"Played in {ev.seconds:.0f} s. The full report (judge accuracy, speed, settings, MuJoCo | dream "
                "videos) is in its own folder.",
                evaluation_blocks(ev.payload),
                [(f"{f}/{files['scatter']}", "dream vs MuJoCo success"), (f"{f}/{files['ranks']}", "ranks")],
                [
                    (f"{f}/{files['html']}", "evaluation report (HTML)"),
                    (f"{f}/{files['markdown']}", "evaluation report (Markdown)"),
                    (f"{f}/{files['json']}", "every figure (JSON)"),
                    *((f"{f}/{v}", f"video: {name}") for name, v in files["videos"].items()),
                ],
            )
        )
    dr = result.drift
    if dr is None:
        out.append((SECTION_TITLES["drift"], "Skipped (--skip-drift).", [], [], []))
    else:
        from .drift.report import REPORT_FILES as DRIFT_FILES

        f = dr.folder.name
        links = [
            (f"{f}/{DRIFT_FILES['markdown']}", "drift report (Markdown)"),
            (f"{f}/{DRIFT_FILES['json']}", "every figure (JSON)"),
            (f"{f}/{DRIFT_FILES['video']}", "MuJoCo vs dream video"),
        ]
        out.append(
            (
                SECTION_TITLES["drift"],
                f"Measured in {dr.seconds:.0f} s.",
                drift_blocks(dr.result),
                [
                    (f"{f}/{DRIFT_FILES['error_plot']}", "error vs horizon"),
                    (f"{f}/{DRIFT_FILES['calibration_plot']}", "uncertainty vs error"),
                ],
                links,
            )
        )
    return out


def _timing(result: DemoResult) -> str:
    if not result.seconds:
        return ""
    return "Wall time: " + ", ".join(f"{k.replace('_', ' ')} {v:.0f} s" for k, v in result.seconds.items()) + "."


def markdown_demo_report(result: DemoResult, folder: Path) -> str:
    """``report.md``: a section per use with its tables, plots (relative paths) and links to the parts' files."""
    lines = [
        "# neural_gym demo: three uses of a dream, each against MuJoCo",
        "",
        "Every figure below was measured by this run; each part's own files are linked.",
        _timing(result),
        "",
    ]
    for title, intro, blocks, plots, links in _sections(result):
        lines += [f"## {title}", ""]
        if intro:
            lines += [intro, ""]
        for b_intro, header, rows in blocks:
            if b_intro:
                lines += [b_intro, ""]
            if rows:
                lines += [*markdown_table(header, rows), ""]
        lines += [f"![{alt}]({path})\n" for path, alt in plots if (folder / path).is_file()]
        lines += [f"- [{label}]({path})" for path, label in links if (folder / path).exists()]
        lines += [""]
    return "\n".join(lines)


def html_demo_report(result: DemoResult, folder: Path) -> str:
    """``report.html``: the same sections on one self-contained page (plots inline; links into the sub-folders)."""
    e = html.escape
    parts = [
        "<h1>neural_gym demo: three uses of a dream, each against MuJoCo</h1>",
        f'<p class="note">Every figure below was measured by this run; each part\'s own files are linked. '
        f"{e(_timing(result))}</p>",
    ]
    for title, intro, blocks, plots, links in _sections(result):
        parts.append(f"<h2>{e(title)}</h2>")
        if intro:
            parts.append(f'<p class="note">{e(intro)}</p>')
        for b_intro, header, rows in blocks:
            if b_intro:
                parts.append(f'<p class="note">{e(b_intro)}</p>')
            if rows:
                parts.append(html_table(header, rows))
        parts += [html_png(folder / path, alt) for path, alt in plots if (folder / path).is_file()]
        items = [f'<li><a href="{e(path)}">{e(label)}</a></li>' for path, label in links if (folder / path).exists()]
        if items:
            parts.append("<ul>" + "".join(items) + "</ul>")
    return html_page("neural_gym demo", parts)


def write_demo_report(result: DemoResult, folder: str | Path) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` of ``result`` into ``folder`` (the demo's staging folder).

    Args:
        result: the demo's result; its parts' files must already be in ``folder`` under their names.
        folder: where the parts' files are and the two reports go.

    Returns:
        The paths of ``report.html`` and ``report.md``.

    Raises:
        FileNotFoundError: ``folder`` does not exist.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder; write the demo's parts there first")
    md, page = folder / REPORT_FILES["markdown"], folder / REPORT_FILES["html"]
    md.write_text(markdown_demo_report(result, folder))
    page.write_text(html_demo_report(result, folder))
    return page, md


__all__ = [
    "KEY_FIGURES",
    "REPORT_FILES",
    "SECTION_TITLES",
    "drift_blocks",
    "drift_text",
    "dream_rl_block",
    "evaluation_blocks",
    "evaluation_text",
    "html_demo_report",
    "markdown_demo_report",
    "text_table",
    "write_demo_report",
]
