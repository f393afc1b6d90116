"""Recipe stage ``sentence_search``: the sentence teacher -> ``sentence_search/student`` (manifest kind ``hf-model``,
role ``searched``) for ``sentence_distill``."""

from __future__ import annotations

from edgekd.pipeline.stage import StageContext, StageResult, stage
from edgekd.search.sentence_config import SentenceSearchConfig


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
