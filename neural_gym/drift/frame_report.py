"""Write a frame drift result as a folder: JSON, PNG plots, a side-by-side MP4 and ``report.md`` — all or nothing.

As :func:`neural_gym.drift.write_report`: everything is written into a temporary folder beside the destination and
renamed into place at the end, so a failure anywhere leaves no trace and an existing report is only replaced by a
complete one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import imageio.v2 as imageio
import numpy as np
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from .. import metrics
from .frames import FRAME_PREDICTORS, FrameDriftResult
from .report import _ci, _f, _heldout, atomic_folder
from .video import _RED, _WHITE, _text

#: Files of a frame report folder.
FRAME_REPORT_FILES = {
    "json": "frame_drift.json",
    "quality_plot": "frames_vs_horizon.png",
    "calibration_plot": "frame_calibration.png",
    "video": "frame_drift.mp4",
    "markdown": "report.md",
}


def write_frame_report(
    result: FrameDriftResult,
    out_dir: str | Path,
    *,
    video: bool = True,
    video_starts: int = 4,
    upscale: int = 4,
    fps: int = 10,
    overwrite: bool = True,
    progress: bool = False,
) -> Path:
    """Write the JSON, plots, video and Markdown report of ``result`` into ``out_dir``, atomically.

    Args:
        result: from :func:`neural_gym.drift.measure_frame_drift`.
        out_dir: destination folder (created; its parent too).
        video: also write the side-by-side MP4 (ground truth | model | |difference|, one row per start).
        video_starts: start states tiled in the video (rows), from the best to the worst mean PSNR.
        upscale: nearest-neighbour upscaling of every frame in the video (4: 64×64 frames become 256×256).
        fps: frames per second of the video.
        overwrite: replace an existing ``out_dir`` (only once the new report is complete).
        progress: progress bar over video frames.

    Returns:
        ``out_dir``.

    Raises:
        FileExistsError: ``out_dir`` exists and ``overwrite`` is false, or is a file.
        ValueError: ``video_starts``, ``upscale`` or ``fps`` below 1.
    """
    if video_starts < 1 or upscale < 1 or fps < 1:
        raise ValueError(f"video_starts, upscale and fps must be >= 1, got {video_starts}, {upscale}, {fps}")
    out = Path(out_dir)
    with atomic_folder(out, overwrite=overwrite) as tmp:
        (tmp / FRAME_REPORT_FILES["json"]).write_text(json.dumps(result.to_json(), indent=1))
        plot_frame_quality(result, tmp / FRAME_REPORT_FILES["quality_plot"])
        plot_frame_calibration(result, tmp / FRAME_REPORT_FILES["calibration_plot"])
        note = None
        if video:
            note = write_frame_video(
                result,
                tmp / FRAME_REPORT_FILES["video"],
                starts=video_starts,
                upscale=upscale,
                fps=fps,
                progress=progress,
            )
        (tmp / FRAME_REPORT_FILES["markdown"]).write_text(frame_markdown_report(result, video_note=note))
    return out


# ------------------------------------------------------------------------------------------------------------- plots
def _nan(x: Any) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in x], dtype=np.float64)


def _band(ax: Any, x: np.ndarray, curve: dict[str, Any], label: str, style: str = "-") -> None:
    y, lo, hi = _nan(curve["value"]), _nan(curve["low"]), _nan(curve["high"])
    (line,) = ax.plot(x, y, style, label=label, lw=1.5)
    ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.15, lw=0)


def plot_frame_quality(result: FrameDriftResult, path: Path) -> None:
    """PSNR and SSIM by step (true actions, shuffled actions, copy-last-frame) and controllability, with intervals."""
    fig = Figure(figsize=(14, 4))
    axes = fig.subplots(1, 3)
    steps = np.arange(1, result.max_horizon + 1)
    styles = {"model": "-", "shuffled": "--", "copy_last": ":"}
    for ax, key, ylabel in ((axes[0], "psnr", "PSNR (dB)"), (axes[1], "ssim", "SSIM")):
        for role in FRAME_PREDICTORS:
            _band(ax, steps, result.predictors[role][f"{key}_by_step"], result.label(role), styles[role])
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
    axes[0].axhline(result.meta["tau_psnr"], color="grey", lw=0.8, ls=":", label=f"τ = {result.meta['tau_psnr']} dB")
    axes[0].legend(fontsize=8)
    ctl = result.controllability
    _band(axes[2], steps, ctl["psnr_by_step"], "ΔPSNR (dB)")
    axes[2].axhline(0.0, color="grey", lw=0.8)
    axes[2].set_xlabel("step")
    axes[2].set_ylabel("PSNR true − shuffled actions (dB)")
    axes[2].set_title("controllability", fontsize=10)
    axes[0].set_title("PSNR against renders of the true state", fontsize=10)
    axes[1].set_title("SSIM against renders of the true state", fontsize=10)
    fig.suptitle(
        f"{result.task}: {result.model_name} frames vs MuJoCo ({result.meta['n_starts']} starts, "
        f"{int(result.meta['ci_level'] * 100)}% bootstrap bands)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def plot_frame_calibration(result: FrameDriftResult, path: Path) -> None:
    """Disagreement vs PSNR (scatter), the ROC of disagreement for "PSNR < τ", trusted vs dream horizons."""
    fig = Figure(figsize=(15, 4))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    unc = result.uncertainty
    tau, thr = result.meta["tau_psnr"], result.meta["uncertainty_threshold"]
    r = result.rollouts["model"]
    m = result.valid & np.isfinite(r.disagreement)
    d, p = r.disagreement[m], r.psnr[m]
    if unc is None or not d.size:
        for ax in (ax1, ax2, ax3):
            ax.text(0.5, 0.5, "the model reports no disagreement", ha="center", va="center")
    else:
        steps = np.broadcast_to(np.arange(1, r.psnr.shape[1] + 1), r.psnr.shape)[m]
        sc = ax1.scatter(d, p, c=steps, s=5, alpha=0.6, cmap="viridis")
        fig.colorbar(sc, ax=ax1, label="step")
        ax1.axhline(tau, color="red", lw=0.8, ls="--", label=f"τ = {tau} dB")
        if thr is not None and np.isfinite(thr):
            ax1.axvline(thr, color="black", lw=0.8, ls="--", label=f"threshold = {thr:.3g}")
        rho = unc["spearman"]["value"]
        ax1.set_title(f"Spearman(disagreement, −PSNR) {_f(rho)}", fontsize=10)
        ax1.legend(fontsize=8)
        fpr, tpr = metrics.roc_curve(d, p < tau)
        if fpr.size:
            ax2.plot(fpr, tpr, label=f"AUROC {_f(unc['auroc']['value'])}")
            ax2.legend(fontsize=8, loc="lower right")
        else:
            ax2.text(0.5, 0.5, unc["auroc_note"] or "ROC undefined", ha="center", va="center", wrap=True, fontsize=9)
        top = result.max_horizon
        bins = np.unique(np.linspace(0, top, min(top, 40) + 1).round())
        for key, label in (("trusted_horizon", "trusted (PSNR ≥ τ)"), ("dream_horizon", "dream (before cut-off)")):
            h = unc[key]
            if h is None:  # no calibrated threshold
                continue
            ax3.hist(h["per_start"], bins=bins, histtype="step", lw=1.5, label=f"{label}, median {_f(h['median'])}")
        ax3.set_xlabel("steps")
        ax3.set_ylabel("start states")
        ax3.legend(fontsize=8)
    ax1.set_xlabel(f"disagreement ({result.meta['uncertainty_measure']})")
    ax1.set_ylabel("PSNR (dB)")
    ax2.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax2.set_xlabel("false-positive rate")
    ax2.set_ylabel("true-positive rate")
    ax2.set_title(f"disagreement as a detector of PSNR < {tau} dB", fontsize=10)
    ax3.set_title("trusted horizon vs the Dream env's cut-off", fontsize=10)
    fig.suptitle(f"{result.task}: {result.model_name} uncertainty against the true frame error")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


# ------------------------------------------------------------------------------------------------------------- video
def pick_video_starts(result: FrameDriftResult, count: int) -> list[int]:
    """``count`` start indices spread from the best to the worst mean PSNR of the model (true actions)."""
    r = result.rollouts["model"]
    score = np.nanmean(np.where(result.valid, r.psnr, np.nan), axis=1)
    order = np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")
    picks = np.unique(np.linspace(0, len(order) - 1, min(count, len(order))).round().astype(int))
    return [int(order[p]) for p in picks]


def write_frame_video(
    result: FrameDriftResult,
    path: str | Path,
    *,
    starts: int = 4,
    upscale: int = 4,
    fps: int = 10,
    progress: bool = False,
) -> str:
    """Write the side-by-side MP4: one row per start, ground truth | model | |difference|, upscaled.

    Frame 0 shows the real start frame in both columns; frame ``j`` the render after step ``j`` beside the model's
    prediction (true actions), with the step's PSNR (red below τ) and disagreement (red above the threshold).

    Args:
        result: from :func:`neural_gym.drift.measure_frame_drift`.
        path: the ``.mp4`` to write.
        starts: rows (start states), see :func:`pick_video_starts`.
        upscale: nearest-neighbour upscaling factor.
        fps: frames per second.
        progress: show a bar over frames.

    Returns:
        One sentence saying what the video shows (for the report).
    """
    r = result.rollouts["model"]
    if r.frames is None:
        raise ValueError("the result kept no predicted frames (keep_frames=False): nothing to show")
    rows = pick_video_starts(result, starts)
    tau, thr = result.meta["tau_psnr"], result.meta["uncertainty_threshold"]
    font = max(9, 3 * upscale)
    steps = result.max_horizon
    frames: list[Any] = []
    for j in tqdm(range(steps + 1), desc="frame drift video", unit="frame", disable=not progress):
        tiles = []
        for i in rows:
            real = result.gt_frames[i, j]
            pred = real if j == 0 else r.frames[i, j - 1]
            diff = np.abs(real.astype(np.int16) - pred.astype(np.int16)).astype(np.uint8)
            real, pred, diff = (np.kron(x, np.ones((upscale, upscale, 1), dtype=np.uint8)) for x in (real, pred, diff))
            if j == 0:
                lines = [("start (real)", _WHITE)]
            else:
                psnr, dis = float(r.psnr[i, j - 1]), float(r.disagreement[i, j - 1])
                lines = [(f"PSNR {psnr:.1f} dB", _RED if psnr < tau else _WHITE)]
                if np.isfinite(dis):
                    lines.append(
                        (f"unc. {dis:.3g}", _RED if thr is not None and np.isfinite(thr) and dis > thr else _WHITE)
                    )
            real = _text(real, [("ground truth", _WHITE), (f"step {j}", _WHITE)], font)
            pred = _text(pred, [(result.model_name, _WHITE), *lines], font)
            diff = _text(diff, [("|difference|", _WHITE)], font)
            tiles.append(np.concatenate([real, pred, diff], axis=1))
        frames.append(np.concatenate(tiles, axis=0))
    imageio.mimwrite(str(path), frames, fps=fps, macro_block_size=8)
    ids = ", ".join(f"{result.starts[i].episode_id}:{result.starts[i].t}" for i in rows)
    return (
        f"{len(rows)} start states (episode:step {ids}; best to worst mean PSNR), {steps} steps at {fps} fps, "
        f"{upscale}× nearest-neighbour; columns: ground-truth render | {result.model_name} prediction (true actions) "
        f"| absolute difference"
    )


# ---------------------------------------------------------------------------------------------------------- markdown
def frame_markdown_report(result: FrameDriftResult, *, video_note: str | None = None) -> str:
    """The Markdown report tying the figures, plots and video together."""
    m = result.meta
    hs = result.horizons
    h, w = m["frame_shape"][:2]
    lines = [
        f"# Frame drift: {result.task} — `{m['checkpoint']}` ({m['family']})",
        "",
        f"Ground truth {m['env_id']} rendered at {h}×{w} from the restored physics state of every step, against the "
        f"model's decoded frames, from **{m['n_starts']} start states** of held-out pixel data ({_heldout(m['heldout'])}), "
        f"recorded actions replayed in both worlds. The model reads {m['context']} real frame(s) of context; "
        f"copy-last-frame repeats the start frame. PSNR of identical frames is capped at {m['psnr_cap_db']:g} dB. "
        f"τ = {m['tau_psnr']} dB; uncertainty threshold {_f(m['uncertainty_threshold'])} ({m['uncertainty_measure']}). "
        f"Intervals: {int(m['ci_level'] * 100)}% bootstrap over start states ({m['n_boot']} resamples, seed {m['seed']}).",
        "",
        f"Exact-replay check: max |render of restored state − recorded frame| = {m['render_max_abs_diff']} levels"
        + (
            f"; max |replayed − recorded| state = {_f(m['replay_max_abs_error'])}."
            if m["replay_max_abs_error"] is not None
            else "."
        ),
        "",
    ]
    if m["skipped_horizons"]:
        lines += ["Horizons not reported: " + "; ".join(f"h={k}: {v}" for k, v in m["skipped_horizons"].items()), ""]
    lines += [
        "## Frame quality by horizon",
        "",
        "| h | " + " | ".join(f"{result.label(r)} PSNR" for r in FRAME_PREDICTORS) + " |",
    ]
    lines += ["|---|" + "---|" * len(FRAME_PREDICTORS)]
    for k, hh in enumerate(hs):
        lines.append(f"| {hh} | " + " | ".join(_ci(result.predictors[r]["psnr"], k) for r in FRAME_PREDICTORS) + " |")
    lines += ["", "| h | " + " | ".join(f"{result.label(r)} SSIM" for r in FRAME_PREDICTORS) + " |"]
    lines += ["|---|" + "---|" * len(FRAME_PREDICTORS)]
    for k, hh in enumerate(hs):
        lines.append(f"| {hh} | " + " | ".join(_ci(result.predictors[r]["ssim"], k) for r in FRAME_PREDICTORS) + " |")
    ctl = result.controllability
    lines += [
        "",
        "Controllability (per start: true actions − shuffled actions; ≈ 0 when the model ignores its actions):",
        "",
        "| h | ΔPSNR (dB) | ΔSSIM |",
        "|---|---|---|",
    ]
    for k, hh in enumerate(hs):
        lines.append(f"| {hh} | {_ci(ctl['psnr'], k)} | {_ci(ctl['ssim'], k)} |")
    lines += ["", f"![frames vs horizon]({FRAME_REPORT_FILES['quality_plot']})", ""]

    unc = result.uncertainty
    lines += ["## Uncertainty against truth", ""]
    if unc is None:
        lines += ["The model reports no finite disagreement.", ""]
    else:
        th, dh = unc["trusted_horizon"], unc["dream_horizon"]
        lines += [
            f"- Spearman(disagreement, −PSNR): {_ci(unc['spearman'])} over {unc['pairs']} (start, step) pairs",
            f"- AUROC of disagreement for PSNR < τ: {_ci(unc['auroc'])}"
            + (
                f" — {unc['auroc_note']}"
                if unc["auroc_note"]
                else f" ({unc['psnr_below_tau']} of {unc['pairs']} frames had PSNR < τ)"
            ),
            f"- Cut-offs justified (steps with disagreement > threshold whose PSNR was < τ): {_ci(unc['justified_share'])}"
            + (f" of {unc['justified_share']['cutoffs']} cut-off steps" if unc["justified_share"] else "")
            + (f" — {unc['justified_note']}" if unc["justified_note"] else ""),
            f"- First cut-off of each start justified: {_ci(unc['first_cutoff_justified'])}"
            + (f" ({unc['first_cutoff_justified']['starts_cut']} starts cut)" if unc["first_cutoff_justified"] else ""),
            f"- Trusted horizon (steps before PSNR < τ): median {_f(th['median'])} [{_f(th['low'])}, {_f(th['high'])}], "
            f"{th['censored_share'] * 100:.0f}% stayed above τ for all {result.max_horizon} steps",
            (
                f"- Dream horizon (steps before disagreement > threshold): median {_f(dh['median'])} "
                f"[{_f(dh['low'])}, {_f(dh['high'])}], {dh['censored_share'] * 100:.0f}% never cut"
                if dh is not None
                else "- Dream horizon: undefined (no calibrated threshold)"
            ),
            f"- Starts whose PSNR fell below τ and where the cut came no later: {_f(unc['cut_no_later_than_error'])}",
            "",
        ]
    lines += [f"![calibration]({FRAME_REPORT_FILES['calibration_plot']})", ""]
    from .recoverability import recoverability_lines

    lines += recoverability_lines(
        result.recoverability, {"model": result.label("model"), "copy_last": result.label("copy_last")}
    )
    if video_note:
        lines += ["## Video", "", f"[{FRAME_REPORT_FILES['video']}]({FRAME_REPORT_FILES['video']}): {video_note}", ""]
    errs = {r: result.predictors[r]["model_errors"] for r in FRAME_PREDICTORS if result.predictors[r]["model_errors"]}
    if errs:
        lines += ["Non-finite predicted frames: " + ", ".join(f"{result.label(r)} {n}" for r, n in errs.items()), ""]
    if m["notes"]:
        lines += ["## Notes", ""] + [f"- {n}" for n in m["notes"]] + [""]
    lines += [
        f"Every figure is in `{FRAME_REPORT_FILES['json']}`. Definitions: `neural_gym/drift/frames.py`.",
        "",
    ]
    return "\n".join(lines)


__all__ = [
    "FRAME_REPORT_FILES",
    "frame_markdown_report",
    "pick_video_starts",
    "plot_frame_calibration",
    "plot_frame_quality",
    "write_frame_report",
    "write_frame_video",
]
