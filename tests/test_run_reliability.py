"""Interrupted, concurrent and changed runs through the installed ``edgekd`` script: nothing lost, nothing stale.

Ctrl-C (SIGINT) and SIGKILL at several points of ``run``, ``compile`` and ``distill``, each followed by a plain rerun
that must end with the same model hashes as an uninterrupted run; four concurrent compiles into one directory; a
changed upstream stage that must propagate; a corrupt manifest that ``--force`` moves aside.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

EDGEKD = shutil.which("edgekd")
pytestmark = pytest.mark.skipif(EDGEKD is None, reason="the edgekd console script is not installed")

RECIPE = """\
name: tiny
target: cpu-ort-fp32
dataset: {name: digits, image_size: 8, split: {val: 0.1, test: 0.2, seed: 0}}
stages:
  - stage: teacher
    arch: {name: resnet, widths: [8, 16], blocks: [1, 1]}
    epochs: %(teacher_epochs)d
    lr: 0.01
  - stage: distill
    student: {name: resnet, widths: [4, 8], blocks: [1, 1]}
    loss: {ce: 1.0, kd: {weight: 1.0, temperature: 4.0}}
    epochs: 4
    lr: 0.01
  - stage: compile
    precision: fp32
    num_verify: 32
"""
MODEL_KINDS = {"checkpoint", "arch", "onnx", "split"}


def _recipe(tmp: Path, teacher_epochs: int = 2) -> Path:
    path = tmp / f"recipe-{teacher_epochs}.yaml"
    path.write_text(RECIPE % {"teacher_epochs": teacher_epochs})
    return path


def _edgekd(*args: str | Path, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([EDGEKD, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def _model_hashes(out: Path) -> dict[str, str]:
    """sha256 of every model-like artifact the manifest records (reports with timings excluded)."""
    manifest = json.loads((out / "manifest.json").read_text())
    return {a["path"]: a["sha256"] for a in manifest["artifacts"] if a["kind"] in MODEL_KINDS}


def _interrupt_when(args: list[str], marker: str | Path, sig: int, delay: float = 0.5) -> subprocess.CompletedProcess:
    """Start ``edgekd args``; ``delay`` s after ``marker`` (a line on its stderr, or a path glob that comes to
    exist) send it ``sig``, and wait for it to end."""
    # SIGINT at its default disposition: a shell that starts a job in the background without job control ignores it,
    # the child would inherit that, and Python then raises no KeyboardInterrupt (Ctrl-C would go unseen).
    proc = subprocess.Popen([EDGEKD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen, deadline = "", time.monotonic() + 300
    if isinstance(marker, Path):
        while not list(marker.parent.glob(marker.name)) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        reached = bool(list(marker.parent.glob(marker.name)))
    else:
        while marker not in seen and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            seen += line
        reached = marker in seen
    assert reached and proc.poll() is None, f"{args[0]} ended before {marker}: {seen[-2000:]}"
    time.sleep(delay)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, seen + err)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """An uninterrupted run of the tiny recipe (tests copy it, never change it)."""
    tmp = tmp_path_factory.mktemp("reference")
    res = _edgekd("run", _recipe(tmp), "--out", tmp / "run")
    assert res.returncode == 0, res.stderr
    return tmp / "run"


@pytest.fixture()
def run_copy(finished, tmp_path) -> Path:
    shutil.copytree(finished, tmp_path / "run")
    return tmp_path / "run"


@pytest.mark.parametrize("stage,sig", [("teacher", signal.SIGINT), ("distill", signal.SIGKILL)])
def test_interrupted_run_resumes_to_the_same_models(finished, tmp_path, stage, sig):
    out = tmp_path / "run"
    marker = f"stage {stage}" if stage == "teacher" else out / "last.state.pt"  # distill: after its first epoch
    res = _interrupt_when(["run", str(_recipe(tmp_path)), "--out", str(out)], marker, sig,
                          delay=1.0 if stage == "teacher" else 0.0)
    if sig == signal.SIGINT:
        assert res.returncode == 130, res.stderr
        assert res.stderr.rstrip().splitlines()[-1] == "aborted" and "Traceback" not in res.stderr
    else:
        assert res.returncode == -signal.SIGKILL
    manifest = json.loads((out / "manifest.json").read_text())
    assert stage in manifest["started"] and stage not in manifest["stages"]
    again = _edgekd("run", _recipe(tmp_path), "--out", out)  # no --force: the interrupted stage is redone or resumed
    assert again.returncode == 0, again.stderr
    assert "interrupted" in again.stderr
    assert _model_hashes(out) == _model_hashes(finished)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != ".edgekd.lock"]  # no stale temps
    assert json.loads((out / "manifest.json").read_text())["started"] == {}


def test_ctrl_c_and_kill_in_compile_and_distill_commands(run_copy, tmp_path):
    """The stand-alone commands: Ctrl-C exits 130 with 'aborted', SIGKILL leaves only temp files that the next
    call removes, no final-named file is ever unrecorded, and a rerun works."""
    teacher = run_copy / "teacher.safetensors"
    res = _interrupt_when(["distill", "--teacher", str(teacher), "--student", "{name: resnet, widths: [4, 8], blocks: [1, 1]}",
                           "--data", "digits", "--out", str(tmp_path / "student"), "--epochs", "400"],
                           tmp_path / "student" / "student.config.json", signal.SIGINT, 1.0)
    assert res.returncode == 130 and res.stderr.rstrip().splitlines()[-1] == "aborted"
    assert not (tmp_path / "student" / "student.safetensors").exists() or \
        "student.safetensors" in (tmp_path / "student" / "manifest.json").read_text()
    res = _interrupt_when(["compile", str(teacher), "--out", str(tmp_path / "c")], tmp_path / "c" / ".edgekd-compile-*",
                          signal.SIGINT, 0.2)
    assert res.returncode == 130 and res.stderr.rstrip().splitlines()[-1] == "aborted"
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == []  # scratch removed, nothing published
    again = _edgekd("compile", teacher, "--out", tmp_path / "c", "--force")
    assert again.returncode == 0, again.stderr
    killed = _interrupt_when(["compile", str(teacher), "--out", str(tmp_path / "k")], tmp_path / "k" / ".edgekd-compile-*",
                             signal.SIGKILL, 0.2)
    assert killed.returncode == -signal.SIGKILL
    again = _edgekd("compile", teacher, "--out", tmp_path / "k")
    assert again.returncode == 0, again.stderr  # nothing unrecorded blocks the rerun, no --force needed
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == [
        ".edgekd.lock", "manifest.json", "teacher.fp32.onnx", "teacher.fp32.verify.json"]  # stale scratch folder removed


def test_concurrent_compiles_record_every_file(run_copy, tmp_path):
    run = run_copy
    sources = []
    for i in range(4):  # four differently named copies of the teacher, compiled at once into one --out
        for suffix in (".safetensors", ".arch.json"):
            shutil.copy(run / f"teacher{suffix}", tmp_path / f"m{i}{suffix}")
        sources.append(tmp_path / f"m{i}.safetensors")
    procs = [subprocess.Popen([EDGEKD, "compile", str(s), "--out", str(tmp_path / "shared")], stderr=subprocess.PIPE,
                              text=True) for s in sources]
    codes = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _ in codes), codes
    manifest = json.loads((tmp_path / "shared" / "manifest.json").read_text())
    recorded = sorted(a["path"] for a in manifest["artifacts"])
    on_disk = sorted(p.name for p in (tmp_path / "shared").iterdir() if not p.name.startswith(".") and p.name != "manifest.json")
    assert recorded == on_disk and len(recorded) == 8


def test_changed_upstream_redoes_downstream_and_refusal_writes_nothing(run_copy, tmp_path):
    out = run_copy
    before = (out / "manifest.json").read_bytes()
    refused = _edgekd("run", _recipe(tmp_path, teacher_epochs=3), "--out", out)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "option 'epochs' changed; pass --redo teacher" in refused.stderr
    assert (out / "manifest.json").read_bytes() == before
    redone = _edgekd("run", _recipe(tmp_path, teacher_epochs=3), "--out", out, "--redo", "teacher", "--json")
    assert redone.returncode == 0, redone.stderr
    status = {k: v["status"] for k, v in json.loads(redone.stdout)["stages"].items()}
    assert status == {"teacher": "redone", "distill": "redone", "compile": "redone"}  # new teacher -> new student
    unknown = _edgekd("run", _recipe(tmp_path, teacher_epochs=3), "--out", out, "--redo", "nosuch")
    assert unknown.returncode == 2 and "no such stage id" in unknown.stderr


def test_corrupt_manifest_is_refused_then_moved_aside_with_force(run_copy, tmp_path):
    run = run_copy
    out = tmp_path / "c"
    out.mkdir()
    (out / "manifest.json").write_text("{not json")
    res = _edgekd("compile", run / "teacher.safetensors", "--out", out)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and "--force" in res.stderr
    assert sorted(p.name for p in out.iterdir()) == [".edgekd.lock", "manifest.json"]  # nothing published unrecorded
    res = _edgekd("compile", run / "teacher.safetensors", "--out", out, "--force")
    assert res.returncode == 0, res.stderr
    assert (out / "manifest.json.corrupt-1").read_text() == "{not json"
    assert "teacher.fp32.onnx" in (out / "manifest.json").read_text()
