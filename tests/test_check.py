"""edgekd check: exit codes, JUnit XML read back with a parser, the CI summary, gates against independent values."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from test_package_runs import edgekd_cli, student_run

from edgekd.budgets import GateFailure
from edgekd.errors import EdgekdError
from edgekd.package.gates import check


@pytest.fixture(scope="module")
def run(digits_run, tmp_path_factory):
    return student_run(digits_run, tmp_path_factory)


def _p90(run):
    """p90 at batch 1 of the student int8 model, from its raw samples."""
    report = json.loads((run / "student.int8.profile.json").read_text())
    assert report["batch"] == 1
    return float(np.percentile(report["samples_ms"], 90))


def test_failing_gate_exits_1_with_junit_and_step_summary(run, tmp_path):
    junit, summary = tmp_path / "check.xml", tmp_path / "summary.md"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
    res = edgekd_cli("check", run / "bundle.tar.gz", "--max-p90-ms", "0.0001", "--max-drop-pts", "100",
                     "--junit", junit, env=env)
    assert res.returncode == 1, res.stderr
    assert "FAILED: 1 passed, 1 failed" in res.stdout
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"p90_latency_ms", "accuracy_drop_pts"}
    failure = cases["p90_latency_ms"].find("failure")
    assert failure.get("message") == f"p90 latency at batch 1: {_p90(run):.4g} ms > budget 0.0001 ms"
    assert cases["accuracy_drop_pts"].find("failure") is None
    md = summary.read_text()
    assert "### edgekd check FAILED" in md and f"| p90_latency_ms | 0.0001 ms | {_p90(run):.4g} ms | ❌ fail |" in md


def test_all_gates_pass_exit_0(run, tmp_path):
    junit = tmp_path / "ok.xml"
    res = edgekd_cli("check", run / "bundle.tar.gz", "--max-p90-ms", "1000", "--max-drop-pts", "100",
                     "--max-size-mb", "1", "--junit", junit, "--json")
    assert res.returncode == 0, res.stderr
    body = json.loads(res.stdout)
    assert body["passed"] and body["summary"] == {"pass": 3, "fail": 0, "skip": 0}
    assert ET.parse(junit).getroot().get("failures") == "0"


def test_size_gate_boundaries_and_drop_from_teacher(run):
    size = (run / "student.int8.onnx").stat().st_size
    ok = check(run, max_size_mb=(size + 1) / 1e6, max_drop_pts=100)
    bad = check(run, max_size_mb=(size - 1) / 1e6, max_drop_pts=100)
    gate = lambda res, name: next(g for g in res["gates"] if g["name"] == name)  # noqa: E731
    assert gate(ok, "size_bytes")["status"] == "pass" and gate(bad, "size_bytes")["status"] == "fail"
    assert gate(ok, "size_bytes")["measured"] == size and ok["kind"] == "run"
    drop = gate(ok, "accuracy_drop_pts")
    teacher = json.loads((run / "teacher.metrics.json").read_text())["test_accuracy"]
    student = _metric(run, "compile-int8", "test_accuracy")
    assert drop["measured"] == pytest.approx(teacher - student) and "against the teacher" in drop["note"]


def _metric(run, stage, key):
    from edgekd.schemas import Manifest

    return Manifest.load(run / "manifest.json").stages[stage].metrics[key]


def test_drop_against_fp32_when_the_run_has_no_teacher(digits_run, tmp_path):
    """An int8 compile alone: the drop is measured against its fp32 export, and the gate says so."""
    import edgekd
    from edgekd.data import load_dataset

    out, recipe, _ = digits_run
    data = load_dataset(recipe.dataset)
    res = edgekd.compile(out / "teacher.fp32.onnx", "cpu-ort-fp32", "int8", tmp_path / "c",
                         samples=data.x["test"].numpy(), labels=data.y["test"].numpy(), calib=data.x["train"].numpy(),
                         calib_samples=64, measure_speed=False)
    q = json.loads(res.report.read_text())["quantization"]
    result = check(tmp_path / "c", max_drop_pts=100)
    drop = next(g for g in result["gates"] if g["name"] == "accuracy_drop_pts")
    assert drop["measured"] == pytest.approx(q["fp32_accuracy"] - q["int8_accuracy"])
    assert drop["note"].startswith("against the fp32")
    p90 = next(g for g in result["gates"] if g["name"] == "p90_latency_ms")
    assert p90["status"] == "skip" and "no latency report" in p90["note"]


def test_reprofile_and_target_mismatch(run):
    recorded = check(run / "bundle.tar.gz", target="cpu-ort-int8", max_drop_pts=100)
    p90 = recorded["gates"][0]
    assert p90["status"] == "skip" and "measured for target cpu-ort-fp32, not cpu-ort-int8" in p90["note"]
    flagged = check(run / "bundle.tar.gz", target="cpu-ort-int8", max_p90_ms=1000, max_drop_pts=100)
    assert not flagged["passed"] and flagged["gates"][0]["status"] == "fail"  # asked for, not measured: fails
    again = check(run / "bundle.tar.gz", target="cpu-ort-int8", max_drop_pts=100, reprofile=True)
    p90 = again["gates"][0]
    assert again["reprofiled"] and p90["status"] == "pass" and 0 < p90["measured"] != _p90(run)


@pytest.mark.parametrize("args, message", [
    (["nothere.tar.gz"], "bundle or run directory not found"),
    (["{run}", "--max-p90-ms", "-1"], "--max-p90-ms must be a number >= 0"),
    (["{run}", "--target", "no-such-target"], "no-such-target"),
])
def test_bad_input_exits_2(run, args, message):
    res = edgekd_cli("check", *[a.format(run=run) for a in args])
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr, res.stderr


def test_check_stage_records_junit_and_a_failing_one_stops_the_run(run, tmp_path):
    import edgekd
    from edgekd.schemas import Manifest, Recipe

    manifest = Manifest.load(run / "manifest.json")
    assert manifest.stages["check"].metrics["passed"] is True
    assert {a.kind for a in manifest.artifacts if a.stage == "check"} == {"check", "junit"}
    assert ET.parse(run / "check.junit.xml").getroot().get("failures") == "0"
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    strict = {"stage": "check", "id": "strict", "max_p90_ms": 1e-6, "max_drop_pts": 100, "junit": "strict.xml"}
    with pytest.raises(GateFailure, match=r"check: p90 latency at batch 1: .* > budget 1e-06 ms; see .*strict.xml"):
        edgekd.run(Recipe.model_validate({"name": "strict", "dataset": manifest.recipe["dataset"], "stages": [strict]}), copy)
    assert ET.parse(copy / "strict.xml").getroot().get("failures") == "1"
    with pytest.raises(EdgekdError):
        check(copy / "missing.tar.gz")
