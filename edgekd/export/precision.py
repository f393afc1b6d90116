"""Precision passes over a verified fp32 ONNX model: fp16 conversion and int8 PTQ (static QDQ, or dynamic with
SmoothQuant for transformers) with accuracy-aware fallback."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import onnx

from edgekd.export.onnx_export import save_onnx
from edgekd.export.roles import Part, Roles
from edgekd.export.runtime import run_outputs
from edgekd.export.smooth import activation_stats, local_errors, smooth, worth_smoothing
from edgekd.export.verify import without_padding
from edgekd.quant.calibration import Arrays, num_samples, take
from edgekd.quant.fallback import accuracy_aware, rank_nodes
from edgekd.quant.ptq import (PTQConfig, normalize, preprocess, quantizable_nodes, quantize_dynamic_int8,
                              quantize_int8)

SMOOTH_ALPHAS = (0.5, 0.55, 0.6, 0.65)  # SmoothQuant migration strengths tried for dynamic int8 (0.5: the paper's)


def _toposort(graph: onnx.GraphProto) -> None:
    """Reorder ``graph.node`` so every node follows the producers of its inputs (Kahn's algorithm)."""
    ready = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        rest = []
        for node in pending:
            if all(i in ready for i in node.input):
                ordered.append(node)
                ready.update(node.output)
            else:
                rest.append(node)
        if len(rest) == len(pending):
            ordered += rest
            break
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)


def to_fp16(src: str | Path, dst: str | Path) -> list[Path]:
    """fp32 -> fp16 weights and compute with onnxruntime's float16 converter; inputs and outputs stay fp32."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    proto = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    _toposort(proto.graph)
    return save_onnx(proto, dst)


def _first(outputs: Arrays) -> np.ndarray:
    return next(iter(outputs.values()))


def _classifier(logits: np.ndarray) -> bool:
    return logits.ndim == 2 and logits.shape[1] > 1


def _accuracy(logits: np.ndarray, labels: np.ndarray | None) -> float | None:
    return None if labels is None else 100.0 * float((logits.argmax(1) == labels[: len(logits)]).mean())


def _min_cosine(ref: Arrays, got: Arrays, mask: np.ndarray | None = None) -> float:
    """Worst per-sample cosine similarity over every output. With an attention ``mask`` (N, T), token outputs
    (N, T, ...) count only their unpadded positions: padding is ignored downstream and carries no meaning."""
    worst = 1.0
    for k, r in ref.items():
        r, g, _ = without_padding(r, got[k], mask)
        a, b = r.reshape(len(r), -1).astype(np.float64), g.reshape(len(r), -1).astype(np.float64)
        cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)
        worst = min(worst, float(cos.min()))
    return worst


def _smoothing(pre: Path, stats: Part, quantize: Any, loss: Any, alphas: Sequence[float], cfg: PTQConfig,
               work: Path) -> tuple[Any, Path, Path, dict[str, Any]]:
    """SmoothQuant before dynamic int8: statistics from ``stats``, the strength chosen by ``loss`` (selection rows).

    Tries no smoothing and every alpha of ``alphas``, each on the groups it helps (``worth_smoothing``). Returns ``quantize_keeping(excluded)`` (the chosen
    smoothing, re-applied without the groups kept in float, then int8), the chosen fp32 model, its int8 model with
    nothing kept in float, and a report.
    """
    absmax, samples = activation_stats(pre, stats.arrays)
    plain = quantize(pre, [], tag="plain")
    tried: list[dict[str, Any]] = [{"alpha": None, "loss": loss(plain, full=False), "base": pre, "model": plain,
                                    "groups": set()}]
    worth = worth_smoothing(pre, absmax, samples, alphas, cfg.reduce_range, cfg.per_channel)
    for alpha in alphas:
        base, groups = work / f"int8.smooth{alpha:g}.onnx", worth[alpha]
        smooth(pre, base, absmax, alpha, only=groups)
        model = quantize(base, [], tag=f"smooth{alpha:g}")
        tried.append({"alpha": alpha, "loss": loss(model, full=False), "base": base, "model": model, "groups": groups})
    best = min(tried, key=lambda t: t["loss"])

    def quantize_keeping(excluded: list[str]) -> Path:
        if best["alpha"] is None or not excluded:
            return quantize(best["base"], excluded)
        base = work / f"int8.smooth.{len(excluded)}.onnx"
        smooth(pre, base, absmax, best["alpha"], skip=set(excluded), only=best["groups"])
        return quantize(base, excluded)

    report = {"method": "SmoothQuant: X/s by a Mul before each MatMul group, W*s, s = max|X|^alpha / max|W|^(1-alpha)",
              "alpha": best["alpha"], "statistics": stats.to_dict(), "groups_smoothed": len(best["groups"]),
              "groups": len(absmax), "group_rule": "smoothed where it cuts the simulated int8 error by >= 20%",
              "tried": [{"alpha": t["alpha"], "loss": t["loss"], "groups_smoothed": len(t["groups"])} for t in tried],
              "chosen_on": "fallback_selection"}
    return quantize_keeping, best["base"], best["model"], report


def to_int8(
    fp32: Path,
    dst: Path,
    roles: Roles,
    cfg: PTQConfig,
    budget_pts: float | None,
    work: Path,
    classifier: bool = True,
    min_cosine: float = 0.99,
    dynamic: bool = False,
    smooth_alphas: Sequence[float] = SMOOTH_ALPHAS,
) -> tuple[list[Path], dict[str, Any]]:
    """Quantize ``fp32`` to int8 at ``dst``: static QDQ calibrated on ``roles.calibration``, or ``dynamic``.

    Dynamic int8 first applies SmoothQuant (``edgekd.export.smooth``) with per-channel statistics from
    ``roles.calibration`` (else ``roles.selection``), the strength chosen among ``smooth_alphas`` and none by the
    loss on ``roles.selection`` (empty ``smooth_alphas``: no smoothing). The fallback judges candidates on
    ``roles.selection`` only: classifiers by the accuracy drop in points (top-1 disagreement with fp32 without
    labels) held to ``budget_pts``, other models by the worst per-sample cosine to fp32 held to ``min_cosine``;
    past the budget the most sensitive nodes stay in float until it holds (static: each node quantized alone in
    ORT; dynamic: each MatMul's relative error simulated in numpy, no model quantized). The reported accuracies
    are then measured on the held-out ``roles.verification``. Returns the files written and a report that names
    the data behind each number.
    """
    model_in, changes = normalize(fp32, work / "int8.normalized.onnx")
    pre = preprocess(model_in, work / "int8.pre.onnx")
    cache = work / "int8.calibration.json"
    sel, held = roles.selection, roles.verification
    assert sel is not None and (dynamic or roles.calibration is not None)
    ref_sel, ref_held = run_outputs(fp32, sel.arrays), run_outputs(fp32, held.arrays)
    classifier = classifier and _classifier(_first(ref_held))
    sub = Part(take(sel.arrays, 0, min(32, len(sel))), None, sel.what)
    ref_sub = {k: v[:32] for k, v in ref_sel.items()}

    def quantize(base: Path, excluded: list[str], only: list[str] | None = None, tag: str = "") -> Path:
        path = work / ("int8.only.onnx" if only else f"int8{tag}.{len(excluded)}.onnx")
        if dynamic:
            return quantize_dynamic_int8(base, path, cfg, excluded, only)
        return quantize_int8(base, path, roles.calibration.arrays, cfg, excluded, cache, only)

    def measure(path: Path, part: Part, reference: Arrays) -> dict[str, Any]:
        outs = run_outputs(path, part.arrays)
        m: dict[str, Any] = {"min_cosine_vs_fp32": _min_cosine(reference, outs, part.arrays.get("attention_mask"))}
        if classifier:
            got, ref = _first(outs), _first(reference)
            m["agreement_with_fp32"] = float((got.argmax(1) == ref.argmax(1)).mean())
            m["fp32_accuracy"], m["int8_accuracy"] = _accuracy(ref, part.labels), _accuracy(got, part.labels)
            m["drop_pts"] = (m["fp32_accuracy"] - m["int8_accuracy"] if part.labels is not None
                             else 100.0 * (1.0 - m["agreement_with_fp32"]))
        return m

    def loss_of(m: dict[str, Any]) -> float:
        return m["drop_pts"] if classifier else 1.0 - m["min_cosine_vs_fp32"]

    def loss(path: Path, full: bool = True) -> float:
        """Classifiers: accuracy drop (or disagreement) in points; others: 1 - worst cosine. Selection data only."""
        return loss_of(measure(path, sel, ref_sel) if full else measure(path, sub, ref_sub))

    limit = (budget_pts if budget_pts is not None else np.inf) if classifier else 1.0 - min_cosine
    report: dict[str, Any] = {
        "mode": "dynamic" if dynamic else "static",
        "calibration": None if dynamic else {"method": cfg.method, "symmetric_activations": cfg.symmetric_activations,
                                             **roles.calibration.to_dict(),
                                             **({"options": cfg.calibrator_options()} if cfg.method != "minmax" else {})},
        "types": {"activations": "dynamic uint8" if dynamic else cfg.activation_type, "weights": cfg.weight_type,
                  "symmetric_activations": cfg.symmetric_activations, "per_channel": cfg.per_channel,
                  "reduce_range": cfg.reduce_range},
        "format": "QOperator (dynamic)" if dynamic else "QDQ", "op_types": cfg.op_types, "graph_changes": changes,
        "budget_pts": budget_pts if classifier else None, "min_cosine_budget": None if classifier else min_cosine,
        "smoothing": None, "kept_in_float": [],
    }
    quantize_keeping, base = (lambda excluded: quantize(pre, excluded)), pre
    if dynamic and smooth_alphas:
        quantize_keeping, base, model, report["smoothing"] = _smoothing(pre, roles.calibration or sel, quantize, loss,
                                                                        smooth_alphas, cfg, work)
    else:
        model = quantize(pre, [])
    on_selection = measure(model, sel, ref_sel)
    first = loss_of(on_selection)
    fallback: dict[str, Any] = {"measured_on": "fallback_selection", "plain_int8_loss": first, "limit": float(limit)}
    if first > limit:
        if dynamic:
            _, samples = activation_stats(base, take(sel.arrays, 0, min(4, num_samples(sel.arrays))))
            errors = local_errors(base, samples, cfg.reduce_range, cfg.per_channel)
            allowed = quantizable_nodes(pre, cfg.op_types)
            scores = [(n, e) for n, e in errors.items() if n in allowed]
            ranking = [n for n, _ in scores] + [n for n in allowed if n not in errors]  # Gemms etc.: not simulated
            how = "relative output error of each weighted MatMul alone, simulated in numpy; other nodes last"
        else:
            nodes = quantizable_nodes(pre, cfg.op_types)
            scores = rank_nodes(nodes, lambda n: quantize(pre, [], [n]), lambda p: loss(p, full=False))
            ranking, how = [n for n, _ in scores], "loss with each node alone quantized in ONNX Runtime"
        result = accuracy_aware(quantize_keeping, loss, ranking, float(limit))
        model = result.model
        on_selection = measure(model, sel, ref_sel)
        report["kept_in_float"] = result.excluded
        fallback.update(ranking_by=how, ranking=[{"node": n, "error": e} for n, e in scores[:10]],
                        attempts=result.attempts)
    report["fallback"] = fallback
    report["selection"] = on_selection
    report.update(measure(model, held, ref_held))
    report["measured_on"] = "verification"
    return save_onnx(onnx.load(str(model)), dst), report
