"""int8 post-training quantization with ONNX Runtime: QDQ static (calibrated) and dynamic, types from the target."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterator, Literal, Sequence

import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static
from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data
from onnxruntime.quantization.shape_inference import quant_pre_process
from pydantic import Field

from edgekd.errors import EdgekdError
from edgekd.quant.calibration import Arrays, ArrayReader, calibration_method
from edgekd.schemas.base import Strict

TWO_GB = 2**31
MIN_OPSET = 13  # per-channel QuantizeLinear/DequantizeLinear (axis attribute) needs opset 13
TYPES = {"int8": QuantType.QInt8, "uint8": QuantType.QUInt8}


class PTQConfig(Strict):
    """How ``quantize_int8`` calibrates and rewrites the graph (the type fields come from the target)."""

    method: Literal["minmax", "entropy", "percentile"] = Field("minmax", description="Activation range calibration.")
    activation_type: Literal["uint8", "int8"] = Field("uint8", description="Activation integer type (U8S8 vs S8S8).")
    weight_type: Literal["int8", "uint8"] = Field("int8", description="Weight integer type.")
    per_channel: bool = Field(True, description="One weight scale per output channel.")
    symmetric_activations: bool = Field(False, description="Zero-point 0 activations (TensorRT needs this).")
    symmetric_weights: bool = Field(True, description="Zero-point 0 weights.")
    reduce_range: bool = Field(False, description="7-bit weights: avoids u8*s8 saturation on x86 without VNNI.")
    op_types: list[str] | None = Field(None, description="Op types to quantize; None: every type ORT supports.")
    batch: int = Field(32, ge=1, description="Calibration samples per inference.")
    percentile: float = Field(99.999, gt=90, le=100, description="Percentile for method 'percentile', percent.")
    num_bins: int = Field(2048, ge=16, description="Histogram bins of the entropy and percentile calibrators.")
    num_quantized_bins: int = Field(128, ge=8, description="Entropy: bins of the quantized distribution (KL search).")

    def calibrator_options(self) -> dict[str, object]:
        """``extra_options`` for ORT's ``create_calibrator``: symmetric ranges, bins and percentile per method."""
        opts: dict[str, object] = {"symmetric": self.symmetric_activations}
        if self.method == "entropy":
            opts.update(num_bins=self.num_bins, num_quantized_bins=self.num_quantized_bins)
        elif self.method == "percentile":
            opts.update(num_bins=self.num_bins, percentile=self.percentile)
        return opts


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


def normalize(src: str | Path, dst: str | Path) -> tuple[Path, list[str]]:
    """Bring an older-layout ONNX model into the form ORT's quantizer needs; returns (model, what changed).

    Initializers also listed among the graph inputs (the pre-IR-4 layout of many model-zoo files) are removed
    from the inputs, and an opset below 13 is upgraded with ``onnx.version_converter``. A model needing neither
    is returned unchanged (``src``).
    """
    proto = onnx.load(str(src))
    changes: list[str] = []
    inits = {t.name for t in proto.graph.initializer}
    kept = [i for i in proto.graph.input if i.name not in inits]
    if len(kept) != len(proto.graph.input):
        changes.append(f"removed {len(proto.graph.input) - len(kept)} initializers from the graph inputs")
        del proto.graph.input[:]
        proto.graph.input.extend(kept)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), MIN_OPSET)
    if opset < MIN_OPSET:
        from onnx import version_converter

        try:
            proto = version_converter.convert_version(proto, MIN_OPSET)
        except Exception as err:  # the converter raises bare RuntimeErrors per op
            raise EdgekdError(f"{Path(src).name}: cannot upgrade opset {opset} to {MIN_OPSET} for int8: "
                              f"{str(err).splitlines()[0]}; re-export the model at opset >= {MIN_OPSET}") from None
        changes.append(f"upgraded opset {opset} -> {MIN_OPSET}")
    if not changes:
        return Path(src), changes
    large = proto.ByteSize() > TWO_GB
    onnx.save_model(proto, str(dst), save_as_external_data=large, all_tensors_to_one_file=True,
                    location=f"{Path(dst).name}.data")
    return Path(dst), changes


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


def calibrate(src: str | Path, calib: Arrays | CalibrationDataReader, cfg: PTQConfig, cache: str | Path) -> Path:
    """Run ORT's calibrator for ``cfg.method`` with its real options over ``calib``; write ranges to ``cache`` (JSON).

    minmax: the observed min/max; entropy: the threshold minimising the KL divergence between the ``num_bins``
    histogram and its ``num_quantized_bins`` quantization (TensorRT's method); percentile: the ``percentile``
    of the ``num_bins`` histogram. ``symmetric_activations`` makes every range symmetric about 0.
    """
    reader = ArrayReader(calib, cfg.batch) if isinstance(calib, dict) else calib
    src, cache = Path(src).resolve(), Path(cache).resolve()
    with _quiet(cache.parent), tempfile.TemporaryDirectory(prefix="calib-", dir=cache.parent) as tmp:
        try:
            calibrator = create_calibrator(src, cfg.op_types or [], augmented_model_path=str(Path(tmp) / "augmented.onnx"),
                                           calibrate_method=calibration_method(cfg.method),
                                           use_external_data_format=model_bytes(src) > TWO_GB,
                                           providers=["CPUExecutionProvider"], extra_options=cfg.calibrator_options())
            calibrator.collect_data(reader)
            save_tensors_data(calibrator.compute_data(), cache)
        except EdgekdError:
            raise
        except Exception as err:  # ORT raises many types; report one line
            raise EdgekdError(f"int8 calibration ({cfg.method}) of {src.name} failed: {str(err).splitlines()[0]}") from None
    return cache


def quantize_int8(
    src: str | Path,
    dst: str | Path,
    calib: Arrays | CalibrationDataReader | None,
    cfg: PTQConfig | None = None,
    exclude: Sequence[str] = (),
    cache: str | Path | None = None,
    only: Sequence[str] | None = None,
) -> Path:
    """Quantize the fp32 ONNX ``src`` (pre-processed) to a static QDQ int8 model at ``dst``.

    ``calib`` is named arrays (N, ...) or any reader with ``get_next() -> dict | None`` (None: ``cache`` must
    hold ranges); ``exclude`` names nodes kept in float, ``only`` (if given) the sole nodes to quantize;
    ``cache`` is a JSON file of activation ranges from ``calibrate``, computed on first use and then reused.
    """
    cfg = cfg or PTQConfig()
    src, dst = Path(src).resolve(), Path(dst).resolve()
    cache = Path(cache).resolve() if cache is not None else dst.with_suffix(".calibration.json")
    if not cache.is_file():
        if calib is None:
            raise EdgekdError("static int8 needs calibration data: pass --calib with real inputs")
        calibrate(src, calib, cfg, cache)
    extra = {"ActivationSymmetric": cfg.symmetric_activations, "WeightSymmetric": cfg.symmetric_weights}
    with _quiet(dst.parent):
        try:
            quantize_static(
                str(src), str(dst), None, quant_format=QuantFormat.QDQ, op_types_to_quantize=cfg.op_types,
                per_channel=cfg.per_channel, reduce_range=cfg.reduce_range, activation_type=TYPES[cfg.activation_type],
                weight_type=TYPES[cfg.weight_type], nodes_to_exclude=list(exclude),
                nodes_to_quantize=list(only) if only else None, calibrate_method=calibration_method(cfg.method),
                use_external_data_format=model_bytes(src) > TWO_GB, extra_options=extra, calibration_cache_path=str(cache),
            )
        except EdgekdError:
            raise
        except Exception as err:  # ORT raises many types; report one line
            raise EdgekdError(f"int8 quantization of {src.name} failed: {str(err).splitlines()[0]}") from None
    return dst


def quantize_dynamic_int8(
    src: str | Path,
    dst: str | Path,
    cfg: PTQConfig | None = None,
    exclude: Sequence[str] = (),
    only: Sequence[str] | None = None,
) -> Path:
    """Dynamic int8 (``onnxruntime.quantization.quantize_dynamic``, Optimum's default for transformers): int8
    weights, activation ranges computed at run time, so no calibration data. Types and options from ``cfg``."""
    cfg = cfg or PTQConfig()
    src, dst = Path(src).resolve(), Path(dst).resolve()
    also = lambda names: [*names, *(f"{n}_MatMul" for n in names)]  # noqa: E731  (ORT splits Gemm into <name>_MatMul + Add)
    with _quiet(dst.parent):
        try:
            quantize_dynamic(str(src), str(dst), op_types_to_quantize=cfg.op_types, per_channel=cfg.per_channel,
                             reduce_range=cfg.reduce_range, weight_type=TYPES[cfg.weight_type],
                             nodes_to_exclude=also(exclude), nodes_to_quantize=also(only) if only else None,
                             use_external_data_format=model_bytes(src) > TWO_GB,
                             extra_options={"WeightSymmetric": cfg.symmetric_weights, "MatMulConstBOnly": True})
        except Exception as err:  # ORT raises many types; report one line
            raise EdgekdError(f"dynamic int8 quantization of {src.name} failed: {str(err).splitlines()[0]}") from None
    return dst
