"""Remote TensorRT profiling over a real OpenSSH server: the engine travels with its sidecar JSON (the loader refuses
an engine without one). The device runs a stand-in ``tensorrt`` (tests/trt_standin) put on its PYTHONPATH."""

import posixpath

import pytest
from agent_venv import wrapper
from sshd_fixture import sshd  # noqa: F401  (fixture)
from trt_standin_fixture import STANDIN, standin_trt  # noqa: F401  (fixture)

import edgekd
from edgekd.errors import EdgekdError
from edgekd.export import trt_engine
from edgekd.onnx_files import model_files
from edgekd.profile import MeasureConfig
from edgekd.schemas import Target
from edgekd.trt_sidecar import sidecar_path

FAST = MeasureConfig(warmup_runs=2, warmup_ms=5, min_runs=20, min_duration_s=0, per_op_runs=3)
PROFILES = {"x": ([1, 3, 16, 16], [1, 3, 16, 16], [2, 3, 16, 16])}


def jetson(server, device_python) -> Target:
    return Target(name="jetson-loopback", runtime="tensorrt", device="cuda", precisions=["fp16"], batch_sizes=[1, 2],
                  connection=server.connection(python=str(device_python)))


def test_engine_and_sidecar_are_uploaded_and_profiled_remotely(standin_trt, sshd, tiny_onnx, tmp_path):  # noqa: F811
    import sys

    engine, side = trt_engine.build_engine(tiny_onnx(), tmp_path / "m.fp16.engine", "fp16", PROFILES)
    assert model_files(engine) == [engine, side]
    device = wrapper(tmp_path / "device-python", sys.executable, STANDIN)
    r = edgekd.profile(engine, jetson(sshd, device), None, FAST, per_op=True, timeout_s=300, quiet=True)
    assert r["backend"] == "tensorrt" and r["clock"] == "cuda-events" and r["remote"]["copied"]
    assert [b["batch"] for b in [r, *r["batches"]]] == [1, 2] and r["runs"] >= 20
    assert {t["op_type"] for t in r["per_op"]["op_types"]} == {"Conv", "Relu", "Flatten", "MatMul"}
    folder = r["remote"]["models"][0].rsplit("/", 1)[0]
    uploaded = {p.name for p in (sshd.root / "remote-cache" / "models" / posixpath.basename(folder)).iterdir()}
    assert uploaded == {"m.fp16.engine", "m.fp16.engine.json"}
    assert r["memory"]["model_bytes_on_disk"] == engine.stat().st_size + side.stat().st_size
    again = edgekd.profile(engine, jetson(sshd, device), [1], FAST, timeout_s=300, quiet=True)
    assert not again["remote"]["copied"]


def test_engine_without_sidecar_is_refused_before_connecting(standin_trt, tiny_onnx, tmp_path):  # noqa: F811
    engine, side = trt_engine.build_engine(tiny_onnx(), tmp_path / "m.engine", "fp16", PROFILES)
    side.unlink()
    tgt = Target(name="j", runtime="tensorrt", connection={"kind": "ssh", "host": "192.0.2.1", "user": "nobody"})
    with pytest.raises(EdgekdError, match="m.engine has no sidecar m.engine.json; rebuild the engine"):
        edgekd.profile(engine, tgt, [1], FAST, timeout_s=5, quiet=True)
    assert sidecar_path(engine) == side
