"""Ground truth: the MuJoCo tasks, exact physics-state save/restore, policies, and Minari data collection.

This layer never imports ``world_models`` or ``neural_gym``.

Example:
    >>> import envs
    >>> task = envs.get_task("Hopper")
    >>> dataset_id = envs.collect("Hopper", 5_000, seed=0)
    >>> data = envs.load_transitions(dataset_id)
"""

import os

if "DISPLAY" not in os.environ and "MUJOCO_GL" not in os.environ:
    # Headless rendering; must be set before anything imports mujoco.
    os.environ.setdefault("MUJOCO_GL", "egl")

from envs.collect import collect  # noqa: E402
from envs.dataset import DatasetAlignmentError, Episode, Transitions, load_episodes, load_transitions  # noqa: E402
from envs.experts import EXPERTS, expert  # noqa: E402
from envs.physics import get_physics_state, physics_state_size, set_physics_state  # noqa: E402
from envs.policies import as_policy  # noqa: E402
from envs.tasks import TASKS, TaskSpec, get_task  # noqa: E402

__all__ = [
    "TASKS",
    "EXPERTS",
    "DatasetAlignmentError",
    "Episode",
    "TaskSpec",
    "Transitions",
    "as_policy",
    "collect",
    "expert",
    "get_physics_state",
    "get_task",
    "load_episodes",
    "load_transitions",
    "physics_state_size",
    "set_physics_state",
]
