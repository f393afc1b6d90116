"""PyTorch -> ONNX with a dynamic batch axis, checked by onnx.checker and simplified by onnxslim."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from edgekd.errors import EdgekdError
from edgekd.fsutil import atomic_path
from edgekd.schemas import TensorSpec

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


def export_onnx(
    model: nn.Module,
    example: torch.Tensor,
    path: str | Path,
    opset: int = 18,
    dynamic_batch: bool = True,
    input_name: str = "input",
    output_name: str = "logits",
    simplify: bool = True,
) -> Path:
    """Export ``model`` (eval mode) traced on ``example`` (N, ...) to a single ``.onnx`` file, atomically."""
    path = Path(path)
    model = model.eval()
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    shapes = ({0: torch.export.Dim("batch", min=1, max=4096)},) if dynamic_batch else None
    with atomic_path(path) as tmp, warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                model, (example,), str(tmp), input_names=[input_name], output_names=[output_name],
                opset_version=opset, dynamic_shapes=shapes, external_data=False, dynamo=True,
            )
        except Exception as err:  # torch.onnx raises many types; report one line
            raise EdgekdError(f"torch.onnx.export failed: {str(err).splitlines()[0]}") from None
        proto = onnx.load(str(tmp))
        if simplify:
            import onnxslim

            proto = onnxslim.slim(proto)
        onnx.checker.check_model(proto, full_check=True)
        onnx.save(proto, str(tmp))
    return path
