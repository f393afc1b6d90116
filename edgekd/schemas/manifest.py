"""Manifest: every artifact of a run with its hash, size and producing stage (versioned)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Collection

from pydantic import Field

from edgekd.errors import EdgekdError
from edgekd.fsutil import sha256, write_json
from edgekd.schemas.base import Strict, validate

MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"


class TensorSpec(Strict):
    """One model input or output; None in ``shape`` marks a dynamic axis."""

    name: str
    shape: list[int | str | None]
    dtype: str


class Artifact(Strict):
    """A file a stage wrote. ``path`` is relative to the manifest's directory."""

    path: str
    kind: str = Field(description="checkpoint, arch, onnx, engine, report, split, ...")
    sha256: str
    bytes: int = Field(description="File size, bytes.")
    stage: str = Field(description="Id of the stage that produced it.")
    options: dict[str, Any] = Field(default_factory=dict, description="Options of the call that produced it.")
    inputs: list[TensorSpec] = Field(default_factory=list)
    outputs: list[TensorSpec] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)


class InputRef(Strict):
    """An artifact a stage asked for (the latest of ``kind`` whose meta matches ``meta``) and what it got."""

    kind: str
    meta: dict[str, Any] = Field(default_factory=dict)
    path: str
    sha256: str


class StageRecord(Strict):
    """A finished stage: its options, when it ran, what it read and produced, and its headline metrics.

    A rerun skips the stage only while ``options``, ``dataset``, ``target`` and every input's sha256 are unchanged.
    """

    stage: str
    options: dict[str, Any]
    dataset: dict[str, Any] = Field(default_factory=dict, description="The recipe's dataset spec it ran on.")
    target: dict[str, Any] = Field(default_factory=dict, description="The target it ran for.")
    inputs: list[InputRef] = Field(default_factory=list, description="The artifacts it read, as found then.")
    finished_at: str
    seconds: float
    artifacts: list[str]
    metrics: dict[str, Any] = Field(default_factory=dict)


class Manifest(Strict):
    version: int = MANIFEST_VERSION
    created_at: str = Field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat())
    recipe: dict[str, Any] = Field(default_factory=dict)
    env: dict[str, Any] = Field(default_factory=dict)
    stages: dict[str, StageRecord] = Field(default_factory=dict)
    started: dict[str, str] = Field(default_factory=dict, description="Stage id -> start time of stages not finished.")
    artifacts: list[Artifact] = Field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path) -> "Manifest":
        import json

        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise EdgekdError(f"cannot read manifest {path}: {err}") from None
        if not isinstance(data, dict):
            raise EdgekdError(f"{path}: not an edgekd manifest (a JSON {type(data).__name__}, not an object); "
                              "rerun with --force to start a new one")
        if data.get("version") != MANIFEST_VERSION:
            raise EdgekdError(f"{path}: manifest version {data.get('version')} is not {MANIFEST_VERSION}; rerun with --force")
        return validate(cls, data, str(path))

    def save(self, path: str | Path) -> Path:
        return write_json(path, self.model_dump(mode="json"))

    def add(self, root: str | Path, path: str | Path, kind: str, stage: str, content: str | Path | None = None,
            **extra: Any) -> Artifact:
        """Hash ``path`` (or ``content``, the file about to be renamed to ``path``) and record it as ``path``,
        replacing an older entry for the same file."""
        root, path = Path(root), Path(path)
        rel = str(path.resolve().relative_to(root.resolve()))
        data = Path(content or path)
        art = Artifact(path=rel, kind=kind, sha256=sha256(data), bytes=data.stat().st_size, stage=stage, **extra)
        self.artifacts = [a for a in self.artifacts if a.path != rel] + [art]
        return art

    def latest(self, kind: str, exclude_stages: Collection[str] = (), **meta: Any) -> Artifact | None:
        """The most recently added artifact of ``kind`` whose meta matches ``meta``, ignoring the artifacts of
        ``exclude_stages`` (a recipe stage looks only at what the stages before it made)."""
        for art in reversed(self.artifacts):
            if art.kind == kind and art.stage not in exclude_stages and all(art.meta.get(k) == v for k, v in meta.items()):
                return art
        return None

    def intact(self, root: str | Path, paths: list[str]) -> bool:
        """True when every listed artifact exists with its recorded hash."""
        by_path = {a.path: a for a in self.artifacts}
        for p in paths:
            art, f = by_path.get(p), Path(root) / p
            if art is None or not f.is_file() or f.stat().st_size != art.bytes or sha256(f) != art.sha256:
                return False
        return True
