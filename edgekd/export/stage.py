"""Recipe stage ``compile``: the latest checkpoint -> verified ONNX, with test accuracy of the result."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from edgekd.export.compile import compile, ort_run
from edgekd.pipeline.stage import StageContext, StageResult, stage
from edgekd.schemas.base import Strict


class CompileStageConfig(Strict):
    precision: Literal["fp32", "fp16", "int8"] | None = Field(None, description="Default: the target's first precision.")
    num_verify: int = Field(256, ge=1, description="Test samples compared between PyTorch and ONNX Runtime.")


@stage("compile", CompileStageConfig)
def compile_stage(ctx: StageContext, cfg: CompileStageConfig) -> StageResult:
    ckpt = ctx.need("checkpoint")
    x, y = ctx.data.x["test"].numpy(), ctx.data.y["test"].numpy()
    res = compile(ctx.path(ckpt), ctx.target, cfg.precision, ctx.out, samples=x, num_verify=cfg.num_verify,
                  force=ctx.force, stage=ctx.stage_id)
    accuracy = 100.0 * float((ort_run(res.model, x).argmax(1) == y).mean())
    metrics = {"precision": res.precision, "test_accuracy": accuracy, **res.verification}
    return StageResult(artifacts=ctx.rel(res.model, res.report), metrics=metrics)
