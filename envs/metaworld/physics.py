"""Exact save and restore of a Meta-World env: MuJoCo's state, the model fields a reset moves, and the task's own
Python attributes.

Meta-World's ``get_env_state()`` keeps ``qpos`` and ``qvel`` only, but a step reads much more:

* the mocap target the action moves and the gripper controls (in MuJoCo's ``mjSTATE_INTEGRATION``, with time, the
  solver warm start and the applied forces);
* model fields each reset moves: the pose of the task's object (``model.body_pos``, e.g. the door, drawer or window)
  and of the goal site (``model.site_pos``);
* Python attributes of the task: the goal (``_target_pos``), the last random reset vector, the step counter
  (``curr_path_length``, which decides truncation), the previous frame of the frame-stacked observation
  (``_prev_obs``), the last stable observation (``_last_stable_obs``) and the initial positions the dense reward is
  measured from (``obj_init_pos``, ``init_tcp``, ...).

:class:`StateLayout` flattens all of it into one float64 vector of a fixed length per task. The Python attributes it
covers are every numeric attribute (bool, int, float or numeric array) of the task after a reset and a step, less the
settings of the env (:data:`CONFIG_ATTRIBUTES`); each is stored as a presence flag (``None`` gives 0) and its values.
Attributes that are live views of ``MjData`` arrays (``init_left_pad = get_body_com("leftpad")`` follows the pad as
it moves, and the dense reward reads it) hold no values: a restore points them at the same view of the new data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION
"""The ``mjtState`` signature saved and restored."""

MODEL_FIELDS: tuple[str, ...] = ("body_pos", "body_quat", "site_pos", "site_quat")
"""``MjModel`` fields saved and restored (Meta-World's resets move bodies and sites)."""

CONFIG_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "width",
        "height",
        "camera_id",
        "frame_skip",
        "action_scale",
        "action_rot_scale",
        "_partially_observable",
        "_set_task_called",
        "_freeze_rand_vec",
        "seeded_rand_vec",
        "_obs_obj_max_len",
        "_np_random_seed",
    }
)
"""Numeric attributes that are settings of the env, not state: left out of the state vector."""


def forward_keep_warmstart(model: mujoco.MjModel, data: mujoco.MjData) -> None:
    """``mj_forward`` that leaves the integration state untouched.

    Why: ``mj_forward`` runs the constraint solver, which overwrites ``qacc_warmstart``, the solver's starting point
    for the next step (part of ``mjSTATE_INTEGRATION``). A step after an extra ``mj_forward`` (a render, a restore)
    would start the solver elsewhere and drift from the recorded trajectory in the last bits. This one puts the warm
    start back, so derived quantities (body poses for a frame or an observation) are fresh and the next step is the
    same bit for bit.
    """
    warmstart = data.qacc_warmstart.copy()
    mujoco.mj_forward(model, data)
    data.qacc_warmstart[:] = warmstart


def _is_numeric(value: Any) -> bool:
    if isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind in "biuf"


def numeric_attributes(task_env: Any) -> dict[str, Any]:
    """The numeric attributes of a Meta-World task env that are not settings (:data:`CONFIG_ATTRIBUTES`)."""
    return {
        name: value for name, value in vars(task_env).items() if name not in CONFIG_ATTRIBUTES and _is_numeric(value)
    }


@dataclass(frozen=True)
class _Entry:
    name: str
    kind: str  # "bool", "int", "float", "array" or "alias"
    shape: tuple[int, ...]
    dtype: str
    field: str = ""  # for "alias": the MjData field the attribute is a view of
    offset: int = 0  # for "alias": the view's first element in that field (flat index)
    strides: tuple[int, ...] = ()  # for "alias": the view's strides in bytes

    @property
    def size(self) -> int:
        return 0 if self.kind == "alias" else 1 + int(np.prod(self.shape, dtype=np.int64))


def _data_view(data: mujoco.MjData, value: np.ndarray) -> tuple[str, int] | None:
    """``(field, flat offset)`` when ``value`` is a view into an ``MjData`` array, else ``None``."""
    start = value.__array_interface__["data"][0]
    for field in dir(data):
        if field.startswith("_"):
            continue
        try:
            array = getattr(data, field)
        except Exception:  # noqa: BLE001 - some attributes raise on access; they hold no arrays
            continue
        if isinstance(array, np.ndarray) and array.size and np.shares_memory(array, value):
            return field, (start - array.__array_interface__["data"][0]) // array.itemsize
    return None


def _alias_of(data: mujoco.MjData, entry: _Entry) -> np.ndarray:
    field = getattr(data, entry.field)
    flat = field.reshape(-1)
    return np.lib.stride_tricks.as_strided(flat[entry.offset :], shape=entry.shape, strides=entry.strides)


def _entry(name: str, value: Any, data: mujoco.MjData) -> _Entry:
    if isinstance(value, np.ndarray):
        view = _data_view(data, value)
        if view is not None:  # e.g. init_left_pad = get_body_com("leftpad"): a live view of data.xipos
            return _Entry(name, "alias", tuple(value.shape), value.dtype.str, view[0], view[1], tuple(value.strides))
    if isinstance(value, (bool, np.bool_)):
        return _Entry(name, "bool", (), "bool")
    if isinstance(value, (int, np.integer)):
        return _Entry(name, "int", (), "int64")
    if isinstance(value, (float, np.floating)):
        return _Entry(name, "float", (), "float64")
    return _Entry(name, "array", tuple(value.shape), value.dtype.str)


class StateLayout:
    """The layout of the state vector of one Meta-World task env.

    Args:
        task_env: The Meta-World ``SawyerXYZEnv`` after at least one reset and one step, so that every attribute a
            step reads exists (attributes that are ``None`` then, other than ``optional``, are left out).
        optional: ``{name: shape}`` of float attributes that may be ``None`` (e.g. ``_last_stable_obs`` before the
            first step).
    """

    def __init__(self, task_env: Any, optional: dict[str, tuple[int, ...]] | None = None) -> None:
        model = task_env.model
        self._mj_size = int(mujoco.mj_stateSize(model, STATE_SPEC))
        self._model_sizes = tuple(getattr(model, field).size for field in MODEL_FIELDS)
        entries = {name: _entry(name, value, task_env.data) for name, value in numeric_attributes(task_env).items()}
        for name, shape in (optional or {}).items():
            entries.setdefault(name, _Entry(name, "array", tuple(shape), np.dtype(np.float64).str))
        self._entries = tuple(entries[name] for name in sorted(entries))
        self.size = self._mj_size + sum(self._model_sizes) + sum(entry.size for entry in self._entries)

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """The Python attributes the vector holds, sorted."""
        return tuple(entry.name for entry in self._entries)

    def get(self, task_env: Any) -> np.ndarray:
        """The state vector of ``task_env``.

        Raises:
            RuntimeError: If the env holds a numeric attribute the layout does not know, or one changed its shape
                (its state could not be restored exactly).
        """
        model, data = task_env.model, task_env.data
        unknown = sorted(set(numeric_attributes(task_env)) - set(self.attribute_names))
        if unknown:
            raise RuntimeError(
                f"Meta-World env {type(task_env).__name__} has attributes the state layout lacks: {unknown}."
            )
        parts = [np.empty(self._mj_size, dtype=np.float64)]
        mujoco.mj_getState(model, data, parts[0], STATE_SPEC)
        parts += [np.asarray(getattr(model, field), dtype=np.float64).ravel() for field in MODEL_FIELDS]
        for entry in self._entries:
            value = getattr(task_env, entry.name, None)
            if entry.kind == "alias":
                if not (isinstance(value, np.ndarray) and np.shares_memory(value, getattr(data, entry.field))):
                    raise RuntimeError(
                        f"Attribute {entry.name} of {type(task_env).__name__} is no longer a view of data.{entry.field}."
                    )
                continue
            block = np.zeros(entry.size, dtype=np.float64)
            if value is not None:
                values = np.asarray(value, dtype=np.float64)
                if values.shape != entry.shape:
                    raise RuntimeError(
                        f"Attribute {entry.name} of {type(task_env).__name__} has shape {values.shape}, the state "
                        f"layout expects {entry.shape}."
                    )
                block[0] = 1.0
                block[1:] = values.ravel()
            parts.append(block)
        return np.concatenate(parts)

    def set(self, task_env: Any, state: np.ndarray) -> None:
        """Restore a vector from :meth:`get` into ``task_env`` and recompute derived quantities
        (:func:`forward_keep_warmstart`).

        Raises:
            ValueError: If ``state`` is not a finite float vector of length :attr:`size`.
        """
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (self.size,):
            raise ValueError(
                f"Meta-World physics state must be a vector of size {self.size} for {type(task_env).__name__} "
                f"(MuJoCo {mujoco.__version__}), got shape {state.shape}."
            )
        if not np.all(np.isfinite(state)):
            raise ValueError(f"Meta-World physics state of size {self.size} contains non-finite values.")
        model, data = task_env.model, task_env.data
        offset = self._mj_size
        mj_state = np.ascontiguousarray(state[:offset])
        for field, size in zip(MODEL_FIELDS, self._model_sizes, strict=True):
            target = getattr(model, field)
            target[...] = state[offset : offset + size].reshape(target.shape)
            offset += size
        mujoco.mj_setState(model, data, mj_state, STATE_SPEC)
        forward_keep_warmstart(model, data)
        for entry in self._entries:
            block = state[offset : offset + entry.size]
            offset += entry.size
            if entry.kind == "alias":
                setattr(task_env, entry.name, _alias_of(data, entry))
            elif block[0] == 0.0:
                setattr(task_env, entry.name, None)
            elif entry.kind == "bool":
                setattr(task_env, entry.name, bool(block[1]))
            elif entry.kind == "int":
                setattr(task_env, entry.name, int(block[1]))
            elif entry.kind == "float":
                setattr(task_env, entry.name, float(block[1]))
            else:
                setattr(task_env, entry.name, block[1:].reshape(entry.shape).astype(np.dtype(entry.dtype)))
