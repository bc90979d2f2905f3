"""Dream-RL run folders: every save is one generation, committed by an atomic replace of ``state.json``.

Layout::

    <out>/state.json                 the commit point: format, step, generation, settings, size + sha256 of each file
    <out>/gen-000003/agent.zip       the SB3 agent (SB3's own zip format, see the warning below)
    <out>/gen-000003/replay_buffer.npz   replay buffer arrays (off-policy agents), loaded with ``allow_pickle=False``
    <out>/gen-000003/model.safetensors   the world model (when one exists)
    <out>/eval.csv                   one row per MuJoCo evaluation
    <out>/tb/                        TensorBoard logs (``tensorboard=True``)

A save writes a new ``gen-*`` folder (each file written to a temporary name, flushed and renamed), then replaces
``state.json`` atomically, then deletes every other ``gen-*`` folder. A process killed at any moment therefore leaves
``state.json`` naming one complete generation; a half-written newer generation is ignored and deleted on resume.
Resume reads only the generation ``state.json`` names and checks each file's size and sha256 and the agent's and the
buffer's step counts against it.

Security:
    ``agent.zip`` is Stable-Baselines3's format: SB3 **unpickles** parts of it (cloudpickle) when it is loaded on
    resume, and unpickling a malicious file runs arbitrary code. Only resume run folders you trust. The project's own
    files (``state.json``, ``replay_buffer.npz``, ``model.safetensors``, ``eval.csv``) are pickle-free.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neural_gym.durable import fsync_path
from neural_gym.world_models import CheckpointError

FORMAT = "neural_gym.dream_rl.run"
FORMAT_VERSION = 1
STATE_FILE = "state.json"
EVAL_FILE = "eval.csv"
AGENT_FILE = "agent.zip"
BUFFER_FILE = "replay_buffer.npz"
MODEL_FILE = "model.safetensors"
GEN_PREFIX = "gen-"
LEGACY_FILES = ("agent.zip", "replay_buffer.pkl", "model.safetensors")
"""Files of the layout before generations (a run folder written by an older neural_gym)."""

IDENTITY = ("task", "mode", "algo")

MAY_CHANGE_ON_RESUME = ("total_timesteps", "save_freq", "device", "tensorboard", "progress")
"""Arguments a resumed run may give differently from the saved run: the budget (``--steps``, to extend a run), the
checkpoint cadence, the device and the logging. Every other setting must match the saved run."""

FLAGS = {
    "total_timesteps": "--steps",
    "dataset_id": "--dataset-id",
    "checkpoint": "--checkpoint",
    "num_envs": "--num-envs",
    "on_uncertain": "--on-uncertain",
    "model_epochs": "--model-epochs",
    "real_ratio": "--real-ratio",
    "gradient_steps": "--gradient-steps",
    "model_train_freq": "--model-train-freq",
    "rollout_batch_size": "--rollout-batch-size",
    "learning_starts": "--learning-starts",
    "eval_freq": "--eval-freq",
    "eval_episodes": "--eval-episodes",
    "save_freq": "--save-freq",
    "progress": "--quiet",
}
"""Setting → ``dream-train`` flag, where the flag is not simply ``--<setting>``."""

BUFFER_ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


def flag(name: str) -> str:
    """The ``dream-train`` flag of a setting (``horizon`` → ``--horizon``, ``total_timesteps`` → ``--steps``)."""
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists; objects JSON cannot hold become their ``repr``)."""
    return json.loads(json.dumps(value, default=repr))


# ---------------------------------------------------------------------------------------------------------------------
# Atomic files


def write_atomic(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path`` through a flushed temporary file and a rename; returns its sha256 (hex)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent)
    return hashlib.sha256(data).hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------------------------
# Replay buffers as plain arrays


def buffer_arrays(buffer: Any, prefix: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The filled rows of an SB3 ``ReplayBuffer`` as named arrays, and its scalars (JSON-ready).

    Args:
        buffer: an SB3 ``ReplayBuffer`` (Box observations).
        prefix: array-name prefix (``"real"``, ``"model"``).

    Returns:
        ``({"<prefix>.<field>": array}, {"pos", "full", "buffer_size", "n_envs", "rows"})``.

    Raises:
        ValueError: for a buffer whose observations are not one array (e.g. SB3's ``DictReplayBuffer``).
    """
    if not isinstance(getattr(buffer, "observations", None), np.ndarray):
        raise ValueError(f"only replay buffers of array observations can be saved, got {type(buffer).__name__}")
    size = int(buffer.buffer_size)
    rows = _rows(size, int(buffer.pos), bool(buffer.full), bool(getattr(buffer, "optimize_memory_usage", False)))
    arrays = {
        f"{prefix}.{name}": np.ascontiguousarray(getattr(buffer, name)[:rows])
        for name in BUFFER_ARRAYS
        if isinstance(getattr(buffer, name, None), np.ndarray)
    }
    meta = {"pos": int(buffer.pos), "full": bool(buffer.full), "buffer_size": size, "n_envs": int(buffer.n_envs)}
    return arrays, {**meta, "rows": rows}


def _rows(size: int, pos: int, full: bool, optimize_memory_usage: bool) -> int:
    if full:
        return size
    # with optimize_memory_usage the next observation of row pos-1 lives in row pos: keep one row more
    return min(pos + 1, size) if optimize_memory_usage else pos


def restore_buffer(buffer: Any, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any], prefix: str) -> None:
    """Fill a fresh SB3 ``ReplayBuffer`` (same size and env count) from :func:`buffer_arrays` output.

    Raises:
        CheckpointError: when sizes, env counts, positions or array shapes disagree with the buffer or each other.
    """
    where = f"replay buffer '{prefix}'"
    size, n_envs = int(buffer.buffer_size), int(buffer.n_envs)
    if int(meta["buffer_size"]) != size or int(meta["n_envs"]) != n_envs:
        raise CheckpointError(
            f"{where} was saved with buffer_size={meta['buffer_size']}, n_envs={meta['n_envs']}; the agent's buffer "
            f"has buffer_size={size}, n_envs={n_envs}"
        )
    pos, full, rows = int(meta["pos"]), bool(meta["full"]), int(meta["rows"])
    expected_rows = _rows(size, pos, full, bool(getattr(buffer, "optimize_memory_usage", False)))
    if not 0 <= pos < size or rows != expected_rows:
        raise CheckpointError(f"{where}: pos={pos}, full={full}, rows={rows} do not fit buffer_size={size}")
    for name in BUFFER_ARRAYS:
        target = getattr(buffer, name, None)
        if not isinstance(target, np.ndarray):
            continue
        key = f"{prefix}.{name}"
        if key not in arrays:
            raise CheckpointError(f"{where}: array {key!r} is missing from {BUFFER_FILE}")
        data = arrays[key]
        if data.shape != (rows, *target.shape[1:]):
            raise CheckpointError(
                f"{where}: array {key!r} has shape {data.shape}, expected {(rows, *target.shape[1:])}"
            )
        target[:rows] = data
    buffer.pos, buffer.full = pos, full


def buffer_bytes(agent: Any) -> tuple[bytes, dict[str, Any]] | None:
    """The agent's replay buffer (and a :class:`~neural_gym.dream_rl.dyna.MixedReplayBuffer`'s model buffer) as
    ``.npz`` bytes plus its scalars, or ``None`` for an agent without a replay buffer."""
    buffer = getattr(agent, "replay_buffer", None)
    if buffer is None:
        return None
    arrays, meta = buffer_arrays(buffer, "real")
    metas = {"real": meta}
    model_buffer = getattr(buffer, "model_buffer", None)
    if model_buffer is not None:
        more, metas["model"] = buffer_arrays(model_buffer, "model")
        arrays.update(more)
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue(), metas


def load_buffer(agent: Any, data: bytes, metas: Mapping[str, Any], step: int) -> None:
    """Fill the agent's fresh replay buffer from :func:`buffer_bytes` output and check it holds ``step`` transitions.

    Raises:
        CheckpointError: arrays that do not fit, or a real buffer whose transition count is not the saved step's.
    """
    buffer = agent.replay_buffer
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError) as err:
        raise CheckpointError(f"{BUFFER_FILE} is not a readable pickle-free .npz of arrays: {err}") from err
    if "real" not in metas:
        raise CheckpointError(f"state.json has no scalars for the real replay buffer of {BUFFER_FILE}")
    restore_buffer(buffer, arrays, metas["real"], "real")
    model_buffer = getattr(buffer, "model_buffer", None)
    if model_buffer is not None and "model" in metas:
        restore_buffer(model_buffer, arrays, metas["model"], "model")
    rows_expected = min(step // buffer.n_envs, buffer.buffer_size)
    if buffer.size() != rows_expected:
        raise CheckpointError(
            f"the saved replay buffer holds {buffer.size() * buffer.n_envs} real transitions, but the saved step "
            f"{step} needs {rows_expected * buffer.n_envs}"
        )


# ---------------------------------------------------------------------------------------------------------------------
# Generations


@dataclass(frozen=True)
class Generation:
    """One committed save, as ``state.json`` describes it.

    Attributes:
        out: the run folder.
        state: the parsed ``state.json``.
    """

    out: Path
    state: dict[str, Any]

    @property
    def step(self) -> int:
        """Agent steps done when this generation was saved."""
        return int(self.state["step"])

    @property
    def folder(self) -> Path:
        """The generation's folder."""
        return self.out / self.state["generation"]

    def has(self, name: str) -> bool:
        """Whether the generation holds file ``name``."""
        return name in self.state["files"]

    def read(self, name: str) -> bytes:
        """The bytes of file ``name``, after checking its size and sha256 against ``state.json``.

        Raises:
            CheckpointError: the file is not part of the generation, or its size or sha256 differ.
            FileNotFoundError: the file is missing (as ``CheckpointNotFoundError``).
        """
        record = self.state["files"].get(name)
        if record is None:
            raise CheckpointError(f"generation {self.folder} has no {name}")
        path = self.folder / name
        _check_present(path, record)
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != record["sha256"]:
            raise CheckpointError(
                f"{path} does not match state.json (sha256 differs): the file changed after it was saved"
            )
        return data

    def verify(self) -> None:
        """Check that every file of the generation is present with its recorded size and sha256.

        Raises:
            CheckpointError: a file is missing, has another size or another sha256.
        """
        for name, record in self.state["files"].items():
            path = self.folder / name
            _check_present(path, record)
            if _sha256(path) != record["sha256"]:
                raise CheckpointError(
                    f"{path} does not match state.json (sha256 differs): the file changed after it was saved"
                )


def _check_present(path: Path, record: Mapping[str, Any]) -> None:
    from neural_gym.world_models.checkpoint import CheckpointNotFoundError

    if not path.is_file():
        raise CheckpointNotFoundError(f"{path} is missing; state.json names it as part of the saved generation")
    if path.stat().st_size != int(record["size"]):
        raise CheckpointError(
            f"{path} has {path.stat().st_size} bytes, state.json recorded {record['size']}: the file was cut or changed"
        )


def save_generation(
    out: Path,
    *,
    agent: Any,
    model: Any | None,
    settings: Mapping[str, Any],
    previous: str | None,
) -> str:
    """Write agent, replay buffer and world model as a new generation, commit it in ``state.json``, drop the others.

    Args:
        out: run folder.
        agent: the SB3 agent (its replay buffer, when it has one, is saved too).
        model: the current world model (``None``: none yet).
        settings: the run's settings (saved in ``state.json``, compared on resume).
        previous: name of the generation committed before (``None``: the first save).

    Returns:
        The name of the committed generation folder.
    """
    from neural_gym.world_models import save_checkpoint

    number = int(previous[len(GEN_PREFIX) :]) + 1 if previous else 1
    name = f"{GEN_PREFIX}{number:06d}"
    folder = out / name
    if folder.exists():  # left by a save that was killed before its commit
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    files: dict[str, dict[str, Any]] = {}

    raw = io.BytesIO()
    agent.save(raw)
    data = raw.getvalue()
    files[AGENT_FILE] = {"size": len(data), "sha256": write_atomic(folder / AGENT_FILE, data)}
    buffer_meta = None
    packed = buffer_bytes(agent)
    if packed is not None:
        data, buffer_meta = packed
        files[BUFFER_FILE] = {"size": len(data), "sha256": write_atomic(folder / BUFFER_FILE, data)}
    if model is not None:
        path = save_checkpoint(model, folder / MODEL_FILE)  # atomic (temporary file + rename)
        files[MODEL_FILE] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    fsync_path(folder)
    state = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "step": int(agent.num_timesteps),
        "generation": name,
        "files": files,
        "buffer": buffer_meta,
        "settings": jsonable(dict(settings)),
    }
    write_atomic(out / STATE_FILE, json.dumps(state, indent=2).encode())  # the commit point
    remove_stale(out, keep=name)
    return name


def remove_stale(out: Path, keep: str | None) -> None:
    """Delete every generation folder but ``keep`` and temporary files left by killed saves."""
    if not out.is_dir():
        return
    for path in out.iterdir():
        if path.is_dir() and path.name.startswith(GEN_PREFIX) and path.name != keep:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.name.startswith(".") and path.name.endswith(".tmp"):
            path.unlink(missing_ok=True)


def run_files(out: Path) -> list[str]:
    """Names of the dream-RL run files and folders present in ``out`` (empty: not a run folder)."""
    if not out.is_dir():
        return []
    names = {STATE_FILE, EVAL_FILE, "tb", *LEGACY_FILES}
    return sorted(p.name for p in out.iterdir() if p.name in names or p.name.startswith(GEN_PREFIX))


def start_fresh(out: Path, *, overwrite: bool) -> None:
    """Prepare ``out`` for a new run: refuse a folder holding a run unless ``overwrite`` (then delete that run).

    Only run files are deleted (``state.json``, ``eval.csv``, ``tb/``, ``gen-*``, and older layouts' files); anything
    else in the folder stays.

    Raises:
        ValueError: ``out`` holds a run and ``overwrite`` is false.
    """
    found = run_files(out)
    if found and not overwrite:
        raise ValueError(
            f"{out} already holds a run ({', '.join(found)}); pass --overwrite (overwrite=True) to start over, "
            "--resume (resume=True) to continue it, or choose another --out"
        )
    for name in found:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    remove_stale(out, keep=None)
    out.mkdir(parents=True, exist_ok=True)


def open_run(out: Path, settings: Mapping[str, Any]) -> Generation | None:
    """The committed generation of ``out`` for a resume with ``settings``, or ``None`` when nothing was committed.

    Stale generations (a save killed before its commit) and temporary files are deleted. With nothing committed the
    folder's leftovers (``eval.csv`` of a run killed before its first save, ...) are deleted too, so the run starts
    from step 0.

    Args:
        out: run folder.
        settings: the settings given now; each must equal the saved one, except :data:`MAY_CHANGE_ON_RESUME`.

    Raises:
        ValueError: a setting differs from the saved run (the message lists each one, saved vs given).
        CheckpointError: ``state.json`` is unreadable or from an older layout, or a file of the generation is
            missing or changed (``CheckpointNotFoundError``, also a ``FileNotFoundError``, for a missing one).
    """
    path = out / STATE_FILE
    if not path.exists():
        start_fresh(out, overwrite=True)
        return None
    try:
        state = json.loads(path.read_text())
        if not isinstance(state, dict):
            raise ValueError("not a JSON object")
    except ValueError as err:
        raise CheckpointError(f"{path} is not a readable run state ({err}); start over with --overwrite") from err
    given = jsonable(dict(settings))
    if state.get("format") != FORMAT:
        # an older layout (or another file): compare what it has, then refuse to mix its files with this layout
        _compare({k: state[k] for k in IDENTITY if k in state}, {k: given[k] for k in IDENTITY if k in state}, out)
        raise CheckpointError(
            f"{path} was written by an older neural_gym (run files without generations) and cannot be resumed "
            "safely; start over with --overwrite"
        )
    if state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has run format version {state.get('format_version')}, this neural_gym reads {FORMAT_VERSION}"
        )
    for key in ("step", "generation", "files", "settings"):
        if key not in state:
            raise CheckpointError(f"{path} has no {key!r}: not a complete run state")
    _compare(state["settings"], given, out)
    generation = Generation(out, state)
    generation.verify()
    remove_stale(out, keep=state["generation"])
    return generation


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _compare(saved: Mapping[str, Any], given: Mapping[str, Any], out: Path) -> None:
    keys = [k for k in _ordered(saved, given) if k not in MAY_CHANGE_ON_RESUME]
    missing = object()
    diffs = []
    for key in keys:
        a, b = saved.get(key, missing), given.get(key, missing)
        if not _same(a, b):
            a_text = "(not saved)" if a is missing else repr(a)
            b_text = "(not given)" if b is missing else repr(b)
            diffs.append(f"{key}={a_text} saved, {b_text} given ({flag(key)})")
    if diffs:
        raise ValueError(
            f"cannot resume {out}: the saved run has other settings: "
            + "; ".join(diffs)
            + ". Resume with the saved settings, or start over with --overwrite (or another --out). Only "
            + ", ".join(f"{k} ({flag(k)})" for k in MAY_CHANGE_ON_RESUME)
            + " may change on resume"
        )


def _ordered(*dicts: Mapping[str, Any]) -> Iterable[str]:
    seen: dict[str, None] = {}
    for d in dicts:
        seen.update(dict.fromkeys(d))
    return seen


# ---------------------------------------------------------------------------------------------------------------------
# eval.csv


def truncate_eval(path: Path, step: int, columns: Iterable[str]) -> None:
    """Keep only the rows of ``eval.csv`` at or before ``step`` (rows of an uncommitted generation go; so does a row
    cut short by a kill), rewriting the file atomically with ``columns`` as its header; delete it when no row is left.

    A column the file's header lacks (a run written before the column existed) is kept as ``nan`` in every row."""
    if not path.exists():
        return
    kept: list[dict[str, str]] = []
    columns = list(columns)
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        absent = {k: "nan" for k in columns if k not in (reader.fieldnames or [])}
        for row in reader:
            row = {**row, **absent}
            try:
                values = {k: float(row[k]) for k in columns}
            except (KeyError, TypeError, ValueError):
                continue
            if values["timesteps"] <= step:
                kept.append({k: row[k] for k in columns})
    if not kept:
        path.unlink()
        return
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(kept)
    write_atomic(path, text.getvalue().encode())
