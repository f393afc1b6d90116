"""Recipe stage ``search``: the teacher checkpoint -> ``search/student.arch.json`` (manifest kind ``arch``, role
``searched``), which a later ``distill`` stage with ``student: search`` trains (``sentence_search`` is in
``sentence_stage``)."""

from __future__ import annotations

from edgekd.pipeline.stage import StageContext, StageResult, stage
from edgekd.search.config import SearchConfig


@stage("search", SearchConfig)
def search_stage(ctx: StageContext, cfg: SearchConfig) -> StageResult:
    from edgekd.search.api import search

    teacher = ctx.path(ctx.need("checkpoint", role="teacher"))
    res = search(teacher, ctx.data, ctx.target, ctx.out / "search", cfg, force=ctx.force and not ctx.resume, stage=ctx.stage_id,
                 manifest_dir=ctx.out)
    return StageResult(metrics={"latency_ms": res.latency_ms, "budget_ms": res.budget_ms, "proxy": res.proxy,
                                "params": res.params, "trials": res.trials, "evaluated": res.evaluated, "arch": res.arch,
                                "interleaved": res.interleaved})
