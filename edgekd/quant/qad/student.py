"""The distillation side of QAD: turn a float student into a fake-quantized one, and save it as a QAD checkpoint."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from edgekd.errors import EdgekdError
from edgekd.quant.qad.config import QatOptions, QuantScheme, scheme_for

DEFAULT_TARGET = "cpu-ort-int8"


def target_scheme(target: str | None, reduce_range: bool | None = None) -> QuantScheme:
    """The int8 scheme of ``target`` (name or YAML path; None: cpu-ort-int8) from its ``quantization`` options.

    ``reduce_range`` None: the target's (``Target.int8_options``: on with uint8 activations; see QatOptions).
    """
    from edgekd.targets import get_target

    tgt = get_target(target or DEFAULT_TARGET)
    opts = tgt.int8_options()
    if reduce_range is not None:
        opts["reduce_range"] = reduce_range
    return scheme_for(opts, tgt.runtime == "tensorrt")


def quantized_student(model: nn.Module, feature_paths: list[str], x: torch.Tensor, options: QatOptions, epochs: int,
                      batch_size: int, world_size: int, resume: bool) -> tuple[nn.Module, QuantScheme]:
    """A ``QatStudent`` for the float ``model`` trained on ``x`` (N, ...), calibrated unless ``resume``.

    ``feature_paths`` are the module paths the losses tap: a captured graph has no modules to hook, so they are refused.
    """
    if feature_paths:
        raise EdgekdError(f"losses that tap features ({', '.join(feature_paths)}) cannot train an int8 student; "
                          "use logit losses (ce, kd, dkd, dist, tskd) with --quantize int8")
    try:
        from edgekd.quant.qad.fakequant import qat_student
    except ImportError as err:
        raise EdgekdError(f"int8 training needs torchao ({err}); pip install 'edgekd[qat]'") from None

    scheme = target_scheme(options.target, options.reduce_range)
    steps = epochs * math.ceil(math.ceil(len(x) / world_size) / batch_size)
    return qat_student(model.cpu(), x, scheme, steps, options.observe, None if resume else options.calib_samples), scheme


def qad_saver(scheme: QuantScheme, arch: dict[str, Any], input_shape: tuple[int, ...] | None) -> Callable[[nn.Module, Path], Any]:
    """``save(student, path)`` writing a QAD checkpoint of a ``QatStudent``."""
    from edgekd.quant.qad.checkpoint import save_qad

    def save(student: nn.Module, path: Path) -> Any:
        return save_qad(getattr(student, "net", student), arch, scheme, path, input_shape)

    return save
