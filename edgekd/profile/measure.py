"""Timing: warm-up by count and time, timed runs until a minimum count and duration, and statistics."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
from pydantic import Field

from edgekd.schemas.base import Strict


class MeasureConfig(Strict):
    warmup_runs: int = Field(10, ge=0, description="Warm-up runs at least.")
    warmup_ms: float = Field(200.0, ge=0, description="Warm-up time at least, ms (trtexec's default).")
    min_runs: int = Field(100, ge=1, description="Timed runs at least.")
    min_duration_s: float = Field(1.0, ge=0, description="Timed duration at least, s.")
    max_runs: int = Field(100_000, ge=1, description="Stop after this many timed runs whatever the duration.")


def timed(fn: Callable[[], object]) -> float:
    """One call of ``fn``, ms."""
    t0 = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - t0) / 1e6


def warm_up(fn: Callable[[], object], cfg: MeasureConfig) -> int:
    """Run ``fn`` until both ``warmup_runs`` and ``warmup_ms`` are met; return the count."""
    n, start = 0, time.perf_counter()
    while n < cfg.warmup_runs or (time.perf_counter() - start) * 1e3 < cfg.warmup_ms:
        fn()
        n += 1
    return n


def sample(fn: Callable[[], object], cfg: MeasureConfig, tick: Callable[[], None] | None = None) -> list[float]:
    """Timed runs (ms each) until both ``min_runs`` and ``min_duration_s`` are met, capped at ``max_runs``."""
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < cfg.max_runs and (len(samples) < cfg.min_runs or time.perf_counter() - start < cfg.min_duration_s):
        samples.append(timed(fn))
        if tick:
            tick()
    return samples


def summarize(samples_ms: list[float]) -> dict[str, float]:
    """min, max, mean, median, p90, p95, p99, std (ms) and cv (std / mean)."""
    a = np.asarray(samples_ms, dtype=np.float64)
    p = np.percentile(a, [50, 90, 95, 99])
    mean, std = float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0
    return {"min": float(a.min()), "max": float(a.max()), "mean": mean, "median": float(p[0]), "p90": float(p[1]),
            "p95": float(p[2]), "p99": float(p[3]), "std": std, "cv": std / mean if mean else 0.0}
