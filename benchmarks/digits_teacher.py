"""The small digits teacher the search benchmarks share (ResNet 16-32-64), trained once per work folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def digits_teacher(work: Path, image_size: int, epochs: int) -> tuple[Any, Path, dict[str, Any]]:
    """(digits splits at ``image_size``, the teacher checkpoint under ``work/teacher``, its metrics)."""
    from edgekd.data import resolve_data
    from edgekd.distill.teacher import TeacherConfig, train_teacher

    splits = resolve_data("digits", image_size=image_size)
    tdir = work / "teacher"
    teacher = tdir / "teacher.safetensors"
    if not teacher.is_file():
        train_teacher(splits, TeacherConfig(arch={"name": "resnet", "widths": [16, 32, 64], "blocks": [1, 1, 1]},
                                            epochs=epochs, lr=3e-3), tdir, force=True)
    return splits, teacher, json.loads((tdir / "teacher.metrics.json").read_text())
