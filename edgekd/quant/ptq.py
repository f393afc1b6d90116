"""int8 post-training quantization with ONNX Runtime: QDQ format, per-channel weights, calibrated activations."""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import os
from pathlib import Path
from typing import Iterator, Literal, Sequence

import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from pydantic import Field

from edgekd.errors import EdgekdError
from edgekd.quant.calibration import Arrays, ArrayReader, calibration_method
from edgekd.schemas.base import Strict

TWO_GB = 2**31
_HAS_CACHE = "calibration_cache_path" in inspect.signature(quantize_static).parameters


class PTQConfig(Strict):
    """How ``quantize_int8`` calibrates and rewrites the graph."""

    method: Literal["minmax", "entropy", "percentile"] = Field("minmax", description="Activation range calibration.")
    per_channel: bool = Field(True, description="One weight scale per output channel.")
    symmetric_activations: bool = Field(False, description="Zero-point 0 activations (TensorRT needs this).")
    op_types: list[str] | None = Field(None, description="Op types to quantize; None: every type ORT supports.")
    batch: int = Field(32, ge=1, description="Calibration samples per inference.")
    percentile: float = Field(99.999, gt=90, le=100, description="Percentile for method 'percentile', percent.")


@contextlib.contextmanager
def _quiet(where: Path) -> Iterator[None]:
    """Silence ORT's prints and run in ``where``: its shape inference writes temp files to the working directory."""
    old = os.getcwd()
    logging.getLogger().setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()):
        os.chdir(where)
        try:
            yield
        finally:
            os.chdir(old)


def model_bytes(path: str | Path) -> int:
    """Size of a model with its external data files, bytes."""
    path = Path(path)
    return sum(f.stat().st_size for f in path.parent.glob(f"{path.name}*") if f.is_file())


def preprocess(src: str | Path, dst: str | Path) -> Path:
    """ORT's pre-quantization pass (shape inference + graph optimization); plain shape inference if it fails."""
    src, dst = Path(src).resolve(), Path(dst).resolve()
    large = model_bytes(src) > TWO_GB
    with _quiet(dst.parent):
        try:
            quant_pre_process(str(src), str(dst), save_as_external_data=large, all_tensors_to_one_file=True,
                              external_data_location=f"{dst.name}.data" if large else None)
        except Exception:  # symbolic shape inference fails on some graphs; ORT's own advice is to skip it
            quant_pre_process(str(src), str(dst), skip_symbolic_shape=True, save_as_external_data=large,
                              all_tensors_to_one_file=True, external_data_location=f"{dst.name}.data" if large else None)
    return dst


def quantizable_nodes(path: str | Path, op_types: Sequence[str] | None = None) -> list[str]:
    """Names of the nodes of ``op_types`` (default: every op but Q/DQ) that quantization may rewrite, in order."""
    graph = onnx.load(str(path), load_external_data=False).graph
    keep = (lambda t: t in op_types) if op_types else (lambda t: t not in ("QuantizeLinear", "DequantizeLinear"))
    return [n.name for n in graph.node if n.name and keep(n.op_type)]


def quantize_int8(
    src: str | Path,
    dst: str | Path,
    calib: Arrays | CalibrationDataReader,
    cfg: PTQConfig | None = None,
    exclude: Sequence[str] = (),
    cache: str | Path | None = None,
    only: Sequence[str] | None = None,
) -> Path:
    """Quantize the fp32 ONNX ``src`` (pre-processed) to a QDQ int8 model at ``dst``.

    ``calib`` is named arrays (N, ...) or any reader with ``get_next() -> dict | None``; ``exclude`` names nodes
    kept in float, ``only`` (if given) the sole nodes to quantize; ``cache`` is a JSON file of activation ranges
    reused across calls (computed on first use).
    """
    cfg = cfg or PTQConfig()
    reader = ArrayReader(calib, cfg.batch) if isinstance(calib, dict) else calib
    extra = {"ActivationSymmetric": cfg.symmetric_activations, "WeightSymmetric": True,
             "CalibPercentile": cfg.percentile}
    kwargs = {"calibration_cache_path": str(Path(cache).resolve())} if cache is not None and _HAS_CACHE else {}
    src, dst = Path(src).resolve(), Path(dst).resolve()
    with _quiet(dst.parent):
        try:
            quantize_static(
                str(src), str(dst), reader, quant_format=QuantFormat.QDQ, op_types_to_quantize=cfg.op_types,
                per_channel=cfg.per_channel, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                nodes_to_exclude=list(exclude), nodes_to_quantize=list(only) if only else None,
                calibrate_method=calibration_method(cfg.method),
                use_external_data_format=model_bytes(src) > TWO_GB, extra_options=extra, **kwargs,
            )
        except EdgekdError:
            raise
        except Exception as err:  # ORT raises many types; report one line
            raise EdgekdError(f"int8 quantization of {Path(src).name} failed: {str(err).splitlines()[0]}") from None
    return Path(dst)
