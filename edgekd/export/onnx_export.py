"""PyTorch -> ONNX: dynamic batch axis, onnxslim, onnx.checker, external data past 2 GB; and I/O signatures."""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Sequence

import onnx
import torch
from torch import nn

from edgekd.errors import EdgekdError
from edgekd.fsutil import atomic_path
from edgekd.schemas import TensorSpec

TWO_GB = 2**31


def _dtype_name(elem_type: int) -> str:
    return onnx.helper.tensor_dtype_to_np_dtype(elem_type).name


def _shape(value_info: onnx.ValueInfoProto) -> list[int | str | None]:
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in dims]


def io_signature(model: str | Path | onnx.ModelProto) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """Inputs and outputs of an ONNX model: names, shapes (str for symbolic axes), numpy dtype names."""
    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model), load_external_data=False)
    inits = {i.name for i in proto.graph.initializer}
    spec = lambda v: TensorSpec(name=v.name, shape=_shape(v), dtype=_dtype_name(v.type.tensor_type.elem_type))  # noqa: E731
    return [spec(v) for v in proto.graph.input if v.name not in inits], [spec(v) for v in proto.graph.output]


def save_onnx(proto: onnx.ModelProto, path: str | Path, external_threshold: int = TWO_GB) -> list[Path]:
    """Check and save ``proto`` atomically; weights go to ``<path>.data`` when it is over ``external_threshold`` bytes.

    Returns the files written (the model, then its data file if any).
    """
    path = Path(path)
    large = proto.ByteSize() > external_threshold
    data = path.with_name(path.name + ".data")
    if large:
        data.unlink(missing_ok=True)
    with atomic_path(path) as tmp:
        onnx.save_model(proto, str(tmp), save_as_external_data=large, all_tensors_to_one_file=True,
                        location=data.name, size_threshold=1024)
        onnx.checker.check_model(str(tmp), full_check=not large)
    return [path, data] if large else [path]


def export_onnx(
    model: nn.Module | torch.export.ExportedProgram,
    example: torch.Tensor | Sequence[torch.Tensor],
    path: str | Path,
    opset: int = 18,
    dynamic_batch: bool = True,
    input_names: Sequence[str] = ("input",),
    output_names: Sequence[str] = ("logits",),
    simplify: bool = True,
    external_threshold: int = TWO_GB,
) -> list[Path]:
    """Export ``model`` (eval mode) on ``example`` (each (N, ...)) to ``path``; return the files written.

    Axis 0 of every input is dynamic unless ``dynamic_batch`` is off; an ExportedProgram keeps its own shapes.
    Weights go to ``<path>.data`` when the model exceeds ``external_threshold`` bytes (ONNX's 2 GB limit).
    """
    args = (example,) if isinstance(example, torch.Tensor) else tuple(example)
    program = isinstance(model, torch.export.ExportedProgram)
    if not program:
        model = model.eval()
    batch = torch.export.Dim("batch", min=1, max=4096)
    shapes = tuple({0: batch} for _ in args) if dynamic_batch and not program else None
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="edgekd-export-") as tmp, warnings.catch_warnings(), \
            contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        raw = Path(tmp) / "model.onnx"
        try:
            torch.onnx.export(model, args, str(raw), input_names=list(input_names), output_names=list(output_names),
                              opset_version=opset, dynamic_shapes=shapes, external_data=True, dynamo=True)
        except Exception as err:  # torch.onnx raises many types; report one line
            raise EdgekdError(f"torch.onnx.export failed: {str(err).splitlines()[0]}") from None
        proto = onnx.load(str(raw))
        if simplify and proto.ByteSize() < TWO_GB:
            import onnxslim

            proto = onnxslim.slim(proto)
        return save_onnx(proto, path, external_threshold)
