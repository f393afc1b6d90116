"""Options of quantization-aware distillation (pydantic only, so ``DistillConfig`` can hold them cheaply)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edgekd.schemas.base import Strict


class QatOptions(Strict):
    """How the student is fake-quantized while it trains against the fp32 teacher."""

    target: str | None = Field(None, description="Target whose int8 types to train for (its `quantization` options); "
                                                 "None: the recipe's target, else cpu-ort-int8.")
    calib_samples: int = Field(256, ge=1, description="Training samples that set the activation ranges before training.")
    observe: float = Field(0.5, ge=0, le=1, description="Share of the training steps during which activation and weight "
                                                        "ranges follow the data (moving average); then they freeze.")
    reduce_range: bool | None = Field(None, description="7-bit weights. None: the target's setting, on by default with "
                                                         "uint8 activations, whose x86 kernels "
                                                         "without VNNI saturate u8*s8 sums (measured: top-1 agreement "
                                                         "with the fake-quant model 88.6% with 8-bit weights, 100% with 7).")


class QuantScheme(Strict):
    """The int8 QDQ format the student is trained in and exported as (per-channel symmetric weights)."""

    activation_type: Literal["uint8", "int8"] = Field("uint8", description="U8S8 is the fast pair on x86 without VNNI.")
    symmetric_activations: bool = Field(False, description="Zero-point 0 activations (TensorRT needs them).")
    per_channel: bool = Field(True, description="One weight scale per output channel.")
    reduce_range: bool = Field(False, description="7-bit weights, against u8*s8 overflow on x86 CPUs without VNNI.")
    narrow_range: bool = Field(False, description="[-127, 127] instead of [-128, 127] for symmetric int8 (TensorRT).")
    quantize_add_inputs: bool = Field(True, description=(
        "Quantize the convolution or linear output that feeds a residual Add, so that ONNX Runtime runs QLinearConv "
        "and QLinearAdd (measured on the digits student: without it three convolutions stayed float and int8 ran at "
        "0.66x fp32 speed at batch 64). TensorRT fuses Conv+Add itself and wants Q/DQ on the residual input only."))


def scheme_for(options: dict[str, object], tensorrt: bool) -> QuantScheme:
    """The scheme for a target's ``int8_options()``; TensorRT gets narrow-range symmetric int8."""
    from edgekd.errors import EdgekdError

    if options.get("weight_type", "int8") != "int8":
        raise EdgekdError("quantization-aware training writes int8 weights; set the target's quantization.weight_type to int8")
    return QuantScheme(activation_type=options["activation_type"], symmetric_activations=bool(options["symmetric_activations"]),
                       per_channel=bool(options.get("per_channel", True)), reduce_range=bool(options.get("reduce_range")),
                       narrow_range=tensorrt, quantize_add_inputs=not tensorrt)
