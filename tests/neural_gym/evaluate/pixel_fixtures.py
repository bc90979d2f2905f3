"""Small real tabletop pixel episodes, a judge trained on them for a few steps, and an untrained 32x32 video model:
shared by the judge and pixel-harness tests."""

from __future__ import annotations

import numpy as np

from neural_gym.envs.dataset import Episode

SIZE = 32


def real_pixel_episodes(count: int, seed: int = 0, size: int = SIZE) -> list[Episode]:
    """``count`` TabletopReach episodes (noisy expert, every third one random) with frames and states."""
    from neural_gym.envs.tabletop import TabletopEnv
    from neural_gym.envs.tabletop.expert import TabletopExpert

    env = TabletopEnv(task="reach", obs_mode="dict", image_size=size, max_episode_steps=40)
    rng = np.random.default_rng(seed)
    episodes = []
    for e in range(count):
        expert = TabletopExpert("reach", action_noise=0.3, seed=seed + e)
        obs, _ = env.reset(seed=seed + e)
        states, frames, actions, rewards, terms, truncs = [obs["state"]], [obs["pixels"]], [], [], [], []
        done = False
        while not done:
            a = rng.uniform(-1, 1, 4) if e % 3 == 2 else expert(obs["state"])
            obs, r, terminated, truncated, _ = env.step(a)
            states.append(obs["state"])
            frames.append(obs["pixels"])
            actions.append(a)
            rewards.append(r)
            terms.append(terminated)
            truncs.append(truncated)
            done = terminated or truncated
        episodes.append(
            Episode(
                id=e,
                observations=np.asarray(states, dtype=np.float64),
                actions=np.asarray(actions, dtype=np.float64),
                rewards=np.asarray(rewards, dtype=np.float64),
                terminations=np.asarray(terms),
                truncations=np.asarray(truncs),
                frames=np.asarray(frames, dtype=np.uint8),
            )
        )
    env.close()
    return episodes


def untrained_video_model(size: int = SIZE):
    """A debug-size untrained video model of TabletopReach at ``size`` (never cuts: thresholds set huge)."""
    from neural_gym.envs import get_task
    from neural_gym.world_models import VideoModel
    from neural_gym.world_models.video import preset

    spec = get_task("TabletopReach")
    env = spec.make(obs_mode="pixels", image_size=size)
    model = VideoModel(
        task=spec.name,
        task_env_id=spec.env_id,
        obs_shape=(size, size, 3),
        action_dim=4,
        action_low=env.action_space.low.tolist(),
        action_high=env.action_space.high.tolist(),
        config=preset("debug", image_size=size),
        seed=0,
    )
    env.close()
    model.spec.calibration.thresholds = {m: 1e9 for m in ("ensemble_std", "pairwise_max", "member_dev")}
    return model.eval()
