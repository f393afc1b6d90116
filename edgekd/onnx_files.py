"""Model files on disk: the model and every file it needs beside it (ONNX external data, a TensorRT engine's sidecar).

Shared by compile (which moves a model with its data into place) and profile (which sizes them and copies them to a
device). onnx is imported only to read an ONNX file's external-data references.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from edgekd.errors import EdgekdError
from edgekd.trt_sidecar import ENGINE_SUFFIXES, sidecar_path

if TYPE_CHECKING:
    import onnx


def model_files(model: str | Path) -> list[Path]:
    """The model file first, then what it needs: for ONNX the external-data files it references (relative to it),
    for a TensorRT engine its sidecar JSON (which the loader requires)."""
    model = Path(model)
    if model.suffix in ENGINE_SUFFIXES:
        side = sidecar_path(model)
        if not side.is_file():
            raise EdgekdError(f"{model} has no sidecar {side.name}; rebuild the engine with edgekd compile")
        return [model, side]
    if model.suffix != ".onnx":
        return [model]
    import onnx

    try:
        proto = onnx.load(str(model), load_external_data=False)
    except Exception as err:  # protobuf raises DecodeError and others
        raise EdgekdError(f"{model} is not a readable ONNX file ({type(err).__name__}); re-export it") from None
    found: list[Path] = []
    for tensor in _tensors(proto.graph):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            loc = next((e.value for e in tensor.external_data if e.key == "location"), None)
            path = model.parent / loc if loc else None
            if path and path not in found:
                if not path.is_file():
                    raise EdgekdError(f"{model} references external data {loc}, which is missing beside it")
                found.append(path)
    return [model, *found]


def _tensors(graph: onnx.GraphProto) -> list[onnx.TensorProto]:
    """Initializers and tensor attributes of ``graph`` and its subgraphs."""
    out = list(graph.initializer)
    for node in graph.node:
        for attr in node.attribute:
            out += ([attr.t] if attr.HasField("t") else []) + list(attr.tensors)
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                out += _tensors(sub)
    return out
