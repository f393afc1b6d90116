"""Confirm a latency-ratio budget interleaved: the teacher and each leading candidate timed side by side.

Candidates are first measured one at a time (cached), which is cheap but drifts with the machine's load: on the
loaded 2-core machine a digits student measured 0.133 ms during the search and 0.19-0.23 ms later, so "ten times
faster than the teacher" was 4.3x when the two were run interleaved. ``budget_ratio`` promises a ratio, so the
pick is the best-scoring candidate whose interleaved ratio of medians (``edgekd.compare``) holds it.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Callable

from edgekd.profile.config import MeasureConfig

CONFIRM_MEASURE = MeasureConfig(warmup_runs=10, warmup_ms=50.0, min_runs=200, min_duration_s=1.0, per_op_runs=1)


Export = Callable[[dict[str, Any], Path], Path]  # (candidate row, path) -> that candidate's ONNX file at ``path``


def _check(teacher_onnx: Path, row: dict[str, Any], export: Export, batch: int, target: Any, work: Path,
           measure: MeasureConfig, inputs: Path | None) -> float:
    """Time ``row``'s model interleaved with the teacher; record and return teacher median / candidate median."""
    from edgekd.profile.compare import compare

    path = export(row, work / "candidate.onnx")
    rep = compare(teacher_onnx, path, target, [batch], measure, inputs, quiet=True)
    path.unlink(missing_ok=True)
    low, high = rep["ci"]
    row["interleaved"] = {"teacher_over_candidate": 1 / rep["ratio_of_medians"], "ci": [1 / high, 1 / low],
                          "batch": batch, "runs": rep["runs"], "verdict": rep["verdict"]}
    return 1 / rep["ratio_of_medians"]


def confirm_ratio(teacher_onnx: Path, rows: list[dict[str, Any]], ratio: float, teacher_ms: float, export: Export,
                  batch: int, target: Any, work: Path, limit: int, measure: MeasureConfig = CONFIRM_MEASURE,
                  inputs: Path | None = None) -> dict[str, Any] | None:
    """The first of ``rows`` (feasible, best score first; ``latency_ms`` and ``teacher_ms`` single measurements)
    whose model (``export(row, path)``) is at least ``1 / ratio`` times faster than the teacher's ONNX file when
    timed interleaved with it on ``target`` at ``batch`` (feeds from the ``inputs`` .npz if given), else None.
    Checked rows gain ``interleaved``.

    The first ``limit`` rows are checked in score order. If none holds, the drift they show between single and
    interleaved measurements (median of candidate ms x interleaved ratio / teacher ms) rescales the budget, and up
    to ``limit`` more rows under the rescaled budget are checked, again in score order.
    """
    work.mkdir(parents=True, exist_ok=True)

    def first_holding(candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
        return next((r for r in candidates
                     if _check(teacher_onnx, r, export, batch, target, work, measure, inputs) >= 1 / ratio), None)

    checked = rows[:limit]
    found = first_holding(checked)
    if found is not None or not checked:
        return found
    drift = statistics.median(r["latency_ms"] * r["interleaved"]["teacher_over_candidate"] / teacher_ms for r in checked)
    return first_holding([r for r in rows[limit:] if r["latency_ms"] * drift <= ratio * teacher_ms][:limit])
