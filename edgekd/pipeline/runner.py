"""``edgekd.run``: execute a recipe's stages in order, skipping the ones already finished.

A stage is skipped only when the manifest records it with the same options, dataset and target, the inputs it
read are still the latest of their kind with the same sha256, and its own artifacts are intact. A stage whose
inputs changed because an earlier stage was redone in this run is redone too (like ``make``). A stage that was
started but never finished (Ctrl-C, SIGKILL) is redone, or resumed where it checkpoints, without ``--force``.
Everything is checked before anything is written; the run holds the directory's lock throughout.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel

from edgekd.data import DATASETS, Splits, load_data
from edgekd.data.text_splits import TEXT_DATASETS, TextSplits
from edgekd.errors import EdgekdError
from edgekd.fsutil import dir_lock
from edgekd.manifest_io import open_manifest
from edgekd.pipeline import builtin  # noqa: F401  (declares the built-in stages)
from edgekd.pipeline.stage import STAGES, StageContext
from edgekd.schemas import Manifest, Recipe, StageRecord, StageSpec, load_yaml, validate
from edgekd.schemas.manifest import MANIFEST_NAME
from edgekd.targets import get_target
from edgekd.ui import console


def load_recipe(path: str | Path) -> Recipe:
    return validate(Recipe, load_yaml(path, "recipe"), str(path))


def _stage_configs(recipe: Recipe, source: str) -> list[BaseModel]:
    """Check the dataset and every stage's name and options before anything runs."""
    if recipe.dataset.name not in DATASETS and recipe.dataset.name not in TEXT_DATASETS:
        known = ", ".join(DATASETS.names() + TEXT_DATASETS.names())
        raise EdgekdError(f"{source}: dataset.name: unknown dataset {recipe.dataset.name!r}; known: {known}")
    configs, text = [], recipe.dataset.name in TEXT_DATASETS
    for i, spec in enumerate(recipe.stages):
        if spec.stage not in STAGES:
            known = ", ".join(STAGES.names())
            raise EdgekdError(f"{source}: stages[{i}]: unknown stage {spec.stage!r}; known: {known}")
        stage_def = STAGES.get(spec.stage)
        if stage_def.data != "any" and (stage_def.data == "text") != text:
            kind = "a text" if text else "an image"
            raise EdgekdError(f"{source}: stages[{i}]: stage {spec.stage!r} takes {stage_def.data} data, but dataset "
                              f"{recipe.dataset.name!r} is {kind} dataset; use stages that take it")
        configs.append(validate(stage_def.config, spec.options, source, prefix=f"stages[{i}]"))
    return configs


@dataclass
class _Plan:
    """What the runner will do with one stage before it knows whether upstream stages change their outputs."""

    spec: StageSpec
    config: BaseModel
    options: dict[str, Any]
    forced: bool


def _force_set(force: bool | Iterable[str], ids: list[str]) -> set[str]:
    if force is True:
        return set(ids)
    if not force:
        return set()
    wanted = {force} if isinstance(force, str) else set(force)
    unknown = wanted - set(ids)
    if unknown:
        raise EdgekdError(f"--redo {sorted(unknown)[0]}: no such stage id in the recipe; stage ids: {', '.join(ids)}")
    return wanted


def _defaults(config: BaseModel) -> dict[str, Any]:
    """The JSON form of every option of ``config``'s model that has a default."""
    found = {}
    for name, info in type(config).model_fields.items():
        if not info.is_required():
            value = info.get_default(call_default_factory=True)
            found[name] = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    return found


def _changed(done: StageRecord, plan: _Plan, dataset: dict[str, Any], target: dict[str, Any]) -> str | None:
    """What differs between a finished stage and how the recipe asks for it now (None when nothing)."""
    if done.stage != plan.spec.stage:
        return f"was a {done.stage!r} stage"
    defaults = _defaults(plan.config)  # options added by a newer edgekd count as set to their default
    for key in sorted(set(done.options) | set(plan.options)):
        before = done.options.get(key, defaults.get(key))
        if key in plan.options and before != plan.options[key]:
            return f"option {key!r} changed"
    if done.dataset and done.dataset != dataset:
        return "the dataset changed"
    if done.target and done.target != target:
        return "the target changed"
    return None


def _stale_input(done: StageRecord, manifest: Manifest, later: frozenset[str]) -> str | None:
    """The first input that is no longer the latest of its kind (made before the stage) with the recorded hash."""
    for ref in done.inputs:
        now = manifest.latest(ref.kind, exclude_stages=later, **ref.meta)
        if now is None or now.path != ref.path or now.sha256 != ref.sha256:
            return ref.path
    return None


def _preflight(plans: list[_Plan], splits: Splits | TextSplits) -> None:
    """Each stage's own checks of its options against the data (arch sizes, loss weights) before anything runs."""
    for plan in plans:
        check = STAGES.get(plan.spec.stage).check
        if check is not None:
            check(plan.config, splits)


def _check(plans: list[_Plan], manifest: Manifest, out: Path, dataset: dict[str, Any], target: dict[str, Any]) -> None:
    """Refuse before writing anything: a finished stage the recipe now asks for differently, without --force."""
    for plan in plans:
        done = manifest.stages.get(plan.spec.id)
        if done and not plan.forced and (why := _changed(done, plan, dataset, target)):
            raise EdgekdError(f"stage {plan.spec.id!r} already ran in {out} but {why}; pass --redo {plan.spec.id} "
                              "to redo it (and the stages that use its outputs) or choose another --out")


def run(recipe: str | Path | Recipe, out: str | Path | None = None, force: bool | Iterable[str] = False,
        quick: bool = False) -> dict[str, Any]:
    """Run ``recipe`` into ``out`` (default: the recipe's ``out``); returns ``{stage_id: status and metrics}``.

    ``quick``: run the recipe with its ``quick`` options (a recipe without them is an error).
    ``force``: True redoes every stage; a list of stage ids redoes those (and, through their changed outputs,
    the stages that read them). Changed options, dataset or target of a finished stage without ``force`` are
    an error, never a silent overwrite.
    """
    source = str(recipe) if not isinstance(recipe, Recipe) else "recipe"
    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    if quick:
        if not recipe.quick:
            raise EdgekdError(f"{source} has no 'quick' section; run it without --quick")
        recipe = recipe.quickened()
    configs = _stage_configs(recipe, source)
    target = get_target(recipe.target)
    out = Path(out or recipe.out or "")
    if not str(out) or out == Path("."):
        raise EdgekdError("no output directory; pass --out DIR or set 'out' in the recipe")
    if out.exists() and not out.is_dir():
        raise EdgekdError(f"--out {out} is a file, not a directory; choose another --out")
    forced = _force_set(force, [s.id for s in recipe.stages])
    plans = [_Plan(s, c, c.model_dump(mode="json"), s.id in forced) for s, c in zip(recipe.stages, configs)]
    splits = load_data(recipe.dataset)
    _preflight(plans, splits)
    dataset, target_spec = recipe.dataset.model_dump(mode="json"), target.model_dump(mode="json")
    with dir_lock(out, on_wait=lambda msg: console.print(f"[dim]{msg}[/dim]")):
        manifest = open_manifest(out, force=bool(forced))
        _check(plans, manifest, out, dataset, target_spec)
        manifest.recipe = recipe.model_dump(mode="json")
        manifest.save(out / MANIFEST_NAME)
        ids = [p.spec.id for p in plans]
        summary = {p.spec.id: _run_stage(p, recipe, target, out, dataset, target_spec, frozenset(ids[i:]), splits)
                   for i, p in enumerate(plans)}
    return {"out": str(out), "manifest": str(out / MANIFEST_NAME), "stages": summary}


def _run_stage(plan: _Plan, recipe: Recipe, target: Any, out: Path, dataset: dict[str, Any],
               target_spec: dict[str, Any], later: frozenset[str], splits: Splits | TextSplits) -> dict[str, Any]:
    """Skip, redo, resume or run one stage; record it as started before and finished after.

    ``later``: this stage's id and those after it; the stage sees only artifacts the stages before it made."""
    spec, manifest = plan.spec, open_manifest(out)
    done, interrupted = manifest.stages.get(spec.id), spec.id in manifest.started
    if done and not plan.forced:
        stale = _stale_input(done, manifest, later)
        if stale is None and manifest.intact(out, done.artifacts):
            console.print(f"[dim]skip {spec.id}: finished, inputs and artifacts unchanged[/dim]")
            return {"status": "skipped", "metrics": done.metrics}
        if stale is None:
            raise EdgekdError(f"stage {spec.id!r}: its artifacts in {out} were changed or removed; "
                              f"pass --redo {spec.id} to redo it")
        console.print(f"[bold]stage {spec.id}[/bold] ({spec.stage}): redo, its input {stale} changed")
    elif interrupted and not plan.forced:
        console.print(f"[bold]stage {spec.id}[/bold] ({spec.stage}): the last attempt was interrupted; redoing it")
    else:
        console.print(f"[bold]stage {spec.id}[/bold] ({spec.stage})")
    redo = plan.forced or done is not None or interrupted
    manifest.stages.pop(spec.id, None)
    manifest.started[spec.id] = dt.datetime.now(dt.timezone.utc).isoformat()
    manifest.save(out / MANIFEST_NAME)
    ctx = StageContext(out=out, recipe=recipe, data=splits, target=target, stage_id=spec.id, manifest=manifest, force=redo,
                       resume=interrupted and not plan.forced, later=later)
    t0 = time.perf_counter()
    result = STAGES.get(spec.stage).fn(ctx, plan.config)
    manifest = open_manifest(out)
    manifest.started.pop(spec.id, None)
    manifest.stages[spec.id] = StageRecord(
        stage=spec.stage, options=plan.options, dataset=dataset, target=target_spec, inputs=ctx.used,
        finished_at=dt.datetime.now(dt.timezone.utc).isoformat(), seconds=time.perf_counter() - t0,
        artifacts=[a.path for a in manifest.artifacts if a.stage == spec.id], metrics=result.metrics,
    )
    manifest.save(out / MANIFEST_NAME)
    return {"status": "redone" if redo else "done", "metrics": result.metrics}
