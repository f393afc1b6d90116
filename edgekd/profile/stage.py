"""Recipe stage ``profile``: latency of the latest ONNX model on the recipe's target."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edgekd.pipeline.stage import StageContext, StageResult, check_target_option, stage
from edgekd.profile.config import MeasureConfig


class ProfileStageConfig(MeasureConfig):
    batch_sizes: list[Annotated[int, Field(ge=1, le=65536)]] | None = Field(None, description="Default: the target's batch sizes.")
    per_op: bool = Field(True, description="Add a per-op breakdown from a separate profiling run.")
    precision: Literal["fp32", "fp16", "int8"] | None = Field(None, description="Profile the latest model of this "
                                                                    "precision (default: the latest model).")
    target: str | None = Field(None, description="Profile on this target instead of the recipe's (name or YAML path).")


@stage("profile", ProfileStageConfig, check=check_target_option, data="any")
def profile_stage(ctx: StageContext, cfg: ProfileStageConfig) -> StageResult:
    from edgekd.profile.api import profile

    model = ctx.path(ctx.need("onnx", **({"precision": cfg.precision} if cfg.precision else {})))
    measure = MeasureConfig(**cfg.model_dump(exclude={"batch_sizes", "per_op", "precision", "target"}))
    report = profile(model, cfg.target or ctx.target, cfg.batch_sizes, measure, out=ctx.out, force=ctx.force, stage=ctx.stage_id,
                     per_op=cfg.per_op)
    lat = report["latency_ms"]
    return StageResult(metrics={"batch": report["batch"], "median_ms": lat["median"], "p90_ms": lat["p90"],
                                "throughput_per_s": report["throughput_per_s"]})
