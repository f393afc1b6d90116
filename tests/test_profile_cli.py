"""``edgekd profile``: one model profiles, two compare, the rest are clear errors."""

import json

from typer.testing import CliRunner

from edgekd.cli.app import app
from edgekd.errors import EdgekdError

FAST = ["--runs", "20", "--duration", "0", "--warmup-ms", "5"]


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_profile_writes_reports_and_prints_a_table(tiny_onnx, tmp_path):
    res = invoke("profile", tiny_onnx(), "--batch", "1,2", "--per-op", "--threads", "1", "--out", tmp_path, *FAST)
    assert res.exit_code == 0, res.output
    assert "latency (ms)" in res.output and "per op type: Conv" in res.output
    assert {p.name for p in tmp_path.iterdir()} >= {"tiny.profile.json", "tiny.profile.md", "tiny.profile.html"}
    report = json.loads((tmp_path / "tiny.profile.json").read_text())
    assert report["threads"] == 1 and report["batches"][0]["batch"] == 2 and report["per_op"]["op_types"]


def test_two_models_compare_as_json(tiny_onnx):
    res = invoke("profile", tiny_onnx(), tiny_onnx("wide.onnx", channels=32), "--batch", "1", "--json", *FAST)
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["kind"] == "compare" and report["runs"] >= 20 and len(report["ci"]) == 2


def test_bad_arguments_are_clear(tiny_onnx):
    m = tiny_onnx()
    res = invoke("profile", m, m, m, *FAST)
    assert isinstance(res.exception, EdgekdError) and "pass one to profile or two to compare" in str(res.exception)
    res = invoke("profile", m, "--graph-opt", "fast", *FAST)
    assert isinstance(res.exception, EdgekdError) and "--graph-opt must be one of disable, basic, extended, all" in str(res.exception)
