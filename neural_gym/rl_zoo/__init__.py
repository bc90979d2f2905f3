"""RL Baselines3 Zoo hyperparameters for the ``neural_gym/<Task>-v0`` dreams, shipped as package data.

Each ``<algo>.yml`` in this package is an `rl_zoo3 <https://github.com/DLR-RM/rl-baselines3-zoo>`_ ``--conf-file``:
its top-level keys are the registered ids, its values the hyperparameters (``policy``, ``n_timesteps``, ``n_envs``,
``normalize``, ...). rl_zoo3 is an optional extra (``pip install "neural-gym[rl-zoo]"``); nothing here imports it.

Example:
    >>> import neural_gym
    >>> neural_gym.rl_zoo_config("ppo").name
    'ppo.yml'

Then, in a shell::

    python -m rl_zoo3.train --algo ppo --env neural_gym/InvertedPendulum-v0 --gym-packages neural_gym \\
        --conf-file "$(python -c 'import neural_gym; print(neural_gym.rl_zoo_config("ppo"))')"
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

ALGOS: tuple[str, ...] = ("ppo", "sac")
"""Algorithms with a shipped hyperparameter file (rl_zoo3's ``--algo`` names)."""


def rl_zoo_config(algo: str = "ppo") -> Path:
    """Path of the shipped rl_zoo3 hyperparameter file for ``algo``.

    Args:
        algo: an rl_zoo3 algorithm name in :data:`ALGOS` (case-insensitive), e.g. ``"ppo"``.

    Returns:
        The path of ``<algo>.yml`` inside the installed package, ready for ``--conf-file``.

    Raises:
        ValueError: ``algo`` has no shipped file.
    """
    name = algo.lower()
    if name not in ALGOS:
        raise ValueError(f"no shipped rl_zoo3 hyperparameters for algo {algo!r}; neural_gym ships {list(ALGOS)}")
    return Path(str(resources.files(__name__).joinpath(f"{name}.yml")))


__all__ = ["ALGOS", "rl_zoo_config"]
