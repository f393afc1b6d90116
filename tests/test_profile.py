"""Local profiling with real ONNX Runtime sessions: report schema, measurement loop, per-op, memory, inputs, compare."""

import json
import time

import numpy as np
import onnxruntime as ort
import pytest

import edgekd
from edgekd.errors import EdgekdError
from edgekd.profile import MeasureConfig, RuntimeOptions
from edgekd.profile.backends.onnxruntime import parse_ort_profile
from edgekd.profile.measure import sample, timed, timer_resolution_ms, warm_up, warnings_for
from edgekd.onnx_files import model_files
from edgekd.profile.memory import model_size
from edgekd.profile.stats import compare_samples
from edgekd.schemas import Manifest

FAST = MeasureConfig(warmup_runs=2, warmup_ms=10, min_runs=30, min_duration_s=0.05, per_op_runs=5)
STATS = {"min", "max", "mean", "median", "p90", "p95", "p99", "std", "cv"}


def test_profile_report_schema_and_files(tiny_onnx, tmp_path):
    model = tiny_onnx()
    r = edgekd.profile(model, "cpu-ort-fp32", [1, 4], FAST, out=tmp_path, per_op=True, quiet=True)
    assert r["kind"] == "profile" and r["providers"] == ["CPUExecutionProvider"] and r["clock"] == "perf_counter"
    for b in [r, *r["batches"]]:
        lat = b["latency_ms"]
        assert set(lat) == STATS and lat["min"] <= lat["median"] <= lat["p90"] <= lat["p95"] <= lat["p99"] <= lat["max"]
        assert len(b["samples_ms"]) == b["runs"] >= 30 and b["duration_s"] >= 0.05
        assert np.isclose(np.median(b["samples_ms"]), lat["median"])
        assert np.isclose(b["throughput_per_s"], b["batch"] * 1e3 / lat["median"])
        assert b["first_run_ms"] > 0 and b["warmup_runs"] >= 2 and b["warmup_ms"] >= 10
        shares = [t["share"] for t in b["per_op"]["op_types"]]
        assert np.isclose(sum(shares), 1.0) and b["per_op"]["runs"] == 5
        assert {"Conv", "MatMul"} <= {t["op_type"] for t in b["per_op"]["op_types"]}
        assert all(n["provider"] == "CPUExecutionProvider" and n["calls"] == 5 for n in b["per_op"]["nodes"])
    assert r["batch"] == 1 and [b["batch"] for b in r["batches"]] == [4] and r["session_create_ms"] > 0
    mem = r["memory"]
    assert mem["peak_rss_bytes"] >= mem["rss_after_session_bytes"] > 0 and mem["ort_arena_held_bytes"] > 0
    assert mem["model_bytes_on_disk"] == model.stat().st_size == r["model_bytes"]
    assert r["env"]["threads"] == 2 and "onnxruntime" in r["env"]["libraries"] and r["env"]["cpu"]
    assert json.loads((tmp_path / "tiny.profile.json").read_text()) == json.loads(json.dumps(r))
    md = (tmp_path / "tiny.profile.md").read_text()
    assert "| batch | runs | min | median" in md and "## Per-op breakdown (batch 1" in md
    kinds = {a.kind for a in Manifest.load(tmp_path / "manifest.json").artifacts}
    assert kinds == {"profile", "profile-summary", "profile-html"}
    with pytest.raises(EdgekdError, match="already exists; pass --force"):
        edgekd.profile(model, "cpu-ort-fp32", [1], FAST, out=tmp_path, quiet=True)


def test_measurement_loop_meets_count_and_duration():
    cfg = MeasureConfig(warmup_runs=1, warmup_ms=50, min_runs=5, min_duration_s=0.1, max_runs=1000)
    t0 = time.perf_counter()
    assert warm_up(lambda: None, cfg) > 1 and time.perf_counter() - t0 >= 0.05
    t0 = time.perf_counter()
    samples = sample(lambda: time.sleep(0.001), cfg)
    assert len(samples) >= 5 and time.perf_counter() - t0 >= 0.1 and min(samples) >= 1.0
    assert len(sample(lambda: None, cfg.model_copy(update={"max_runs": 7, "min_duration_s": 10}))) == 7
    assert timed(lambda: 2.5) == 2.5  # a backend's own device time (CUDA events) wins over the host clock


def test_warnings_for_noise_and_coarse_clock():
    assert 0 < timer_resolution_ms() < 1
    quiet = {"cv": 0.01, "median": 1.0}
    assert warnings_for(quiet, 1e-4) == []
    assert "CV 10.0% > 5%" in warnings_for({"cv": 0.1, "median": 1.0}, 1e-4)[0]
    assert "clock step" in warnings_for(quiet, 0.05)[0]


def test_graph_optimization_and_threads_reach_the_session(tiny_onnx):
    model = tiny_onnx()
    plain = edgekd.profile(model, "cpu-ort-fp32", [1], FAST, per_op=True, quiet=True,
                           options=RuntimeOptions(graph_optimization="disable", threads=1))
    fused = edgekd.profile(model, "cpu-ort-fp32", [1], FAST, per_op=True, quiet=True)
    assert plain["threads"] == plain["env"]["threads"] == 1 and plain["options"]["graph_optimization"] == "disable"
    assert "relu0" in {n["node"] for n in plain["per_op"]["nodes"]}  # unfused
    assert "relu0" not in {n["node"] for n in fused["per_op"]["nodes"]}  # Conv+Relu fused at level "all"


def test_parse_ort_profile_skips_warmup_runs():
    def node(ts, dur, name="conv0", op="Conv"):
        return {"cat": "Node", "ts": ts, "dur": dur, "name": f"{name}_kernel_time",
                "args": {"op_name": op, "provider": "CPUExecutionProvider", "mem_arena_held": "4096"}}

    events = [{"cat": "Session", "name": "model_run", "ts": 0}, node(1, 999),
              {"cat": "Session", "name": "model_run", "ts": 10}, node(11, 100), node(12, 300, "mm", "MatMul"),
              {"cat": "Session", "name": "model_run", "ts": 20}, node(21, 100), node(22, 300, "mm", "MatMul")]
    op = parse_ort_profile(events, skip_runs=1)
    assert op.runs == 2 and op.memory["ort_arena_held_bytes"] == 4096
    assert {n["node"]: (n["total_ms"], n["calls"], n["median_call_ms"]) for n in op.nodes} == {
        "conv0": (0.2, 2, 0.1), "mm": (0.6, 2, 0.3)}


def test_npz_inputs_and_fixed_batch(tiny_onnx, tmp_path):
    npz = tmp_path / "x.npz"
    np.savez(npz, anything=np.ones((2, 3, 16, 16), np.float32))
    r = edgekd.profile(tiny_onnx(), "cpu-ort-fp32", [4], FAST, inputs=npz, quiet=True)
    assert r["batch"] == 4 and r["runs"] >= 30
    fixed = tiny_onnx("fixed.onnx", batch=1)
    with pytest.raises(EdgekdError, match="fixed batch of 1, not 4; profile with --batch 1"):
        edgekd.profile(fixed, "cpu-ort-fp32", [4], FAST, quiet=True)


def test_external_data_counts_toward_size(tiny_onnx):
    model = tiny_onnx("ext.onnx", data_file="ext.onnx.data")
    assert [p.name for p in model_files(model)] == ["ext.onnx", "ext.onnx.data"]
    size = model_size(model)
    assert size["external_data_bytes"] > size["model_file_bytes"] and size["model_bytes_on_disk"] == sum(
        p.stat().st_size for p in model_files(model))
    assert edgekd.profile(model, "cpu-ort-fp32", [1], FAST, quiet=True)["memory"]["external_data_bytes"] > 0


def test_compare_finds_the_slower_model(tiny_onnx, tmp_path):
    small, big = tiny_onnx("small.onnx", channels=4), tiny_onnx("big.onnx", channels=96)
    cfg = FAST.model_copy(update={"min_runs": 60, "min_duration_s": 0.2})
    r = edgekd.compare(small, big, "cpu-ort-fp32", [1], cfg, out=tmp_path, quiet=True)
    assert r["kind"] == "compare" and r["runs"] == len(r["a"]["samples_ms"]) == len(r["b"]["samples_ms"]) >= 60
    assert r["ratio_of_medians"] > 1.5 and r["ci"][0] > 1 and r["p_value"] < 1e-3 and r["verdict"].startswith("B is slower")
    assert r["model_a"]["model"].endswith("small.onnx") and r["model_b"]["session_create_ms"] > 0
    assert (tmp_path / "small_vs_big.compare.html").is_file() and (tmp_path / "small_vs_big.compare.md").is_file()



def test_compare_turns_idle_thread_spinning_off_and_profile_keeps_the_default(tiny_onnx, monkeypatch):
    """Two interleaved 2-thread sessions: the idle one's spinning worker would compete with the other's runs."""
    from edgekd.profile.backends import onnxruntime as backend

    made = []
    real = backend.session_options
    monkeypatch.setattr(backend, "session_options", lambda t, o: made.append(real(t, o)) or made[-1])
    model, cfg = tiny_onnx(), FAST.model_copy(update={"min_runs": 4, "min_duration_s": 0.01, "session_pairs": 1})
    spin = lambda: [o.get_session_config_entry("session.intra_op.allow_spinning") for o in made]  # noqa: E731
    r = edgekd.compare(model, model, "cpu-ort-fp32", [1], cfg, quiet=True)
    assert spin() == ["0", "0"] and r["env"]["spinning"] is False and r["env"]["threads"] == 2
    made.clear()
    r = edgekd.compare(model, model, "cpu-ort-fp32", [1], cfg, quiet=True, options=RuntimeOptions(spinning=True))
    assert spin() == ["1", "1"] and r["env"]["spinning"] is True
    made.clear()
    r = edgekd.profile(model, "cpu-ort-fp32", [1], cfg, quiet=True)
    with pytest.raises(RuntimeError):  # no entry: ONNX Runtime's own default (spinning on)
        spin()
    assert r["env"]["spinning"] is None

def test_compare_samples_statistics():
    rng = np.random.default_rng(0)
    a = list(1.0 + rng.normal(0, 0.02, 400))
    same = compare_samples(a, list(1.0 + rng.normal(0, 0.02, 400)))
    assert same["ci"][0] < 1 < same["ci"][1] and same["verdict"].startswith("no significant difference")
    slower = compare_samples(a, list(1.2 + rng.normal(0, 0.02, 400)))
    assert slower["ci"][0] < 1.2 < slower["ci"][1] and slower["p_value"] < 1e-6
    faster = compare_samples(a, list(0.5 + rng.normal(0, 0.01, 400)))
    assert faster["verdict"].startswith("B is faster: ") and 1.95 < 1 / faster["ratio_of_medians"] < 2.05


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="this onnxruntime has CUDA")
def test_gpu_target_without_cuda_is_a_clear_error(tiny_onnx):
    with pytest.raises(EdgekdError, match="lacks CUDAExecutionProvider .* install onnxruntime-gpu"):
        edgekd.profile(tiny_onnx(), "cuda-ort-fp16", [1], FAST, quiet=True)
    with pytest.raises(EdgekdError, match="lacks TensorrtExecutionProvider"):
        edgekd.profile(tiny_onnx(), "x86-trt-int8", [1], FAST, quiet=True)


def test_fidelity_benchmark_runs_and_writes_its_schema(tmp_path):
    """The benchmark's script works; its numbers are a benchmark result, not asserted here (timing is noisy)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / "profile_fidelity.py"
    spec = importlib.util.spec_from_file_location("profile_fidelity", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "fidelity.json"
    bench.main(["--repeats", "2", "--runs", "50", "--out", str(out)])
    result = json.loads(out.read_text())
    assert isinstance(result["within_tolerance"], bool) and len(result["repeats"]) == 2
    assert result["profiler_median_cv"] >= 0 and all(r["ratio"] > 0 for r in result["repeats"])
    assert "separate Python process" in result["reference"]
    assert all(r["reference_median_ms"] != r["profiler_median_ms"] for r in result["repeats"])
