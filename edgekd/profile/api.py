"""``edgekd.profile``: latency of a model on a target, as a JSON report with raw samples (schema: docs/profile-report.md)."""

from __future__ import annotations

import os
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from edgekd.envinfo import fingerprint
from edgekd.errors import EdgekdError
from edgekd.fsutil import sha256
from edgekd.manifest_io import guard_outputs
from edgekd.profile.backends import RuntimeOptions, Session, backend_name, get_backend
from edgekd.profile.inputs import feeds_for
from edgekd.profile.measure import MeasureConfig, sample, summarize, timed, timer_resolution_ms, warm_up, warnings_for
from edgekd.profile.memory import model_size, peak_rss_bytes, reset_peak_rss, rss_bytes
from edgekd.profile.output import report_paths, write_reports
from edgekd.profile.perop import aggregate
from edgekd.schemas import Target
from edgekd.targets import get_target
from edgekd.ui import progress

SCHEMA = "edgekd.profile/1"
DEFAULT_TIMEOUT_S = 600.0


class _NoBar:
    """Stands in for a progress bar when output must stay quiet (the remote agent)."""

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def advance(self, *args: Any, **kwargs: Any) -> None:
        pass

    def update(self, *args: Any, **kwargs: Any) -> None:
        pass


def bar(quiet: bool) -> AbstractContextManager[Any]:
    """A transient progress bar on stderr, or a silent stand-in."""
    return nullcontext(_NoBar()) if quiet else progress(transient=True)


def measure_batch(session: Session, feeds: dict, batch: int, cfg: MeasureConfig, bar: Any, resolution_ms: float) -> dict[str, Any]:
    """First run, warm-up, then timed runs of one batch size; stats in ms, throughput in items/s."""
    run = session.bind(feeds)
    first = timed(run)
    t0 = time.perf_counter()
    warmups = warm_up(run, cfg)
    warmup_ms = (time.perf_counter() - t0) * 1e3
    task = bar.add_task(f"batch {batch}", total=cfg.min_runs, info="")
    t0 = time.perf_counter()
    samples = sample(run, cfg, tick=lambda: bar.advance(task))
    duration_s = time.perf_counter() - t0
    bar.update(task, completed=len(samples), total=len(samples))
    stats = summarize(samples)
    return {"batch": batch, "first_run_ms": first, "warmup_runs": warmups, "warmup_ms": warmup_ms, "runs": len(samples),
            "duration_s": duration_s, "latency_ms": stats, "throughput_per_s": batch * 1e3 / stats["median"],
            "samples_ms": samples, "warnings": warnings_for(stats, resolution_ms), "per_op": None}


def environment(session: Session, target: Target, options: RuntimeOptions) -> dict[str, Any]:
    """The machine fingerprint plus the threads and cores this profile used."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {**fingerprint(), "usable_cores": cores, "threads": options.threads or target.threads,
            "inter_op_threads": options.inter_op_threads, "graph_optimization": options.graph_optimization,
            "providers": session.providers}


def profile_local(model: Path, target: Target, batches: list[int], cfg: MeasureConfig, inputs: str | Path | None,
                  options: RuntimeOptions, per_op: bool, quiet: bool) -> dict[str, Any]:
    """Profile ``model`` in this process; the report dict without output paths."""
    if not model.is_file():
        raise EdgekdError(f"model not found: {model}")
    resolution_ms = timer_resolution_ms()
    reset_peak_rss()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    session = get_backend(model, target).open(model, target, options)
    create_ms = (time.perf_counter() - t0) * 1e3
    rss1 = rss_bytes()
    results = []
    with bar(quiet) as b:
        for batch in batches:
            results.append(measure_batch(session, feeds_for(session.inputs, batch, inputs), batch, cfg, b, resolution_ms))
    memory: dict[str, Any] = {"rss_before_session_bytes": rss0, "rss_after_session_bytes": rss1,
                              "session_rss_delta_bytes": rss1 - rss0, "peak_rss_bytes": peak_rss_bytes(),
                              **session.memory(), **model_size(model)}
    if per_op:
        for r in results:
            op = session.per_op(feeds_for(session.inputs, r["batch"], inputs), cfg.per_op_runs)
            r["per_op"] = aggregate(op)
            memory.update({k: max(v, memory.get(k, 0)) for k, v in op.memory.items()})
    return {
        "schema": SCHEMA, "kind": "profile", "model": str(model), "model_sha256": sha256(model),
        "model_bytes": model.stat().st_size, "target": target.name, "runtime": target.runtime,
        "backend": backend_name(model, target), "providers": session.providers, "threads": options.threads or target.threads,
        "clock": session.clock, "timer_resolution_ms": resolution_ms, "session_create_ms": create_ms,
        "measure": cfg.model_dump(), "options": options.model_dump(), **results[0], "batches": results[1:],
        "memory": memory, "env": environment(session, target, options), "remote": None,
    }


def profile(
    model: str | Path,
    target: str | Path | Target = "cpu-ort-fp32",
    batch_sizes: list[int] | None = None,
    measure: MeasureConfig | None = None,
    inputs: str | Path | None = None,
    out: str | Path | None = None,
    force: bool = False,
    stage: str = "profile",
    *,
    per_op: bool = False,
    options: RuntimeOptions | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    quiet: bool = False,
) -> dict[str, Any]:
    """Profile ``model`` on ``target`` (over SSH when the target's connection says so) and return the report.

    The report's top level is the first batch size: ``latency_ms.{min,max,mean,median,p90,p95,p99,std,cv}``
    (ms), ``samples_ms`` (every timed run), ``throughput_per_s`` (items/s), ``first_run_ms``, ``per_op``;
    further batch sizes are under ``batches``. ``session_create_ms``, ``memory`` (bytes) and ``env`` describe
    the setup. With ``out``, also writes ``<stem>.profile.{json,md,html}`` there (``force`` to overwrite).
    ``timeout_s`` bounds a remote profile, s.
    """
    path, tgt = Path(model), get_target(target)
    cfg, opts = measure or MeasureConfig(), options or RuntimeOptions()
    batches = batch_sizes or tgt.batch_sizes
    paths = report_paths(out, path.stem, "profile") if out else None
    if paths:
        guard_outputs(list(paths.values()), force)
    if tgt.connection.kind == "ssh":
        from edgekd.profile.remote import run_remote

        report = run_remote(tgt, "profile", [path], inputs, batches, cfg, opts, per_op, timeout_s)
    else:
        report = profile_local(path, tgt, batches, cfg, inputs, opts, per_op, quiet)
    if paths:
        write_reports(report, paths, out, stage, meta={"model": path.name, "target": tgt.name})
    return report
