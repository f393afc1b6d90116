"""Precision passes over a verified fp32 ONNX model: fp16 conversion and int8 PTQ with accuracy-aware fallback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx

from edgekd.export.onnx_export import save_onnx
from edgekd.export.roles import Part, Roles
from edgekd.export.runtime import run_outputs
from edgekd.quant.calibration import Arrays, take
from edgekd.quant.fallback import accuracy_aware, rank_nodes
from edgekd.quant.ptq import (PTQConfig, normalize, preprocess, quantizable_nodes, quantize_dynamic_int8,
                              quantize_int8)


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


def _min_cosine(ref: Arrays, got: Arrays) -> float:
    """Worst per-sample cosine similarity over every output."""
    worst = 1.0
    for k, r in ref.items():
        a, b = r.reshape(len(r), -1).astype(np.float64), got[k].reshape(len(r), -1).astype(np.float64)
        cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)
        worst = min(worst, float(cos.min()))
    return worst


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
) -> tuple[list[Path], dict[str, Any]]:
    """Quantize ``fp32`` to int8 at ``dst``: static QDQ calibrated on ``roles.calibration``, or ``dynamic``.

    The fallback judges candidates on ``roles.selection`` only: classifiers by the accuracy drop in points (top-1
    disagreement with fp32 without labels) held to ``budget_pts``, other models by the worst per-sample cosine
    to fp32 held to ``min_cosine``; past the budget the most sensitive nodes stay in float until it holds. The
    reported accuracies are then measured on the held-out ``roles.verification``. Returns the files written and
    a report that names the data behind each number.
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

    def quantize(excluded: list[str], only: list[str] | None = None) -> Path:
        path = work / ("int8.only.onnx" if only else f"int8.{len(excluded)}.onnx")
        if dynamic:
            return quantize_dynamic_int8(pre, path, cfg, excluded, only)
        return quantize_int8(pre, path, roles.calibration.arrays, cfg, excluded, cache, only)

    def measure(path: Path, part: Part, reference: Arrays) -> dict[str, Any]:
        outs = run_outputs(path, part.arrays)
        m: dict[str, Any] = {"min_cosine_vs_fp32": _min_cosine(reference, outs)}
        if classifier:
            got, ref = _first(outs), _first(reference)
            m["agreement_with_fp32"] = float((got.argmax(1) == ref.argmax(1)).mean())
            m["fp32_accuracy"], m["int8_accuracy"] = _accuracy(ref, part.labels), _accuracy(got, part.labels)
            m["drop_pts"] = (m["fp32_accuracy"] - m["int8_accuracy"] if part.labels is not None
                             else 100.0 * (1.0 - m["agreement_with_fp32"]))
        return m

    def loss(path: Path, full: bool = True) -> float:
        """Classifiers: accuracy drop (or disagreement) in points; others: 1 - worst cosine. Selection data only."""
        m = measure(path, sel, ref_sel) if full else measure(path, sub, ref_sub)
        return m["drop_pts"] if classifier else 1.0 - m["min_cosine_vs_fp32"]

    limit = (budget_pts if budget_pts is not None else np.inf) if classifier else 1.0 - min_cosine
    model = quantize([])
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
        "kept_in_float": [],
    }
    first = loss(model)
    fallback: dict[str, Any] = {"measured_on": "fallback_selection", "plain_int8_loss": first, "limit": float(limit)}
    if first > limit:
        nodes = quantizable_nodes(pre, cfg.op_types)
        ranking = rank_nodes(nodes, lambda n: quantize([], [n]), lambda p: loss(p, full=False))
        result = accuracy_aware(quantize, loss, [n for n, _ in ranking], float(limit))
        model = result.model
        report["kept_in_float"] = result.excluded
        fallback.update(ranking=[{"node": n, "error": e} for n, e in ranking[:10]], attempts=result.attempts)
    report["fallback"] = fallback
    report["selection"] = measure(model, sel, ref_sel)
    report.update(measure(model, held, ref_held))
    report["measured_on"] = "verification"
    return save_onnx(onnx.load(str(model)), dst), report
