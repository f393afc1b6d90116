"""TensorRT paths: engine and EP selection everywhere; a real engine only where tensorrt and a GPU exist."""

import importlib.util
import json

import pytest

import edgekd
from edgekd.errors import EdgekdError
from edgekd.profile import MeasureConfig
from edgekd.profile.backends import backend_name
from edgekd.profile.backends.base import OpTimes
from edgekd.profile.backends.onnxruntime import providers_for
from edgekd.profile.backends.tensorrt import layer_rows
from edgekd.profile.perop import aggregate
from edgekd.targets import get_target
from edgekd.trt_sidecar import SIDECAR_FORMAT, sidecar_path

HAS_TRT = importlib.util.find_spec("tensorrt") is not None
FAST = MeasureConfig(warmup_runs=2, warmup_ms=10, min_runs=30, min_duration_s=0.05, per_op_runs=5)


def test_engines_go_to_tensorrt_and_onnx_to_the_tensorrt_ep(tmp_path):
    tgt = get_target("x86-trt-int8")
    assert backend_name(tmp_path / "m.int8.engine", tgt) == "tensorrt"
    assert backend_name(tmp_path / "m.onnx", tgt) == "onnxruntime"
    (trt_ep, trt_opts), *rest = providers_for(tgt)
    assert trt_ep == "TensorrtExecutionProvider" and rest == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert trt_opts == {"trt_fp16_enable": True, "trt_int8_enable": True, "trt_max_workspace_size": 4294967296}
    assert providers_for(get_target("cuda-ort-fp16")) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert providers_for(get_target("cpu-ort-fp32")) == ["CPUExecutionProvider"]


def test_tensorrt_layer_times_use_the_per_op_schema():
    rows = layer_rows({"conv0 + relu0": 3.0, "fc": 1.0}, {"conv0 + relu0": 10, "fc": 10}, {"conv0 + relu0": "CaskConvolution"})
    agg = aggregate(OpTimes(runs=10, nodes=rows))
    assert [t["op_type"] for t in agg["op_types"]] == ["CaskConvolution", "?"]
    assert agg["op_types"][0]["share"] == 0.75 and agg["nodes"][0]["provider"] == "TensorRT" and agg["ms_per_run"] == 0.4


@pytest.mark.skipif(HAS_TRT, reason="tensorrt is installed")
def test_engine_without_tensorrt_is_a_clear_error(tmp_path):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"\0" * 16)
    with pytest.raises(EdgekdError, match="needs the tensorrt package on the device; install it"):
        edgekd.profile(engine, "x86-trt-int8", [1], FAST, quiet=True)


@pytest.mark.skipif(not HAS_TRT, reason="needs tensorrt and an NVIDIA GPU")
def test_tensorrt_engine_profile(tiny_onnx, tmp_path):
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse(tiny_onnx().read_bytes())
    config = builder.create_builder_config()
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    shape = builder.create_optimization_profile()
    shape.set_shape("x", (1, 3, 16, 16), (2, 3, 16, 16), (4, 3, 16, 16))
    config.add_optimization_profile(shape)
    engine = tmp_path / "tiny.engine"
    engine.write_bytes(bytes(builder.build_serialized_network(network, config)))
    side = sidecar_path(engine)
    side.write_text(json.dumps({"format": SIDECAR_FORMAT, "tensorrt_version": "0.0"}))
    with pytest.raises(EdgekdError, match="built with TensorRT 0.0"):
        edgekd.profile(engine, "x86-trt-int8", [1], FAST, quiet=True)
    side.write_text(json.dumps({"format": SIDECAR_FORMAT, "tensorrt_version": trt.__version__}))
    r = edgekd.profile(engine, "x86-trt-int8", [1, 4], FAST, per_op=True, quiet=True)
    assert r["backend"] == "tensorrt" and r["clock"] == "cuda-events" and r["latency_ms"]["median"] > 0
    assert r["per_op"]["nodes"] and r["memory"]["gpu_total_bytes"] > 0
