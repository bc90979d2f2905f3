"""Train PPO entirely inside the shipped HalfCheetah dream, then score it in MuJoCo from the same start states.

    python examples/ppo_in_dream.py --timesteps 200000
"""

from __future__ import annotations

import argparse

import gymnasium as gym
from stable_baselines3 import PPO

import neural_gym
from neural_gym.evaluate import paired_episodes

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--task", default="HalfCheetah")
parser.add_argument("--timesteps", type=int, default=50_000)
parser.add_argument("--num-envs", type=int, default=64)
args = parser.parse_args()

envs = gym.make_vec(neural_gym.env_id(args.task), num_envs=args.num_envs)  # one forward pass steps all envs
agent = PPO("MlpPolicy", envs.unwrapped.to_sb3(), n_steps=64, batch_size=1024, seed=0, verbose=0)
agent.learn(args.timesteps, progress_bar=True)

result = paired_episodes(args.task, agent, episodes=5, seed=123)
print(result.summary())
