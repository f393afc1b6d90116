"""Validated profiling settings (pydantic, host side): how long to measure and which runtime options to override.

The device agent receives these as JSON and reads them as plain attributes, so the device needs no pydantic.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edgekd.schemas.base import Strict


class MeasureConfig(Strict):
    warmup_runs: int = Field(10, ge=0, description="Warm-up runs at least.")
    warmup_ms: float = Field(200.0, ge=0, description="Warm-up time at least, ms (trtexec's default).")
    min_runs: int = Field(100, ge=1, description="Timed runs at least.")
    min_duration_s: float = Field(1.0, ge=0, description="Timed duration at least, s.")
    max_runs: int = Field(100_000, ge=1, description="Stop after this many timed runs whatever the duration.")
    per_op_runs: int = Field(20, ge=1, description="Runs of the separate profiling session for the per-op breakdown.")
    session_pairs: int = Field(4, ge=1, le=100, description=(
        "Compare only: fresh A and B sessions this many times, the rounds split among them. Two sessions of one "
        "model can differ by several percent from memory placement alone; the CI then spans that spread."))


class RuntimeOptions(Strict):
    """Runtime settings a profile may override; None keeps the target's choice."""

    graph_optimization: Literal["disable", "basic", "extended", "all"] = Field(
        "all", description="ONNX Runtime graph optimisation level.")
    threads: int | None = Field(None, ge=1, le=1024, description="Intra-op threads (at most 1024); None: the target's, else the runtime's default.")
    inter_op_threads: int = Field(1, ge=1, description="Inter-op threads (ONNX Runtime).")
    spinning: bool | None = Field(None, description="ONNX Runtime intra-op threads spin while idle; None: the "
                                  "runtime's default (on) when profiling, off when comparing (see compare_local).")
