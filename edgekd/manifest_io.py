"""Record files a library call wrote into ``<out>/manifest.json``, and refuse silent overwrites."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgekd.envinfo import fingerprint
from edgekd.errors import EdgekdError
from edgekd.schemas import Artifact, Manifest
from edgekd.schemas.manifest import MANIFEST_NAME


def open_manifest(out: str | Path) -> Manifest:
    """The manifest in ``out``, or a new one carrying this machine's fingerprint."""
    path = Path(out) / MANIFEST_NAME
    return Manifest.load(path) if path.is_file() else Manifest(env=fingerprint())


def record(
    out: str | Path, stage: str, files: list[tuple[Path, str, dict[str, Any]]], options: dict[str, Any] | None = None
) -> list[Artifact]:
    """Hash ``(path, kind, extra)`` entries, made by ``stage`` with ``options``, into ``<out>/manifest.json``."""
    manifest = open_manifest(out)
    arts = [manifest.add(out, path, kind, stage, options=options or {}, **extra) for path, kind, extra in files]
    manifest.save(Path(out) / MANIFEST_NAME)
    return arts


def guard_outputs(paths: list[Path], force: bool) -> None:
    """Raise when any output exists and ``force`` is off."""
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise EdgekdError(f"{existing[0]} already exists; pass --force to overwrite it or choose another --out")
