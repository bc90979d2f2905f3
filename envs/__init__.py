"""Ground truth: the MuJoCo tasks (the gymnasium ``*-v5`` tasks and the language-conditioned tabletop suite), exact
physics-state save/restore, observation modes, policies, and Minari data collection.

This layer never imports ``world_models`` or ``neural_gym``.

Headless rendering: importing ``envs`` sets ``MUJOCO_GL=egl`` when there is no display (``DISPLAY`` unset or empty)
and ``MUJOCO_GL`` is unset, before anything imports mujoco. To choose a backend yourself (``osmesa``, ``glfw``), set
``MUJOCO_GL`` before importing ``envs``.

Example:
    >>> from neural_gym import envs
    >>> task = envs.get_task("Hopper")
    >>> dataset_id = envs.collect("Hopper", 5_000, seed=0)
    >>> data = envs.load_transitions(dataset_id)
    >>> pixel_env = task.make(obs_mode="dict", image_size=64)          # {"pixels": (64, 64, 3) uint8, "state": ...}
    >>> pixel_id = envs.collect("Reacher", 1_000, obs_mode="pixels")   # "neural_gym/Reacher/random-pixels64-v0"
    >>> frames = envs.load_episodes(pixel_id)[0].frames                # (T + 1, 64, 64, 3) uint8
    >>> push_id = envs.collect("TabletopPush", 2_000, policy="expert", action_noise=0.3, obs_mode="dict")
    >>> envs.load_episodes(push_id)[0].instruction                     # e.g. "push the red cube onto the blue square"
"""

import os

if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    # Headless rendering (the pixel observation modes); must be set before anything imports mujoco.
    os.environ["MUJOCO_GL"] = "egl"

from neural_gym.envs.collect import collect  # noqa: E402
from neural_gym.envs.dataset import (  # noqa: E402
    DatasetAlignmentError,
    DatasetTaskError,
    Episode,
    Transitions,
    dataset_env_id,
    dataset_path,
    load_episodes,
    load_transitions,
)
from neural_gym.envs.experts import EXPERTS, expert  # noqa: E402
from neural_gym.envs.observations import (  # noqa: E402
    DEFAULT_IMAGE_SIZE,
    OBS_MODES,
    PIXELS_KEY,
    STATE_KEY,
    Camera,
    ObsMode,
    RenderCurrentState,
    render_frame,
)
from neural_gym.envs.physics import get_physics_state, physics_state_size, set_physics_state  # noqa: E402
from neural_gym.envs.policies import as_policy  # noqa: E402
from neural_gym.envs.tasks import OPTIONAL_TASKS, TASKS, OptionalTask, TaskSpec, get_task, task_names  # noqa: E402

__all__ = [
    "DEFAULT_IMAGE_SIZE",
    "EXPERTS",
    "OBS_MODES",
    "PIXELS_KEY",
    "STATE_KEY",
    "OPTIONAL_TASKS",
    "OptionalTask",
    "TASKS",
    "task_names",
    "Camera",
    "ObsMode",
    "RenderCurrentState",
    "DatasetAlignmentError",
    "DatasetTaskError",
    "Episode",
    "TaskSpec",
    "Transitions",
    "as_policy",
    "collect",
    "dataset_env_id",
    "dataset_path",
    "expert",
    "get_physics_state",
    "get_task",
    "load_episodes",
    "load_transitions",
    "physics_state_size",
    "render_frame",
    "set_physics_state",
]
