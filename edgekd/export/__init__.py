"""Compile: models to verified ONNX for a target."""

from edgekd.export.compile import CompileResult, compile
from edgekd.export.onnx_export import export_onnx, io_signature
from edgekd.export.verify import Tolerance, verify_outputs

__all__ = ["CompileResult", "Tolerance", "compile", "export_onnx", "io_signature", "verify_outputs"]
