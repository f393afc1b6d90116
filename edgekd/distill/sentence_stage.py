"""Recipe stages ``sentence_teacher`` (a pretrained sentence-transformers teacher) and ``sentence_distill``
(teacher -> student on the recipe's sentences), for text datasets such as ``sentences``."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from edgekd.distill.sentence_config import SentenceDistillConfig
from edgekd.errors import EdgekdError
from edgekd.fsutil import write_json
from edgekd.manifest_io import guard_outputs, record
from edgekd.models.hf_student import check_teacher_dir
from edgekd.pipeline.stage import StageContext, StageResult, stage
from edgekd.schemas.base import Strict

TEACHER_FILE = "sentence_teacher.json"


class SentenceTeacherConfig(Strict):
    """Where the teacher is: a directory, or a directory inside an installed Python package."""

    path: str | None = Field(None, description="A sentence-transformers BERT model directory.")
    package: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                description="An installed package that ships the model (found, never imported).")
    subdir: str = Field("model", pattern=r"^[^/\\.][^/\\]*$", description="The model's folder inside the package.")

    @model_validator(mode="after")
    def _one_source(self) -> "SentenceTeacherConfig":
        if (self.path is None) == (self.package is None):
            raise ValueError("give the teacher as exactly one of 'path' (a directory) or 'package' (an installed package)")
        return self


class StudentShape(Strict):
    layers: int = Field(ge=1, description="Teacher layers kept, uniformly spaced.")
    intermediate_size: int | None = Field(None, ge=1, description="Feed-forward width (default: the teacher's).")
    heads: int | None = Field(None, ge=1, description="Attention heads kept (default: all).")


class SentenceDistillStageConfig(SentenceDistillConfig):
    student: Literal["search"] | StudentShape = Field("search", description="'search': the sentence_search pick.")


def teacher_dir(cfg: SentenceTeacherConfig) -> Path:
    """The teacher's directory; a package is located with ``importlib.util.find_spec`` (its code does not run)."""
    if cfg.path is not None:
        return Path(cfg.path)
    spec = importlib.util.find_spec(str(cfg.package))
    if spec is None or not spec.submodule_search_locations:
        raise EdgekdError(f"teacher package {cfg.package!r} is not installed; pip install it or give 'path'")
    return Path(list(spec.submodule_search_locations)[0]) / cfg.subdir


def teacher_from(ctx: StageContext) -> Path:
    """The directory the run's ``sentence_teacher`` stage recorded."""
    return Path(json.loads(ctx.path(ctx.need("sentence-teacher")).read_text())["path"])


@stage("sentence_teacher", SentenceTeacherConfig, data="text")
def sentence_teacher_stage(ctx: StageContext, cfg: SentenceTeacherConfig) -> StageResult:
    """Check the teacher directory and record it with the SHA-256 of its weights, so that later stages redo when
    the teacher changes."""
    path = teacher_dir(cfg)
    config = check_teacher_dir(path)
    digest = hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()
    info = {"path": str(path.resolve()), "weights_sha256": digest, "layers": config["num_hidden_layers"],
            "hidden_size": config["hidden_size"], "intermediate_size": config["intermediate_size"],
            "heads": config["num_attention_heads"]}
    out = ctx.out / TEACHER_FILE
    guard_outputs([out], ctx.force)
    write_json(out, info)
    record(ctx.out, ctx.stage_id, [(out, "sentence-teacher", {})], cfg.model_dump(mode="json"))
    return StageResult(metrics={k: v for k, v in info.items() if k != "path"})


@stage("sentence_distill", SentenceDistillStageConfig, data="text")
def sentence_distill_stage(ctx: StageContext, cfg: SentenceDistillStageConfig) -> StageResult:
    """The teacher and the searched (or given) student -> ``sentence_distill/student`` (kind ``hf-model``, role
    ``student``), chosen on the val split; agreement with the teacher on the test split as metrics."""
    from edgekd.distill.sentence import distill_sentence_student, load_sentence_model
    from edgekd.models.hf_importance import CALIBRATION_SENTENCES, activation_importance
    from edgekd.models.hf_student import make_sentence_student

    teacher = teacher_from(ctx)
    work = ctx.out / "sentence_distill"
    if isinstance(cfg.student, StudentShape):
        init, calib = work / "init", ctx.data.texts["train"][:CALIBRATION_SENTENCES]
        importance = activation_importance(load_sentence_model(teacher), calib, cfg.max_length)
        make_sentence_student(teacher, init, cfg.student.layers, cfg.student.intermediate_size, cfg.student.heads,
                              force=True, importance=importance, importance_from=f"{len(calib)} train sentences")
    else:
        init = ctx.path(ctx.need("hf-model", role="searched")).parent
    resume = ctx.resume and (work / "last.state.pt").is_file()
    res = distill_sentence_student(teacher, init, ctx.data.texts, work, SentenceDistillConfig(**cfg.model_dump(exclude={"student"})),
                                   resume=resume, force=ctx.force and not resume, stage=ctx.stage_id, manifest_dir=ctx.out)
    split = write_json(work / "split.json", ctx.data.as_json())
    record(ctx.out, ctx.stage_id, [(split, "split", {"meta": ctx.data.info()})], cfg.model_dump(mode="json"))
    after, before = res["test_after"], res["test_before"]
    return StageResult(metrics={**{f"test_{k}": v for k, v in after.items()},
                                **{f"test_{k}_before": v for k, v in before.items() if k != "sentences"},
                                "best_epoch": res["best_epoch"], "epochs_run": res["epochs_run"]})
