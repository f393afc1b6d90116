"""Sentence-embedding students of a BERT sentence-transformers teacher, searched under a measured latency budget.

Candidates are ordinary Hugging Face students (``make_sentence_student``: uniformly spaced teacher layers, the
feed-forward neurons and attention heads that contribute most on train sentences kept, ``activation_importance``,
measured once) on a grid of depth x feed-forward width x heads. Each is exported as ``edgekd compile`` deploys it
(optimum, dynamic axes) and timed on the target on one sentence of ``max_length`` tokens with ``measure_onnx``
(cached by graph structure), the teacher the same way, so the ratios are those of the deployed models (a
fixed-shape trace, which ONNX Runtime folds further, made the teacher look faster: 30 ms against 45 ms, and so
understated every ratio); the budget is the teacher's median latency / ``speedup``, or ``budget_ms``. The training-free proxy is the candidate's agreement with the
teacher before any training, on validation sentences (pairwise-similarity Spearman or mean cosine): every candidate
starts from the teacher's own weights, so how much of the teacher survives the cut is measurable directly. The grid
has tens of points at most, each costing seconds, so every point is evaluated (a sampler would only skip some).
With a ``speedup`` budget the leaders (best proxy first) are then timed interleaved with the teacher
(``edgekd.search.confirm.confirm_ratio``: ``edgekd.compare`` over fresh session pairs, bootstrap CI), and the pick is
the first that holds the speedup, since single-model medians on a shared CPU drift: here a 2-layer student measured
4.8x faster alone and 3.9x interleaved.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgekd.distill.embedding_metrics import embedding_agreement
from edgekd.distill.sentence import SentenceModel, load_sentence_model
from edgekd.errors import EdgekdError
from edgekd.fsutil import scratch_dir, write_json
from edgekd.manifest_io import record
from edgekd.models.hf_importance import CALIBRATION_SENTENCES, activation_importance
from edgekd.models.hf_student import StudentInfo, make_sentence_student, model_entries
from edgekd.profile.config import MeasureConfig
from edgekd.schemas import Target
from edgekd.search.checks import SENTENCE_PLOT, SENTENCE_REPORT, check_sentence_request
from edgekd.search.latency import LatencyCache, default_cache_dir, measure_onnx
from edgekd.search.report import pareto_front, pareto_plot
from edgekd.search.sentence_config import SentenceSearchConfig
from edgekd.ui import progress

CONFIRM_LIMIT = 3  # leading shapes timed interleaved with the teacher, about 10-30 s each


def export_deployed(model_dir: Path, path: Path, opset: int) -> Path:
    """``model_dir`` (a sentence-transformers directory) as the ONNX file ``edgekd compile`` deploys at fp32 (optimum's
    export: dynamic batch and sequence axes), moved to ``path``."""
    from edgekd.export.sources import SourceOptions
    from edgekd.export.sources.huggingface import optimum_export

    work = scratch_dir(path.parent, "export")
    try:
        os.replace(optimum_export(model_dir, SourceOptions(opset=opset), work), path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path


def timing_inputs(onnx_path: Path, max_length: int, path: Path) -> Path:
    """An ``.npz`` of feeds for one sentence of ``max_length`` tokens (ids and mask all ones: no padding)."""
    from edgekd.export.onnx_export import io_signature

    np.savez(path, **{t.name: np.ones((1, max_length), np.int64) for t in io_signature(onnx_path)[0]})
    return path


Make = Callable[[dict[str, Any], Path], StudentInfo]  # (grid row, directory) -> that student, saved there


def _evaluate(make: Make, grid: list[tuple[int, int, int]], texts: list[str], reference: np.ndarray,
              cache: LatencyCache, feed: Path, cfg: SentenceSearchConfig, work: Path) -> list[dict[str, Any]]:
    """Per grid point: parameters, single-measured latency (ms, batch 1) and agreement with ``reference`` (the
    teacher's embeddings of ``texts``) before any training. ``feed``: the timing inputs (``timing_inputs``)."""
    rows = []
    with progress() as bar:
        task = bar.add_task("sentence students", total=len(grid), info="")
        for layers, ffn, heads in grid:
            row: dict[str, Any] = {"layers": layers, "intermediate_size": ffn, "heads": heads}
            info = make(row, work / "candidate")
            model = load_sentence_model(work / "candidate")
            agree = embedding_agreement(model.embed(texts, cfg.max_length), reference)
            onnx_path = export_deployed(work / "candidate", work / "candidate.onnx", cache.target.opset)
            lat = measure_onnx(onnx_path, cache, batch=1, inputs=feed)
            rows.append({**row, "params": info.params, "teacher_layers": info.teacher_layers, "latency_ms": lat["median_ms"],
                         "p90_ms": lat["p90_ms"], "proxy": agree[cfg.proxy], "agreement_before_training": agree})
            bar.update(task, advance=1, info=f"{layers}x{ffn}x{heads}: {lat['median_ms']:.2f} ms")
    return rows


def _short_distill(teacher_dir: Path, make: Make, teacher: SentenceModel, rows: list[dict[str, Any]], train: list[str],
                   texts: list[str], cfg: SentenceSearchConfig, work: Path) -> None:
    """Give each row one epoch of embedding distillation on ``train`` (the teacher's outputs computed once) and set
    its ``proxy`` to the agreement on ``texts`` afterwards (kept with the rest under ``agreement_after_short_training``)."""
    from edgekd.distill.sentence import SentenceDistillConfig, distill_sentence_student, teacher_cache

    dcfg = SentenceDistillConfig(epochs=1, lr=cfg.proxy_lr, relation=0.0, max_length=cfg.max_length,
                                 eval_sentences=len(texts), select=cfg.proxy)
    cache = teacher_cache(teacher, train, cfg.max_length)
    with progress() as bar:
        task = bar.add_task("short distillation", total=len(rows), info="")
        for row in rows:
            make(row, work / "candidate")
            res = distill_sentence_student(teacher_dir, work / "candidate", {"train": train, "val": texts, "test": texts[:3]},
                                           work / "short", dcfg, force=True, teacher_train=cache)
            after = {k[4:]: v for k, v in res["history"][-1].items() if k.startswith("val_")}
            row.update(proxy=after[cfg.proxy], agreement_after_short_training=after)
            bar.update(task, advance=1, info=f"{row['layers']}x{row['intermediate_size']}x{row['heads']}: {row['proxy']:.3f}")
            shutil.rmtree(work / "short", ignore_errors=True)


def _pick(make: Make, t_onnx: Path, teacher_ms: float, rows: list[dict[str, Any]], budget: float,
          cfg: SentenceSearchConfig, target: Target, feed: Path, work: Path) -> tuple[dict[str, Any], bool | None]:
    """The best proxy within the budget; with a ``speedup`` budget, the first of the leaders that holds it when timed
    interleaved with the teacher (``confirm_ratio``), else the leader that came closest. Returns (pick, confirmed:
    None without a speedup budget)."""
    from edgekd.search.confirm import confirm_ratio

    ranked = sorted((r for r in rows if r["feasible"]), key=lambda r: (-r["proxy"], r["latency_ms"]))
    if not ranked:
        fastest = min(rows, key=lambda r: r["latency_ms"])
        raise EdgekdError(f"no student shape is within the {budget:.2f} ms budget (the fastest, "
                          f"{fastest['layers']}x{fastest['intermediate_size']}x{fastest['heads']}, takes "
                          f"{fastest['latency_ms']:.2f} ms); add smaller shapes or lower speedup")
    if cfg.budget_ms is not None:
        return ranked[0], None
    measure = MeasureConfig(warmup_runs=3, warmup_ms=50.0, min_runs=20 * cfg.confirm_pairs, min_duration_s=1.0,
                            session_pairs=cfg.confirm_pairs)

    def export(row: dict[str, Any], path: Path) -> Path:
        make(row, work / "confirm-model")
        return export_deployed(work / "confirm-model", path, target.opset)

    pick = confirm_ratio(t_onnx, ranked, 1 / cfg.speedup, teacher_ms, export, 1, target, work / "confirm", CONFIRM_LIMIT,
                         measure, feed)
    if pick is not None:
        return pick, True
    return max((r for r in ranked if "interleaved" in r), key=lambda r: r["interleaved"]["teacher_over_candidate"]), False


def search_sentence_student(teacher_dir: str | Path, sentences: list[str], target: str | Path | Target = "cpu-ort-fp32",
                            out: str | Path = "sentence_search", cfg: SentenceSearchConfig | None = None,
                            force: bool = False, stage: str = "sentence_search",
                            manifest_dir: str | Path | None = None, train: list[str] | None = None) -> dict[str, Any]:
    """Evaluate every student shape of ``cfg``'s grid for the teacher in ``teacher_dir`` on ``target``; write the
    best within the budget to ``out/student`` (a sentence-transformers directory) and every candidate's params,
    latency (ms, batch 1) and proxy to ``out/sentence_search.json``; record both in the manifest of
    ``manifest_dir`` (default ``out``), the student as kind ``hf-model`` with role ``searched``.

    ``sentences``: validation sentences (the proxy uses the first ``proxy_sentences``); ``train``: training
    sentences, needed when ``cfg.proxy_train`` > 0 (the first ``proxy_train`` are used). Returns the report.
    """
    cfg, out, teacher_dir = cfg or SentenceSearchConfig(), Path(out), Path(teacher_dir)
    grid, target = check_sentence_request(teacher_dir, target, out, cfg, force)
    if len(sentences) < 3:
        raise EdgekdError(f"sentence search needs at least 3 validation sentences, got {len(sentences)}")
    if cfg.proxy_train and not train:
        raise EdgekdError("proxy_train > 0 needs training sentences; pass train= (or set proxy_train: 0)")
    out.mkdir(parents=True, exist_ok=True)
    texts = sentences[: cfg.proxy_sentences]
    cache, work = LatencyCache(default_cache_dir(), target), scratch_dir(out, "search")
    try:
        teacher = load_sentence_model(teacher_dir)
        reference = teacher.embed(texts, cfg.max_length)
        t_onnx = export_deployed(teacher_dir, work / "teacher.onnx", target.opset)
        feed = timing_inputs(t_onnx, cfg.max_length, work / "one_sentence.npz")
        t_lat = measure_onnx(t_onnx, cache, batch=1, inputs=feed)
        budget = cfg.budget_ms or t_lat["median_ms"] / cfg.speedup
        calib = (train or sentences)[:CALIBRATION_SENTENCES]
        importance = activation_importance(teacher, calib, cfg.max_length)
        made_from = f"{len(calib)} {'train' if train else 'validation'} sentences"

        def make(row: dict[str, Any], where: Path, force: bool = True) -> StudentInfo:
            return make_sentence_student(teacher_dir, where, row["layers"], row["intermediate_size"], row["heads"],
                                         force=force, importance=importance, importance_from=made_from)

        rows = _evaluate(make, grid, texts, reference, cache, feed, cfg, work)
        for r in rows:
            r["feasible"] = r["latency_ms"] <= budget
        if cfg.proxy_train:
            _short_distill(teacher_dir, make, teacher, [r for r in rows if r["feasible"]], (train or [])[: cfg.proxy_train],
                           texts, cfg, work)
        pick, confirmed = _pick(make, t_onnx, t_lat["median_ms"], rows, budget, cfg, target, feed, work)
        # the front and the plot use the agreement before training, which every shape has
        at_init = [{**r, "proxy": r["agreement_before_training"][cfg.proxy]} for r in rows]
        report = {"teacher": str(teacher_dir), "target": target.name, "config": cfg.model_dump(mode="json"),
                  "teacher_latency_ms": t_lat["median_ms"], "budget_ms": budget, "proxy": cfg.proxy,
                  "proxy_after": f"one distillation epoch on {cfg.proxy_train} train sentences" if cfg.proxy_train else
                  "nothing (agreement at initialisation)", "proxy_sentences": len(texts), "pick": pick,
                  "speedup_confirmed_interleaved": confirmed, "candidates": rows, "pareto_at_initialisation": pareto_front(at_init)}
        make(pick, out / "student", force)
        write_json(out / SENTENCE_REPORT, report)
        plot = pareto_plot(at_init, report["pareto_at_initialisation"], at_init[rows.index(pick)], budget, out / SENTENCE_PLOT,
                           "median latency at batch 1, ms", f"{cfg.proxy} with the teacher before training")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record(manifest_dir or out, stage, [(out / SENTENCE_REPORT, "report", {}), *([(plot, "plot", {})] if plot else []),
                                        *model_entries(out / "student", "searched")], cfg.model_dump(mode="json"))
    return report
