"""Named config presets and field checks shared by the families' config dataclasses (``latent``, ``video``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from typing import Any, TypeVar

C = TypeVar("C")


def check_fields(cls: type, names: Iterable[str]) -> None:
    """Refuse names that are not fields of the dataclass ``cls``, naming them and the known ones (``ValueError``)."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {unknown}; known: {sorted(known)}")


def pick_preset(presets: Mapping[str, C], family: str, name: str, overrides: dict[str, Any]) -> C:
    """A validated copy of ``presets[name]`` with ``overrides`` applied.

    Raises:
        ValueError: unknown preset name or field, or an override that fails the config's ``validate()``.
    """
    if name not in presets:
        raise ValueError(f"unknown {family} preset {name!r}; known: {sorted(presets)}")
    base = presets[name]
    check_fields(type(base), overrides)
    cfg = replace(base, **overrides)  # type: ignore[type-var]
    cfg.validate()  # type: ignore[attr-defined]
    return cfg
