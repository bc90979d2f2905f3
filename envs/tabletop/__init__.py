"""Language-conditioned MuJoCo tabletop suite (reach, push, pick and place), with the project's own MJCF.

Not registered in :data:`neural_gym.envs.tasks.TASKS` yet (registration needs a shipped world-model checkpoint for
every task). Import and construct it directly:

    >>> from neural_gym.envs.tabletop import TabletopEnv, TabletopExpert
    >>> env = TabletopEnv(task="push")
    >>> expert = TabletopExpert("push")
    >>> obs, info = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = env.step(expert(obs))

Modules: :mod:`~.model` (MJCF string, names, sizes), :mod:`~.instructions` (templates, held-out combinations),
:mod:`~.rules` (observation layout, exact success rules, shaped rewards), :mod:`~.env` (the env), :mod:`~.expert`
(scripted experts).
"""

import os

if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    os.environ["MUJOCO_GL"] = "egl"  # before mujoco is imported (importing neural_gym.envs does the same)

from neural_gym.envs.tabletop.env import MAX_EPISODE_STEPS, TabletopEnv  # noqa: E402
from neural_gym.envs.tabletop.expert import TabletopExpert  # noqa: E402
from neural_gym.envs.tabletop.instructions import (  # noqa: E402
    FAMILIES,
    HELDOUT_COMBINATIONS,
    HELDOUT_REACH,
    TEMPLATES,
)
from neural_gym.envs.tabletop.model import GOALS, OBJECTS  # noqa: E402
from neural_gym.envs.tabletop.rules import REWARD_FNS, SUCCESS_FNS  # noqa: E402

__all__ = [
    "FAMILIES",
    "GOALS",
    "HELDOUT_COMBINATIONS",
    "HELDOUT_REACH",
    "MAX_EPISODE_STEPS",
    "OBJECTS",
    "REWARD_FNS",
    "SUCCESS_FNS",
    "TEMPLATES",
    "TabletopEnv",
    "TabletopExpert",
]
