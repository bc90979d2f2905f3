"""Side-by-side MP4 of ground truth and dream, both drawn in the task's own MuJoCo scene, with error and uncertainty.

Left: the real trajectory, drawn from the restored physics state of every step. Right: the model's predicted
observations drawn through :class:`neural_gym.render.ObsRenderer` (``TaskSpec.set_state_from_obs``; for tasks whose
observation leaves out the root x position it is integrated from the predicted x velocity, starting at the real one).
"""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from tqdm.auto import tqdm

from neural_gym.envs import get_task, set_physics_state

from ..render import ObsRenderer
from .measure import DriftResult

_RED = (255, 80, 80)
_WHITE = (255, 255, 255)


def _text(frame: np.ndarray, lines: list[tuple[str, tuple[int, int, int]]], size: int) -> np.ndarray:
    img = Image.fromarray(frame)
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size default font
        font = ImageFont.load_default()
    y = 3
    for text, color in lines:
        draw.text((5, y), text, fill=color, font=font, stroke_width=2, stroke_fill=(0, 0, 0))
        y += size + 3
    return np.asarray(img)


def pick_start(result: DriftResult) -> int:
    """The start whose trusted horizon is the median one (a representative rollout), else the longest-lived start."""
    unc = result.base["uncertainty"]
    if unc is not None:
        trusted = np.asarray(unc["trusted_horizon"]["per_start"], dtype=np.float64)
        return int(np.argmin(np.abs(trusted - np.median(trusted))))
    valid = result.data[(None, result.meta["action_noise"][0])].gt.valid
    return int(valid.sum(axis=1).argmax())


def write_video(
    result: DriftResult,
    path: str | Path,
    *,
    start: int | None = None,
    size: int = 240,
    fps: int | None = None,
    progress: bool = False,
) -> str:
    """Render one start state's free rollout (no extra noise) as a side-by-side MP4.

    Args:
        result: from :func:`neural_gym.drift.measure_drift`.
        path: the ``.mp4`` to write.
        start: index into the start states; default :func:`pick_start`.
        size: pixels per side (square).
        fps: frames per second; default the task's control rate, capped to 10–50.
        progress: show a bar over frames.

    Returns:
        One sentence saying what the video shows (for the report).
    """
    task = get_task(result.task)
    sd = result.data[(None, result.meta["action_noise"][0])]
    i = pick_start(result) if start is None else int(start)
    if not 0 <= i < len(result.starts):
        raise ValueError(f"start must be in [0, {len(result.starts)}), got {i}")
    name = result.model_name
    pred, err, gt = sd.predictions[name], sd.errors[name], sd.gt
    steps = int(gt.valid[i].sum())
    tau, thr = result.meta["tau"], result.meta["uncertainty_threshold"]
    real = ObsRenderer(task, size, size)
    dream = ObsRenderer(task, size, size)
    fps = fps or int(np.clip(round(1.0 / real.dt), 10, 50))
    font = max(10, size // 18)
    frames = []
    try:
        set_physics_state(real.env, gt.physics_states[i, 0])
        x0 = float(real.env.unwrapped.data.qpos[0]) if task.x_velocity_index is not None else 0.0
        dream.reset(x0)
        for j in tqdm(range(steps + 1), desc="drift video", unit="frame", disable=not progress):
            set_physics_state(real.env, gt.physics_states[i, j])
            left = np.asarray(real.env.render())
            if j == 0:
                right = dream.render(gt.obs[i, 0], advance=False)
                e, d = 0.0, float("nan")
            else:
                right = (
                    dream.render(pred.obs[i, j - 1]) if np.isfinite(pred.obs[i, j - 1]).all() else np.zeros_like(left)
                )
                e, d = float(err[i, j - 1]), float(pred.disagreement[i, j - 1])
            left = _text(left, [("ground truth (MuJoCo)", _WHITE), (f"step {j}", _WHITE)], font)
            err_line = (f"error {e:.2f} (tau {tau:g})", _RED if e > tau else _WHITE)
            unc_line = (
                (f"uncert. {d:.3f} (thr {thr:.3f})", _RED if d > thr else _WHITE)
                if np.isfinite(d) and thr is not None and np.isfinite(thr)
                else ("uncert. -", _WHITE)
            )
            right = _text(right, [(f"dream ({name} mean)", _WHITE), err_line, unc_line], font)
            frames.append(np.concatenate([left, right], axis=1))
    finally:
        real.close()
        dream.close()
    imageio.mimwrite(str(path), frames, fps=fps, macro_block_size=8)
    s = result.starts[i]
    return (
        f"start state {i} (episode {s.episode_id}, step {s.t}), {steps} steps at {fps} fps; left ground truth, right "
        f"the {name} mean's prediction drawn in the same scene; error/uncertainty turn red above τ / the threshold"
    )
