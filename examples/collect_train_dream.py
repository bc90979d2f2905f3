"""The whole pipeline by hand: ground truth → Minari dataset → ensemble world model → Dream env.

    MINARI_DATASETS_PATH=data/minari python examples/collect_train_dream.py
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import neural_gym
from neural_gym.train import train_world_model

dataset_id = neural_gym.collect("Reacher", 20_000, seed=0, dataset_id="example/Reacher/random-v0", overwrite=True)
model, report, path = train_world_model("Reacher", dataset_id, "runs/reacher.safetensors", max_epochs=30)
print(f"held-out MSE {report.best_holdout_mse:.4f}, threshold {model.spec.calibration.threshold:.4f} -> {path}")

env = gym.make("neural_gym/Reacher-v0", checkpoint=str(path), render_mode="rgb_array")
obs, info = env.reset(seed=0)
frames = [env.render()]
for _ in range(50):
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    frames.append(env.render())
    if terminated or truncated:
        print("episode ended:", "uncertainty" if info["uncertainty_exceeded"] else "time limit")
        break

import imageio.v3 as iio  # noqa: E402

iio.imwrite("runs/reacher_dream.mp4", np.stack(frames), fps=25)
print("wrote runs/reacher_dream.mp4")
