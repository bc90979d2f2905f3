"""Dyna / MBPO-style SAC on InvertedPendulum: real steps, model refits, branched rollouts, mixed batches.

python examples/dream_rl_dyna.py --steps 5000
"""

from __future__ import annotations

import argparse

from neural_gym.dream_rl import train_dyna

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--steps", type=int, default=5_000, help="real env steps")
parser.add_argument("--out", default="outputs/dream_rl/dyna-example")
args = parser.parse_args()

result = train_dyna(
    "InvertedPendulum",
    total_timesteps=args.steps,
    real_ratio=0.05,  # 5 % of every SAC batch is real data, the rest imagined (MBPO)
    gradient_steps=10,  # SAC updates per real step
    model_train_freq=250,  # refit the ensemble every 250 real steps ...
    rollout_batch_size=400,  # ... then branch 400 model rollouts from real states
    horizon=1,  # of 1 step each
    eval_freq=500,
    out_dir=args.out,
    resume=True,  # rerun after an interruption to continue (SB3 unpickles agent.zip: resume only your own folders)
)
for row in result.evaluations:
    print(
        f"real steps {row['real_steps']:>6.0f}  MuJoCo return {row['real_return_mean']:8.1f}  "
        f"dream-real gap {row.get('dream_real_gap', float('nan')):7.1f}"
    )
