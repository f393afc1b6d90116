"""TensorRT builder and runner against a stand-in ``tensorrt`` that records the calls (tests/trt_standin).

The stand-in runs "engines" with ONNX Runtime, so outputs are real; what is checked is that edgekd calls the
TensorRT 10 / cuda-python API it documents, with the right flags and in the right order. Not TensorRT itself.
"""

import json
import tomllib
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from trt_standin_fixture import standin_trt  # noqa: F401  (fixture)

import edgekd
from edgekd.errors import VerificationError
from edgekd.export import trt_engine
from edgekd.profile import MeasureConfig
from edgekd.trt_sidecar import sidecar_path

PROFILES = {"x": ([1, 3, 16, 16], [1, 3, 16, 16], [4, 3, 16, 16])}
FAST = MeasureConfig(warmup_runs=2, warmup_ms=5, min_runs=20, min_duration_s=0, per_op_runs=3)


def _x(n: int = 6) -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(1).standard_normal((n, 3, 16, 16)).astype(np.float32)}


def _names(calls):
    return [c[0] for c in calls]


@pytest.mark.parametrize("precision, flags", [("fp32", []), ("fp16", ["FP16"]), ("int8", ["INT8", "FP16"])])
def test_builder_sets_detailed_verbosity_flags_pool_profile_and_verifies(standin_trt, tiny_onnx, tmp_path,  # noqa: F811
                                                                         precision, flags):
    trt = standin_trt
    engine, side = trt_engine.build_engine(tiny_onnx(), tmp_path / "m.engine", precision, PROFILES, 1 << 28,
                                           verify_inputs=_x())
    calls, names = trt.CALLS, _names(trt.CALLS)
    assert ("BuilderConfig.profiling_verbosity", trt.ProfilingVerbosity.DETAILED) in calls
    assert names.index("BuilderConfig.profiling_verbosity") < names.index("Builder.build_serialized_network")
    assert [c[1].value for c in calls if c[0] == "BuilderConfig.set_flag"] == flags
    assert ("BuilderConfig.set_memory_pool_limit", trt.MemoryPoolType.WORKSPACE, 1 << 28) in calls
    assert ("OptimizationProfile.set_shape", "x", (1, 3, 16, 16), (1, 3, 16, 16), (4, 3, 16, 16)) in calls
    assert names.index("BuilderConfig.set_timing_cache") < names.index("Builder.build_serialized_network")
    meta = json.loads(side.read_text())
    assert meta["profiling_verbosity"] == "DETAILED" and meta["builder_flags"] == flags
    assert meta["gpu"] == {"name": "Stand-in GPU", "compute_capability": [9, 0]}
    ver = meta["verification"]  # the engine's outputs against ONNX Runtime's on the same rows
    assert ver["samples"] == 4 and ver["max_abs_diff"] < 1e-4 and ver["cosine"] > 0.9999  # 6 rows, max batch 4
    assert engine.read_bytes().startswith(trt.ENGINE_MAGIC)


def test_timing_cache_persists_beside_other_builds_not_in_a_scratch_folder(standin_trt, tiny_onnx, tmp_path):  # noqa: F811
    trt = standin_trt
    trt_engine.build_engine(tiny_onnx(), tmp_path / "a" / "m.engine", "fp16", PROFILES)
    cache = tmp_path / "edgekd-cache" / "tensorrt" / "timing-10.99.0-standin-Stand-in-GPU.cache"
    assert cache.read_bytes() == b"standin-timing-cache:+built"
    assert json.loads(sidecar_path(tmp_path / "a" / "m.engine").read_text())["timing_cache"] == str(cache)
    trt.CALLS.clear()
    trt_engine.build_engine(tiny_onnx(), tmp_path / "b" / "m.engine", "fp16", PROFILES)
    assert ("BuilderConfig.create_timing_cache", b"standin-timing-cache:+built") in trt.CALLS  # reused


def test_engine_that_disagrees_with_onnxruntime_is_refused_and_removed(standin_trt, tiny_onnx, tmp_path,  # noqa: F811
                                                                       monkeypatch):
    monkeypatch.setattr(standin_trt, "OUTPUT_ERROR", 5.0)
    with pytest.raises(VerificationError, match="TensorRT engine m.engine: verification failed"):
        trt_engine.build_engine(tiny_onnx(), tmp_path / "m.engine", "fp32", PROFILES, verify_inputs=_x())
    assert not (tmp_path / "m.engine").exists() and not sidecar_path(tmp_path / "m.engine").exists()


def test_runner_binds_times_with_cuda_events_and_names_layer_types(standin_trt, tiny_onnx, tmp_path):  # noqa: F811
    from cuda.bindings import runtime as cudart

    from edgekd.profile.backends.tensorrt import TrtSession

    model = tiny_onnx()
    engine, _ = trt_engine.build_engine(model, tmp_path / "m.engine", "fp32", PROFILES)
    x = _x(4)
    out = TrtSession(engine).run(x)[0]
    ref = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, x)[0]
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    standin_trt.CALLS.clear()
    cudart.CALLS.clear()
    r = edgekd.profile(engine, "x86-trt-int8", [1, 4], FAST, per_op=True, quiet=True)
    assert r["backend"] == "tensorrt" and r["clock"] == "cuda-events" and r["providers"] == ["TensorRT 10.99.0-standin"]
    assert [b["batch"] for b in [r, *r["batches"]]] == [1, 4] and len(r["samples_ms"]) == r["runs"] >= 20
    assert ("Context.set_input_shape", "x", (4, 3, 16, 16)) in standin_trt.CALLS
    assert {c[1] for c in standin_trt.CALLS if c[0] == "Context.set_tensor_address"} == {"x", "y"}
    assert ("Context.execute_async_v3", 7) in standin_trt.CALLS  # on the session's stream
    records = [c for c in cudart.CALLS if c[0] == "cudaEventRecord"]
    elapsed = [c for c in cudart.CALLS if c[0] == "cudaEventElapsedTime"]
    assert len(records) == 2 * len(elapsed) and len(elapsed) >= r["runs"] + len(r["batches"][0]["samples_ms"])
    assert {t["op_type"] for t in r["per_op"]["op_types"]} == {"Conv", "Relu", "Flatten", "MatMul"}  # DETAILED
    assert r["memory"]["gpu_total_bytes"] == cudart.TOTAL_BYTES and r["memory"]["engine_device_memory_bytes"] > 0


def test_compile_for_a_tensorrt_target_builds_verifies_and_keeps_the_cache(standin_trt, tiny_onnx, tmp_path):  # noqa: F811
    x = _x(8)["x"]
    res = edgekd.compile(tiny_onnx(), "x86-trt-int8", "fp32", tmp_path / "out", samples=x)
    trt = json.loads(res.report.read_text())["tensorrt"]
    engine = tmp_path / "out" / trt["engine"]
    meta = json.loads(sidecar_path(engine).read_text())
    assert meta["verification"]["max_abs_diff"] < 1e-4 and meta["profiling_verbosity"] == "DETAILED"
    assert Path(meta["timing_cache"]).is_file() and str(tmp_path / "edgekd-cache") in meta["timing_cache"]
    assert not list((tmp_path / "out").rglob("*.cache"))


def test_trt_extra_brings_cuda_python_and_stays_on_tensorrt_10():
    extra = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["optional-dependencies"]["trt"]
    assert any(r.replace(" ", "").startswith("cuda-python>=") for r in extra)  # the engine runner imports it
    assert "tensorrt>=10,<11" in extra  # TensorRT 11 removed BuilderFlag.FP16/INT8, which the builder sets
