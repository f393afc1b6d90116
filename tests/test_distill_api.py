"""``edgekd.distill`` and ``edgekd distill`` end to end on a tiny digits teacher (8x8 inputs, seconds per run)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import edgekd
from edgekd.cli.app import app
from edgekd.data import resolve_data
from edgekd.distill import DistillConfig, TeacherConfig, train_teacher
from edgekd.errors import EdgekdError
from edgekd.models import load_checkpoint
from edgekd.schemas import DatasetSpec, Manifest

torch.set_num_threads(1)
FAST = {"epochs": 2, "batch_size": 128, "shift_pixels": 0}


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("teacher")
    cfg = TeacherConfig(arch={"name": "resnet", "widths": [8, 16, 16], "blocks": [1, 1, 1]}, epochs=4, lr=0.01)
    train_teacher(DatasetSpec(name="digits", image_size=8), cfg, out)
    return out / "teacher.safetensors"


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEKD_CACHE", str(tmp_path / "cache"))


def test_distill_writes_a_loadable_student_and_reuses_cached_teacher_outputs(teacher: Path, tmp_path: Path) -> None:
    hint = {"student": "layers.2", "teacher": "layers.2"}
    cfg = DistillConfig(**FAST, loss={"ce": 1.0, "kd": {"weight": 0.9, "temperature": 4}, "fitnet": hint})
    res = edgekd.distill(teacher, {"width": 0.5}, "digits", tmp_path / "a", cfg)
    assert res.teacher_outputs == "cached now" and res.params < res.teacher_params
    model, arch = load_checkpoint(res.checkpoint)
    assert arch["widths"] == [4, 8, 8] and model(torch.zeros(1, 1, 8, 8)).shape == (1, 10)
    assert (tmp_path / "a" / "student.adapters.safetensors").is_file()
    rows = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1] and {"loss", "kd", "fitnet", "val_accuracy"} <= set(rows[0])
    manifest = Manifest.load(tmp_path / "a" / "manifest.json")
    assert manifest.latest("checkpoint").meta["role"] == "student"
    assert manifest.latest("split").meta["train"]["size"] == 1257
    again = edgekd.distill(teacher, {"width": 0.5}, "digits", tmp_path / "b", cfg)
    assert again.teacher_outputs == "cache hit"
    with pytest.raises(EdgekdError, match="already exists; pass --force"):
        edgekd.distill(teacher, {"width": 0.5}, "digits", tmp_path / "a", cfg)
    with pytest.raises(EdgekdError, match="cannot resume .* other options \\(epochs: 2 -> 3\\)"):
        edgekd.distill(teacher, {"width": 0.5}, "digits", tmp_path / "a", cfg, epochs=3, resume=True)
    finished = edgekd.distill(teacher, {"width": 0.5}, "digits", tmp_path / "a", cfg, resume=True)
    assert finished.epochs_run == 2 and finished.test_accuracy == pytest.approx(res.test_accuracy)


def test_augmented_training_runs_the_teacher_live_and_early_stops(teacher: Path, tmp_path: Path) -> None:
    cfg = DistillConfig(epochs=6, batch_size=256, shift_pixels=1, patience=1, lr=1e-6, optimizer="sgd", grad_clip=1.0,
                        loss={"ce": 0.1, "dist": 1.0})
    res = edgekd.distill(teacher, {"width": 0.5}, "digits", tmp_path, cfg)
    assert res.teacher_outputs == "live (augmented inputs)"
    assert res.stopped_early and res.epochs_run < 6


def test_cli_json_and_transfer_set_labels(teacher: Path, tmp_path: Path) -> None:
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({"name": "resnet", "widths": [4, 4, 8], "blocks": [1, 1, 1]}))
    res = CliRunner().invoke(app, ["distill", "--teacher", str(teacher), "--student", str(arch), "--out", str(tmp_path / "s"),
                                   "--loss", "ce,kd", "--epochs", "1", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["params"] < 2000
    cfg = DistillConfig(**FAST, label_fraction=0.1)
    edgekd.distill(teacher, str(arch), "digits", tmp_path / "t", cfg)
    assert json.loads((tmp_path / "t" / "student.split.json").read_text())["labelled_train"] == 126
    with pytest.raises(EdgekdError, match="nothing to resume"):
        edgekd.distill(teacher, str(arch), "digits", tmp_path / "none", cfg, resume=True)


def test_text_and_image_folder_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    y = np.arange(120) % 3
    ids = rng.integers(4, 30, (120, 10))
    ids[:, 0], ids[:, 1], ids[:, 8:] = 1, y + 1, 0  # [CLS], a class-revealing token, padding
    np.savez(tmp_path / "text.npz", input_ids=ids, y=y)
    t_cfg = TeacherConfig(arch={"name": "bert", "vocab_size": 30, "hidden": 32, "layers": 4, "heads": 4, "max_len": 10},
                          epochs=1, shift_pixels=0)
    splits = resolve_data(tmp_path / "text.npz")
    train_teacher(splits, t_cfg, tmp_path / "bt")
    cfg = DistillConfig(**FAST, loss={"ce": 1.0, "kd": 1.0, "minilm": {"student": ["layers.1.attn.q", "layers.1.attn.k"],
                                                                         "teacher": ["layers.3.attn.q", "layers.3.attn.k"]}})
    res = edgekd.distill(tmp_path / "bt" / "teacher.safetensors", {"width": 0.5, "depth": 0.5}, tmp_path / "text.npz",
                         tmp_path / "bs", cfg)
    _, arch = load_checkpoint(res.checkpoint)
    assert (arch["hidden"], arch["layers"]) == (16, 2)
    pil = pytest.importorskip("PIL.Image")
    for c in range(2):
        (tmp_path / "imgs" / f"c{c}").mkdir(parents=True)
        for i in range(10):
            pixels = (rng.random((6, 6)) * 255 * (c + 1) / 2).astype(np.uint8)
            pil.fromarray(pixels).save(tmp_path / "imgs" / f"c{c}" / f"{i}.png")
    s = resolve_data(tmp_path / "imgs", image_size=8)
    assert s.input_shape == (1, 8, 8) and s.num_classes == 2 and len(s.y["test"]) == 4
