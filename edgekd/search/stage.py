"""Recipe stages ``search``: the teacher checkpoint -> ``search/student.arch.json`` (manifest kind ``arch``, role
``searched``), which a later ``distill`` stage with ``student: search`` trains; and ``sentence_search``: the
sentence teacher -> ``sentence_search/student`` (kind ``hf-model``, role ``searched``) for ``sentence_distill``."""

from __future__ import annotations

from edgekd.pipeline.stage import StageContext, StageResult, stage
from edgekd.search.config import SearchConfig
from edgekd.search.sentence import SentenceSearchConfig


@stage("search", SearchConfig)
def search_stage(ctx: StageContext, cfg: SearchConfig) -> StageResult:
    from edgekd.search.api import search

    teacher = ctx.path(ctx.need("checkpoint", role="teacher"))
    res = search(teacher, ctx.data, ctx.target, ctx.out / "search", cfg, force=ctx.force and not ctx.resume, stage=ctx.stage_id,
                 manifest_dir=ctx.out)
    return StageResult(metrics={"latency_ms": res.latency_ms, "budget_ms": res.budget_ms, "proxy": res.proxy,
                                "params": res.params, "trials": res.trials, "evaluated": res.evaluated, "arch": res.arch,
                                "interleaved": res.interleaved})


@stage("sentence_search", SentenceSearchConfig, data="text")
def sentence_search_stage(ctx: StageContext, cfg: SentenceSearchConfig) -> StageResult:
    from edgekd.distill.sentence_stage import teacher_from
    from edgekd.search.sentence import search_sentence_student

    res = search_sentence_student(teacher_from(ctx), ctx.data.texts["val"], ctx.target, ctx.out / "sentence_search", cfg,
                                  force=ctx.force, stage=ctx.stage_id, manifest_dir=ctx.out, train=ctx.data.texts["train"])
    pick = res["pick"]
    inter = pick.get("interleaved", {})
    return StageResult(metrics={"layers": pick["layers"], "intermediate_size": pick["intermediate_size"], "heads": pick["heads"],
                                "params": pick["params"], "proxy": res["proxy"], "proxy_value": pick["proxy"],
                                "budget_ms": res["budget_ms"], "teacher_ms": res["teacher_latency_ms"],
                                "latency_ms": pick["latency_ms"], "speedup_interleaved": inter.get("teacher_over_candidate"),
                                "speedup_ci": inter.get("ci"), "speedup_confirmed": res["speedup_confirmed_interleaved"],
                                "candidates": len(res["candidates"])})
