"""Recipe stage ``teacher``: train the teacher on the recipe's dataset."""

from __future__ import annotations

from edgekd.distill.teacher import TeacherConfig, train_teacher
from edgekd.pipeline.stage import StageContext, StageResult, stage


@stage("teacher", TeacherConfig)
def teacher_stage(ctx: StageContext, cfg: TeacherConfig) -> StageResult:
    res = train_teacher(ctx.data, cfg, ctx.out, force=ctx.force, stage=ctx.stage_id)
    name = cfg.name
    files = [f"{name}.safetensors", f"{name}.arch.json", "split.json", f"{name}.metrics.json"]
    return StageResult(artifacts=ctx.rel(*(ctx.out / f for f in files)), metrics={k: v for k, v in res.items() if k != "checkpoint"})
