"""Precision passes over a verified fp32 ONNX model: fp16 conversion and int8 PTQ with accuracy-aware fallback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx

from edgekd.export.onnx_export import save_onnx
from edgekd.export.runtime import run_outputs
from edgekd.quant.calibration import Arrays, take
from edgekd.quant.fallback import accuracy_aware, rank_nodes
from edgekd.quant.ptq import PTQConfig, preprocess, quantizable_nodes, quantize_int8


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
    calib: Arrays,
    evaluate: Arrays,
    labels: np.ndarray | None,
    cfg: PTQConfig,
    budget_pts: float | None,
    work: Path,
    classifier: bool = True,
    min_cosine: float = 0.99,
) -> tuple[list[Path], dict[str, Any]]:
    """Quantize ``fp32`` to QDQ int8 at ``dst``, calibrated on ``calib`` and judged on ``evaluate`` (N, ...).

    Classifiers: the drop is fp32 minus int8 accuracy in points when ``labels`` exist, else top-1 disagreement
    with fp32 in percent, held to ``budget_pts``. Other models: the worst per-sample cosine to fp32 is held to
    ``min_cosine``. Past the budget the most sensitive nodes stay in float until it holds.
    Returns the files written and a report (accuracies, agreement, cosine, calibration, nodes kept in float).
    """
    pre = preprocess(fp32, work / "int8.pre.onnx")
    cache = work / "int8.calibration.json"
    sub = take(evaluate, 0, min(32, len(_first(evaluate))))
    ref_all, ref_sub = run_outputs(fp32, evaluate), run_outputs(fp32, sub)
    ref = _first(ref_all)
    classifier = classifier and _classifier(ref)
    fp32_acc = _accuracy(ref, labels) if classifier else None

    def quantize(excluded: list[str], only: list[str] | None = None) -> Path:
        name = "int8.only.onnx" if only else f"int8.{len(excluded)}.onnx"
        return quantize_int8(pre, work / name, calib, cfg, excluded, cache, only)

    def measure(path: Path, inputs: Arrays, reference: Arrays) -> dict[str, Any]:
        outs = run_outputs(path, inputs)
        got = _first(outs)
        m: dict[str, Any] = {"min_cosine_vs_fp32": _min_cosine(reference, outs)}
        if classifier:
            m["agreement_with_fp32"] = float((got.argmax(1) == _first(reference).argmax(1)).mean())
            m["int8_accuracy"] = _accuracy(got, labels) if inputs is evaluate else None
        return m

    def loss(path: Path, full: bool = True) -> float:
        """Classifiers: accuracy drop in points; others: 1 - worst cosine."""
        m = measure(path, evaluate, ref_all) if full else measure(path, sub, ref_sub)
        if not classifier:
            return 1.0 - m["min_cosine_vs_fp32"]
        if fp32_acc is not None and m.get("int8_accuracy") is not None:
            return fp32_acc - m["int8_accuracy"]
        return 100.0 * (1.0 - m["agreement_with_fp32"])

    limit = (budget_pts if budget_pts is not None else np.inf) if classifier else 1.0 - min_cosine
    model = quantize([])
    report: dict[str, Any] = {"calibration": {"method": cfg.method, "samples": len(_first(calib)),
                                              "per_channel": cfg.per_channel, "format": "QDQ", "op_types": cfg.op_types,
                                              "symmetric_activations": cfg.symmetric_activations},
                              "fp32_accuracy": fp32_acc, "budget_pts": budget_pts if classifier else None,
                              "min_cosine_budget": None if classifier else min_cosine, "kept_in_float": []}
    if loss(model) > limit:
        nodes = quantizable_nodes(pre, cfg.op_types)
        ranking = rank_nodes(nodes, lambda n: quantize([], [n]), lambda p: loss(p, full=False))
        result = accuracy_aware(quantize, loss, [n for n, _ in ranking], float(limit))
        model = result.model
        report["kept_in_float"] = result.excluded
        report["fallback"] = {"ranking": [{"node": n, "error": e} for n, e in ranking[:10]], "attempts": result.attempts}
    report.update(measure(model, evaluate, ref_all))
    if classifier:
        report["drop_pts"] = loss(model)
    return save_onnx(onnx.load(str(model)), dst), report
