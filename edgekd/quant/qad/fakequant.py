"""Fake quantization with the semantics of the deployed QDQ ONNX, through PyTorch's PT2E QAT flow (torchao).

The student's BatchNorms are folded into its convolutions first (trained statistics, so nothing is lost), the
model is captured with ``torch.export`` (strict, dynamic batch), and torchao's ``prepare_qat_pt2e`` inserts fake
quantizers where ``X86InductorQuantizer`` annotates: per-channel symmetric int8 weights, per-tensor activations
(uint8 affine for ONNX Runtime on x86, int8 symmetric for TensorRT).
"""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

from edgekd.errors import EdgekdError
from edgekd.quant.qad.config import QuantScheme

for _name in ("torchao", "torch.utils._pytree"):
    logging.getLogger(_name).setLevel(logging.ERROR)

from torchao.quantization.pt2e import (  # noqa: E402  (after quieting torchao's import-time warnings)
    FusedMovingAvgObsFakeQuantize,
    MovingAverageMinMaxObserver,
    MovingAveragePerChannelMinMaxObserver,
    allow_exported_model_train_eval,
    disable_fake_quant,
    disable_observer,
    enable_fake_quant,
    enable_observer,
)
from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e  # noqa: E402
from torchao.quantization.pt2e.quantizer import QuantizationConfig, QuantizationSpec  # noqa: E402
from torchao.quantization.pt2e.quantizer.quantizer import Q_ANNOTATION_KEY as QUANT_ANNOTATION_KEY  # noqa: E402
from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import X86InductorQuantizer  # noqa: E402

EPS = 2**-12  # smallest scale, as torchao's x86 config


def quantization_config(scheme: QuantScheme) -> QuantizationConfig:
    """torchao QAT config for ``scheme``: moving-average observers fused with fake quantization."""
    if scheme.activation_type == "uint8" and scheme.symmetric_activations:
        raise EdgekdError("symmetric activations need activation_type int8 (uint8 is affine); fix the target's quantization")
    if scheme.activation_type == "uint8":
        act_range, act_q = (0, 255), torch.per_tensor_affine
    else:
        act_range = (-127 if scheme.narrow_range else -128, 127)
        act_q = torch.per_tensor_symmetric if scheme.symmetric_activations else torch.per_tensor_affine
    act = QuantizationSpec(dtype=torch.uint8 if scheme.activation_type == "uint8" else torch.int8,
                           quant_min=act_range[0], quant_max=act_range[1], qscheme=act_q, is_dynamic=False,
                           observer_or_fake_quant_ctr=FusedMovingAvgObsFakeQuantize.with_args(
                               observer=MovingAverageMinMaxObserver, eps=EPS))
    w_range = (-64, 63) if scheme.reduce_range else (-127 if scheme.narrow_range else -128, 127)
    weight = QuantizationSpec(dtype=torch.int8, quant_min=w_range[0], quant_max=w_range[1],
                              qscheme=torch.per_channel_symmetric if scheme.per_channel else torch.per_tensor_symmetric,
                              ch_axis=0, is_dynamic=False,
                              observer_or_fake_quant_ctr=FusedMovingAvgObsFakeQuantize.with_args(
                                  observer=MovingAveragePerChannelMinMaxObserver if scheme.per_channel
                                  else MovingAverageMinMaxObserver, eps=EPS))
    return QuantizationConfig(act, act, weight, None, True)


class OrtX86Quantizer(X86InductorQuantizer):
    """torchao's x86 annotations, plus a quantized output on every convolution or linear that feeds an Add.

    Inductor fuses the Add into the convolution and leaves that output in float; ONNX Runtime fuses a QDQ
    convolution into QLinearConv, and the Add into QLinearAdd, only when every input and output is quantized.
    """

    def annotate(self, model: torch.fx.GraphModule) -> torch.fx.GraphModule:
        model = super().annotate(model)
        adds = (torch.ops.aten.add.Tensor, torch.ops.aten.add_.Tensor)
        producers = (torch.ops.aten.conv2d.default, torch.ops.aten.linear.default)
        for node in model.graph.nodes:
            if node.target not in adds:
                continue
            for arg in node.args:
                note = arg.meta.get(QUANT_ANNOTATION_KEY) if isinstance(arg, torch.fx.Node) else None
                if note is not None and arg.target in producers and note.output_qspec is None:
                    note.output_qspec = self.global_config.output_activation
        return model


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (eval statistics) with every Conv -> BatchNorm pair folded into the convolution."""
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return model
    from torch.fx.experimental.optimization import fuse

    try:
        return fuse(model.eval())
    except Exception as err:  # symbolic tracing raises many types on data-dependent control flow
        raise EdgekdError(f"cannot fold BatchNorm of {type(model).__name__} for int8 training: {str(err).splitlines()[0]}") from None


def prepare(model: nn.Module, example: torch.Tensor, scheme: QuantScheme) -> torch.fx.GraphModule:
    """``model`` (N, ...) -> a GraphModule with fake quantizers; ``.train()``/``.eval()`` work on it."""
    folded = fold_batchnorm(model).train()
    batch = torch.export.Dim("batch", min=1, max=4096)
    try:
        program = torch.export.export(folded, (example,), dynamic_shapes=({0: batch},), strict=True)
    except Exception as err:  # torch.export raises many types
        raise EdgekdError(f"torch.export of {type(model).__name__} for int8 training failed: {str(err).splitlines()[0]}") from None
    quantizer = OrtX86Quantizer() if scheme.quantize_add_inputs else X86InductorQuantizer()
    quantizer.set_global(quantization_config(scheme))
    net = prepare_qat_pt2e(program.module(), quantizer)
    allow_exported_model_train_eval(net)
    return net


class QatStudent(nn.Module):
    """A fake-quantized student: ranges follow the data for ``observe_steps`` training steps, then freeze.

    The step count is a buffer, so a resumed run freezes at the same step. Evaluation never moves the ranges.
    Input (N, ...) as the float student; output its logits.
    """

    def __init__(self, net: torch.fx.GraphModule, observe_steps: int) -> None:
        super().__init__()
        self.net, self.observe_steps = net, observe_steps
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def train(self, mode: bool = True) -> "QatStudent":
        super().train(mode)
        self.net.apply(enable_observer if mode and int(self.steps) < self.observe_steps else disable_observer)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            if int(self.steps) == self.observe_steps:
                self.net.apply(disable_observer)
            self.steps += 1
        return self.net(x)


@torch.no_grad()
def calibrate(net: torch.fx.GraphModule, x: torch.Tensor, samples: int, batch: int = 64) -> None:
    """Set the ranges from the first ``samples`` of ``x`` (N, ...) with fake quantization off, then turn it on."""
    net.eval()
    net.apply(disable_fake_quant)
    net.apply(enable_observer)
    device = next(net.parameters()).device
    for i in range(0, min(samples, len(x)), batch):
        net(x[i : min(i + batch, samples)].to(device))
    net.apply(enable_fake_quant)
    net.apply(disable_observer)


def qat_student(model: nn.Module, x: torch.Tensor, scheme: QuantScheme, total_steps: int, observe: float,
                calib_samples: int | None) -> QatStudent:
    """Prepare ``model`` on example rows of ``x`` (N, ...), calibrate on ``calib_samples`` (None: skip, e.g. resume)."""
    net = prepare(model, x[:2], scheme)
    if calib_samples:
        calibrate(net, x, calib_samples)
    return QatStudent(net, math.ceil(observe * total_steps))
