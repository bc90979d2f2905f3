"""Tiny dream-RL settings shared by the dream-RL tests (small enough for a few seconds of Dyna SAC on 2 cores)."""

from __future__ import annotations

from dataclasses import asdict

from neural_gym.world_models import EnsembleConfig

TINY = EnsembleConfig(ensemble_size=3, num_elites=2, hidden_size=32, num_layers=2)
TINY_FIELDS = asdict(TINY)
"""``TINY`` as plain keyword arguments (for scripts run in a child process)."""

DYNA_ARGS = {
    "learning_starts": 100,
    "gradient_steps": 1,
    "batch_size": 64,
    "model_train_freq": 100,
    "rollout_batch_size": 50,
    "horizon": 2,
    "model_epochs": 3,
    "eval_freq": 150,
    "eval_episodes": 2,
    "eval_max_episode_steps": 50,
    "save_freq": 150,
    "progress": False,
}
"""``train_dyna`` keyword arguments without the model config (plain values, printable into a child script)."""

DYNA = {**DYNA_ARGS, "model_config": TINY}
