"""Timing: warm-up by count and time, timed runs until a minimum count and duration, and statistics.

Needs only numpy: it runs on the device agent too (``cfg`` is a ``MeasureConfig`` or the same fields as attributes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from edgekd.profile.config import MeasureConfig

CV_WARNING = 0.05
COARSE_CLOCK_SHARE = 0.01

# A bound run: executes the model once on fixed inputs. It returns None when the caller should time it with
# the host clock, or the run's own device-side duration in ms (e.g. TensorRT timed with CUDA events).
Run = Callable[[], "float | None"]


def timed(fn: Run) -> float:
    """One call of ``fn``, ms: its own device time when it reports one, else host wall time."""
    t0 = time.perf_counter_ns()
    device_ms = fn()
    host_ms = (time.perf_counter_ns() - t0) / 1e6
    return host_ms if device_ms is None else float(device_ms)


def warm_up(fn: Run, cfg: MeasureConfig) -> int:
    """Run ``fn`` until both ``warmup_runs`` and ``warmup_ms`` are met; return the count."""
    n, start = 0, time.perf_counter()
    while n < cfg.warmup_runs or (time.perf_counter() - start) * 1e3 < cfg.warmup_ms:
        fn()
        n += 1
    return n


def sample(fn: Run, cfg: MeasureConfig, tick: Callable[[], None] | None = None) -> list[float]:
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


def timer_resolution_ms(reads: int = 2000) -> float:
    """Smallest non-zero step of ``time.perf_counter_ns`` seen over ``reads`` back-to-back reads, ms."""
    steps = []
    last = time.perf_counter_ns()
    for _ in range(reads):
        now = time.perf_counter_ns()
        if now != last:
            steps.append(now - last)
        last = now
    return min(steps) / 1e6 if steps else float("inf")


def warnings_for(stats: dict[str, float], resolution_ms: float) -> list[str]:
    """One line each: CV above 5%, or a clock step above 1% of the median latency."""
    out = []
    if stats["cv"] > CV_WARNING:
        out.append(f"CV {stats['cv']:.1%} > {CV_WARNING:.0%}: the machine is noisy; close other work, pin threads "
                   "or raise --runs/--duration")
    if resolution_ms > COARSE_CLOCK_SHARE * stats["median"]:
        out.append(f"clock step {resolution_ms * 1e3:.3f} us is over {COARSE_CLOCK_SHARE:.0%} of the median "
                   f"{stats['median']:.4f} ms: samples are quantised; raise the batch size")
    return out
