"""Read a run directory's manifest and reports into a bundle manifest (without file hashes) and a copy plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgekd import __version__
from edgekd.errors import EdgekdError
from edgekd.onnx_files import model_files
from edgekd.schemas import Artifact, Manifest
from edgekd.schemas.manifest import MANIFEST_NAME
from edgekd.targets import get_target

MODEL_KINDS = ("onnx", "onnx-data", "engine")
HF_KINDS = ("hf-model", "hf-weights", "hf-file")  # a Hugging Face / sentence-transformers directory, file by file
REPORT_KINDS = ("verification", "profile", "profile-summary", "profile-html", "compare", "compare-summary", "compare-html",
                "search", "plot", "latency_predictor", "report")
OWN_STAGES = ("package", "check")  # their outputs never go into a bundle, so packing twice gives the same bytes


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise EdgekdError(f"cannot read {path}: {err}; rerun the stage that wrote it with --force") from None


def load_run(run: Path) -> Manifest:
    """The run's manifest, after checking every artifact a bundle could take is intact."""
    if not (run / MANIFEST_NAME).is_file():
        raise EdgekdError(f"{run} is not a run directory (no {MANIFEST_NAME}); pass the --out of edgekd run/compile")
    manifest = Manifest.load(run / MANIFEST_NAME)
    for art in manifest.artifacts:
        if art.kind in MODEL_KINDS + REPORT_KINDS and not manifest.intact(run, [art.path]):
            raise EdgekdError(f"{run / art.path} changed or vanished since the run recorded it; "
                              "rerun its stage with --force before packaging")
    return manifest


def plan(manifest: Manifest) -> list[tuple[Artifact, str]]:
    """``(artifact, bundle path)`` for every model file (``models/``) and report (``reports/``) of the run; of
    Hugging Face directories, the trained student's (role ``student``)."""
    own = {sid for sid, s in manifest.stages.items() if s.stage in OWN_STAGES}
    engines = {a.path + ".json" for a in manifest.artifacts if a.kind == "engine"}
    out = []
    for art in manifest.artifacts:
        if art.stage in own:
            continue
        if art.kind in MODEL_KINDS or art.path in engines or (art.kind in HF_KINDS and art.meta.get("role") == "student"):
            out.append((art, f"models/{art.path}"))
        elif art.kind in REPORT_KINDS:
            out.append((art, f"reports/{art.path}"))
    return out


def _batch1(report: dict[str, Any]) -> dict[str, Any] | None:
    return next((b for b in [report, *report.get("batches", [])] if b["batch"] == 1), None)


def _latency(run: Path, manifest: Manifest, name: str) -> dict[str, Any] | None:
    art = manifest.latest("profile", model=name)
    if art is None:
        return None
    report = _read_json(run / art.path)
    b = _batch1(report) or report
    lat = b["latency_ms"]
    return {"report": f"reports/{art.path}", "target": report["target"], "batch": b["batch"], "runs": b["runs"],
            "median_ms": lat["median"], "p90_ms": lat["p90"], "p99_ms": lat["p99"], "cv": lat["cv"],
            "throughput_per_s": b["throughput_per_s"], "peak_rss_bytes": report["memory"].get("peak_rss_bytes"),
            "cpu": report.get("env", {}).get("cpu", ""), "warnings": list(b.get("warnings", []))}


def _role(manifest: Manifest, verify: dict[str, Any]) -> str:
    src = Path(str(verify.get("source", ""))).name
    ckpt = next((a for a in manifest.artifacts if a.kind == "checkpoint" and Path(a.path).name == src), None)
    return ckpt.meta.get("role", "model") if ckpt else "model"


def _model(run: Path, manifest: Manifest, art: Artifact, files: list[str]) -> dict[str, Any]:
    """A ``ModelEntry`` dict for model artifact ``art``."""
    vpath = run / Path(art.path).with_name(Path(art.path).name.rsplit(".", 1)[0] + ".verify.json")
    verify = _read_json(vpath) if vpath.is_file() else {}
    record = manifest.stages.get(art.stage)
    quant = verify.get("quantization")
    acc, on = None, ""
    if record and art.path in record.artifacts and "test_accuracy" in record.metrics:
        acc, on = record.metrics["test_accuracy"], "test split"
    elif quant and "int8_accuracy" in quant:
        acc, on = quant["int8_accuracy"], "verification samples"
    by_path = {a.path: a for a in manifest.artifacts}
    return {
        "path": f"models/{art.path}", "files": files, "bytes": sum(by_path[f.removeprefix("models/")].bytes for f in files),
        "role": _role(manifest, verify), "precision": art.meta.get("precision", ""), "target": art.meta.get("target", ""),
        "source": art.meta.get("source", ""), "inputs": [t.model_dump() for t in art.inputs],
        "outputs": [t.model_dump() for t in art.outputs], "test_accuracy": acc, "accuracy_on": on,
        "verification": {**{k: v for k, v in verify.get("verification", {}).items() if not isinstance(v, dict)},
                         "notes": verify.get("notes", [])},
        "quantization": quant, "data_roles": verify.get("data", {}), "latency": _latency(run, manifest, Path(art.path).name),
    }


def _checkpoint(run: Path, manifest: Manifest, role: str) -> dict[str, Any] | None:
    """Params, architecture, accuracy and training options of the run's ``role`` checkpoint (teacher or student)."""
    art = manifest.latest("checkpoint", role=role)
    if art is None:
        return None
    arch_path = run / art.path.replace(".safetensors", ".arch.json")
    record = manifest.stages.get(art.stage)
    metrics = record.metrics if record else {}
    acc = metrics.get("test_accuracy")
    if acc is None and role == "teacher":
        acc = next((s.metrics["teacher_test_accuracy"] for s in manifest.stages.values()
                    if "teacher_test_accuracy" in s.metrics), None)
    keep = ("epochs", "lr", "batch_size", "optimizer", "loss", "shift_pixels", "label_fraction", "seed")
    return {"checkpoint": art.path, "params": art.meta.get("params"), "test_accuracy": acc,
            "arch": _read_json(arch_path) if arch_path.is_file() else None,
            "training": {k: v for k, v in art.options.items() if k in keep}}


def _drop(models: list[dict[str, Any]], primary: dict[str, Any], teacher: dict[str, Any] | None) -> dict[str, Any] | None:
    """Accuracy drop of the primary model: against the teacher, else against an fp32 model of the run."""
    acc = primary["test_accuracy"]
    if acc is None:
        return None
    if teacher and teacher["test_accuracy"] is not None and primary["accuracy_on"] == "test split":
        ref = teacher["test_accuracy"]
        return {"pts": ref - acc, "against": "teacher", "reference_accuracy": ref, "model_accuracy": acc,
                "note": "teacher checkpoint (PyTorch) and this model on the same test split"}
    quant = primary["quantization"] or {}
    fp32 = next((m for m in models if m["precision"] == "fp32" and m["role"] == primary["role"]
                 and m["test_accuracy"] is not None and m["accuracy_on"] == primary["accuracy_on"]), None)
    if fp32 is not None and fp32 is not primary:
        ref, note = fp32["test_accuracy"], f"no teacher in this run: against {fp32['path']}"
    elif "fp32_accuracy" in quant and primary["accuracy_on"] == "verification samples":
        ref, note = quant["fp32_accuracy"], "no teacher in this run: against the fp32 export on the verification samples"
    else:
        return None
    return {"pts": ref - acc, "against": "fp32", "reference_accuracy": ref, "model_accuracy": acc, "note": note}


def _target(manifest: Manifest, name: str) -> dict[str, Any]:
    """The target the run compiled for (the recipe's, else the model's), with its budgets."""
    try:
        return get_target(manifest.recipe.get("target") or name).model_dump(mode="json")
    except EdgekdError:
        return {"name": name}


def _search(run: Path, manifest: Manifest) -> dict[str, Any] | None:
    """The search trail's headline (``edgekd.search/1`` pareto report): trials, proxy, budget, best and top candidates."""
    art = manifest.latest("search")
    if art is None:
        return None
    trail = _read_json(run / art.path)
    pick = lambda r: {k: r.get(k) for k in ("key", "proxy", "latency_ms", "params")}  # noqa: E731
    return {"report": f"reports/{art.path}", "proxy": trail.get("options", {}).get("proxy"),
            "budget_ms": trail.get("budget_ms"), "trials": trail.get("trials"), "evaluated": trail.get("evaluated"),
            "best": pick(trail["best"]) if trail.get("best") else None, "top_k": [pick(r) for r in trail.get("top_k", [])]}


def collect(run: str | Path) -> tuple[dict[str, Any], list[tuple[Path, str, str]]]:
    """Bundle manifest fields of ``run`` (all but ``files`` and ``budgets``) and ``(source, bundle path, kind)`` copies."""
    run = Path(run)
    manifest = load_run(run)
    copies = plan(manifest)
    onnx = [a for a, _ in copies if a.kind == "onnx"]
    if not onnx:
        raise EdgekdError(f"{run} has no ONNX model to package; run a compile stage or edgekd compile --out {run}")
    copied = {dst for _, dst in copies}
    models = []
    for art in onnx:
        files = [f"models/{p.relative_to(run).as_posix()}" for p in model_files(run / art.path)]
        missing = [f for f in files if f not in copied]
        if missing:
            raise EdgekdError(f"{run / art.path} needs {missing[0]}, which the run manifest does not list; "
                              "recompile it with --force")
        models.append(_model(run, manifest, art, files))
    primary = models[-1]
    teacher = _checkpoint(run, manifest, "teacher")
    splits = [a for a in manifest.artifacts if a.kind == "split"]
    fields = {
        "name": manifest.recipe.get("name") or run.resolve().name, "edgekd_version": __version__,
        "run_created_at": manifest.created_at, "target": _target(manifest, primary["target"]),
        "primary": primary["path"], "models": models, "teacher": teacher, "student": _checkpoint(run, manifest, "student"),
        "accuracy_drop": _drop(models, primary, teacher), "search": _search(run, manifest),
        "data": {"dataset": manifest.recipe.get("dataset"), "split": splits[0].meta if splits else None},
        "stages": {sid: {"stage": s.stage, "options": s.options, "metrics": s.metrics}
                   for sid, s in manifest.stages.items() if s.stage not in OWN_STAGES},
        "recipe": manifest.recipe, "env": manifest.env,
    }
    return fields, [(run / a.path, dst, a.kind) for a, dst in copies]
