"""SmoothQuant for ONNX MatMuls: move activation outliers into the weights before int8, so per-tensor ranges fit.

Xiao et al., "SmoothQuant" (ICML 2023): for a MatMul ``Y = X W`` with X (..., K) and a constant W (K, N), each input
channel k gets a scale ``s_k = max|X_k|**alpha / max_n|W_kn|**(1 - alpha)``; ``Y = (X / s) (s W)`` exactly in float,
but X / s has no outlier channels, so one per-tensor activation scale loses far less. Here X / s is a ``Mul`` by
a constant (K,) vector placed before the MatMuls that read X (one per group sharing X), and W's rows are scaled.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Collection, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from edgekd.export.onnx_export import save_onnx
from edgekd.quant.calibration import Arrays, batches

SCALE_RANGE = (1e-4, 1e4)  # clip of s: a dead channel (max |x| = 0) must not make 1/s infinite


def weighted_matmuls(model: onnx.ModelProto) -> dict[str, list[onnx.NodeProto]]:
    """MatMul nodes whose second input is a constant 2-D initializer, grouped by their activation (first) input."""
    inits = {t.name: t for t in model.graph.initializer}
    groups: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in model.graph.node:
        w = inits.get(node.input[1]) if node.op_type == "MatMul" else None
        if w is not None and len(w.dims) == 2 and w.data_type == onnx.TensorProto.FLOAT and node.input[0] not in inits:
            groups[node.input[0]].append(node)
    return dict(groups)


Stats = tuple[dict[str, np.ndarray], dict[str, np.ndarray]]


def activation_stats(src: str | Path, inputs: Arrays, keep_rows: int = 4, batch: int = 8) -> Stats:
    """Run the fp32 model once over ``inputs`` (N, ...) reading every grouped MatMul activation.

    Returns (absmax, samples): per activation name its per-channel max |x| (K,) over all rows and tokens, and the
    activation of the first ``keep_rows`` rows flattened to (rows * tokens, K) for local error estimates.
    """
    import onnxruntime as ort

    model = onnx.load(str(src))
    names = list(weighted_matmuls(model))
    known = {o.name for o in model.graph.output}
    model.graph.output.extend([helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None)
                               for n in names if n not in known])
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    feeds = [i.name for i in sess.get_inputs()]
    absmax: dict[str, np.ndarray] = {}
    samples: dict[str, list[np.ndarray]] = defaultdict(list)
    seen = 0
    for part in batches(inputs, batch):
        outs = sess.run(names, {k: part[k] for k in feeds})
        for name, x in zip(names, outs):
            flat = np.abs(x.reshape(-1, x.shape[-1]))
            absmax[name] = np.maximum(absmax.get(name, 0.0), flat.max(0))
            if seen < keep_rows:
                samples[name].append(x[: keep_rows - seen].reshape(-1, x.shape[-1]))
        seen += len(next(iter(part.values())))
    return absmax, {k: np.concatenate(v) for k, v in samples.items()}


def smooth_scales(absmax: np.ndarray, weights: list[np.ndarray], alpha: float) -> np.ndarray:
    """s (K,) for one group: ``max|X_k|**alpha / max|W_k|**(1 - alpha)`` over every weight (K, N) reading X."""
    wmax = np.max([np.abs(w).max(1) for w in weights], axis=0)
    s = np.maximum(absmax, 1e-8) ** alpha / np.maximum(wmax, 1e-8) ** (1.0 - alpha)
    return np.clip(s, *SCALE_RANGE).astype(np.float32)


def smooth(src: str | Path, dst: str | Path, absmax: dict[str, np.ndarray], alpha: float,
           skip: Collection[str] = (), only: Collection[str] | None = None) -> dict[str, Any]:
    """Write ``src`` with its grouped MatMuls smoothed at ``alpha`` (0: weights keep the range, 1: activations
    are flattened entirely) to ``dst``: every group, or those whose activation is in ``only``; a group whose
    MatMuls are all in ``skip`` (kept in float) stays as it is. Float outputs are unchanged up to rounding."""
    model = onnx.load(str(src))
    inits = {t.name: t for t in model.graph.initializer}
    muls: list[tuple[onnx.NodeProto, onnx.NodeProto]] = []
    for x, nodes in weighted_matmuls(model).items():
        if x not in absmax or all(n.name in skip for n in nodes) or (only is not None and x not in only):
            continue
        weights = [numpy_helper.to_array(inits[n.input[1]]) for n in nodes]
        s = smooth_scales(absmax[x], weights, alpha)
        inv = numpy_helper.from_array((1.0 / s).astype(np.float32), f"{x}_smooth_inv")
        model.graph.initializer.append(inv)
        y = f"{x}_smoothed"
        muls.append((nodes[0], helper.make_node("Mul", [x, inv.name], [y], name=f"{x}_smooth")))
        for node, w in zip(nodes, weights):
            inits[node.input[1]].CopyFrom(numpy_helper.from_array((w * s[:, None]).astype(np.float32), node.input[1]))
            node.input[0] = y
    order = list(model.graph.node)
    for first, mul in muls:
        order.insert(order.index(first), mul)
    del model.graph.node[:]
    model.graph.node.extend(order)
    save_onnx(model, dst)
    return {"alpha": alpha, "groups": len(muls), "matmuls": sum(len(v) for v in weighted_matmuls(model).values())}


def _fake_quant(x: np.ndarray, scale: np.ndarray, zero: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return (np.clip(np.round(x / scale) + zero, lo, hi) - zero) * scale


def simulated_errors(x: np.ndarray, weights: list[np.ndarray], reduce_range: bool, per_channel: bool) -> list[float]:
    """Relative error ||Q(X) Q(W) - X W|| / ||X W|| of dynamic int8 for activations ``x`` (M, K) and each (K, N)
    weight: X quantized as DynamicQuantizeLinear does (uint8, per tensor, range including 0), W to symmetric
    int8 (per output column if ``per_channel``; 7-bit if ``reduce_range``)."""
    qmax = 63 if reduce_range else 127
    x = x.astype(np.float32)
    lo, hi = min(0.0, float(x.min())), max(0.0, float(x.max()))
    scale = max(hi - lo, 1e-12) / 255.0
    xq = _fake_quant(x, np.float32(scale), np.float32(np.round(-lo / scale)), 0, 255)
    errors = []
    for w in weights:
        w = w.astype(np.float32)
        wscale = (np.maximum(np.abs(w).max(0) if per_channel else np.abs(w).max(), 1e-12) / qmax).astype(np.float32)
        y = x @ w
        errors.append(float(np.linalg.norm(xq @ _fake_quant(w, wscale, 0, -qmax - 1, qmax) - y)
                            / max(float(np.linalg.norm(y)), 1e-12)))
    return errors


def local_errors(src: str | Path, samples: dict[str, np.ndarray], reduce_range: bool,
                 per_channel: bool) -> dict[str, float]:
    """``simulated_errors`` of each grouped MatMul of ``src`` alone, most sensitive first; ``samples`` are
    activations (M, K) by name from ``activation_stats`` of the same model. A ranking without quantizing a model."""
    model = onnx.load(str(src))
    inits = {t.name: t for t in model.graph.initializer}
    errors: dict[str, float] = {}
    for x_name, nodes in weighted_matmuls(model).items():
        if x_name in samples:
            weights = [numpy_helper.to_array(inits[n.input[1]]) for n in nodes]
            errors.update(zip((n.name for n in nodes), simulated_errors(samples[x_name], weights, reduce_range, per_channel)))
    return dict(sorted(errors.items(), key=lambda kv: -kv[1]))


def worth_smoothing(src: str | Path, absmax: dict[str, np.ndarray], samples: dict[str, np.ndarray],
                    alphas: Sequence[float], reduce_range: bool, per_channel: bool,
                    min_gain: float = 0.2) -> dict[float, set[str]]:
    """Per alpha, the groups (by activation name) whose mean simulated int8 error smoothing cuts by at least
    ``min_gain`` (a fraction): each of the others would cost a ``Mul`` and gain little or nothing."""
    model = onnx.load(str(src))
    inits = {t.name: t for t in model.graph.initializer}
    keep: dict[float, set[str]] = {a: set() for a in alphas}
    for x_name, nodes in weighted_matmuls(model).items():
        if x_name not in samples or x_name not in absmax:
            continue
        x, weights = samples[x_name], [numpy_helper.to_array(inits[n.input[1]]) for n in nodes]
        before = np.mean(simulated_errors(x, weights, reduce_range, per_channel))
        for alpha in alphas:
            s = smooth_scales(absmax[x_name], weights, alpha)
            after = np.mean(simulated_errors(x / s, [w * s[:, None] for w in weights], reduce_range, per_channel))
            if after <= (1.0 - min_gain) * before:
                keep[alpha].add(x_name)
    return keep
