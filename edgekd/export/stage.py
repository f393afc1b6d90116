"""Recipe stage ``compile``: the latest checkpoint -> verified ONNX.

int8 is calibrated on the train split, its fallback chooses on the validation split, and every accuracy it
reports is measured on the test split, which no choice sees.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edgekd.export.compile import compile
from edgekd.export.runtime import ort_run
from edgekd.pipeline.stage import StageContext, StageResult, stage
from edgekd.schemas.base import Strict


class CompileStageConfig(Strict):
    precision: Literal["fp32", "fp16", "int8"] | None = Field(None, description="Default: the target's first precision.")
    num_verify: int = Field(256, ge=1, description="Test samples compared between PyTorch and ONNX Runtime.")
    calib_samples: int = Field(256, ge=1, description="Train samples that calibrate int8 activation ranges.")
    val_samples: int = Field(256, ge=1, description="Validation samples the int8 fallback chooses float nodes on.")
    calib_method: Literal["minmax", "entropy", "percentile"] = Field("minmax", description="int8 range calibration.")


@stage("compile", CompileStageConfig)
def compile_stage(ctx: StageContext, cfg: CompileStageConfig) -> StageResult:
    ckpt = ctx.need("checkpoint")
    data = ctx.data
    x, y = data.x["test"].numpy(), data.y["test"].numpy()
    res = compile(ctx.path(ckpt), ctx.target, cfg.precision, ctx.out, samples=x, num_verify=cfg.num_verify,
                  force=ctx.force, stage=ctx.stage_id, labels=y[: cfg.num_verify], calib=data.x["train"].numpy(),
                  validation=data.x["val"].numpy()[: cfg.val_samples], validation_labels=data.y["val"].numpy()[: cfg.val_samples],
                  calib_samples=cfg.calib_samples, calib_method=cfg.calib_method)
    accuracy = 100.0 * float((ort_run(res.model, x).argmax(1) == y).mean())
    metrics = {"precision": res.precision, "test_accuracy": accuracy,
               **{k: v for k, v in res.verification.items() if not isinstance(v, dict)}}
    if res.quantization:
        metrics.update({k: res.quantization[k] for k in ("fp32_accuracy", "int8_accuracy", "agreement_with_fp32")
                        if k in res.quantization})
        metrics["kept_in_float"] = len(res.quantization["kept_in_float"])
    return StageResult(metrics=metrics)
