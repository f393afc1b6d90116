"""edgekd package: bundle layout and manifest against independently computed values, reproducible bytes, model card."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile

import numpy as np
import onnxruntime as ort
import pytest
from test_package_runs import edgekd_cli, student_run

from edgekd.errors import EdgekdError
from edgekd.package.api import package
from edgekd.package.tarball import MTIME

CARD_SECTIONS = ["Model details", "Intended use", "Factors", "Metrics", "Evaluation data", "Training data",
                 "Quantitative analyses", "Ethical considerations", "Caveats and recommendations"]


@pytest.fixture(scope="module")
def run(digits_run, tmp_path_factory):
    return student_run(digits_run, tmp_path_factory)


@pytest.fixture(scope="module")
def bundle(run, tmp_path_factory):
    """The student run packed into a directory (read by most tests below)."""
    out = tmp_path_factory.mktemp("bundle_dir") / "bundle"
    package(run, out)
    return out


def test_layout_hashes_and_io_match_the_files(bundle):
    m = json.loads((bundle / "manifest.json").read_text())
    assert m["format"] == "edgekd.bundle" and m["version"] == 1
    paths = {f["path"] for f in m["files"]}
    assert {"MODEL_CARD.md", "models/teacher.fp32.onnx", "models/student.fp32.onnx", "models/student.int8.onnx",
            "reports/student.int8.profile.json", "reports/student.int8.profile.html",
            "reports/student.int8.verify.json"} <= paths
    on_disk = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()} - {"manifest.json"}
    assert on_disk == paths
    for f in m["files"]:
        data = (bundle / f["path"]).read_bytes()
        assert f["sha256"] == hashlib.sha256(data).hexdigest() and f["bytes"] == len(data)
    assert m["primary"] == "models/student.int8.onnx"
    for entry in m["models"]:
        sess = ort.InferenceSession(str(bundle / entry["path"]), providers=["CPUExecutionProvider"])
        assert [i["name"] for i in entry["inputs"]] == [i.name for i in sess.get_inputs()]
        assert [i["shape"] for i in entry["inputs"]] == [list(i.shape) for i in sess.get_inputs()]
        assert [o["name"] for o in entry["outputs"]] == [o.name for o in sess.get_outputs()]
    roles = {e["path"]: (e["role"], e["precision"]) for e in m["models"]}
    assert roles["models/teacher.fp32.onnx"] == ("teacher", "fp32")
    assert roles["models/student.int8.onnx"] == ("student", "int8")
    assert m["env"]["cores"] >= 1 and m["recipe"]["name"] == "digits-package" and m["target"]["name"] == "cpu-ort-fp32"


def test_accuracy_and_latency_match_an_independent_measure(run, bundle):
    """The student's accuracy, recomputed here with ONNX Runtime on the recorded test split, and the teacher's."""
    from edgekd.data import load_dataset
    from edgekd.schemas import Recipe

    m = json.loads((bundle / "manifest.json").read_text())
    splits = load_dataset(Recipe.model_validate(m["recipe"]).dataset)
    x, y = splits.x["test"].numpy(), splits.y["test"].numpy()
    sess = ort.InferenceSession(str(bundle / "models/student.int8.onnx"), providers=["CPUExecutionProvider"])
    acc = 100.0 * float((sess.run(None, {sess.get_inputs()[0].name: x})[0].argmax(1) == y).mean())
    teacher_acc = json.loads((run / "teacher.metrics.json").read_text())["test_accuracy"]
    drop = m["accuracy_drop"]
    assert drop["against"] == "teacher"
    assert drop["model_accuracy"] == pytest.approx(acc) and drop["reference_accuracy"] == pytest.approx(teacher_acc)
    assert drop["pts"] == pytest.approx(teacher_acc - acc)
    report = json.loads((run / "student.int8.profile.json").read_text())
    lat = m["models"][-1]["latency"]
    assert lat["batch"] == 1 and lat["p90_ms"] == report["latency_ms"]["p90"] == np.percentile(report["samples_ms"], 90)
    assert m["models"][-1]["bytes"] == (run / "student.int8.onnx").stat().st_size


def test_same_run_packs_to_identical_bytes(run, tmp_path):
    a, b = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    package(run, a)
    os.utime(run / "student.int8.onnx", (1, 1))  # file times must not reach the tarball
    package(run, b)
    assert a.read_bytes() == b.read_bytes() == (run / "bundle.tar.gz").read_bytes()  # the package stage's too
    with tarfile.open(a) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.mtime, m.uid, m.gid, m.uname) for m in members} == {(MTIME, 0, 0, "")}


def test_model_card_sections_and_numbers(bundle):
    card = (bundle / "MODEL_CARD.md").read_text()
    m = json.loads((bundle / "manifest.json").read_text())
    heads = [line[3:] for line in card.splitlines() if line.startswith("## ")]
    assert heads == CARD_SECTIONS
    t, s = m["teacher"], m["student"]
    assert f"| teacher | {t['params']:,} | {t['test_accuracy']:.2f} |" in card
    assert f"| student | {s['params']:,} | {s['test_accuracy']:.2f} |" in card
    rows = [line for line in card.splitlines() if line.startswith("| `models/student.")]
    assert [r.split(" | ")[2] for r in rows] == ["fp32", "int8"]  # fp32 and int8 side by side
    assert f"{m['accuracy_drop']['pts']:.2f} points against the teacher" in card
    assert "Calibration of `models/student.int8.onnx`: minmax, 64 samples" in card and "int8 is not among them" in card


def test_refuses_overwrite_and_a_changed_run(run, tmp_path):
    out = tmp_path / "b.tar.gz"
    package(run, out)
    with pytest.raises(EdgekdError, match="already exists; pass --force"):
        package(run, out)
    copy = tmp_path / "run"
    import shutil

    shutil.copytree(run, copy)
    (copy / "student.fp32.onnx").write_bytes(b"junk")
    with pytest.raises(EdgekdError, match="student.fp32.onnx changed or vanished since the run recorded it"):
        package(copy, tmp_path / "c.tar.gz")


def test_package_stage_recorded_its_bundle(run):
    from edgekd.schemas import Manifest

    manifest = Manifest.load(run / "manifest.json")
    art = manifest.latest("bundle")
    assert art.path == "bundle.tar.gz" and manifest.intact(run, [art.path])
    assert manifest.stages["package"].metrics["sha256"] == hashlib.sha256((run / "bundle.tar.gz").read_bytes()).hexdigest()


def test_cli_json(run, tmp_path):
    res = edgekd_cli("package", run, "--out", tmp_path / "x.tar.gz", "--json")
    assert res.returncode == 0, res.stderr
    body = json.loads(res.stdout)
    assert body["sha256"] == hashlib.sha256((tmp_path / "x.tar.gz").read_bytes()).hexdigest()
    again = edgekd_cli("package", run, "--out", tmp_path / "x.tar.gz")
    assert again.returncode == 2 and "already exists; pass --force" in again.stderr and "Traceback" not in again.stderr


def test_search_trail_goes_into_bundle_and_card(digits_run, tmp_path):
    """A run with a search report (format edgekd.search/1, as edgekd.search writes it) carries its trail."""
    import shutil

    from edgekd.manifest_io import record

    run = tmp_path / "run"
    shutil.copytree(digits_run[0], run)
    top = [{"key": "w8-d2", "proxy": 0.8125, "latency_ms": 0.21, "params": 3012, "arch": {}},
           {"key": "w4-d1", "proxy": 0.5, "latency_ms": 0.12, "params": 998, "arch": {}}]
    trail = {"schema": "edgekd.search/1", "options": {"proxy": "synflow"}, "budget_ms": 0.5, "trials": 12,
             "evaluated": 10, "best": top[0], "top_k": top}
    (run / "search").mkdir()
    (run / "search" / "pareto.json").write_text(json.dumps(trail))
    record(run, "search", [(run / "search" / "pareto.json", "search", {})])
    package(run, tmp_path / "b")
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert m["search"]["trials"] == 12 and [r["key"] for r in m["search"]["top_k"]] == ["w8-d2", "w4-d1"]
    assert "reports/search/pareto.json" in {f["path"] for f in m["files"]}
    card = (tmp_path / "b" / "MODEL_CARD.md").read_text()
    assert "12 trials, 10 evaluated, proxy `synflow`, latency budget 0.500 ms" in card
    assert "| `w8-d2` | 0.812 | 0.210 | 3012 |" in card
