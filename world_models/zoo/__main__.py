"""``python -m neural_gym.world_models.zoo`` writes ``world_models/zoo/README.md`` from the shipped checkpoints' own metadata.

``python -m neural_gym.world_models.zoo --stamp`` first adds the weights checksum to shipped checkpoints written before
checksums existed (tensors and other metadata unchanged, bit for bit; see
:func:`neural_gym.world_models.checkpoint.stamp_checksum`).
"""

from __future__ import annotations

import sys
from typing import Any

from neural_gym.world_models.base import ModelSpec
from neural_gym.world_models.checkpoint import read_spec, stamp_checksum
from neural_gym.world_models.zoo import ZOO_DIR, available

HEADER = """# Shipped checkpoints

Every figure below is read from the checkpoint's own metadata by `python -m neural_gym.world_models.zoo` (which wrote this file);
each checkpoint records the exact command that trained it (listed at the end). Data come from the ground truth with
seed 0: a uniform random policy (`random`), or the task's scripted expert with action noise (`expert`, see
`envs/experts.py`; for the tabletop tasks with some episodes under a random policy, `collect --random-fraction`: 0.2
for reach, 0.1 for push and pick_place, see the Makefile). `make zoo` regenerates the ensembles (one task: `make zoo ZOO_TASKS=Hopper`), `make zoo-latent`
the latent models, `make zoo-video` the video model and `make zoo-wam` the world action model, data collection included.

The tabletop ensembles' held-out MSE is in units of the training deltas' std per dimension, and the objects' deltas
are zero on most steps and large on the rare steps with contact (the random episodes knock objects about), so those
dimensions dominate it. `benchmarks/tabletop_dreams.py` measures them on held-out noisy-expert play: one-step error in
units of the observation std beside copy-last, and how often the dream's success verdict agrees with MuJoCo's
(`benchmarks/results/tabletop_dreams.json`).

"""

ENSEMBLE = """## `ensemble` (one per task, the default of `gym.make("neural_gym/<Task>-v0")`)

The rollout cut-off (`neural-gym calibrate`, `make zoo-calibrate`; the Dream env's default cut-off where present, and
what `uncertainty_risk=alpha` calibrates) is chosen on held-out open-loop rollouts: signal and split-conformal
threshold at `alpha` on half of the episodes, figures on the other half: AUROC for "normalized error > tau" (the
one-step rule's on the same episodes in brackets), the realized rate (mean per-episode share of kept steps with error
> tau, at most `alpha` in expectation on exchangeable episodes) and the kept share. Without one, the env cuts on the
one-step `ensemble_std` threshold.

| name | dataset | transitions | epochs | train s | held-out MSE (normalized) | `ensemble_std` threshold | rollout cut-off (alpha) | AUROC (one-step) | realized rate / kept | size |
|---|---|---|---|---|---|---|---|---|---|---|
"""

LATENT = """## `latent` (Dreamer-style RSSM; `checkpoint="zoo:<name>"`)

Held-out figures on whole held-out episodes: reconstruction from the posterior, and open-loop prediction after a
burn-in of `k` real steps with the true actions (MSE in training-std units for state, PSNR for frames), beside
copy-last. Training wall time is on this machine's 2 CPU cores, shared with other jobs while it ran.

| name | observations | dataset | transitions | steps | train s | reconstruction (mean baseline) | open-loop h=1 / h=15 (copy-last) | threshold | size |
|---|---|---|---|---|---|---|---|---|---|
"""


VIDEO = """## `video` (DIAMOND-style pixel generator; `checkpoint="zoo:<name>"`)

Held-out figures on whole held-out episodes: one-step PSNR of the generated frame (with the actions shuffled across
transitions in brackets: the gap is one-step controllability), and open-loop PSNR after `k` real frames with the true
actions, beside copy-last-frame. The state probe's normalized RMSE on real held-out frames is its floor.

| name | frames | dataset | transitions | steps | train s | one-step PSNR (shuffled; copy-last) | open-loop PSNR h=1/5/10/25 (copy-last) | probe nRMSE | threshold | size |
|---|---|---|---|---|---|---|---|---|---|---|
"""

WAM = """## `wam` (world action model: dynamics, policy and inverse dynamics in one; `checkpoint="zoo:<name>"`)

Held-out figures on whole held-out episodes of its own dataset, every mode run from zero start noise: one-step
forward normalized RMSE (per-dimension training std) beside copy-last, and mean absolute action errors of the inverse
mode and of the policy mode's first action (future marginalised; imagined first in brackets) beside the mean
training action. As a policy: `WAMPolicy` or `wam:zoo:<name>` (see the README's WAM section). The rollout cut-off
columns read as the ensembles'; the shipped WAM has none (its Dream env cuts on the one-step threshold), because
calibrated on rollouts its signal barely ranks wrong steps (`benchmarks/results/calibration_families.json` and the
README's calibration section); `neural-gym calibrate --checkpoint zoo:<name> ...` adds one to a copy.

| name | dataset | transitions | steps | train s | one-step nRMSE (copy-last) | inverse MAE | policy MAE (imagine) | mean-action MAE | threshold | rollout cut-off (alpha) | AUROC (one-step) | realized rate / kept | size |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
"""


def _f(x: Any, digits: int = 4) -> str:
    return "?" if x is None else f"{x:.{digits}f}"


def _rollout_cells(spec: ModelSpec) -> str:
    """The rollout calibration's three cells (dashes without one)."""
    r = spec.calibration.rollout
    if r is None:
        return "| — | — | — "
    s = r.scores

    def g(x: Any) -> str:  # undefined (no step with error > tau among the scoring episodes): n/a
        return "n/a" if x is None else f"{x:.3f}"

    auroc, one = s.get("auroc"), (s.get("one_step") or {}).get("auroc")
    return (
        f"| `{r.signal}` > {r.threshold:.4g} ({r.alpha:g}) | {g(auroc)} ({g(one)}) "
        f"| {g(s.get('realized_rate'))} / {g(s.get('kept_share'))} "
    )


def _calibration_command(name: str, spec: ModelSpec) -> str | None:
    """The ``neural-gym calibrate`` call behind a rollout calibration, from what it stored (``None`` without one)."""
    r = spec.calibration.rollout
    if r is None:
        return None
    on = r.scored_on
    held = on.get("heldout") or {}
    source = (
        f"--dataset-id {held['dataset_id']}"
        if "dataset_id" in held
        else f"--heldout-policy {held.get('policy')} --heldout-steps {held.get('steps')} --heldout-seed {held.get('seed')}"
    )
    return (
        f"neural-gym calibrate --task {on.get('task', spec.task)} --checkpoint world_models/zoo/{name}.safetensors "
        f"{source} --episodes {on.get('n_episodes_asked', '?')} --horizon {on.get('horizon', '?')} --alpha {r.alpha:g} "
        f"--actions {on.get('actions', 'recorded')} --seed {on.get('seed', 0)} --overwrite "
        f"--out world_models/zoo/{name}.safetensors"
    )


def _ensemble_row(name: str, spec: ModelSpec, size_mb: float) -> str:
    p = spec.provenance
    return (
        f"| {name} | `{p.get('dataset_id', '?')}` | {p.get('dataset_transitions', '?')} | {p.get('epochs', '?')} "
        f"| {p.get('wall_time_s', 0):.0f} | {_f(p.get('best_holdout_mse'))} | {spec.calibration.threshold:.4f} "
        f"{_rollout_cells(spec)}| {size_mb:.1f} MB |"
    )


def _latent_row(name: str, spec: ModelSpec, size_mb: float) -> str:
    p = spec.provenance
    h = p.get("heldout", {})
    obs = "x".join(map(str, spec.obs_shape)) + (" frames" if len(spec.obs_shape) == 3 else " state")
    if h.get("heldout_recon_psnr") is not None:  # frames: PSNR (dB)
        recon = f"{_f(h['heldout_recon_psnr'], 1)} dB ({_f(h.get('heldout_mean_baseline_psnr'), 1)} dB)"
        ol, cl = h.get("heldout_openloop_psnr") or [], h.get("heldout_copy_last_psnr") or []
        unit, digits = " dB", 1
    else:
        recon = f"{_f(h.get('heldout_recon_mse'))} ({_f(h.get('heldout_mean_baseline_mse'))})"
        ol, cl = h.get("heldout_openloop_mse") or [], h.get("heldout_copy_last_mse") or []
        unit, digits = "", 4
    openloop = "?"
    if ol:
        last = len(ol) - 1
        cl_txt = f" ({_f(cl[0], digits)} / {_f(cl[last], digits)})" if cl else ""
        openloop = f"{_f(ol[0], digits)} / {_f(ol[last], digits)}{unit}{cl_txt}"
    cal = spec.calibration
    return (
        f"| {name} | {obs} | `{p.get('dataset_id', '?')}` | {p.get('dataset_transitions', '?')} | {p.get('steps', '?')} "
        f"| {p.get('wall_time_s', 0):.0f} | {recon} | {openloop} | `{cal.measure}` {cal.threshold:.4f} "
        f"| {size_mb:.1f} MB |"
    )


def _video_row(name: str, spec: ModelSpec, size_mb: float) -> str:
    p = spec.provenance
    h = p.get("heldout", {})
    one = (
        f"{_f(h.get('heldout_onestep_psnr'), 1)} dB ({_f(h.get('heldout_shuffled_psnr'), 1)}; "
        f"{_f(h.get('heldout_copy_last_psnr'), 1)})"
    )
    ol = "/".join(_f(v, 1) for v in h.get("heldout_openloop_psnr") or [])
    cl = "/".join(_f(v, 1) for v in h.get("heldout_openloop_copy_last_psnr") or [])
    cal = spec.calibration
    return (
        f"| {name} | {'x'.join(map(str, spec.obs_shape))} | `{p.get('dataset_id', '?')}` "
        f"| {p.get('dataset_transitions', '?')} | {p.get('steps', '?')} | {p.get('wall_time_s', 0):.0f} | {one} "
        f"| {ol or '?'} ({cl or '?'}) | {_f(h.get('heldout_probe_nrmse'), 3)} | `{cal.measure}` {cal.threshold:.4f} "
        f"| {size_mb:.1f} MB |"
    )


def _wam_row(name: str, spec: ModelSpec, size_mb: float) -> str:
    p = spec.provenance
    r = p.get("report", {})
    cal = spec.calibration
    return (
        f"| {name} | `{p.get('dataset_id', '?')}` | {p.get('dataset_transitions', '?')} | {r.get('steps', '?')} "
        f"| {r.get('wall_time_s', 0):.0f} | {_f(r.get('heldout_forward_nrmse'), 3)} "
        f"({_f(r.get('heldout_copy_last_nrmse'), 3)}) | {_f(r.get('heldout_inverse_mae'), 3)} "
        f"| {_f(r.get('heldout_policy_mae'), 3)} ({_f(r.get('heldout_policy_imagine_mae'), 3)}) "
        f"| {_f(r.get('heldout_mean_action_mae'), 3)} | `{cal.measure}` {cal.threshold:.4f} "
        f"{_rollout_cells(spec)}| {size_mb:.1f} MB |"
    )


def stamp_all() -> list[str]:
    """Add the weights checksum to every shipped checkpoint that lacks one; returns the names stamped."""
    return [name for name in available() if stamp_checksum(ZOO_DIR / f"{name}.safetensors")]


def main(argv: list[str] | None = None) -> int:
    """Write the README tables and the regeneration commands (``--stamp``: add missing checksums first)."""
    args = sys.argv[1:] if argv is None else argv
    unknown = [a for a in args if a != "--stamp"]
    if unknown:
        print(f"unknown arguments {unknown}; usage: python -m neural_gym.world_models.zoo [--stamp]", file=sys.stderr)
        return 2
    if "--stamp" in args:
        for name in stamp_all():
            print(f"added the weights checksum to {name}.safetensors", file=sys.stderr)
    rows: dict[str, list[str]] = {"ensemble": [], "latent": [], "video": [], "wam": []}
    commands = []
    for name in available():
        path = ZOO_DIR / f"{name}.safetensors"
        spec = read_spec(path)
        size_mb = path.stat().st_size / 1e6
        if spec.family == "latent":
            rows["latent"].append(_latent_row(name, spec, size_mb))
        elif spec.family == "video":
            rows["video"].append(_video_row(name, spec, size_mb))
        elif spec.family == "wam":
            rows["wam"].append(_wam_row(name, spec, size_mb))
        else:
            rows.setdefault(spec.family, []).append(_ensemble_row(name, spec, size_mb))
        p = spec.provenance
        commands.append(
            f"# {name} (trained {p.get('trained_at', '?')}, torch {p.get('torch', '?')})\n{p.get('command', '?')}"
        )
        calibrate = _calibration_command(name, spec)
        if calibrate is not None:
            commands.append(
                f"# then its rollout cut-off (held-out data collected as in the Makefile's zoo-calibrate)\n{calibrate}"
            )
    text = HEADER + ENSEMBLE + "\n".join(rows["ensemble"]) + "\n\n"
    if rows["latent"]:
        text += LATENT + "\n".join(rows["latent"]) + "\n\n"
    if rows["video"]:
        text += VIDEO + "\n".join(rows["video"]) + "\n\n"
    if rows["wam"]:
        text += WAM + "\n".join(rows["wam"]) + "\n\n"
    text += (
        "The exact training command recorded in each checkpoint (and the calibration's, from what it stored):\n\n```bash\n"
        + "\n".join(commands)
        + "\n```\n"
    )
    (ZOO_DIR / "README.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
