"""Confirm a latency-ratio budget interleaved: the teacher and each leading candidate timed side by side.

Candidates are first measured one at a time (cached), which is cheap but drifts with the machine's load: on the
loaded 2-core machine a digits student measured 0.133 ms during the search and 0.19-0.23 ms later, so "ten times
faster than the teacher" was 4.3x when the two were run interleaved. ``budget_ratio`` promises a ratio, so the
pick is the best-scoring candidate whose interleaved ratio of medians (``edgekd.compare``) holds it.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from torch import nn

from edgekd.models import build_model
from edgekd.profile.config import MeasureConfig
from edgekd.search.latency import example_inputs, export_fast

CONFIRM_MEASURE = MeasureConfig(warmup_runs=10, warmup_ms=50.0, min_runs=200, min_duration_s=1.0, per_op_runs=1)


def _check(teacher_onnx: Path, row: dict[str, Any], x: Any, target: Any, work: Path) -> float:
    """Time ``row``'s model interleaved with the teacher; record and return teacher median / candidate median."""
    from edgekd.profile.compare import compare

    path = export_fast(build_model(row["arch"]).eval(), [x], work / f"{row['key']}.onnx", target.opset)
    rep = compare(teacher_onnx, path, target, [x.shape[0]], CONFIRM_MEASURE, quiet=True)
    path.unlink(missing_ok=True)
    low, high = rep["ci"]
    row["interleaved"] = {"teacher_over_candidate": 1 / rep["ratio_of_medians"], "ci": [1 / high, 1 / low],
                          "batch": x.shape[0], "verdict": rep["verdict"]}
    return 1 / rep["ratio_of_medians"]


def confirm_ratio(teacher: nn.Module, rows: list[dict[str, Any]], ratio: float, teacher_ms: float,
                  input_shape: tuple[int, ...], tokens: bool, target: Any, work: Path, limit: int) -> dict[str, Any] | None:
    """The first of ``rows`` (feasible, best score first; ``latency_ms`` and ``teacher_ms`` single measurements) that is at least ``1 / ratio`` times faster than ``teacher`` when timed
    interleaved with it on ``target`` at its first batch size, else None. Checked rows gain ``interleaved``.

    The first ``limit`` rows are checked in score order. If none holds, the drift they show between single and
    interleaved measurements (median of candidate ms x interleaved ratio / teacher ms) rescales the budget, and up
    to ``limit`` more rows under the rescaled budget are checked, again in score order.
    """
    work.mkdir(parents=True, exist_ok=True)
    x = example_inputs(input_shape, target.batch_sizes[0], tokens)
    teacher_onnx = export_fast(teacher.eval(), [x], work / "teacher.onnx", target.opset)

    def first_holding(candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
        return next((r for r in candidates if _check(teacher_onnx, r, x, target, work) >= 1 / ratio), None)

    checked = rows[:limit]
    found = first_holding(checked)
    if found is not None or not checked:
        return found
    drift = statistics.median(r["latency_ms"] * r["interleaved"]["teacher_over_candidate"] / teacher_ms for r in checked)
    return first_holding([r for r in rows[limit:] if r["latency_ms"] * drift <= ratio * teacher_ms][:limit])
