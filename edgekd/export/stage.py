"""Recipe stage ``compile``: the latest checkpoint (or, on a text dataset, the distilled sentence student) ->
verified ONNX.

int8 is calibrated on the train split, its fallback chooses on the validation split, and every accuracy it
reports is measured on the test split, which no choice sees.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from edgekd.data.text_splits import TextSplits
from edgekd.pipeline.stage import StageContext, StageResult, check_target_option, stage
from edgekd.schemas.base import Strict


class CompileStageConfig(Strict):
    precision: Literal["fp32", "fp16", "int8"] | None = Field(None, description="Default: the target's first precision.")
    num_verify: int = Field(256, ge=1, description="Test samples compared between PyTorch and ONNX Runtime.")
    calib_samples: int = Field(256, ge=1, description="Train samples that calibrate int8 activation ranges.")
    val_samples: int = Field(256, ge=1, description="Validation samples the int8 fallback chooses float nodes on.")
    calib_method: Literal["minmax", "entropy", "percentile"] = Field("minmax", description="int8 range calibration.")
    target: str | None = Field(None, description="Compile for this target instead of the recipe's (name or YAML path).")


@stage("compile", CompileStageConfig, check=check_target_option, data="any")
def compile_stage(ctx: StageContext, cfg: CompileStageConfig) -> StageResult:
    from edgekd.export.compile import compile
    from edgekd.export.runtime import ort_run

    if isinstance(ctx.data, TextSplits):
        return _compile_sentence_student(ctx, cfg)
    ckpt = ctx.need("checkpoint")
    data = ctx.data
    x, y = data.x["test"].numpy(), data.y["test"].numpy()
    res = compile(ctx.path(ckpt), cfg.target or ctx.target, cfg.precision, ctx.out, samples=x, num_verify=cfg.num_verify,
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


def _compile_sentence_student(ctx: StageContext, cfg: CompileStageConfig) -> StageResult:
    """The distilled sentence student (a sentence-transformers directory) -> ONNX through optimum, verified on
    ``num_verify`` test sentences; int8 smoothed on train sentences. Its agreement with the PyTorch teacher on the
    same test sentences (mean cosine, pairwise Spearman, nearest-neighbour agreement) are the stage's metrics."""
    from transformers import AutoTokenizer

    from edgekd.distill.embedding_metrics import embedding_agreement
    from edgekd.distill.sentence import load_sentence_model
    from edgekd.distill.sentence_stage import teacher_from
    from edgekd.export.compile import compile
    from edgekd.export.embeddings import onnx_sentence_embeddings

    student = ctx.path(ctx.need("hf-model", role="student")).parent
    texts = ctx.data.texts
    test = texts["test"][: cfg.num_verify]
    enc = AutoTokenizer.from_pretrained(str(student))(test, padding=True, truncation=True, max_length=128, return_tensors="np")
    samples = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask")}
    res = compile(student, cfg.target or ctx.target, cfg.precision, ctx.out, samples=samples, num_verify=cfg.num_verify,
                  force=ctx.force, stage=ctx.stage_id, calib=texts["train"], calib_samples=cfg.calib_samples)
    got = onnx_sentence_embeddings(res.model, student, test)
    agreement = embedding_agreement(got, load_sentence_model(teacher_from(ctx)).embed(test))
    return StageResult(metrics={"precision": res.precision, **{f"test_{k}": v for k, v in agreement.items()},
                                **{k: v for k, v in res.verification.items() if not isinstance(v, dict)}})
