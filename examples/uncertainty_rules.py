"""The three on_uncertain rules side by side on the same imagined episodes.

    python examples/uncertainty_rules.py
"""

from __future__ import annotations

import numpy as np

from neural_gym import DreamVectorEnv

for rule in ("truncate", "terminate", "penalize"):
    envs = DreamVectorEnv("Hopper", num_envs=256, on_uncertain=rule, max_episode_steps=200)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    total, cut = np.zeros(256), 0
    for _ in range(200):
        obs, reward, terminated, truncated, info = envs.step(rng.uniform(-1, 1, (256, 3)))
        total += reward
        cut += int(info["uncertainty_exceeded"].sum())
    print(f"{rule:>9}: mean reward over 200 steps {total.mean():8.2f}, uncertain steps {cut}")
