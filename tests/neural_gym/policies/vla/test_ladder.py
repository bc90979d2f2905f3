"""The shipped ladder: at least 10 checkpoints that load, each small and recording its command, and ground-truth
success rates measured by ``make vla-zoo`` that span the range."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neural_gym.policies.vla import HEADS, load_vla, read_vla_info, zoo_names
from neural_gym.policies.vla.checkpoint import ZOO_DIR


def test_shipped_ladder_loads_and_records_its_command() -> None:
    names = zoo_names()
    assert len(names) >= 10, names
    heads = set()
    for name in names:
        info = read_vla_info(f"zoo:{name}")
        assert info["command"] and "ladder" in info["command"], name
        assert info["tasks"] == ["reach"] and info["train_steps"] >= 1 and info["data"]["episodes"] >= 1
        assert (ZOO_DIR / f"{name}.safetensors").stat().st_size <= 2_000_000
        heads.add(info["head"])
    assert heads == set(HEADS)
    policy = load_vla(f"zoo:{names[0]}", task="reach")
    assert policy.chunk_size == 8


def test_ladder_table_spans_near_zero_to_near_one() -> None:
    summary = json.loads((ZOO_DIR / "ladder.json").read_text())
    rates = {e["name"]: e["result"]["success_rate"] for e in summary["entries"]}
    assert set(zoo_names()) <= set(rates)
    assert min(rates.values()) <= 0.1 and max(rates.values()) >= 0.9
    levels = np.unique(np.round(np.array(sorted(rates.values())) * 10))  # distinct 10 % bands
    assert len(levels) >= 6, rates


@pytest.mark.parametrize("name", ["expert", "noisy-expert", "random"])
def test_ladder_has_the_reference_policies(name: str) -> None:
    summary = json.loads((ZOO_DIR / "ladder.json").read_text())
    assert name in {e["name"] for e in summary["entries"]}
