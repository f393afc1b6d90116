"""``edgekd.package``: a run directory -> a bundle (``.tar.gz`` or directory) with manifest and model card."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from edgekd.errors import EdgekdError
from edgekd.fsutil import scratch_dir, sha256, write_text
from edgekd.manifest_io import guard_outputs, record
from edgekd.package.card import render_card
from edgekd.package.collect import collect
from edgekd.package.gates import evaluate
from edgekd.package.schema import CARD, MANIFEST, BundleManifest, FileEntry
from edgekd.package.tarball import is_tarball, write_tarball
from edgekd.schemas import Target


def _stage(fields: dict[str, Any], copies: list[tuple[Path, str, str]], root: Path) -> BundleManifest:
    """Copy the run's files into ``root``, write the model card and ``manifest.json``; return the manifest."""
    for src, dst, _ in copies:
        (root / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, root / dst)
    files = [FileEntry(path=dst, sha256=sha256(root / dst), bytes=(root / dst).stat().st_size, kind=kind)
             for _, dst, kind in copies]
    m = BundleManifest(**fields, files=files)
    if "budgets" in m.target:
        m.budgets = [g.to_dict() for g in evaluate(m, Target.model_validate(m.target))]
    write_text(root / CARD, render_card(m))
    m.files.append(FileEntry(path=CARD, sha256=sha256(root / CARD), bytes=(root / CARD).stat().st_size, kind="model-card"))
    m.files.sort(key=lambda f: f.path)
    write_text(root / MANIFEST, json.dumps(m.model_dump(mode="json"), indent=2) + "\n")
    return m


def package(run: str | Path, out: str | Path, force: bool = False, stage: str | None = None) -> dict[str, Any]:
    """Pack run directory ``run`` into ``out``: a reproducible ``.tar.gz`` (by its name) or else a directory.

    The bundle holds ``manifest.json`` (format ``edgekd.bundle``: sha256 and size of every file, I/O signatures,
    precision, target and budgets, metrics, latency, environment, recipe), ``MODEL_CARD.md``, ``models/`` (ONNX
    models with external data, engines) and ``reports/`` (verification and latency reports). ``stage`` records the
    bundle in the run's manifest (only when ``out`` is inside ``run``). Returns a summary.
    """
    run, out = Path(run), Path(out)
    if not run.is_dir():
        raise EdgekdError(f"run directory not found: {run}; pass the --out of edgekd run or edgekd compile")
    guard_outputs([out], force)
    fields, copies = collect(run)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = scratch_dir(out.parent, "package")
    try:
        root = work / "bundle"
        root.mkdir()
        m = _stage(fields, copies, root)
        if is_tarball(out):
            write_tarball(root, out)
        else:
            if out.exists():
                shutil.rmtree(out) if out.is_dir() else out.unlink()
            os.replace(root, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    tarball = out.is_file()
    if stage and tarball and out.resolve().is_relative_to(run.resolve()):
        record(run, stage, [(out, "bundle", {"meta": {"primary": m.primary}})], options={"out": out.name})
    return {"bundle": str(out), "format": "tar.gz" if tarball else "directory", "name": m.name, "primary": m.primary,
            "files": [f.path for f in m.files], "bytes": out.stat().st_size if tarball else sum(f.bytes for f in m.files),
            "sha256": sha256(out) if tarball else None, "budgets": m.budgets,
            "accuracy_drop": m.accuracy_drop.model_dump() if m.accuracy_drop else None}
