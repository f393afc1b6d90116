"""Source: a quantization-aware (QAD) checkpoint; exported as QDQ ONNX with its learned scales, never recalibrated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from edgekd.export.sources.base import SOURCES, InputSpec, Source, SourceOptions, torch_reference
from edgekd.quant.calibration import Arrays
from edgekd.quant.qad.checkpoint import is_qad


@SOURCES.register("qad")
class QadSource:
    """The fake-quantized student is converted (int8 weight constants, Q/DQ ops) and that program is the reference."""

    quantized = True

    @staticmethod
    def matches(path: Path, opts: SourceOptions) -> bool:
        return path.suffix == ".safetensors" and opts.factory is None and is_qad(path)

    @staticmethod
    def load(path: Path, opts: SourceOptions, work: Path) -> Source:
        from edgekd.quant.qad.checkpoint import load_qad
        from edgekd.quant.qad.export import converted_program, export_float, float_ops, layer_diffs

        net, arch, scheme, shape = load_qad(path)
        program = converted_program(net, torch.zeros((2, *shape)))

        def report(model: Path, inputs: Arrays) -> dict[str, Any]:
            import onnx

            graph = onnx.load(str(model), load_external_data=False).graph
            return {"method": "quantization-aware training: learned scales kept, nothing recalibrated", "format": "QDQ",
                    "scheme": scheme.model_dump(), "arch": arch.get("name"),
                    "quantize_linear": sum(n.op_type == "QuantizeLinear" for n in graph.node),
                    "kept_in_float": float_ops(model), "layers": layer_diffs(program, model, inputs)}

        return Source("qad", path.name.removesuffix(".safetensors"), [InputSpec("input", tuple(shape))],
                      torch_reference(program.module(), ["logits"]), against="pytorch-int8-simulation", module=program,
                      notes=["int8 scales learned during quantization-aware distillation; no calibration data used"],
                      quantization=report, float_twin=lambda dst: export_float(net, torch.zeros((2, *shape)), dst))
