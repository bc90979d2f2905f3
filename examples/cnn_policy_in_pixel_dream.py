"""Train PPO with a CnnPolicy inside the shipped 64x64 Reacher pixel dream (latent RSSM), then play it in the dream and
in MuJoCo's own frames from the same start states, and write the frame drift report of the model.

    python examples/cnn_policy_in_pixel_dream.py --timesteps 20000
"""

from __future__ import annotations

import argparse

import gymnasium as gym
from stable_baselines3 import PPO

import neural_gym
from neural_gym.drift import measure_frame_drift, write_frame_report
from neural_gym.evaluate import paired_episodes

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--checkpoint", default="zoo:Reacher-latent-pixels", help="or zoo:Reacher-video")
parser.add_argument("--timesteps", type=int, default=5_000)
parser.add_argument("--num-envs", type=int, default=16)
parser.add_argument("--out", default="outputs/pixel_dream")
args = parser.parse_args()

# Observations are uint8 (64, 64, 3) frames decoded by the model; each episode starts from 5 real frames (burn-in).
envs = gym.make_vec(neural_gym.env_id("Reacher"), num_envs=args.num_envs, checkpoint=args.checkpoint, start="dataset")
agent = PPO("CnnPolicy", envs.unwrapped.to_sb3(), n_steps=64, batch_size=256, seed=0, verbose=0)
agent.learn(args.timesteps, progress_bar=True)
agent.save(f"{args.out}/agent")

# The same agent, on frames from the dream and on MuJoCo's own renders, from the same start states.
print(paired_episodes("Reacher", agent, checkpoint=args.checkpoint, episodes=5, seed=123).summary())

# How far the model's frames drift from renders of the restored physics state (PSNR/SSIM vs copy-last-frame).
result = measure_frame_drift("Reacher", args.checkpoint, n_starts=16, horizons=(1, 5, 10, 25))
print(result.summary_table())
print("report:", write_frame_report(result, f"{args.out}/drift"))
