"""``edgekd.run``: execute a recipe's stages in order, skipping the ones already finished."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from edgekd.data import DATASETS
from edgekd.errors import EdgekdError
from edgekd.manifest_io import open_manifest
from edgekd.pipeline import builtin  # noqa: F401  (registers the stages)
from edgekd.pipeline.stage import STAGES, StageContext
from edgekd.schemas import Recipe, StageRecord, load_yaml, validate
from edgekd.schemas.manifest import MANIFEST_NAME
from edgekd.targets import get_target
from edgekd.ui import console


def load_recipe(path: str | Path) -> Recipe:
    return validate(Recipe, load_yaml(path, "recipe"), str(path))


def _stage_configs(recipe: Recipe, source: str) -> list[BaseModel]:
    """Check the dataset and every stage's name and options before anything runs."""
    if recipe.dataset.name not in DATASETS:
        known = ", ".join(DATASETS.names())
        raise EdgekdError(f"{source}: dataset.name: unknown dataset {recipe.dataset.name!r}; known: {known}")
    configs = []
    for i, spec in enumerate(recipe.stages):
        if spec.stage not in STAGES:
            known = ", ".join(STAGES.names())
            raise EdgekdError(f"{source}: stages[{i}]: unknown stage {spec.stage!r}; known: {known}")
        configs.append(validate(STAGES.get(spec.stage).config, spec.options, source, prefix=f"stages[{i}]"))
    return configs


def run(recipe: str | Path | Recipe, out: str | Path | None = None, force: bool = False) -> dict[str, Any]:
    """Run ``recipe`` into ``out`` (default: the recipe's ``out``); returns ``{stage_id: status and metrics}``.

    A stage is skipped when the manifest records it with the same options and its artifacts are intact;
    ``force`` redoes every stage. Changed options without ``force`` are an error, never a silent overwrite.
    """
    source = str(recipe) if not isinstance(recipe, Recipe) else "recipe"
    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    configs = _stage_configs(recipe, source)
    target = get_target(recipe.target)
    out = Path(out or recipe.out or "")
    if not str(out) or out == Path("."):
        raise EdgekdError("no output directory; pass --out DIR or set 'out' in the recipe")
    out.mkdir(parents=True, exist_ok=True)
    manifest = open_manifest(out)
    manifest.recipe = recipe.model_dump(mode="json")
    manifest.save(out / MANIFEST_NAME)
    summary: dict[str, Any] = {}
    for spec, cfg in zip(recipe.stages, configs):
        options = cfg.model_dump(mode="json")
        done = manifest.stages.get(spec.id)
        if done and not force:
            if done.options != options or done.stage != spec.stage:
                raise EdgekdError(f"stage {spec.id!r} already ran in {out} with other options; "
                                  "pass --force to redo it or choose another --out")
            if manifest.intact(out, done.artifacts):
                console.print(f"[dim]skip {spec.id}: finished, artifacts intact[/dim]")
                summary[spec.id] = {"status": "skipped", "metrics": done.metrics}
                continue
            raise EdgekdError(f"stage {spec.id!r}: its artifacts in {out} were changed or removed; pass --force to redo it")
        console.print(f"[bold]stage {spec.id}[/bold] ({spec.stage})")
        ctx = StageContext(out=out, recipe=recipe, target=target, stage_id=spec.id, manifest=manifest, force=force)
        t0 = time.perf_counter()
        result = STAGES.get(spec.stage).fn(ctx, cfg)
        manifest = open_manifest(out)
        manifest.stages[spec.id] = StageRecord(
            stage=spec.stage, options=options, finished_at=dt.datetime.now(dt.timezone.utc).isoformat(),
            seconds=time.perf_counter() - t0, artifacts=[a.path for a in manifest.artifacts if a.stage == spec.id],
            metrics=result.metrics,
        )
        manifest.save(out / MANIFEST_NAME)
        summary[spec.id] = {"status": "done", "metrics": result.metrics}
    return {"out": str(out), "manifest": str(out / MANIFEST_NAME), "stages": summary}
