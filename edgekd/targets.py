"""Targets as data: shipped YAML files in ``targets/``, or a user's own file by path."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from edgekd.errors import EdgekdError
from edgekd.schemas import Target, load_yaml, validate


def target_dirs() -> list[Path]:
    """Where shipped targets live: $EDGEKD_TARGETS_PATH, the source checkout, the installed data dir."""
    dirs = [Path(p) for p in os.environ.get("EDGEKD_TARGETS_PATH", "").split(os.pathsep) if p]
    dirs += [Path(__file__).resolve().parents[1] / "targets", Path(sys.prefix) / "share" / "edgekd" / "targets"]
    return [d for d in dirs if d.is_dir()]


def _shipped() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in target_dirs():
        for f in sorted(d.glob("*.yaml")):
            found.setdefault(f.stem, f)
    return found


def load_target_file(path: str | Path) -> Target:
    path = Path(path)
    return validate(Target, load_yaml(path, "target"), str(path))


def get_target(name_or_path: str | Path | Target) -> Target:
    """A shipped target by name, or a target YAML by path."""
    if isinstance(name_or_path, Target):
        return name_or_path
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or os.sep in text:
        return load_target_file(text)
    shipped = _shipped()
    if text not in shipped:
        known = ", ".join(sorted(shipped)) or "none"
        raise EdgekdError(f"unknown target {text!r}; known: {known}; or pass the path of a target YAML")
    return load_target_file(shipped[text])


def list_targets() -> list[Target]:
    return [load_target_file(p) for p in _shipped().values()]
