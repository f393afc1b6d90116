"""Stages of a recipe: one config model and one function each, registered by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel

from edgekd.data import Splits
from edgekd.data.text_splits import TextSplits
from edgekd.errors import EdgekdError
from edgekd.registry import Registry
from edgekd.schemas import Artifact, Manifest, Recipe, Target
from edgekd.schemas.manifest import InputRef


@dataclass
class StageContext:
    """What a stage may read: the run directory, its manifest, the recipe's dataset and target.

    ``force``: the stage may overwrite its own earlier outputs (forced, or redoing an interrupted or stale run).
    ``resume``: an earlier attempt of this stage was interrupted; stages that checkpoint continue from there.
    ``used``: every input the stage asked for with ``need``, and what it got.
    ``later``: ids of this stage and the recipe's stages after it, whose artifacts ``need`` does not see.
    """

    out: Path
    recipe: Recipe
    data: Splits | TextSplits
    target: Target
    stage_id: str
    manifest: Manifest
    force: bool = False
    resume: bool = False
    used: list[InputRef] = field(default_factory=list)
    later: frozenset[str] = frozenset()

    def need(self, kind: str, **meta: Any) -> Artifact:
        """The latest artifact of ``kind`` from an earlier stage, or a clear error."""
        art = self.manifest.latest(kind, exclude_stages=self.later, **meta)
        if art is None:
            raise EdgekdError(f"stage {self.stage_id!r} needs a {kind} artifact; add a stage that makes one before it")
        self.used.append(InputRef(kind=kind, meta=meta, path=art.path, sha256=art.sha256))
        return art

    def path(self, art: Artifact) -> Path:
        return self.out / art.path


@dataclass
class StageResult:
    """A stage's headline metrics; its artifacts are what it recorded in the manifest under its stage id."""

    metrics: dict[str, Any] = field(default_factory=dict)


CheckFn = Callable[[Any, Any], None]
DataKind = Literal["image", "text", "any"]


@dataclass
class StageDef:
    """A recipe stage: its options model, its function, an optional ``check(cfg, splits)`` that the runner
    calls for every stage before any stage runs (raising EdgekdError on options the schema cannot judge alone), and
    the ``data`` it takes: ``image`` (labelled ``Splits``), ``text`` (``TextSplits``) or ``any``."""

    name: str
    config: type[BaseModel]
    fn: Callable[[StageContext, Any], StageResult]
    check: CheckFn | None = None
    data: DataKind = "image"


STAGES: Registry[StageDef] = Registry("stage")


def check_target_option(cfg: Any, data: Any) -> None:
    """A stage's own ``target`` option (replacing the recipe's) names a known target: checked before any stage runs."""
    from edgekd.targets import get_target

    if getattr(cfg, "target", None):
        get_target(cfg.target)


def stage(name: str, config: type[BaseModel], check: CheckFn | None = None,
          data: DataKind = "image") -> Callable[[Callable], Callable]:
    """Register ``fn(ctx, cfg) -> StageResult`` as recipe stage ``name`` with options model ``config``."""

    def add(fn: Callable[[StageContext, Any], StageResult]) -> Callable:
        STAGES.register(name)(StageDef(name, config, fn, check, data))
        return fn

    return add
