"""Compile: models to verified ONNX (fp32, fp16, int8) and TensorRT engines for a target.

Names load on first use, so the tolerances (``verify``) and the checks made before torch loads (``checks``) stay
light. Compiling is ``edgekd.compile`` (here ``compile`` is the submodule of that name).
"""

from __future__ import annotations

from edgekd.lazy import lazy_names

EXPORTS: dict[str, str] = {
    "TOLERANCES": "edgekd.export.verify:TOLERANCES",
    "CompileResult": "edgekd.export.compile:CompileResult",
    "Tolerance": "edgekd.export.verify:Tolerance",
    "export_onnx": "edgekd.export.onnx_export:export_onnx",
    "io_signature": "edgekd.export.onnx_export:io_signature",
    "ort_run": "edgekd.export.runtime:ort_run",
    "run_outputs": "edgekd.export.runtime:run_outputs",
    "verify_outputs": "edgekd.export.verify:verify_outputs",
}

__all__ = sorted(EXPORTS)

__getattr__, __dir__ = lazy_names(__name__, EXPORTS)
