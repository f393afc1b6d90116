"""QAD checkpoints: the fake-quantized student's weights and learned ranges (safetensors), its arch and scheme.

Rebuilt without pickle: the float model from its arch, BatchNorm folded, prepared for QAT with the same scheme,
then the saved tensors (weights, biases, scales, zero points, observer state) loaded over it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from edgekd.errors import EdgekdError
from edgekd.fsutil import atomic_path, write_json
from edgekd.models.checkpoint import ARCH_KEY, SHAPE_KEY, arch_path, read_metadata, sort_metadata
from edgekd.quant.qad.config import QuantScheme

QAD_KEY = "edgekd.qad"


def is_qad(path: str | Path) -> bool:
    """True for a ``.safetensors`` written by ``save_qad``."""
    return Path(path).is_file() and QAD_KEY in read_metadata(path)


def save_qad(net: torch.nn.Module, arch: dict[str, Any], scheme: QuantScheme, path: str | Path,
             input_shape: tuple[int, ...] | None) -> list[Path]:
    """Write ``path`` (the prepared net's tensors + metadata) and its ``.arch.json`` atomically."""
    path = Path(path)
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}  # shared observers: one copy each
    meta = {ARCH_KEY: json.dumps(arch), QAD_KEY: scheme.model_dump_json()}
    if input_shape is not None:
        meta[SHAPE_KEY] = json.dumps(list(input_shape))
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
        sort_metadata(Path(tmp))
    return [path, write_json(arch_path(path), arch)]


def load_qad(path: str | Path) -> tuple[torch.fx.GraphModule, dict[str, Any], QuantScheme, tuple[int, ...]]:
    """(fake-quantized net in eval mode, arch, scheme, one sample's input shape) from a QAD checkpoint."""
    from edgekd.models import build_model
    from edgekd.quant.qad.fakequant import prepare

    meta = read_metadata(path)
    if QAD_KEY not in meta or SHAPE_KEY not in meta:
        raise EdgekdError(f"{path} is not a quantization-aware checkpoint with an input shape; train it with --quantize int8")
    # A scheme written before quantize_add_inputs existed was trained without those quantizers.
    arch, scheme = json.loads(meta[ARCH_KEY]), QuantScheme(**{"quantize_add_inputs": False, **json.loads(meta[QAD_KEY])})
    shape = tuple(json.loads(meta[SHAPE_KEY]))
    dtype = torch.long if arch.get("name") == "bert" else torch.float32
    net = prepare(build_model(arch), torch.zeros((2, *shape), dtype=dtype), scheme)
    try:
        net.load_state_dict(load_file(str(path)))
    except RuntimeError as err:
        raise EdgekdError(f"{path}: tensors do not match a QAT {arch.get('name')!r} model: {str(err).splitlines()[0]}") from None
    net.eval()  # torchao's eval() on a captured graph returns None
    return net, arch, scheme, shape
