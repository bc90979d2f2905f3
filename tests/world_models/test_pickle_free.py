"""The project's own data files (datasets, checkpoints) hold no pickle: HDF5 + JSON and safetensors only."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import h5py
import pytest

import neural_gym
from neural_gym.envs import collect
from neural_gym.envs.dataset import dataset_path
from neural_gym.world_models.zoo import ZOO_DIR, available

REPO = Path(neural_gym.__file__).resolve().parent.parent
#: Modules that write or read datasets, checkpoints and training output.
DATA_MODULES = ["envs/collect.py", "envs/dataset.py", "world_models/checkpoint.py", "neural_gym/train.py"]
FORBIDDEN_CALLS = {("torch", "save"), ("torch", "load"), ("np", "load"), ("numpy", "load"), ("pickle", "loads")}


@pytest.mark.parametrize("module", DATA_MODULES)
def test_data_modules_use_no_pickle(module: str) -> None:
    tree = ast.parse((REPO / module).read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            assert not any(
                n and n.split(".")[0] in {"pickle", "cloudpickle", "dill", "joblib", "shelve"} for n in names
            ), f"{module}:{node.lineno} imports a pickle module"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) not in FORBIDDEN_CALLS, (
                f"{module}:{node.lineno} uses {node.value.id}.{node.attr}"
            )
        if isinstance(node, ast.keyword) and node.arg == "allow_pickle":
            assert isinstance(node.value, ast.Constant) and node.value.value is False, f"{module}:{node.lineno}"


def test_collected_dataset_is_hdf5_and_json_without_objects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    dataset_id = collect("Reacher", 60, seed=0, progress=False, obs_mode="pixels", image_size=16)
    files = sorted(
        p.relative_to(dataset_path(dataset_id)).as_posix() for p in dataset_path(dataset_id).rglob("*") if p.is_file()
    )
    assert files == ["data/main_data.hdf5", "data/metadata.json"]
    json.loads((dataset_path(dataset_id) / "data" / "metadata.json").read_text())
    kinds: set[str] = set()

    def visit(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset):
            kinds.add(obj.dtype.kind)
            assert obj.dtype.kind not in "OV", f"{name} has an opaque/object dtype {obj.dtype}"

    with h5py.File(dataset_path(dataset_id) / "data" / "main_data.hdf5", "r") as f:
        f.visititems(visit)
    assert kinds <= set("fiub")


def test_checkpoints_are_plain_safetensors() -> None:
    for name in available():
        data = (ZOO_DIR / f"{name}.safetensors").read_bytes()
        header_len = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + header_len])  # safetensors: a JSON header, then raw tensor bytes
        assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} <= {"F32", "F64", "I64", "U8", "BOOL"}
