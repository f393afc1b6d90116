"""``edgekd.verify``: a bundle is exactly what was packed: every hash, the manifest schema, every model's I/O."""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from edgekd.errors import EdgekdError
from edgekd.fsutil import sha256
from edgekd.package.schema import BUNDLE_FORMAT, BUNDLE_VERSION, MANIFEST, BundleManifest, ModelEntry
from edgekd.package.tarball import is_tarball, safe_extract
from edgekd.schemas.base import validate

# ONNX Runtime type strings -> the numpy names manifests use
ORT_DTYPES = {"float": "float32", "double": "float64", "float16": "float16", "bfloat16": "bfloat16", "int8": "int8",
              "uint8": "uint8", "int16": "int16", "uint16": "uint16", "int32": "int32", "uint32": "uint32",
              "int64": "int64", "uint64": "uint64", "bool": "bool", "string": "object"}


def read_manifest(root: Path, name: str) -> BundleManifest:
    """The validated ``manifest.json`` of the bundle extracted at ``root`` (``name`` is used in messages)."""
    path = root / MANIFEST
    if not path.is_file():
        raise EdgekdError(f"{name}: no {MANIFEST} at the bundle root; not an edgekd bundle (make one with edgekd package)")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise EdgekdError(f"{name}: {MANIFEST} is not valid JSON ({err}); the bundle is damaged") from None
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        raise EdgekdError(f"{name}: {MANIFEST} is not an {BUNDLE_FORMAT} manifest; not an edgekd bundle")
    if data.get("version") != BUNDLE_VERSION:
        raise EdgekdError(f"{name}: bundle version {data.get('version')} is not {BUNDLE_VERSION}; "
                          "package it again with this edgekd")
    return validate(BundleManifest, data, f"{name}: {MANIFEST}")


@contextmanager
def open_bundle(bundle: str | Path) -> Iterator[tuple[Path, BundleManifest]]:
    """Yield ``(root, manifest)`` of a bundle directory or tarball (extracted safely into a temporary directory)."""
    bundle = Path(bundle)
    if not bundle.exists():
        raise EdgekdError(f"bundle not found: {bundle}; check the path")
    if bundle.is_dir():
        yield bundle, read_manifest(bundle, bundle.name)
        return
    if not is_tarball(bundle):
        raise EdgekdError(f"{bundle}: a bundle is a .tar.gz file or a directory made by edgekd package")
    tmp = Path(tempfile.mkdtemp(prefix="edgekd-bundle-"))
    try:
        safe_extract(bundle, tmp)
        yield tmp, read_manifest(tmp, bundle.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_files(root: Path, m: BundleManifest, name: str) -> None:
    """Raise on a file added, removed, changed or linked since packaging."""
    on_disk = set()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            raise EdgekdError(f"{name}: {rel} is a link; bundles hold only plain files (the bundle was tampered with)")
        if p.is_file() and rel != MANIFEST:
            on_disk.add(rel)
    listed = {f.path: f for f in m.files}
    added, removed = sorted(on_disk - set(listed)), sorted(set(listed) - on_disk)
    if added:
        raise EdgekdError(f"{name}: {added[0]} is not listed in {MANIFEST} (added after packaging); remove it or package again")
    if removed:
        raise EdgekdError(f"{name}: {removed[0]} is listed in {MANIFEST} but missing (removed after packaging)")
    for f in m.files:
        path = root / f.path
        if path.stat().st_size != f.bytes or sha256(path) != f.sha256:
            raise EdgekdError(f"{name}: {f.path} does not match its sha256 in {MANIFEST} (changed after packaging)")


def check_model(root: Path, entry: ModelEntry, name: str) -> dict[str, Any]:
    """Load ``entry`` with ONNX Runtime and compare its inputs and outputs with the manifest's."""
    if not entry.path.endswith(".onnx"):
        return {"path": entry.path, "loaded": False, "note": "engines are checked by hash only (loading needs tensorrt)"}
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(root / entry.path), providers=["CPUExecutionProvider"])
    except Exception as err:  # ORT raises its own exception types
        raise EdgekdError(f"{name}: ONNX Runtime cannot load {entry.path} ({type(err).__name__}); package it again") from None
    for side, got, want in (("inputs", session.get_inputs(), entry.inputs), ("outputs", session.get_outputs(), entry.outputs)):
        have = [(t.name, list(t.shape), ORT_DTYPES.get(t.type.removeprefix("tensor(").rstrip(")"), t.type)) for t in got]
        expect = [(t.name, list(t.shape), t.dtype) for t in want]
        if have != expect:
            raise EdgekdError(f"{name}: {entry.path} {side} {have} do not match {MANIFEST} {expect}")
    return {"path": entry.path, "loaded": True, "inputs": len(entry.inputs), "outputs": len(entry.outputs)}


def verify(bundle: str | Path) -> dict[str, Any]:
    """Check a bundle (``.tar.gz`` or directory): safe members, schema, every file's sha256, every model's I/O.

    Raises EdgekdError with one line naming the first problem; returns a summary when everything holds.
    """
    name = Path(bundle).name
    with open_bundle(bundle) as (root, m):
        check_files(root, m, name)
        models = [check_model(root, e, name) for e in m.models]
    return {"bundle": str(bundle), "ok": True, "name": m.name, "primary": m.primary, "files": len(m.files),
            "bytes": sum(f.bytes for f in m.files), "models": models}
