"""``edgekd.profile``: latency of a model on a target, as a JSON report with raw samples."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from edgekd.envinfo import fingerprint
from edgekd.fsutil import sha256, write_json
from edgekd.manifest_io import guard_outputs, record
from edgekd.errors import EdgekdError
from edgekd.profile.backends import get_backend
from edgekd.profile.inputs import load_inputs, make_inputs
from edgekd.profile.measure import MeasureConfig, sample, summarize, timed, warm_up
from edgekd.schemas import Target
from edgekd.targets import get_target
from edgekd.ui import progress

CV_WARNING = 0.05


def _one_batch(session: Any, feeds: dict, batch: int, cfg: MeasureConfig, bar: Any) -> dict[str, Any]:
    run = lambda: session.run(feeds)  # noqa: E731
    first = timed(run)
    warmups = warm_up(run, cfg)
    task = bar.add_task(f"batch {batch}", total=cfg.min_runs, info="")
    samples = sample(run, cfg, tick=lambda: bar.advance(task))
    bar.update(task, completed=len(samples), total=len(samples))
    stats = summarize(samples)
    warnings = []
    if stats["cv"] > CV_WARNING:
        warnings.append(f"CV {stats['cv']:.1%} > {CV_WARNING:.0%}: the machine is noisy; close other work or raise --runs")
    return {
        "batch": batch, "first_run_ms": first, "warmup_runs": warmups, "runs": len(samples),
        "latency_ms": stats, "throughput_per_s": batch * 1e3 / stats["median"],
        "samples_ms": samples, "warnings": warnings,
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
) -> dict[str, Any]:
    """Profile ``model`` on ``target`` and return the report; with ``out``, also write ``<stem>.profile.json``.

    The report's top level is the first batch size: ``latency_ms.{min,max,mean,median,p90,p95,p99,std,cv}``
    (ms), ``samples_ms`` (every timed run), ``throughput_per_s`` (items/s), ``first_run_ms``; further batch
    sizes are under ``batches``. ``session_create_ms`` and ``env`` describe the setup.
    """
    path, tgt = Path(model), get_target(target)
    if not path.is_file():
        raise EdgekdError(f"model not found: {path}")
    cfg = measure or MeasureConfig()
    batches = batch_sizes or tgt.batch_sizes
    dst = Path(out) / f"{path.name.removesuffix('.onnx')}.profile.json" if out else None
    if dst:
        guard_outputs([dst], force)
    t0 = time.perf_counter()
    session = get_backend(tgt).open(path, tgt)
    create_ms = (time.perf_counter() - t0) * 1e3
    results = []
    with progress(transient=True) as bar:
        for b in batches:
            feeds = load_inputs(inputs, session.inputs, b) if inputs else make_inputs(session.inputs, b)
            results.append(_one_batch(session, feeds, b, cfg, bar))
    report = {
        "model": str(path), "model_sha256": sha256(path), "model_bytes": path.stat().st_size,
        "target": tgt.name, "runtime": tgt.runtime, "providers": session.providers, "threads": tgt.threads,
        "session_create_ms": create_ms, "measure": cfg.model_dump(), **results[0], "batches": results[1:],
        "env": fingerprint(),
    }
    if dst:
        report["report"] = str(dst)
        write_json(dst, report)
        record(out, stage, [(dst, "profile", {"meta": {"model": path.name, "target": tgt.name}})])
    return report
