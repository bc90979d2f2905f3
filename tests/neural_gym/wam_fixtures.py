"""A tiny ``wam`` model for the tests that carry a world action model through the policy machinery (plumbing, not
quality): a debug model after 20 steps on 6 noisy-expert reach episodes, seconds on one thread."""

from __future__ import annotations

import numpy as np

from neural_gym.envs.tabletop import TabletopEnv, TabletopExpert
from neural_gym.world_models.wam import WAMModel, train_wam


def reach_episodes(n: int = 6, action_noise: float = 0.5, seed: int = 0) -> list[dict]:
    """``n`` noisy-expert TabletopReach episodes (reset seeds ``seed * 10_000 + i``, the expert's noise seeded with
    ``seed``) as ``train_wam`` reads them: state vectors, actions, rewards, terminations and the instruction."""
    env = TabletopEnv(task="reach")
    expert = TabletopExpert("reach", action_noise=action_noise, seed=seed)
    episodes = []
    for i in range(n):
        obs, info = env.reset(seed=seed * 10_000 + i)
        expert.reset()
        states, actions, rewards, terms, done = [obs], [], [], [], False
        while not done:
            action = expert(obs)
            obs, reward, terminated, truncated, info = env.step(action)
            states.append(obs)
            actions.append(action)
            rewards.append(reward)
            terms.append(terminated)
            done = terminated or truncated
        episodes.append(
            {
                "observations": np.stack(states),
                "actions": np.stack(actions),
                "rewards": np.asarray(rewards),
                "terminations": np.asarray(terms),
                "instruction": info["instruction"],
            }
        )
    env.close()
    return episodes


def tiny_wam(steps: int = 20, **kwargs) -> WAMModel:
    """A debug-preset ``WAMModel`` of TabletopReach after ``steps`` steps (``train_wam`` keyword arguments pass on)."""
    model, _ = train_wam(
        reach_episodes(), task="TabletopReach", task_env_id="TabletopReach-v0", action_low=[-1.0] * 4,
        action_high=[1.0] * 4, config="debug", steps=steps, batch_size=16, device="cpu", progress=False, **kwargs,
    )  # fmt: skip
    return model
