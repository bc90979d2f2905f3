"""Offline dream RL: collect a medium-quality InvertedPendulum dataset, train SAC only inside its dream, score in MuJoCo.

python examples/dream_rl_offline.py --steps 50000
"""

from __future__ import annotations

import argparse

from neural_gym.dream_rl import train_offline
from neural_gym.envs import collect

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--steps", type=int, default=50_000, help="dream steps of SAC training")
parser.add_argument("--out", default="outputs/dream_rl/offline-example")
args = parser.parse_args()

# the scripted expert with heavy action noise: it balances for a while, then falls (a "medium" dataset)
dataset = collect(
    "InvertedPendulum",
    20_000,
    policy="expert",
    action_noise=0.6,
    seed=0,
    overwrite=True,
    dataset_id="examples/InvertedPendulum/noisy-expert-v0",
)
result = train_offline(
    "InvertedPendulum",
    dataset,  # trains the world model and supplies the dream's start states
    algo="SAC",
    total_timesteps=args.steps,
    horizon=100,  # rollout horizon h
    on_uncertain="penalize",  # MOPO: r - λ·uncertainty
    penalty=1.0,
    eval_freq=10_000,
    out_dir=args.out,
    resume=True,  # rerun after an interruption to continue (SB3 unpickles agent.zip: resume only your own folders)
)
print(f"MuJoCo return {result.final_return:.1f}; evaluations in {result.out_dir / 'eval.csv'}")
