"""A finished study -> the pick, the Pareto front of proxy score against latency, top-k arch JSONs, plot, manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna

from edgekd.errors import EdgekdError
from edgekd.fsutil import atomic_path, write_json
from edgekd.manifest_io import record
from edgekd.models import build_model
from edgekd.search.config import SearchConfig
from edgekd.search.confirm import confirm_ratio
from edgekd.search.latency import example_inputs, export_fast, measure_model
from edgekd.search.study import Objective, completed, latency_of, predictor_from, violations


CONFIRM_LIMIT = 6  # leading candidates timed interleaved with the teacher, a few seconds each


def pareto_front(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows no other row beats on both proxy (higher) and latency (lower), by latency."""
    front = [r for r in rows if not any(o["proxy"] >= r["proxy"] and o["latency_ms"] <= r["latency_ms"]
                                        and (o["proxy"] > r["proxy"] or o["latency_ms"] < r["latency_ms"]) for o in rows)]
    return sorted(front, key=lambda r: r["latency_ms"])


def correlations(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Kendall tau of the proxy with latency, params and FLOPs over the candidates."""
    from scipy.stats import kendalltau

    if len(rows) < 3:
        return {}
    proxy = [r["proxy"] for r in rows]
    return {k: {"kendall_tau": float(kendalltau(proxy, [r[k] for r in rows]).statistic)} for k in ("latency_ms", "params", "flops")}


def _remeasure(objective: Objective, rec: dict[str, Any]) -> dict[str, Any]:
    """Measure a predicted candidate whole and keep the result in its record."""
    ev = objective.evaluator
    x = example_inputs(ev.input_shape, ev.cache.target.batch_sizes[0], ev.tokens)
    lat = measure_model(build_model(rec["arch"]).eval(), x, ev.cache, ev.directory / "work")
    rec.update(measured=True, median_ms=lat["median_ms"], p90_ms=lat["p90_ms"], onnx_bytes=lat["onnx_bytes"])
    write_json(ev.directory / "candidates" / f"{rec['key']}.json", rec)
    return rec


def _rows(objective: Objective, cfg: SearchConfig) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    records = objective.records()
    predictor = predictor_from(records, objective.evaluator.cache.target.name, cfg.latency_stat) if cfg.latency == "predicted" else None
    rows = []
    for rec in records:
        lat, predicted = latency_of(rec, cfg.latency_stat, predictor)
        rows.append({"key": rec["key"], "arch": rec["arch"], "proxy": rec["proxy"], "latency_ms": lat, "predicted": predicted,
                     "params": rec["params"], "flops": rec["flops"], "peak_memory_bytes": rec["peak_memory_bytes"],
                     "onnx_bytes": rec.get("onnx_bytes"), "feasible": max(violations(rec, lat, objective.limits) or [0.0]) <= 0,
                     "_rec": rec})
    return rows, (predictor.to_json() if predictor else None)


def pareto_plot(rows: list[dict[str, Any]], front: list[dict[str, Any]], best: dict[str, Any] | None, budget: float,
                path: Path, xlabel: str, ylabel: str) -> Path | None:
    """Proxy score against latency (rows with ``latency_ms``, ``proxy``, ``feasible``), the front, the budget and
    the pick as a PNG at ``path``; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for ok, colour in ((True, "tab:blue"), (False, "lightgray")):
        sel = [r for r in rows if r["feasible"] == ok]
        ax.scatter([r["latency_ms"] for r in sel], [r["proxy"] for r in sel], s=14, c=colour,
                   label="feasible" if ok else "over a limit")
    ax.plot([r["latency_ms"] for r in front], [r["proxy"] for r in front], "k--", lw=1, label="Pareto front")
    ax.axvline(budget, color="tab:red", lw=1, label=f"budget {budget:.3g} ms")
    if best:
        ax.scatter([best["latency_ms"]], [best["proxy"]], marker="*", s=160, c="tab:orange", label="pick", zorder=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path


def finish(study: optuna.Study, objective: Objective, cfg: SearchConfig, out: Path, manifest_dir: Path, stage: str,
           force: bool) -> Any:
    """Pick the best feasible candidate (re-measuring predicted ones), write and record the outputs."""
    from edgekd.search.api import SearchResult

    budget = float(objective.limits["latency_ms"])  # type: ignore[arg-type]
    rows, predictor = _rows(objective, cfg)
    if cfg.latency == "predicted":  # the pick must hold on the target, not only in the predictor
        for r in sorted((r for r in rows if r["feasible"]), key=lambda r: -r["proxy"])[: cfg.top_k]:
            _remeasure(objective, r["_rec"])
        rows, predictor = _rows(objective, cfg)
    feasible = sorted((r for r in rows if r["feasible"]), key=lambda r: (-r["proxy"], r["latency_ms"]))
    best = feasible[0] if feasible else None
    confirmed = None
    if best is not None and cfg.budget_ratio is not None:
        ev = objective.evaluator
        target, work = ev.cache.target, ev.directory / "work" / "confirm"
        work.mkdir(parents=True, exist_ok=True)
        x = example_inputs(ev.input_shape, target.batch_sizes[0], ev.tokens)
        teacher_onnx = export_fast(ev.batch.teacher.eval(), [x], work / "teacher.onnx", target.opset)
        best = confirm_ratio(teacher_onnx, feasible, cfg.budget_ratio, budget / cfg.budget_ratio,
                             lambda row, path: export_fast(build_model(row["arch"]).eval(), [x], path, target.opset),
                             x.shape[0], target, work, CONFIRM_LIMIT)
        confirmed = best is not None
        if best is None:  # none held the ratio interleaved: the checked one that came closest, said so
            best = max((r for r in feasible if "interleaved" in r), key=lambda r: r["interleaved"]["teacher_over_candidate"])
    front = pareto_front(rows)
    clean = lambda r: {k: v for k, v in r.items() if k != "_rec"}  # noqa: E731
    summary = {"schema": "edgekd.search/1", "options": cfg.model_dump(mode="json"), "target": objective.evaluator.cache.target.name,
               "budget_ms": budget, "limits": objective.limits, "trials": completed(study), "evaluated": len(rows),
               "ratio_confirmed_interleaved": confirmed,
               "best": clean(best) if best else None, "top_k": [clean(r) for r in feasible[: cfg.top_k]],
               "pareto": [clean(r) for r in front], "correlations": correlations(rows), "latency_predictor": predictor,
               "candidates": [clean(r) for r in sorted(rows, key=lambda r: r["latency_ms"])]}
    pareto = write_json(out / "pareto.json", summary)
    plot = pareto_plot(rows, front, best, budget, out / "pareto.png", f"{cfg.latency_stat} latency, ms", f"{cfg.proxy} score")
    files: list[tuple[Path, str, dict[str, Any]]] = [(pareto, "search", {"meta": {"proxy": cfg.proxy, "budget_ms": budget}})]
    if plot:
        files.append((plot, "plot", {}))
    if predictor:
        files.append((write_json(out / "latency_predictor.json", predictor), "latency_predictor", {}))
    if best is None:
        record(manifest_dir, stage, files, cfg.model_dump(mode="json"))
        fastest = min(rows, key=lambda r: r["latency_ms"])
        raise EdgekdError(f"no candidate meets the limits (budget {budget:.4g} ms {cfg.latency_stat}) in {len(rows)} evaluated; "
                          f"the fastest found is {fastest['key']} at {fastest['latency_ms']:.4g} ms: {json.dumps(fastest['arch'])}; "
                          f"raise --budget-ms, use a smaller --space or choices, or run more --trials")
    tops = [write_json(out / f"top{i + 1}.arch.json", r["arch"]) for i, r in enumerate(feasible[: cfg.top_k])]
    pick = write_json(out / "student.arch.json", best["arch"])
    files.append((pick, "arch", {"meta": {"role": "searched", "proxy": cfg.proxy, "latency_ms": best["latency_ms"],
                                          "budget_ms": budget, "params": best["params"],
                                          "interleaved": best.get("interleaved")}}))
    files += [(p, "arch", {"meta": {"role": "candidate", "rank": i + 1}}) for i, p in enumerate(tops)]
    record(manifest_dir, stage, files, cfg.model_dump(mode="json"))
    return SearchResult(arch=best["arch"], arch_path=pick, key=best["key"], proxy=best["proxy"], latency_ms=best["latency_ms"],
                        budget_ms=budget, params=best["params"], pareto=pareto, trials=completed(study), evaluated=len(rows),
                        top_k=tops, plot=plot, predictor=(predictor or {}).get("held_out"),
                        interleaved=best.get("interleaved"))
