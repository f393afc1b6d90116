"""TensorRT: the ONNX compatibility lint and the engine version guard run without TensorRT; the build needs it."""

import json

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import edgekd
from edgekd.errors import EdgekdError
from edgekd import trt_sidecar
from edgekd.export import trt_engine
from edgekd.export.trt_lint import lint
from edgekd.models import build_model, save_checkpoint


def _model(nodes, inputs, outputs, inits=(), opset=18, domains=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), *domains])


def codes(findings):
    return {(f.severity, f.code) for f in findings}


def test_lint_flags_ops_dtypes_profiles_and_int64():
    x = helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"])
    y = helper.make_tensor_value_info("u", TensorProto.INT64, None)
    m = _model([helper.make_node("Unique", ["ids"], ["u"], name="uniq"),
                helper.make_node("FusedConv", ["ids"], ["v"], name="fused", domain="com.microsoft")],
               [x], [y], inits=[numpy_helper.from_array(np.zeros(2048, np.int64), "big")],
               domains=[helper.make_opsetid("com.microsoft", 1)])
    found = lint(m)
    assert {("error", "unsupported-op"), ("error", "custom-domain"), ("error", "dynamic-without-profile"),
            ("warning", "int64-io"), ("warning", "int64-weights")} <= codes(found)
    assert found[0].severity == "error" and any(f.node == "uniq" for f in found)
    ok = lint(m, profiles={"ids": ([1, 8], [1, 8], [8, 8])})
    assert ("error", "dynamic-without-profile") not in codes(ok)
    bad = lint(m, profiles={"ids": ([4, 8], [1, 8], [8, 8])})
    assert ("error", "profile-order") in codes(bad)


def test_lint_rejects_asymmetric_qdq_and_bad_dtypes():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    inits = [numpy_helper.from_array(np.array(0.1, np.float32), "s"), numpy_helper.from_array(np.array(3, np.int8), "zp"),
             numpy_helper.from_array(np.zeros(3, np.uint16), "odd")]
    m = _model([helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"], name="q"),
                helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["y"], name="dq")], [x], [y], inits)
    assert {("error", "qdq-zero-point"), ("error", "dtype")} <= codes(lint(m))
    assert ("error", "opset") in codes(lint(_model([helper.make_node("Relu", ["x"], ["y"])], [x], [y], opset=7)))


def test_compile_for_tensorrt_target_lints_symmetric_qdq(tmp_path):
    torch.manual_seed(0)
    arch = {"name": "resnet", "widths": [8], "blocks": [1], "in_channels": 1, "num_classes": 4}
    ckpt, _ = save_checkpoint(build_model(arch).eval(), arch, tmp_path / "m.safetensors", (1, 16, 16))
    x = np.random.default_rng(0).standard_normal((64, 1, 16, 16)).astype(np.float32)
    res = edgekd.compile(ckpt, "x86-trt-int8", "int8", tmp_path / "out", samples=x)
    trt = json.loads(res.report.read_text())["tensorrt"]
    assert not [f for f in trt["lint"] if f["severity"] == "error"]  # zero points are 0: symmetric activations
    assert trt["profiles"]["input"] == [[1, 1, 16, 16], [1, 1, 16, 16], [32, 1, 16, 16]]  # target batch sizes 1..32
    assert res.quantization["calibration"]["symmetric_activations"] is True
    if trt_sidecar.tensorrt_version() is None:
        assert trt["engine"].startswith("not built")


def test_engine_from_another_tensorrt_version_is_refused(tmp_path):
    side = {"format": trt_sidecar.SIDECAR_FORMAT, "tensorrt_version": "10.3.0"}
    with pytest.raises(EdgekdError, match="built with TensorRT 10.3.0 but 10.9.0 is installed"):
        trt_sidecar.check_compatible(side, "10.9.0")
    trt_sidecar.check_compatible(side, "10.3.0")
    with pytest.raises(EdgekdError, match="has no sidecar"):
        trt_sidecar.load_engine(tmp_path / "x.engine")
    assert trt_sidecar.sidecar_path(tmp_path / "m.int8.engine").name == "m.int8.engine.json"


def test_build_engine_needs_tensorrt(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    path = tmp_path / "relu.onnx"
    onnx.save(_model([helper.make_node("Relu", ["x"], ["y"])], [x], [y]), path)
    profiles = {"x": ([1, 4], [1, 4], [8, 4])}
    if trt_sidecar.tensorrt_version() is None:
        with pytest.raises(EdgekdError, match="pip install 'edgekd\\[trt\\]'"):
            trt_engine.build_engine(path, tmp_path / "relu.engine", "fp16", profiles)
        pytest.skip("tensorrt is not installed: the engine build itself is not exercised here")
    engine, side = trt_engine.build_engine(path, tmp_path / "relu.engine", "fp16", profiles, 1 << 28, tmp_path / "t.cache")
    meta = json.loads(side.read_text())
    assert meta["io"][0]["name"] == "x" and meta["tensorrt_version"] == trt_sidecar.tensorrt_version()
    assert trt_sidecar.load_engine(engine)[1] is not None
