"""The ``qad`` recipe stage: teacher -> fp32 student -> QAD student -> compile at int8 with the learned scales."""

from __future__ import annotations

import json

import pytest
import torch

import edgekd
from edgekd.schemas import Recipe

torch.set_num_threads(1)


def test_qad_stage_feeds_compile_int8(tmp_path):
    recipe = Recipe.model_validate({
        "name": "digits-qad", "target": "cpu-ort-int8", "dataset": {"name": "digits", "image_size": 8},
        "stages": [
            {"stage": "teacher", "arch": {"name": "resnet", "widths": [8, 16], "blocks": [1, 1]}, "epochs": 3, "lr": 0.01},
            {"stage": "distill", "student": {"width": 0.5}, "epochs": 2, "lr": 0.01, "shift_pixels": 0},
            {"stage": "qad", "epochs": 1, "loss": {"ce": 1.0, "kd": 0.9}},
            {"stage": "compile", "precision": "int8", "num_verify": 128},
        ],
    })
    edgekd.run(recipe, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    text = json.dumps(manifest)
    assert "student.qad/student.qad.safetensors" in text and "student.qad.int8.onnx" in text
    report = json.loads((tmp_path / "student.qad.int8.verify.json").read_text())
    assert report["quantization"]["method"].startswith("quantization-aware")
    assert report["quantization"]["scheme"]["activation_type"] == "uint8"  # the recipe target's types
    assert report["verification"]["top1_agreement"] >= 0.9
    # int8 against the same student in float (fake quantizers removed), interleaved, at the target's batch sizes;
    # a batch where int8 loses is named in the notes with its ratio.
    speed = report["quantization"]["speed"]
    rows = {k: v for k, v in speed.items() if k.startswith("batch_")}
    assert rows and all(v["int8_speedup"] == pytest.approx(v["fp32_ms"] / v["int8_ms"]) for v in rows.values())
    slower = [k for k, v in rows.items() if v["int8_speedup"] < 1]
    assert len([n for n in report["notes"] if n.startswith("int8 is slower than fp32")]) == len(slower)
