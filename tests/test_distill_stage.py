"""The ``distill`` recipe stage: teacher -> student, and the compile stage that follows takes the student."""

from __future__ import annotations

from pathlib import Path

import edgekd
from edgekd.schemas import Manifest, Recipe


def test_recipe_distills_then_compiles_the_student(tmp_path: Path) -> None:
    recipe = Recipe.model_validate({
        "name": "digits-kd",
        "dataset": {"name": "digits", "image_size": 8},
        "stages": [
            {"stage": "teacher", "arch": {"name": "resnet", "widths": [8, 16, 16], "blocks": [1, 1, 1]}, "epochs": 3, "lr": 0.01},
            {"stage": "distill", "student": {"name": "resnet", "widths": [4, 8, 8], "blocks": [1, 1, 1]}, "epochs": 2,
             "shift_pixels": 0, "loss": {"ce": 1.0, "kd": {"weight": 0.9, "temperature": 4}}},
            {"stage": "compile", "precision": "fp32", "num_verify": 32},
        ],
    })
    res = edgekd.run(recipe, tmp_path)
    kd = res["stages"]["distill"]["metrics"]
    assert kd["params"] < kd["teacher_params"] and kd["teacher_outputs"] == "cached now"
    assert (tmp_path / "cache").is_dir()
    manifest = Manifest.load(tmp_path / "manifest.json")
    onnx = manifest.latest("onnx")
    assert Path(onnx.path).name.startswith("student") and manifest.latest("checkpoint").meta["role"] == "student"
    assert {s["status"] for s in edgekd.run(recipe, tmp_path)["stages"].values()} == {"skipped"}
