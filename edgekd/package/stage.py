"""Recipe stages ``package`` (the run -> a bundle in the run directory) and ``check`` (gate it on the budgets)."""

from __future__ import annotations

from pydantic import Field

from edgekd.budgets import GateFailure
from edgekd.fsutil import write_json
from edgekd.manifest_io import guard_outputs, record
from edgekd.package.api import package
from edgekd.package.gates import check
from edgekd.pipeline.stage import StageContext, StageResult, stage
from edgekd.schemas.base import Strict


class PackageStageConfig(Strict):
    out: str = Field("bundle.tar.gz", pattern=r"^[^/\\]+\.(tar\.gz|tgz)$", description="Bundle file name in the run directory.")


class CheckStageConfig(Strict):
    max_p90_ms: float | None = Field(None, ge=0, description="Replaces the target's p90 latency budget at batch 1, ms.")
    max_drop_pts: float | None = Field(None, ge=0, description="Replaces the target's accuracy-drop budget, points.")
    max_size_mb: float | None = Field(None, ge=0, description="Replaces the target's size budget, 10^6 bytes.")
    junit: str = Field("check.junit.xml", pattern=r"^[^/\\]+\.xml$", description="JUnit XML file name in the run directory.")
    fail_run: bool = Field(True, description="Stop the run when a gate fails.")


@stage("package", PackageStageConfig, data="any")
def package_stage(ctx: StageContext, cfg: PackageStageConfig) -> StageResult:
    res = package(ctx.out, ctx.out / cfg.out, force=ctx.force, stage=ctx.stage_id)
    return StageResult(metrics={"bundle": cfg.out, "bytes": res["bytes"], "sha256": res["sha256"],
                                "files": len(res["files"])})


@stage("check", CheckStageConfig, data="any")
def check_stage(ctx: StageContext, cfg: CheckStageConfig) -> StageResult:
    """Gate the run's latest bundle (the run directory when there is none) on the recipe target's budgets."""
    bundle = ctx.manifest.latest("bundle")
    junit, report = ctx.out / cfg.junit, ctx.out / f"{ctx.stage_id}.json"
    guard_outputs([junit, report], ctx.force)
    res = check(ctx.path(bundle) if bundle else ctx.out, ctx.target, cfg.max_p90_ms, cfg.max_drop_pts, cfg.max_size_mb,
                junit=junit)
    write_json(report, res)
    record(ctx.out, ctx.stage_id, [(report, "check", {}), (junit, "junit", {})], options=cfg.model_dump(mode="json"))
    failed = [g for g in res["gates"] if g["status"] == "fail"]
    if failed and cfg.fail_run:
        raise GateFailure(f"check: {failed[0]['message']}" + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")
                          + f"; see {junit}")
    return StageResult(metrics={"passed": not failed, **{g["name"]: g["status"] for g in res["gates"]}})
