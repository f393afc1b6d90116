"""Recipe stages ``teacher`` (train the teacher) and ``distill`` (teacher -> student) on the recipe's dataset."""

from __future__ import annotations

from typing import Any

from edgekd.data import Splits
from edgekd.distill.config import DistillConfig, TeacherConfig
from edgekd.pipeline.stage import StageContext, StageResult, stage


def _check_arch(arch: dict[str, Any], splits: Splits) -> None:
    """Build ``arch`` for ``splits`` on torch's meta device: sizes and parameter limits checked, nothing allocated."""
    import torch

    from edgekd.distill.teacher import complete_arch
    from edgekd.models import build_model

    with torch.device("meta"):
        build_model(complete_arch(arch, splits))


def check_teacher(cfg: TeacherConfig, splits: Splits) -> None:
    _check_arch(cfg.arch, splits)


def check_distill(cfg: DistillConfig, splits: Splits) -> None:
    from edgekd.distill.losses import build_criterion

    build_criterion(cfg.loss)
    if isinstance(cfg.student, dict) and "name" in cfg.student:
        _check_arch(cfg.student, splits)


@stage("teacher", TeacherConfig, check=check_teacher)
def teacher_stage(ctx: StageContext, cfg: TeacherConfig) -> StageResult:
    from edgekd.distill.teacher import train_teacher

    res = train_teacher(ctx.data, cfg, ctx.out, force=ctx.force, stage=ctx.stage_id)
    return StageResult(metrics={k: v for k, v in res.items() if k != "checkpoint"})


@stage("distill", DistillConfig, check=check_distill)
def distill_stage(ctx: StageContext, cfg: DistillConfig) -> StageResult:
    """The latest teacher checkpoint -> ``<name>.safetensors``, which later stages take as the latest checkpoint."""
    from edgekd.distill.api import can_resume, distill

    teacher = ctx.path(ctx.need("checkpoint", role="teacher"))
    if cfg.student == "search":  # the architecture an earlier search stage picked
        cfg = cfg.model_copy(update={"student": str(ctx.path(ctx.need("arch", role="searched")))})
    if cfg.cache_dir is None:
        cfg = cfg.model_copy(update={"cache_dir": str(ctx.out / "cache")})
    resume = ctx.resume and can_resume(ctx.out, cfg)  # an interrupted attempt with the same options continues
    res = distill(teacher, data=ctx.data, out=ctx.out, config=cfg, force=ctx.force and not resume, resume=resume,
                  stage=ctx.stage_id)
    return StageResult(metrics={k: v for k, v in res.to_dict().items() if k != "checkpoint"})
