"""Language-conditioned MuJoCo tabletop suite (reach, push, pick and place), with the project's own MJCF.

Registered as the tasks ``TabletopReach``, ``TabletopPush`` and ``TabletopPickPlace`` of
:data:`neural_gym.envs.tasks.TASKS` (dream ids ``neural_gym/Tabletop<Family>-v0``). Importing this package registers
the gymnasium ids ``TabletopReach-v0``, ``TabletopPush-v0`` and ``TabletopPickPlace-v0`` (entry point
:class:`TabletopEnv` with the family as ``task=``, time limits :data:`MAX_EPISODE_STEPS`):

    >>> from neural_gym.envs import get_task
    >>> env = get_task("TabletopPush").make(obs_mode="dict")   # {"pixels", "state", "instruction"}
    >>> import gymnasium as gym
    >>> env = gym.make("TabletopPush-v0", split="heldout")     # TabletopEnv(task="push", split="heldout")

or construct it directly:

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

from gymnasium.envs.registration import register, registry  # noqa: E402

from neural_gym.envs.tabletop.env import INSTRUCTION_KEY, MAX_EPISODE_STEPS, TabletopEnv  # noqa: E402
from neural_gym.envs.tabletop.expert import TabletopExpert  # noqa: E402
from neural_gym.envs.tabletop.instructions import (  # noqa: E402
    FAMILIES,
    HELDOUT_COMBINATIONS,
    HELDOUT_REACH,
    TEMPLATES,
)
from neural_gym.envs.tabletop.model import CAMERA, GOALS, OBJECTS  # noqa: E402
from neural_gym.envs.tabletop.rules import (  # noqa: E402
    EPISODE_CONSTANT_DIMS,
    REWARD_FNS,
    SUCCESS_FNS,
    TERMINATION_FNS,
)

TASK_FAMILIES: dict[str, str] = {"TabletopReach": "reach", "TabletopPush": "push", "TabletopPickPlace": "pick_place"}
"""Task name (in :data:`neural_gym.envs.tasks.TASKS`) of each family."""


def env_id(family: str) -> str:
    """The gymnasium id of a family, e.g. ``"TabletopPush-v0"`` for ``"push"``.

    Raises:
        ValueError: For an unknown family.
    """
    for name, fam in TASK_FAMILIES.items():
        if fam == family:
            return f"{name}-v0"
    raise ValueError(f"Unknown task family {family!r}; expected one of {FAMILIES}.")


for _family in FAMILIES:
    if env_id(_family) not in registry:
        register(
            id=env_id(_family),
            entry_point="neural_gym.envs.tabletop.env:TabletopEnv",
            max_episode_steps=MAX_EPISODE_STEPS[_family],
            kwargs={"task": _family},
        )

__all__ = [
    "CAMERA",
    "EPISODE_CONSTANT_DIMS",
    "FAMILIES",
    "GOALS",
    "HELDOUT_COMBINATIONS",
    "HELDOUT_REACH",
    "INSTRUCTION_KEY",
    "MAX_EPISODE_STEPS",
    "OBJECTS",
    "REWARD_FNS",
    "SUCCESS_FNS",
    "TASK_FAMILIES",
    "TEMPLATES",
    "TERMINATION_FNS",
    "TabletopEnv",
    "TabletopExpert",
    "env_id",
]
