"""Confirm a latency-ratio budget interleaved: the teacher and each leading candidate timed side by side.

Candidates are first measured one at a time (cached), which is cheap but drifts with the machine's load: on the
loaded 2-core machine a digits student measured 0.133 ms during the search and 0.19-0.23 ms later, so "ten times
faster than the teacher" was 4.3x when the two were run interleaved. ``budget_ratio`` promises a ratio, so the
pick is the best-scoring candidate whose interleaved ratio of medians (``edgekd.compare``) holds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from edgekd.models import build_model
from edgekd.profile.config import MeasureConfig
from edgekd.search.latency import example_inputs, export_fast

CONFIRM_MEASURE = MeasureConfig(warmup_runs=10, warmup_ms=50.0, min_runs=200, min_duration_s=1.0, per_op_runs=1)


def confirm_ratio(teacher: nn.Module, rows: list[dict[str, Any]], ratio: float, input_shape: tuple[int, ...],
                  tokens: bool, target: Any, work: Path, limit: int) -> dict[str, Any] | None:
    """Time ``rows`` (best first, at most ``limit``) interleaved with ``teacher`` on ``target`` at its first batch
    size; each row gains ``interleaved`` = {teacher_over_candidate, ci, verdict}. Returns the first row at least
    ``1 / ratio`` times faster than the teacher, else None."""
    from edgekd.profile.compare import compare

    work.mkdir(parents=True, exist_ok=True)
    batch = target.batch_sizes[0]
    x = example_inputs(input_shape, batch, tokens)
    teacher_onnx = export_fast(teacher.eval(), [x], work / "teacher.onnx", target.opset)
    for row in rows[:limit]:
        path = export_fast(build_model(row["arch"]).eval(), [x], work / f"{row['key']}.onnx", target.opset)
        rep = compare(teacher_onnx, path, target, [batch], CONFIRM_MEASURE, quiet=True)
        low, high = rep["ci"]
        row["interleaved"] = {"teacher_over_candidate": 1 / rep["ratio_of_medians"], "ci": [1 / high, 1 / low],
                              "batch": batch, "verdict": rep["verdict"]}
        path.unlink(missing_ok=True)
        if 1 / rep["ratio_of_medians"] >= 1 / ratio:
            return row
    return None
