"""Reproducibility, training device and input checks of the teacher and distill entry points (tiny digits runs)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import edgekd
from edgekd.data import resolve_data
from edgekd.distill import DistillConfig, TeacherConfig, train_classifier, train_teacher
from edgekd.errors import EdgekdError
from edgekd.models import build_model, scaled_arch
from edgekd.schemas import DatasetSpec

torch.set_num_threads(1)
DIGITS = DatasetSpec(name="digits", image_size=8)
ARCH = {"name": "resnet", "widths": [4, 8, 8], "blocks": [1, 1, 1]}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def teacher_hash(out: Path, **options: object) -> str:
    torch.randn(1000)  # whatever ran before (another stage, another test) must not matter
    cfg = TeacherConfig(arch=ARCH, epochs=2, batch_size=128, shift_pixels=1, **options)
    train_teacher(DIGITS, cfg, out)
    return sha(out / "teacher.safetensors")


def test_same_seed_gives_byte_identical_teachers(tmp_path: Path) -> None:
    first = teacher_hash(tmp_path / "a", seed=3)
    assert teacher_hash(tmp_path / "b", seed=3) == first
    assert teacher_hash(tmp_path / "c", seed=4) != first


def test_text_teacher_with_dropout_and_student_are_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEKD_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    ids = rng.integers(4, 30, (60, 8))
    ids[:, 0], ids[:, 1], ids[:, 6:] = 1, y + 1, 0
    np.savez(tmp_path / "text.npz", input_ids=ids, y=y)
    splits = resolve_data(tmp_path / "text.npz")
    cfg = TeacherConfig(arch={"name": "bert", "hidden": 16, "layers": 2, "heads": 2, "dropout": 0.2}, epochs=1, shift_pixels=0)
    hashes = []
    for run in ("a", "b"):
        torch.randn(100)
        train_teacher(splits, cfg, tmp_path / run)
        hashes.append(sha(tmp_path / run / "teacher.safetensors"))
    assert hashes[0] == hashes[1]
    spec = {"ce": 1.0, "kd": 1.0, "feature": {"student": "layers.0.ffn", "teacher": "layers.1.ffn", "kind": "mse"}}
    d_cfg = DistillConfig(epochs=2, batch_size=16, shift_pixels=0, loss=spec, student={"width": 0.5, "depth": 0.5})
    students = []
    for run in ("sa", "sb"):
        torch.randn(100)
        res = edgekd.distill(tmp_path / "a" / "teacher.safetensors", data=splits, out=tmp_path / run, config=d_cfg)
        students.append((sha(Path(res.checkpoint)), sha(tmp_path / run / "student.adapters.safetensors")))
    assert students[0] == students[1]


def test_cuda_asked_for_without_cuda_is_a_one_line_error_and_cpu_trains(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    for call in (
        lambda: train_teacher(DIGITS, TeacherConfig(arch=ARCH, epochs=1, device="cuda"), tmp_path / "t"),
        lambda: train_classifier(build_model({**ARCH, "in_channels": 1}), torch.zeros(4, 1, 8, 8),
                                 torch.zeros(4, dtype=torch.long), torch.zeros(4, 1, 8, 8), torch.zeros(4, dtype=torch.long),
                                 TeacherConfig(epochs=1, device="cuda")),
        lambda: edgekd.distill(tmp_path / "missing.safetensors", data="digits", out=tmp_path / "s",
                               config=DistillConfig(device="cuda")),
    ):
        with pytest.raises(EdgekdError, match="device 'cuda' was asked for but torch sees no CUDA GPU") as err:
            call()
        assert "\n" not in str(err.value)
    res = train_teacher(DIGITS, TeacherConfig(arch=ARCH, epochs=3, batch_size=64, lr=0.01, device="cpu"), tmp_path / "cpu")
    assert res["test_accuracy"] > 20.0  # chance is 10%


@pytest.mark.parametrize("change,message", [
    ({"epochs": 0}, "teacher options: epochs: Input should be greater than or equal to 1"),
    ({"batch_size": -1}, "teacher options: batch_size: Input should be greater than or equal to 1"),
    ({"lr": 0.0}, "teacher options: lr: Input should be greater than 0"),
    ({"arch": {"name": "resnet", "widths": [0, 8, 8], "blocks": [1, 1, 1]}}, "arch 'resnet': widths\\[0\\] must be an integer from 1 to 4096"),
    ({"arch": {"name": "resnet", "widths": [8, 100000, 8], "blocks": [1, 1, 1]}}, "widths\\[1\\] must be an integer from 1 to 4096"),
    ({"arch": {"name": "resnet", "widths": [8, 8], "blocks": [1, 1, 1]}}, "one block count per width"),
    ({"arch": {"name": "bert", "hidden": 30, "heads": 4}}, "arch 'bert': hidden 30 must be divisible by heads 4"),
])
def test_impossible_teacher_options_are_one_line_errors(tmp_path: Path, change: dict, message: str) -> None:
    cfg = TeacherConfig(arch=ARCH).model_copy(update=change)  # as a caller that edits a config after building it
    with pytest.raises(EdgekdError, match=message) as err:
        train_teacher(DIGITS, cfg, tmp_path)
    assert "\n" not in str(err.value)


def test_impossible_distill_options_are_one_line_errors(tmp_path: Path) -> None:
    for kwargs, message in (({"epochs": 0}, "distill options: epochs: Input should be greater than or equal to 1"),
                            ({"loss": {"ce": 1.0, "kd": -1.0}}, "loss 'kd': weight must be a finite number >= 0")):
        with pytest.raises(EdgekdError, match=message):
            edgekd.distill(tmp_path / "t.safetensors", data="digits", out=tmp_path / "s", **kwargs)
    with pytest.raises(EdgekdError, match="student width factor must be a number in \\(0, 4\\]"):
        scaled_arch(ARCH, width=-0.5)


def test_cli_rejects_a_negative_loss_weight_in_one_line(tmp_path: Path) -> None:
    res = subprocess.run(["edgekd", "distill", "--teacher", str(tmp_path / "t.safetensors"), "--loss", "{ce: 1, dkd: -2}",
                          "--out", str(tmp_path / "s")], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "EDGEKD_CACHE": str(tmp_path / "cache")})
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        "error: loss 'dkd': weight must be a finite number >= 0, got -2; a negative weight would maximise the loss"]
