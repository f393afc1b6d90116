"""Compile: models to verified ONNX (fp32, fp16, int8) and TensorRT engines for a target."""

from edgekd.export.compile import CompileResult, compile
from edgekd.export.onnx_export import export_onnx, io_signature
from edgekd.export.runtime import ort_run, run_outputs
from edgekd.export.verify import TOLERANCES, Tolerance, verify_outputs

__all__ = ["TOLERANCES", "CompileResult", "Tolerance", "compile", "export_onnx", "io_signature", "ort_run",
           "run_outputs", "verify_outputs"]
