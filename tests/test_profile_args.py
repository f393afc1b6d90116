"""``edgekd profile`` through the installed script: impossible values are one-line errors (exit 2), and a model with
a fixed batch is profiled at the target's batch sizes it accepts."""

import json
import subprocess

import pytest

import edgekd
from edgekd.errors import EdgekdError
from edgekd.profile import MeasureConfig

FAST = ["--runs", "20", "--duration", "0", "--warmup-ms", "5", "--threads", "1"]
FAST_CFG = MeasureConfig(warmup_runs=2, warmup_ms=5, min_runs=20, min_duration_s=0)


def edgekd_cli(*args):
    return subprocess.run(["edgekd", *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("bad, flag", [
    (["--batch", "0"], "--batch"), (["--batch", "-2"], "--batch"), (["--batch", "1,abc"], "--batch"),
    (["--runs", "0"], "--runs"), (["--runs", "-5"], "--runs"), (["--duration", "-1"], "--duration"),
    (["--threads", "0"], "--threads"), (["--timeout", "0"], "--timeout"), (["--warmup-ms", "-3"], "--warmup-ms"),
])
def test_impossible_values_are_one_line_errors(tiny_onnx, bad, flag):
    res = edgekd_cli("profile", tiny_onnx(), *FAST, *bad)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and flag in lines[0] and "Traceback" not in res.stderr, res.stderr


def test_library_refuses_zero_batch(tiny_onnx):
    for bad in ([0], [], [1, -1]):
        with pytest.raises(EdgekdError, match="batch sizes must be positive integers"):
            edgekd.profile(tiny_onnx(), "cpu-ort-fp32", bad, FAST_CFG, quiet=True)


def test_fixed_batch_model_profiles_the_default_batches_it_accepts(tiny_onnx, tmp_path):
    fixed = tiny_onnx("fixed1.onnx", batch=1)  # cpu-ort-fp32 lists batch sizes [1, 8]
    res = edgekd_cli("profile", fixed, "--target", "cpu-ort-fp32", "--json", *FAST)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["batch"] == 1 and report["batches"] == [] and report["runs"] >= 20
    assert report["skipped_batches"] == [{"batch": 8, "reason": "input x has a fixed batch of 1, not 8"}]
    text = edgekd_cli("profile", fixed, "--target", "cpu-ort-fp32", "--out", tmp_path, *FAST)
    assert text.returncode == 0 and "skipped batch 8" in text.stdout
    assert "batch 8: input x has a fixed batch of 1, not 8" in (tmp_path / "fixed1.profile.md").read_text()
    assert "Skipped batch 8 (the target's default): input x has a fixed batch of 1" in \
        (tmp_path / "fixed1.profile.html").read_text()
    both = edgekd.compare(fixed, fixed, "cpu-ort-fp32", None, FAST_CFG, quiet=True)
    assert both["batch"] == 1 and [s["batch"] for s in both["skipped_batches"]] == [8]


def test_fixed_batch_fails_when_asked_for_or_when_none_fits(tiny_onnx):
    res = edgekd_cli("profile", tiny_onnx("fixed1.onnx", batch=1), "--batch", "8", *FAST)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "input x has a fixed batch of 1, not 8; profile with --batch 1" in res.stderr
    res = edgekd_cli("profile", tiny_onnx("fixed4.onnx", batch=4), *FAST)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "none of the target's batch sizes [1, 8] fits" in res.stderr and "--batch 4" in res.stderr
