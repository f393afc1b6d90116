"""The ``qad`` recipe stage: teacher -> fp32 student -> QAD student -> compile at int8 with the learned scales."""

from __future__ import annotations

import json

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
