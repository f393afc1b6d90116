"""Quantization-aware distillation: int8 fake-quantized students trained against the fp32 teacher.

``config`` (options, light); ``fakequant`` (torchao PT2E QAT), ``checkpoint`` and ``export`` (QDQ ONNX, parity)
load torch and torchao, so import them where they are used.
"""

from edgekd.quant.qad.config import QatOptions, QuantScheme, scheme_for

__all__ = ["QatOptions", "QuantScheme", "scheme_for"]
