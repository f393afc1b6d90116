"""``edgekd.compare``: two models on one target, runs interleaved, ratio of medians with a CI and a rank test."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from edgekd.errors import EdgekdError
from edgekd.fsutil import sha256
from edgekd.manifest_io import guard_outputs
from edgekd.profile.api import DEFAULT_TIMEOUT_S, SCHEMA, bar, environment
from edgekd.profile.backends import RuntimeOptions, get_backend
from edgekd.profile.inputs import feeds_for
from edgekd.profile.measure import MeasureConfig, Run, summarize, timed, timer_resolution_ms, warm_up, warnings_for
from edgekd.profile.output import report_paths, write_reports
from edgekd.profile.stats import compare_samples
from edgekd.schemas import Target
from edgekd.targets import get_target


def interleave(run_a: Run, run_b: Run, cfg: MeasureConfig, tick: Any = None) -> tuple[list[float], list[float]]:
    """Alternate A B / B A rounds until ``min_runs`` rounds and ``min_duration_s`` have passed; samples in ms."""
    a: list[float] = []
    b: list[float] = []
    start = time.perf_counter()
    while len(a) < cfg.max_runs and (len(a) < cfg.min_runs or time.perf_counter() - start < cfg.min_duration_s):
        if len(a) % 2:
            b.append(timed(run_b))
            a.append(timed(run_a))
        else:
            a.append(timed(run_a))
            b.append(timed(run_b))
        if tick:
            tick()
    return a, b


def _side(samples: list[float], batch: int, resolution_ms: float, first_ms: float) -> dict[str, Any]:
    stats = summarize(samples)
    return {"first_run_ms": first_ms, "latency_ms": stats, "throughput_per_s": batch * 1e3 / stats["median"],
            "samples_ms": samples, "warnings": warnings_for(stats, resolution_ms)}


def compare_local(model_a: Path, model_b: Path, target: Target, batches: list[int], cfg: MeasureConfig,
                  inputs: str | Path | None, options: RuntimeOptions, quiet: bool) -> dict[str, Any]:
    """Compare in this process; the report dict without output paths."""
    for m in (model_a, model_b):
        if not m.is_file():
            raise EdgekdError(f"model not found: {m}")
    resolution_ms = timer_resolution_ms()
    sessions, info = [], []
    for m in (model_a, model_b):
        t0 = time.perf_counter()
        sessions.append(get_backend(m, target).open(m, target, options))
        info.append({"model": str(m), "model_sha256": sha256(m), "model_bytes": m.stat().st_size,
                     "session_create_ms": (time.perf_counter() - t0) * 1e3, "providers": sessions[-1].providers})
    results = []
    with bar(quiet) as progress:
        for batch in batches:
            runs = [s.bind(feeds_for(s.inputs, batch, inputs)) for s in sessions]
            firsts = [timed(r) for r in runs]
            for r in runs:
                warm_up(r, cfg)
            task = progress.add_task(f"batch {batch} A/B", total=cfg.min_runs, info="")
            a, b = interleave(runs[0], runs[1], cfg, tick=lambda t=task: progress.advance(t))
            results.append({"batch": batch, "runs": len(a), "a": _side(a, batch, resolution_ms, firsts[0]),
                            "b": _side(b, batch, resolution_ms, firsts[1]), **compare_samples(a, b)})
    return {"schema": SCHEMA, "kind": "compare", "model_a": info[0], "model_b": info[1], "target": target.name, "runtime": target.runtime,
            "providers": sessions[0].providers, "threads": options.threads or target.threads, "clock": sessions[0].clock,
            "timer_resolution_ms": resolution_ms, "measure": cfg.model_dump(), "options": options.model_dump(),
            **results[0], "batches": results[1:], "env": environment(sessions[0], target, options), "remote": None}


def compare(
    model_a: str | Path,
    model_b: str | Path,
    target: str | Path | Target = "cpu-ort-fp32",
    batch_sizes: list[int] | None = None,
    measure: MeasureConfig | None = None,
    inputs: str | Path | None = None,
    out: str | Path | None = None,
    force: bool = False,
    stage: str = "compare",
    *,
    options: RuntimeOptions | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    quiet: bool = False,
) -> dict[str, Any]:
    """Time A and B in interleaved runs on ``target`` (over SSH when its connection says so).

    Per batch size: each side's ``latency_ms`` stats and ``samples_ms``, ``ratio_of_medians`` = median(B) /
    median(A) with a bootstrap ``ci``, a Mann-Whitney U ``p_value`` and a ``verdict``; the first batch size at
    the top level, the rest under ``batches``. With ``out``, writes ``<A>_vs_<B>.compare.{json,md,html}``.
    """
    a, b, tgt = Path(model_a), Path(model_b), get_target(target)
    cfg, opts = measure or MeasureConfig(), options or RuntimeOptions()
    batches = batch_sizes or tgt.batch_sizes
    paths = report_paths(out, f"{a.stem}_vs_{b.stem}", "compare") if out else None
    if paths:
        guard_outputs(list(paths.values()), force)
    if tgt.connection.kind == "ssh":
        from edgekd.profile.remote import run_remote

        report = run_remote(tgt, "compare", [a, b], inputs, batches, cfg, opts, False, timeout_s)
    else:
        report = compare_local(a, b, tgt, batches, cfg, inputs, opts, quiet)
    if paths:
        write_reports(report, paths, out, stage, meta={"a": a.name, "b": b.name, "target": tgt.name})
    return report
