"""Write a drift result as a folder: ``drift.json``, PNG plots, ``drift.mp4`` and ``report.md`` — all or nothing.

Everything is written into a temporary folder beside the destination, which is renamed into place at the end; a
failure anywhere (a plot, the video) leaves no trace, and an existing report is only replaced by a complete one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from .. import metrics
from .measure import DriftResult

#: Files of a report folder.
REPORT_FILES = {
    "json": "drift.json",
    "error_plot": "error_vs_horizon.png",
    "calibration_plot": "calibration.png",
    "horizon_plot": "trusted_horizon.png",
    "settings_plot": "settings.png",
    "video": "drift.mp4",
    "markdown": "report.md",
}


def write_report(
    result: DriftResult, out_dir: str | Path, *, video: bool = True, overwrite: bool = True, progress: bool = False
) -> Path:
    """Write the JSON, plots, video and Markdown report of ``result`` into ``out_dir``, atomically.

    Args:
        result: from :func:`neural_gym.drift.measure_drift`.
        out_dir: destination folder (created; its parent too).
        video: also render the side-by-side MP4 (needs MuJoCo rendering: ``MUJOCO_GL=egl`` headless).
        overwrite: replace an existing ``out_dir`` (only once the new report is complete).
        progress: progress bar over video frames.

    Returns:
        ``out_dir``.

    Raises:
        FileExistsError: ``out_dir`` exists and ``overwrite`` is false, or is a file.
    """
    out = Path(out_dir)
    with atomic_folder(out, overwrite=overwrite) as tmp:
        payload = result.to_json()
        (tmp / REPORT_FILES["json"]).write_text(json.dumps(payload, indent=1))
        plot_error_vs_horizon(result, tmp / REPORT_FILES["error_plot"])
        plot_calibration(result, tmp / REPORT_FILES["calibration_plot"])
        plot_horizons(result, tmp / REPORT_FILES["horizon_plot"])
        plot_settings(result, tmp / REPORT_FILES["settings_plot"])
        video_note = None
        if video:
            from .video import write_video

            video_note = write_video(result, tmp / REPORT_FILES["video"], progress=progress)
        (tmp / REPORT_FILES["markdown"]).write_text(markdown_report(result, video=video, video_note=video_note))
    return out


@contextlib.contextmanager
def atomic_folder(out: Path, *, overwrite: bool = True) -> Iterator[Path]:
    """A temporary folder beside ``out`` that replaces ``out`` when the block succeeds and vanishes when it fails.

    Args:
        out: the report folder to (re)place.
        overwrite: allow replacing an existing report folder at ``out``.

    Raises:
        FileExistsError: ``out`` exists and ``overwrite`` is false, or ``out`` is a file (never replaced).
    """
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} is a file, not a report folder; pick another output folder")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True (or another folder)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it 0700; the report folder gets the mode mkdir would give
    try:
        yield tmp
        if out.exists():
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ------------------------------------------------------------------------------------------------------------- plots
def _nan(x: Any) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in x], dtype=np.float64)


def _figure(rows: int, cols: int, figsize: tuple[float, float]) -> tuple[Figure, Any]:
    """A figure without pyplot (no global backend or figure registry is touched)."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(rows, cols, squeeze=False)


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def plot_error_vs_horizon(result: DriftResult, path: Path) -> None:
    """Normalized RMSE vs horizon (free rollout), overall and per dimension group, every predictor with its interval."""
    base = result.base
    groups = list(result.meta["dim_groups"])
    panels = [("overall", None)] + [(g, g) for g in groups] if len(groups) > 1 else [("overall", None)]
    fig, axes = _figure(1, len(panels), (4.2 * len(panels), 3.6))
    hs = np.asarray(result.horizons)
    for ax, (title, group) in zip(axes[0], panels, strict=True):
        for name in result.predictors:
            curves = base["predictors"][name]
            c = curves["nrmse"] if group is None else curves["nrmse_groups"][group]
            y, lo, hi = _nan(c["value"]), _nan(c["low"]), _nan(c["high"])
            style = "-" if name == result.model_name else "--"
            (line,) = ax.plot(hs, y, style, marker="o", ms=3, label=name)
            ax.fill_between(hs, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
        ax.axhline(result.meta["tau"], color="grey", lw=0.8, ls=":", label=f"τ = {result.meta['tau']}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("horizon (steps)")
        ax.set_title(title, fontsize=10)
    axes[0, 0].set_ylabel("normalized RMSE")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(
        f"{result.task}: error vs horizon ({result.meta['actions']} actions, {result.meta['n_starts']} starts)"
    )
    _save(fig, path)


def plot_calibration(result: DriftResult, path: Path) -> None:
    """Disagreement vs true error (scatter, log-log) and the ROC of disagreement for "error > τ"."""
    sd = result.data[(None, result.meta["action_noise"][0])]
    pred, err, valid = sd.predictions[result.model_name], sd.errors[result.model_name], sd.gt.valid
    m = valid & np.isfinite(pred.disagreement)
    d, e = pred.disagreement[m], err[m]
    tau, thr = result.meta["tau"], result.meta["uncertainty_threshold"]
    steps = np.broadcast_to(np.arange(1, err.shape[1] + 1), err.shape)[m]
    fig, axes = _figure(1, 2, (10, 4))
    ax1, ax2 = axes[0]
    if d.size:
        sc = ax1.scatter(
            np.maximum(d, 1e-6),
            np.clip(e, 1e-6, 1e6),
            c=steps,
            s=4,
            alpha=0.5,
            cmap="viridis",
            norm=LogNorm(),
        )
        fig.colorbar(sc, ax=ax1, label="step")
        ax1.set_xscale("log")
        ax1.set_yscale("log")
        ax1.xaxis.set_minor_formatter(NullFormatter())
    ax1.axhline(tau, color="red", lw=0.8, ls="--", label=f"τ = {tau}")
    if thr is not None and np.isfinite(thr):
        ax1.axvline(thr, color="black", lw=0.8, ls="--", label=f"threshold = {thr:.3g}")
    ax1.set_xlabel(f"disagreement ({result.meta['uncertainty_measure']})")
    ax1.set_ylabel("true normalized error")
    unc = result.base["uncertainty"] or {}
    rho = (unc.get("spearman") or {}).get("value")
    ax1.set_title(f"Spearman {rho:.3f}" if rho is not None and np.isfinite(rho) else "Spearman n/a", fontsize=10)
    ax1.legend(fontsize=8)
    fpr, tpr = metrics.roc_curve(d, e > tau) if d.size else (np.zeros(0), np.zeros(0))
    auc = (unc.get("auroc") or {}).get("value")
    if fpr.size:
        ax2.plot(fpr, tpr, label=f"AUROC {auc:.3f}")
        ax2.legend(fontsize=8, loc="lower right")
    else:
        ax2.text(0.5, 0.5, unc.get("auroc_note") or "ROC undefined", ha="center", va="center", wrap=True, fontsize=9)
    ax2.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax2.set_xlabel("false-positive rate")
    ax2.set_ylabel("true-positive rate")
    ax2.set_title(f"disagreement as a detector of error > τ={tau}", fontsize=10)
    fig.suptitle(f"{result.task}: uncertainty against truth (free rollout)")
    _save(fig, path)


def plot_horizons(result: DriftResult, path: Path) -> None:
    """Histograms over start states of the trusted horizon and of the dream (cut-off) horizon."""
    unc = result.base["uncertainty"]
    fig, axes = _figure(1, 1, (6, 3.8))
    ax = axes[0, 0]
    if unc is None:
        ax.text(0.5, 0.5, "the checkpoint reports no disagreement", ha="center", va="center")
    else:
        top = max(result.horizons)
        bins = np.unique(np.linspace(0, top, min(top, 40) + 1).round())
        for key, label in (("trusted_horizon", "trusted (error ≤ τ)"), ("dream_horizon", "dream (before cut-off)")):
            h = unc[key]
            cens = int(np.sum(h["censored"]))
            ax.hist(
                h["per_start"],
                bins=bins,
                histtype="step",
                lw=1.5,
                label=f"{label}, median {h['median']:.0f}; {cens} censored at the end",
            )
        ax.set_xlabel("steps")
        ax.set_ylabel("start states")
        ax.legend(fontsize=8)
    ax.set_title(f"{result.task}: trusted horizon vs the Dream env's cut-off (τ = {result.meta['tau']})", fontsize=10)
    _save(fig, path)


def plot_settings(result: DriftResult, path: Path) -> None:
    """The checkpoint's error vs horizon under re-grounding every ``k`` steps, and under action noise (copy-last dashed)."""
    noises = result.meta["action_noise"]
    hs = np.asarray(result.horizons)
    fig, axes = _figure(1, 2, (10, 4))
    ax1, ax2 = axes[0]
    for k in [None, *result.meta["reground_every"]]:
        s = result.setting(k, noises[0])
        ax1.plot(
            hs,
            _nan(s["predictors"][result.model_name]["nrmse"]["value"]),
            marker="o",
            ms=3,
            label="free" if k is None else f"every {k}",
        )
    ax1.set_title(f"{result.model_name}: re-grounding to the real state", fontsize=10)
    other = "copy_last" if "copy_last" in result.predictors else None
    for scale in noises:
        s = result.setting(None, scale)
        (line,) = ax2.plot(
            hs, _nan(s["predictors"][result.model_name]["nrmse"]["value"]), marker="o", ms=3, label=f"noise {scale:g}"
        )
        if other:
            ax2.plot(hs, _nan(s["predictors"][other]["nrmse"]["value"]), ls="--", color=line.get_color(), lw=0.8)
    ax2.set_title(
        f"{result.model_name}: action noise in both worlds" + (" (dashed: copy_last)" if other else ""), fontsize=10
    )
    for ax in (ax1, ax2):
        ax.axhline(result.meta["tau"], color="grey", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("horizon (steps)")
        ax.set_ylabel("normalized RMSE")
        ax.legend(fontsize=8)
    _save(fig, path)


# ---------------------------------------------------------------------------------------------------------- markdown
def _f(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}g}"


def _ci(c: dict[str, Any] | None, k: int | None = None) -> str:
    if c is None:
        return "—"
    v, lo, hi = (c["value"], c["low"], c["high"]) if k is None else (c["value"][k], c["low"][k], c["high"][k])
    return f"{_f(v)} [{_f(lo)}, {_f(hi)}]"


def markdown_report(result: DriftResult, *, video: bool = True, video_note: str | None = None) -> str:
    """The Markdown report tying the figures, plots and video together."""
    m = result.meta
    hs = result.horizons
    base = result.base
    lines = [
        f"# Drift: {result.task} — `{m['checkpoint']}` ({m['family']})",
        "",
        f"Ground truth {m['env_id']} against the world model, from **{m['n_starts']} start states** of held-out data "
        f"({_heldout(m['heldout'])}), actions: **{m['actions']}**. Physics states restored exactly; every predictor "
        f"started from the recorded observations (context {m['context']}). τ = {m['tau']}; uncertainty threshold "
        f"{_f(m['uncertainty_threshold'])} ({m['uncertainty_measure']}, calibrated in the checkpoint). Intervals: "
        f"{int(m['ci_level'] * 100)}% bootstrap over start states ({m['n_boot']} resamples, seed {m['seed']}).",
        "",
    ]
    if m["skipped_horizons"]:
        lines += [
            "Horizons not reported: " + "; ".join(f"h={h}: {why}" for h, why in m["skipped_horizons"].items()),
            "",
        ]
    if m["replay_max_abs_error"] is not None:
        lines += [
            f"Exact replay check (recorded actions): max |replayed − recorded| observation = {m['replay_max_abs_error']:.3g}.",
            "",
        ]

    lines += [
        "## Error by horizon (free rollout)",
        "",
        "Normalized RMSE `sqrt(mean_d(((pred_d − true_d)/σ_d)²))`, σ_d = std of the model's training data:",
        "",
    ]
    lines += ["| h | starts | " + " | ".join(result.predictors) + " |", "|---|---|" + "---|" * len(result.predictors)]
    for k, h in enumerate(hs):
        row = [_ci(base["predictors"][p]["nrmse"], k) for p in result.predictors]
        lines.append(f"| {h} | {base['starts_alive'][k]} | " + " | ".join(row) + " |")
    lines += ["", "Relative L1 (`Σ|ŝ − s| / Σ|s|` over steps 1..h):", ""]
    lines += ["| h | " + " | ".join(result.predictors) + " |", "|---|" + "---|" * len(result.predictors)]
    for k, h in enumerate(hs):
        lines.append(
            f"| {h} | " + " | ".join(_ci(base["predictors"][p]["relative_l1"], k) for p in result.predictors) + " |"
        )
    with_heads = [p for p in result.predictors if base["predictors"][p]["reward_mae"] is not None]
    if with_heads:
        lines += ["", "Reward error (mean |r̂ − r|) and termination agreement at h (predictors with those heads):", ""]
        lines += [
            "| h | " + " | ".join(f"{p} reward | {p} term." for p in with_heads) + " |",
            "|---|" + "---|---|" * len(with_heads),
        ]
        for k, h in enumerate(hs):
            cells = []
            for p in with_heads:
                c = base["predictors"][p]
                cells += [_ci(c["reward_mae"], k), _ci(c["termination_agreement"], k)]
            lines.append(f"| {h} | " + " | ".join(cells) + " |")
    lines += ["", f"![error vs horizon]({REPORT_FILES['error_plot']})", ""]
    ctrl = result.controllability
    if ctrl and "difference" in ctrl:
        lines += [
            "## Controllability",
            "",
            f"The {result.model_name} model driven by another start's actions (a seeded derangement of the starts): its "
            "normalized RMSE, and the mean per-start difference shuffled − true actions (about 0 for a model that "
            "ignores its actions).",
            "",
            "| h | nRMSE, true actions | nRMSE, shuffled actions | difference |",
            "|---|---|---|---|",
        ]
        own = base["predictors"][result.model_name]["nrmse"]
        for k, h in enumerate(hs):
            lines.append(f"| {h} | {_ci(own, k)} | {_ci(ctrl['nrmse_shuffled'], k)} | {_ci(ctrl['difference'], k)} |")
        lines.append("")
    elif ctrl:
        lines += ["## Controllability", "", ctrl.get("note", ""), ""]

    unc = base["uncertainty"]
    lines += ["## Uncertainty against truth (free rollout)", ""]
    if unc is None:
        lines += ["The checkpoint reports no finite disagreement.", ""]
    else:
        th, dh = unc["trusted_horizon"], unc["dream_horizon"]
        lines += [
            f"- Spearman(disagreement, true error): {_ci(unc['spearman'])} over {unc['pairs']} (start, step) pairs",
            f"- AUROC of disagreement for error > τ: {_ci(unc['auroc'])}"
            + (
                f" — {unc['auroc_note']}"
                if unc["auroc_note"]
                else f" ({unc['error_above_tau']} of {unc['pairs']} steps had error > τ)"
            ),
            f"- Cut-offs justified (steps with disagreement > threshold whose error was > τ): {_ci(unc['justified_share'])}"
            + (f" of {unc['justified_share']['cutoffs']} cut-off steps" if unc["justified_share"] else "")
            + (f" — {unc['justified_note']}" if unc["justified_note"] else ""),
            f"- First cut-off of each start justified: {_ci(unc['first_cutoff_justified'])}"
            + (f" ({unc['first_cutoff_justified']['starts_cut']} starts cut)" if unc["first_cutoff_justified"] else ""),
            f"- Trusted horizon (steps before error > τ): median {_f(th['median'])} [{_f(th['low'])}, {_f(th['high'])}], "
            f"{th['censored_share'] * 100:.0f}% never exceeded τ within the window",
            f"- Dream horizon (steps before the Dream env cuts, ensemble mean): median {_f(dh['median'])} "
            f"[{_f(dh['low'])}, {_f(dh['high'])}], {dh['censored_share'] * 100:.0f}% never cut",
            f"- Starts whose error exceeded τ and where the cut came no later: {_f(unc['cut_no_later_than_error'])}",
            f"- Cumulative disagreement (Σ over steps so far; a diagnostic, not the Dream env's rule): Spearman "
            f"{_f(unc['cumulative']['spearman'])}, AUROC {_f(unc['cumulative']['auroc'])}",
            "",
            f"![calibration]({REPORT_FILES['calibration_plot']})",
            "",
            f"![trusted horizon]({REPORT_FILES['horizon_plot']})",
            "",
        ]

    noises = m["action_noise"]
    lines += [
        "## Re-grounding and action noise",
        "",
        f"{result.model_name} normalized RMSE by setting (copy_last in parentheses):",
        "",
    ]
    lines += ["| setting | " + " | ".join(f"h={h}" for h in hs) + " |", "|---|" + "---|" * len(hs)]
    for s in result.settings:
        label = (
            "free" if s["reground_every"] is None else f"re-ground every {s['reground_every']}"
        ) + f", noise {s['action_noise']:g}"
        mine = s["predictors"][result.model_name]["nrmse"]["value"]
        ref = s["predictors"].get("copy_last", {}).get("nrmse", {}).get("value")
        cells = [_f(mine[k]) + (f" ({_f(ref[k])})" if ref else "") for k in range(len(hs))]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    reg = result.regrounding()
    if reg is not None:
        names = list(reg["predictors"])
        lines += [
            "",
            f"Error against the re-grounding interval: normalized RMSE at h={reg['horizon']} when every predictor's "
            "context is replaced with the real observations every k steps (DreamZero's closed loop after each chunk):",
            "",
            "| interval | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for j, k in enumerate(reg["intervals"]):
            cells = [
                f"{_f(reg['predictors'][n]['value'][j])} [{_f(reg['predictors'][n]['low'][j])}, "
                f"{_f(reg['predictors'][n]['high'][j])}]"
                for n in names
            ]
            lines.append(f"| {'free' if k is None else f'k={k}'} | " + " | ".join(cells) + " |")
    if len(noises) > 1 or m["reground_every"]:
        lines += ["", f"![settings]({REPORT_FILES['settings_plot']})"]
    lines += [""]
    from .recoverability import recoverability_lines

    lines += recoverability_lines(result.recoverability)
    if video:
        lines += ["## Video", "", f"[{REPORT_FILES['video']}]({REPORT_FILES['video']}): " + (video_note or ""), ""]
    lines += ["## Predictors", ""]
    for name, info in m["predictors"].items():
        extra = ""
        if "budget" in info:
            b = info["budget"]
            extra = (
                f" Trained on `{b['dataset_id']}`: {b['num_layers']}×{b['hidden_size']} hidden, {b['epochs']} epochs "
                f"(best held-out epoch {info['best_epoch']}), batch {b['batch_size']}, lr {b['lr']}."
            )
        lines.append(
            f"- **{name}** ({info.get('family')}, context {info.get('context_length')}): {info.get('description', info.get('checkpoint', ''))}.{extra}"
        )
    if m["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in m["notes"]]
    lines += ["", "Every figure is in `drift.json`. Definitions: `neural_gym/drift/measure.py`.", ""]
    return "\n".join(lines)


def _heldout(h: dict[str, Any]) -> str:
    if h.get("collected"):
        return f"collected fresh: {h['steps']} steps of a {h['policy']} policy, seed {h['seed']}"
    return f"`{h['dataset_id']}`"
