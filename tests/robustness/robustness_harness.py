"""Runs robustness cases through the installed ``edgekd`` console script and judges each outcome.

A case is a command line, the files it needs in a fresh directory, and the exit code a user should get. Every
case directory also holds ``prior/``, the outputs of an earlier compile and profile, which must come out
byte-identical. Used by ``test_robustness.py`` and ``make_doc.py`` (this folder is on sys.path for both)``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Union

import numpy as np

FileSpec = Union[str, bytes, Callable[[Path], None]]


def edgekd_script() -> str:
    """The installed console script: the one beside this Python (a venv's), else the first on PATH."""
    found = shutil.which("edgekd", path=str(Path(sys.executable).parent)) or shutil.which("edgekd")
    if not found:
        raise RuntimeError("the edgekd console script is not installed; pip install -e .")
    return found


@dataclass
class Case:
    """One bad input: ``args`` after ``edgekd``, run in a directory holding ``files`` (name -> text, bytes,
    ``fixture(name)`` or a callable that writes the path)."""

    id: str
    command: str
    args: list[str]
    files: dict[str, FileSpec] = field(default_factory=dict)
    what: str = ""
    expect: int = 2
    xfail: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 120.0


@dataclass
class Outcome:
    case: Case
    rc: int | None
    stderr: str
    seconds: float
    changed: list[str]
    new_files: list[str]

    @property
    def lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.strip()]

    @property
    def message(self) -> str:
        return self.lines[0].strip() if len(self.lines) == 1 else " / ".join(ln.strip() for ln in self.lines[-2:])

    @property
    def problems(self) -> list[str]:
        """Why the outcome is not clean; empty when it is."""
        out = []
        if self.rc is None:
            out.append(f"did not finish in {self.case.timeout:g} s")
        elif self.rc != self.case.expect:
            out.append(f"exit {self.rc}, expected {self.case.expect}")
        if "Traceback" in self.stderr:
            out.append("traceback")
        if len(self.lines) != 1:
            out.append(f"{len(self.lines)} stderr lines")
        if self.changed:
            out.append(f"changed earlier outputs: {', '.join(self.changed[:3])}")
        if self.new_files:
            out.append(f"left files: {', '.join(self.new_files[:3])}")
        return out

    @property
    def clean(self) -> bool:
        return not self.problems


def fixture(name: str) -> Callable[[Path], None]:
    """A file spec that copies the session fixture ``name`` (see ``build_fixtures``)."""

    def copy(dst: Path) -> None:
        shutil.copyfile(FIXTURES[name], dst)

    copy.__name__ = f"fixture:{name}"
    return copy


def npz(**arrays: object) -> Callable[[Path], None]:
    """A file spec that writes ``arrays`` with ``numpy.savez`` (object arrays pickled, as an attacker would)."""

    def write(dst: Path) -> None:
        with open(dst, "wb") as f:
            np.savez(f, **arrays)

    return write


FIXTURES: dict[str, Path] = {}


def build_fixtures(root: Path) -> dict[str, Path]:
    """Tiny models built once: an ONNX model, an edgekd checkpoint with its arch JSON, calibration data, and
    ``prior/``, a compile and profile of the ONNX model (the earlier outputs every case must leave alone)."""
    import onnx
    import torch
    from onnx import TensorProto, helper, numpy_helper

    import edgekd
    from edgekd.models import build_model, save_checkpoint
    from edgekd.profile import MeasureConfig

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((64, 10)).astype(np.float32), "W")
    b = numpy_helper.from_array(np.zeros(10, np.float32), "B")
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["input"], ["flat"]), helper.make_node("Gemm", ["flat", "W", "B"], ["logits"])],
        "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.save(model, str(root / "tiny.onnx"))
    big = numpy_helper.from_array(np.zeros(1, np.float32), "H")
    big.ClearField("dims")
    big.dims.extend([200_000, 200_000])  # declares 160 GB, holds 4 bytes
    huge = helper.make_model(helper.make_graph([helper.make_node("Identity", ["H"], ["logits"])], "huge", [],
                                               [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [200_000, 200_000])],
                                               [big]), opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(huge, str(root / "huge-declared.onnx"))
    arch = {"name": "resnet", "widths": [4], "blocks": [1], "in_channels": 1, "num_classes": 10}
    torch.manual_seed(0)
    net = build_model(arch)
    save_checkpoint(net, arch, root / "tiny.safetensors", input_shape=(1, 8, 8))
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(root / "bare.safetensors"))
    x = rng.standard_normal((32, 1, 8, 8)).astype(np.float32)
    np.savez(root / "calib.npz", x=x, y=rng.integers(0, 10, 32))
    prior = root / "prior"
    res = edgekd.compile(root / "tiny.onnx", "cpu-ort-fp32", "fp32", prior, num_verify=8)
    edgekd.profile(res.model, "cpu-ort-fp32", [1], MeasureConfig(min_runs=5, min_duration_s=0, warmup_ms=0, warmup_runs=1),
                   out=prior, quiet=True)
    FIXTURES.update({p.name: p for p in root.iterdir() if p.is_file()})
    FIXTURES["prior"] = prior
    return FIXTURES


LOCK_NAME = ".edgekd.lock"  # a directory lock's holder note (a pid), rewritten by every run: not an output


def _digest(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink() and p.name != LOCK_NAME:
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run_case(case: Case, workdir: Path, script: str) -> Outcome:
    """Run ``case`` in a fresh ``workdir`` and compare the directory's files before and after."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    shutil.copytree(FIXTURES["prior"], workdir / "prior")
    for name, spec in case.files.items():
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(spec):
            spec(path)
        elif isinstance(spec, bytes):
            path.write_bytes(spec)
        else:
            path.write_text(spec)
    before = _digest(workdir)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EDGEKD_CACHE": str(workdir.parent / ".cache"), "COLUMNS": "200",
           **case.env}
    t0 = time.perf_counter()
    try:
        res = subprocess.run([script, *case.args], cwd=workdir, env=env, capture_output=True, text=True,
                             timeout=case.timeout, errors="replace")
        rc, stderr = res.returncode, res.stderr
    except subprocess.TimeoutExpired as err:
        rc, stderr = None, (err.stderr or b"").decode(errors="replace") if isinstance(err.stderr, bytes) else (err.stderr or "")
    seconds = time.perf_counter() - t0
    after = _digest(workdir)
    changed = [k for k, v in before.items() if after.get(k) != v]
    new = [k for k in after if k not in before]
    return Outcome(case, rc, stderr, seconds, changed, new)


def run_all(cases: list[Case], root: Path, workers: int = 3,
            done: Callable[[Outcome], None] | None = None) -> dict[str, Outcome]:
    """Run ``cases`` (fixtures must be built) ``workers`` at a time; outcomes by case id. ``done`` sees each outcome."""
    script = edgekd_script()

    def one(case: Case) -> Outcome:
        outcome = run_case(case, root / case.id, script)
        if done:
            done(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {c.id: pool.submit(one, c) for c in cases}
        return {k: f.result() for k, f in futures.items()}
