"""TensorRT compatibility lint of an ONNX graph; pure ``onnx``, so it runs where TensorRT is not installed.

The rules follow onnx-tensorrt's operator support matrix for TensorRT 10 (opsets 9-20; ops marked unsupported;
Q/DQ zero points must be 0) and its data-type notes (no string/complex/16-bit-int/unsigned>8-bit tensors;
DOUBLE cast down; INT64 supported but often slower or cast down to INT32).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, Mapping, Sequence

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

UNSUPPORTED_OPS = frozenset({
    "BitShift", "Col2Im", "ConcatFromSequence", "ConvInteger", "Det", "DynamicQuantizeLinear", "MatMulInteger",
    "MaxRoiPool", "Multinomial", "NegativeLogLikelihoodLoss", "Optional", "OptionalGetElement", "OptionalHasElement",
    "QLinearConv", "QLinearMatMul", "SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase",
    "SequenceInsert", "SequenceLength", "SequenceMap", "SoftmaxCrossEntropyLoss", "SplitToSequence",
    "StringConcat", "StringNormalizer", "StringSplit", "TfIdfVectorizer", "Unique",
})
REJECTED_DTYPES = {TensorProto.STRING: "STRING", TensorProto.COMPLEX64: "COMPLEX64", TensorProto.COMPLEX128: "COMPLEX128",
                   TensorProto.INT16: "INT16", TensorProto.UINT16: "UINT16", TensorProto.UINT32: "UINT32",
                   TensorProto.UINT64: "UINT64"}
OPSETS = (9, 20)
BIG_INT64 = 1024

Profile = tuple[Sequence[int], Sequence[int], Sequence[int]]


@dataclass
class Finding:
    """One lint result: ``error`` stops an engine build, ``warning`` is worth a look."""

    severity: Literal["error", "warning"]
    code: str
    message: str
    node: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _dims(v: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in v.type.tensor_type.shape.dim]


def _check_profiles(graph: onnx.GraphProto, inits: set[str], profiles: Mapping[str, Profile]) -> list[Finding]:
    found = []
    for v in graph.input:
        if v.name in inits:
            continue
        dims = _dims(v)
        dynamic = [i for i, d in enumerate(dims) if not isinstance(d, int) or d <= 0]
        if not dynamic:
            continue
        prof = profiles.get(v.name)
        if prof is None:
            found.append(Finding("error", "dynamic-without-profile",
                                 f"input {v.name!r} has dynamic axes {dynamic} ({dims}) but no optimization profile; "
                                 "give min/opt/max shapes or export with --static"))
            continue
        lo, opt, hi = (list(s) for s in prof)
        if not (len(lo) == len(opt) == len(hi) == len(dims)):
            found.append(Finding("error", "profile-rank", f"profile for {v.name!r} has the wrong rank for shape {dims}"))
        elif any(not (a <= b <= c) for a, b, c in zip(lo, opt, hi)):
            found.append(Finding("error", "profile-order", f"profile for {v.name!r} needs min <= opt <= max per axis"))
        elif any(isinstance(d, int) and d > 0 and not (a == b == c == d) for d, a, b, c in zip(dims, lo, opt, hi)):
            found.append(Finding("error", "profile-static-axis", f"profile for {v.name!r} changes a fixed axis of {dims}"))
    return found


def lint(model: str | Path | onnx.ModelProto, profiles: Mapping[str, Profile] | None = None) -> list[Finding]:
    """Findings for building ``model`` with TensorRT, errors first.

    ``profiles`` maps input names to (min, opt, max) full shapes; every input with a dynamic axis needs one.
    """
    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model), load_external_data=False)
    graph, found = proto.graph, []
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is not None and not OPSETS[0] <= opset <= OPSETS[1]:
        found.append(Finding("warning" if opset > OPSETS[1] else "error", "opset",
                             f"opset {opset} is outside the range TensorRT 10's ONNX parser documents ({OPSETS[0]}-{OPSETS[1]})"))
    for node in graph.node:
        if node.domain not in ("", "ai.onnx"):
            found.append(Finding("error", "custom-domain", f"{node.op_type} from domain {node.domain!r} has no TensorRT "
                                 "importer (ORT contrib op?); compile for TensorRT without ORT-specific fusions", node.name))
        elif node.op_type in UNSUPPORTED_OPS:
            found.append(Finding("error", "unsupported-op", f"{node.op_type} is not supported by TensorRT's ONNX parser", node.name))
    inits = {t.name for t in graph.initializer}
    for t in graph.initializer:
        if t.data_type in REJECTED_DTYPES:
            found.append(Finding("error", "dtype",
                                 f"initializer {t.name!r} is {REJECTED_DTYPES[t.data_type]}, which TensorRT rejects"))
        elif t.data_type == TensorProto.DOUBLE:
            found.append(Finding("warning", "double", f"initializer {t.name!r} is DOUBLE; TensorRT casts it to FLOAT"))
        elif t.data_type == TensorProto.INT64 and int(np.prod(t.dims)) > BIG_INT64:
            found.append(Finding("warning", "int64-weights", f"initializer {t.name!r} holds {int(np.prod(t.dims))} "
                                 "INT64 values; TensorRT casts them to INT32 (store them as INT32)"))
    for v in [*graph.input, *graph.output, *graph.value_info]:
        elem = v.type.tensor_type.elem_type
        if elem in REJECTED_DTYPES:
            found.append(Finding("error", "dtype", f"tensor {v.name!r} is {REJECTED_DTYPES[elem]}, which TensorRT rejects"))
    for v in [*graph.input, *graph.output]:
        if v.name not in inits and v.type.tensor_type.elem_type == TensorProto.INT64:
            found.append(Finding("warning", "int64-io", f"{v.name!r} is INT64 at the engine boundary; INT32 I/O avoids "
                                 "casts on the GPU (e.g. token ids)"))
    const = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and len(node.input) > 2 and node.input[2] in const:
            if np.any(numpy_helper.to_array(const[node.input[2]]) != 0):
                found.append(Finding("error", "qdq-zero-point", f"{node.op_type} has a non-zero zero point; TensorRT needs "
                                     "symmetric int8 (quantize with symmetric activations)", node.name))
    found += _check_profiles(graph, inits, profiles or {})
    return sorted(found, key=lambda f: f.severity != "error")
