"""``python -m world_models.zoo`` writes ``world_models/zoo/README.md`` from the shipped checkpoints' own metadata."""

from __future__ import annotations

import sys

from world_models.checkpoint import read_spec
from world_models.zoo import ZOO_DIR, available

HEADER = """# Shipped checkpoints

One small `ensemble` world model per ground-truth task, loaded by `gym.make("neural_gym/<Task>-v0")` when no
`checkpoint=` is given. Every figure below is read from the checkpoint's own metadata by `python -m world_models.zoo`
(which wrote this file); every checkpoint is regenerated, data collection included, by `make zoo` (one task:
`make zoo ZOO_TASKS=Hopper`). Data come from the ground truth with seed 0: a uniform random policy (`random`), or the
task's scripted expert with action noise (`expert`, see `envs/experts.py`).

| task | dataset | transitions | epochs | train s | held-out MSE (normalized) | `ensemble_std` threshold | size |
|---|---|---|---|---|---|---|---|
"""


def main() -> int:
    """Write the README table and the regeneration commands."""
    rows, commands = [], []
    for task in available():
        path = ZOO_DIR / f"{task}.safetensors"
        spec = read_spec(path)
        p = spec.provenance
        rows.append(
            f"| {task} | `{p.get('dataset_id', '?')}` | {p.get('dataset_transitions', '?')} | {p.get('epochs', '?')} | {p.get('wall_time_s', 0):.0f} "
            f"| {p.get('best_holdout_mse', float('nan')):.4f} | {spec.calibration.threshold:.4f} "
            f"| {path.stat().st_size / 1e6:.1f} MB |"
        )
        commands.append(f"# {task} (trained {p.get('trained_at', '?')}, torch {p.get('torch', '?')})\n{p.get('command', '?')}")
    text = HEADER + "\n".join(rows) + "\n\nThe exact training command recorded in each checkpoint:\n\n```bash\n"
    text += "\n".join(commands) + "\n```\n"
    (ZOO_DIR / "README.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
