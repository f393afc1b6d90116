"""compile and profile report the target's budgets: budget, measured value and verdict, against the files themselves."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgekd.budgets import Gate, gates
from edgekd.schemas.target import Budgets

TARGET = """
name: tiny-budgets
runtime: onnxruntime
device: cpu
precisions: [fp32]
threads: 1
batch_sizes: [1]
budgets: {p90_latency_ms: 1000, size_bytes: 1000, peak_memory_bytes: 1000, accuracy_drop_pts: 1.0}
"""


@pytest.fixture
def target(tmp_path):
    path = tmp_path / "tiny-budgets.yaml"
    path.write_text(TARGET)
    return path


def test_compile_reports_size_against_the_budget(digits_run, target, tmp_path):
    import edgekd

    res = edgekd.compile(digits_run[0] / "teacher.fp32.onnx", target, "fp32", tmp_path / "c")
    (size,) = json.loads(res.report.read_text())["budgets"]
    assert size["name"] == "size_bytes" and size["budget"] == 1000 and size["status"] == "fail"
    assert size["measured"] == res.model.stat().st_size and "model size:" in size["message"]


def test_profile_reports_p90_and_peak_memory(digits_run, target):
    import edgekd
    from edgekd.profile import MeasureConfig

    measure = MeasureConfig(min_runs=20, min_duration_s=0.05, warmup_ms=10)
    report = edgekd.profile(digits_run[0] / "teacher.fp32.onnx", target, [1, 4], measure)
    got = {g["name"]: g for g in report["budgets"]}
    assert set(got) == {"p90_latency_ms", "peak_memory_bytes"}
    assert got["p90_latency_ms"]["measured"] == pytest.approx(np.percentile(report["samples_ms"], 90))
    assert got["p90_latency_ms"]["status"] == "pass"
    assert got["peak_memory_bytes"]["measured"] == report["memory"]["peak_rss_bytes"] > 1000
    assert got["peak_memory_bytes"]["status"] == "fail"
    only4 = edgekd.profile(digits_run[0] / "teacher.fp32.onnx", target, [4], measure)
    assert next(g for g in only4["budgets"] if g["name"] == "p90_latency_ms")["status"] == "skip"  # no batch 1


def test_gate_rules():
    b = Budgets(p90_latency_ms=5.0, size_bytes=2_000_000)
    result = {g.name: g for g in gates(b, {"p90_latency_ms": 5.0}, {"accuracy_drop_pts": 0.5})}
    assert set(result) == {"p90_latency_ms", "size_bytes", "accuracy_drop_pts"}
    assert result["p90_latency_ms"].status == "pass"  # equal to the budget passes
    assert result["size_bytes"].status == "skip"  # a target budget nobody measured
    assert result["accuracy_drop_pts"].status == "fail"  # a flag nobody could measure fails
    over = Gate("size_bytes", 2_000_000, 2_500_000, "bytes")
    assert over.status == "fail" and over.message == "model size: 2.5 MB > budget 2 MB"
