"""Record files a library call wrote into ``<out>/manifest.json``, and refuse silent overwrites.

Every read-modify-write of a manifest happens under the output directory's lock (``fsutil.dir_lock``), so
concurrent runs into one directory never lose each other's entries. ``publish`` records files first and then
renames them into place, so the manifest never lacks a file that is on disk under its final name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgekd.envinfo import fingerprint
from edgekd.errors import EdgekdError
from edgekd.fsutil import dir_lock
from edgekd.schemas import Artifact, Manifest
from edgekd.schemas.manifest import MANIFEST_NAME
from edgekd.ui import console

Entry = tuple[Path, str, dict[str, Any]]  # (path, kind, extra fields of the Artifact)


def open_manifest(out: str | Path, force: bool = False) -> Manifest:
    """The manifest in ``out``, or a new one carrying this machine's fingerprint.

    An unreadable manifest is an error; with ``force`` it is moved aside (``manifest.json.corrupt-N``) and a new
    one is started.
    """
    path = Path(out) / MANIFEST_NAME
    if not path.is_file():
        return Manifest(env=fingerprint())
    try:
        return Manifest.load(path)
    except EdgekdError as err:
        if not force:
            raise EdgekdError(f"{err}; fix it, or pass --force to move it aside and start a new manifest") from None
    n = 1
    while path.with_name(f"{MANIFEST_NAME}.corrupt-{n}").exists():
        n += 1
    aside = path.with_name(f"{MANIFEST_NAME}.corrupt-{n}")
    os.replace(path, aside)
    console.print(f"[yellow]warning:[/yellow] {path} was unreadable; moved it to {aside.name} and started a new one")
    return Manifest(env=fingerprint())


def _lock(out: str | Path):  # noqa: ANN202  (a context manager)
    return dir_lock(out, on_wait=lambda msg: console.print(f"[dim]{msg}[/dim]"))


def record(out: str | Path, stage: str, files: list[Entry], options: dict[str, Any] | None = None,
           force: bool = False) -> list[Artifact]:
    """Hash ``(path, kind, extra)`` entries, made by ``stage`` with ``options``, into ``<out>/manifest.json``."""
    with _lock(out):
        manifest = open_manifest(out, force)
        arts = [manifest.add(out, path, kind, stage, options=options or {}, **extra) for path, kind, extra in files]
        manifest.save(Path(out) / MANIFEST_NAME)
    return arts


def publish(out: str | Path, stage: str, files: list[Entry], options: dict[str, Any] | None = None,
            force: bool = False) -> list[Artifact]:
    """Move finished files (each in a scratch folder inside ``out``) to ``out/<name>`` and record them.

    Under ``out``'s lock: refuse existing outputs unless ``force``, record the files under their final names,
    then rename them into place. ``extra`` fields refer to the final paths.
    """
    out = Path(out)
    with _lock(out):
        finals = [out / path.name for path, _, _ in files]
        guard_outputs(finals, force)
        manifest = open_manifest(out, force)
        arts = [manifest.add(out, final, kind, stage, content=path, options=options or {}, **extra)
                for final, (path, kind, extra) in zip(finals, files)]
        manifest.save(out / MANIFEST_NAME)
        for final, (path, _, _) in zip(finals, files):
            os.replace(path, final)
    return arts


def guard_outputs(paths: list[Path], force: bool) -> None:
    """Raise when any output exists and ``force`` is off."""
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise EdgekdError(f"{existing[0]} already exists; pass --force to overwrite it or choose another --out")
