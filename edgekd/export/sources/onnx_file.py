"""Source: an existing ``.onnx`` model; the fp32 model itself, run by ONNX Runtime, is the reference."""

from __future__ import annotations

from pathlib import Path

from edgekd.export.onnx_export import io_signature
from edgekd.export.runtime import run_outputs
from edgekd.export.sources.base import SOURCES, InputSpec, Source, SourceOptions

SEQUENCE = 16


def onnx_inputs(path: Path, vocab: int | None = None, sequence: int = SEQUENCE) -> list[InputSpec]:
    """Input specs of an ONNX model; symbolic non-batch axes become ``sequence`` long."""
    ins, _ = io_signature(path)
    specs = []
    for t in ins:
        shape = tuple(d if isinstance(d, int) and d > 0 else sequence for d in t.shape[1:])
        high = (vocab or 100) if "ids" in t.name and t.name != "token_type_ids" else (2 if "int" in t.dtype else None)
        specs.append(InputSpec(t.name, shape, t.dtype, high))
    return specs


@SOURCES.register("onnx")
class OnnxSource:
    """The model is copied (or converted) as-is; verification compares against the source model in fp32."""

    @staticmethod
    def matches(path: Path, opts: SourceOptions) -> bool:
        return path.suffix == ".onnx"

    @staticmethod
    def load(path: Path, opts: SourceOptions, work: Path) -> Source:
        _, outs = io_signature(path)
        return Source("onnx", path.name.removesuffix(".onnx"), onnx_inputs(path),
                      lambda inputs: run_outputs(path, inputs), against="onnx-fp32", onnx=path,
                      output_names=[o.name for o in outs])
