"""Measuring in this process: one model per batch size, or two models interleaved. The device agent runs this.

Needs only numpy, psutil and the model's runtime (onnxruntime, or tensorrt for engines): no pydantic, onnx, scipy
or rich, so a Raspberry Pi runs it with three packages. ``target``, ``cfg`` and ``options`` are the validated
pydantic objects on the host, or the same fields as plain attributes on the device (see ``agent.py``).
"""

from __future__ import annotations

import os
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from edgekd.envinfo import fingerprint
from edgekd.errors import EdgekdError
from edgekd.fsutil import sha256
from edgekd.profile.backends import Session, backend_name, get_backend
from edgekd.profile.inputs import feeds_for, usable_batches
from edgekd.profile.measure import Run, sample, summarize, timed, timer_resolution_ms, warm_up, warnings_for
from edgekd.profile.memory import peak_rss_bytes, reset_peak_rss, rss_bytes
from edgekd.profile.perop import aggregate

if TYPE_CHECKING:
    from edgekd.profile.config import MeasureConfig, RuntimeOptions
    from edgekd.schemas import Target

SCHEMA = "edgekd.profile/1"


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
    if quiet:
        return nullcontext(_NoBar())
    from edgekd.ui import progress

    return progress(transient=True)


def as_dict(obj: Any) -> dict[str, Any]:
    """Fields of a pydantic model (host) or of a plain attribute object (device)."""
    return obj.model_dump() if hasattr(obj, "model_dump") else dict(vars(obj))


def _open(model: Path, target: Target, options: RuntimeOptions) -> tuple[Session, float]:
    # The host checks the file's content where it enters (edgekd.inputs.check_model_file in profile/compare; it
    # needs onnx); the device, which has no onnx, only checks that the copied file is there.
    if not model.is_file():
        raise EdgekdError(f"model not found: {model}")
    t0 = time.perf_counter()
    session = get_backend(model, target).open(model, target, options)
    return session, (time.perf_counter() - t0) * 1e3


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
            "spinning": options.spinning,
            "providers": session.providers}


def profile_local(model: Path, target: Target, batches: list[int], cfg: MeasureConfig, inputs: str | Path | None,
                  options: RuntimeOptions, per_op: bool, quiet: bool, explicit_batches: bool = True) -> dict[str, Any]:
    """Profile ``model`` in this process; the report dict without output paths and model sizes.

    Batch sizes the model cannot take are skipped (listed in ``skipped_batches``) unless ``explicit_batches``.
    """
    resolution_ms = timer_resolution_ms()
    reset_peak_rss()
    rss0 = rss_bytes()
    session, create_ms = _open(model, target, options)
    rss1 = rss_bytes()
    batches, skipped = usable_batches([session.inputs], batches, explicit_batches)
    results = []
    with bar(quiet) as b:
        for batch in batches:
            results.append(measure_batch(session, feeds_for(session.inputs, batch, inputs), batch, cfg, b, resolution_ms))
    memory: dict[str, Any] = {"rss_before_session_bytes": rss0, "rss_after_session_bytes": rss1,
                              "session_rss_delta_bytes": rss1 - rss0, "peak_rss_bytes": peak_rss_bytes(), **session.memory()}
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
        "measure": as_dict(cfg), "options": as_dict(options), **results[0], "batches": results[1:],
        "skipped_batches": skipped, "memory": memory, "env": environment(session, target, options), "remote": None,
    }


def interleave(run_a: Run, run_b: Run, cfg: MeasureConfig, tick: Any = None) -> tuple[list[float], list[float]]:
    """Alternate A B / B A rounds until ``min_runs`` rounds and ``min_duration_s`` have passed; samples in ms.

    ``a[i]`` and ``b[i]`` come from the same round: they are pairs, and the statistics treat them as such.
    """
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
                  inputs: str | Path | None, options: RuntimeOptions, quiet: bool,
                  explicit_batches: bool = True) -> dict[str, Any]:
    """Interleaved samples of A and B in this process; the report without statistics (``compare`` adds them).

    Each batch size is timed over ``cfg.session_pairs`` fresh pairs of sessions (opened in alternating order) so
    that one session's lucky or unlucky memory placement is not reported as a difference between the models;
    ``session_pair[i]`` says which pair round ``i`` ran on. Intra-op spinning is off unless ``options`` asks for it:
    with it on, the idle session's spinning worker competes with the other's runs (MiniLM at 2 threads here: 81 ms
    interleaved with spinning, 38 ms without, 30 ms alone; the ratio to a 3-layer student 5.05x, 4.78x, 4.57x).
    """
    if options.spinning is None:
        options = SimpleNamespace(**{**as_dict(options), "spinning": False})  # type: ignore[assignment]
    resolution_ms = timer_resolution_ms()
    info, initial = [], []
    for m in (model_a, model_b):
        session, create_ms = _open(m, target, options)
        initial.append(session)
        info.append({"model": str(m), "model_sha256": sha256(m), "model_bytes": m.stat().st_size,
                     "session_create_ms": create_ms, "providers": session.providers})
    batches, skipped = usable_batches([s.inputs for s in initial], batches, explicit_batches)
    pairs = cfg.session_pairs
    block = SimpleNamespace(**{**as_dict(cfg), "min_runs": -(-cfg.min_runs // pairs),
                               "min_duration_s": cfg.min_duration_s / pairs, "max_runs": -(-cfg.max_runs // pairs)})
    results = []
    with bar(quiet) as progress:
        for batch in batches:
            task = progress.add_task(f"batch {batch} A/B", total=block.min_runs * pairs, info="")
            a: list[float] = []
            b: list[float] = []
            groups: list[int] = []
            firsts: list[float] = []
            for k in range(pairs):
                if k:  # a fresh pair, opened B first every other time
                    order = [1, 0] if k % 2 else [0, 1]
                    opened = {i: _open((model_a, model_b)[i], target, options)[0] for i in order}
                    sessions = [opened[0], opened[1]]
                else:
                    sessions = initial
                runs = [s.bind(feeds_for(s.inputs, batch, inputs)) for s in sessions]
                timed_first = [timed(r) for r in runs]
                firsts = firsts or timed_first
                for r in runs:
                    warm_up(r, block)
                ka, kb = interleave(runs[0], runs[1], block, tick=lambda t=task: progress.advance(t))
                a, b, groups = a + ka, b + kb, groups + [k] * len(ka)
            results.append({"batch": batch, "runs": len(a), "session_pair": groups,
                            "a": _side(a, batch, resolution_ms, firsts[0]), "b": _side(b, batch, resolution_ms, firsts[1])})
    return {"schema": SCHEMA, "kind": "compare", "model_a": info[0], "model_b": info[1], "target": target.name,
            "runtime": target.runtime, "providers": initial[0].providers, "threads": options.threads or target.threads,
            "clock": initial[0].clock, "timer_resolution_ms": resolution_ms, "measure": as_dict(cfg),
            "options": as_dict(options), **results[0], "batches": results[1:], "skipped_batches": skipped,
            "env": environment(initial[0], target, options), "remote": None}
