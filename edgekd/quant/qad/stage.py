"""Recipe stage ``qad``: fine-tune the latest student with int8 fake quantization against the fp32 teacher."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from edgekd.distill.config import DistillConfig
from edgekd.manifest_io import record
from edgekd.pipeline.stage import StageContext, StageResult, stage


class QadStageConfig(DistillConfig):
    """``distill`` options with QAD defaults: start from the latest student, few epochs, a small learning rate."""

    student: dict[str, Any] | str | None = Field(None, description="Default: the latest student checkpoint.")
    quantize: Literal["int8"] = "int8"
    name: str = Field("student.qad", description="File stem of the QAD checkpoint.")
    epochs: int = Field(10, ge=1)
    lr: float = Field(5e-4, gt=0, description="Peak learning rate.")
    warmup_epochs: float = Field(0.0, ge=0, description="Linear warm-up, then cosine decay to 0.")
    shift_pixels: int = Field(0, ge=0, description="Random translation augmentation of images, pixels.")


@stage("qad", QadStageConfig)
def qad_stage(ctx: StageContext, cfg: QadStageConfig) -> StageResult:
    """Teacher + latest student -> ``<name>/<name>.safetensors`` (QAD), recorded in the run's manifest as the latest
    student checkpoint, which a later ``compile`` stage takes at int8."""
    from edgekd.distill.api import distill

    teacher = ctx.path(ctx.need("checkpoint", role="teacher"))
    updates: dict[str, Any] = {}
    if cfg.student is None:
        updates["student"] = str(ctx.path(ctx.need("checkpoint", role="student")))
    if cfg.cache_dir is None:
        updates["cache_dir"] = str(ctx.out / "cache")
    if cfg.qat.target is None:
        updates["qat"] = cfg.qat.model_copy(update={"target": ctx.recipe.target})
    options = DistillConfig.model_validate({**cfg.model_copy(update=updates).model_dump(), "quantize": "int8"})
    sub = ctx.out / cfg.name  # its own resumable state and metrics.jsonl, apart from the fp32 student's
    res = distill(teacher, data=ctx.data, out=sub, config=options, force=ctx.force, stage=ctx.stage_id)
    record(ctx.out, ctx.stage_id, [(Path(res.checkpoint), "checkpoint",
                                    {"meta": {"role": "student", "params": res.params, "quantize": "int8"}}),
                                   (sub / f"{cfg.name}.metrics.json", "metrics", {})],
           options=options.model_dump(mode="json"))
    return StageResult(metrics={k: v for k, v in res.to_dict().items() if k != "checkpoint"})
