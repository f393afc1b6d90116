"""``edgekd.compare``: two models on one target, runs interleaved, ratio of medians with a CI and a rank test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgekd.inputs import check_model_file
from edgekd.manifest_io import guard_outputs
from edgekd.profile.api import DEFAULT_TIMEOUT_S, check_batches
from edgekd.profile.config import MeasureConfig, RuntimeOptions
from edgekd.profile.local import compare_local
from edgekd.profile.output import report_paths, write_reports
from edgekd.profile.stats import compare_samples
from edgekd.schemas import Target
from edgekd.targets import get_target


def add_statistics(report: dict[str, Any]) -> dict[str, Any]:
    """Add the paired statistics (``compare_samples``) to every batch row of a compare report, in place."""
    for row in [report, *report["batches"]]:
        row.update(compare_samples(row["a"]["samples_ms"], row["b"]["samples_ms"], groups=row.get("session_pair")))
    return report


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
    median(A) with a ``ci`` from a bootstrap over the interleaved (A, B) pairs, a Mann-Whitney U ``p_value`` and a
    ``verdict``; the first batch size at
    the top level, the rest under ``batches``. With ``out``, writes ``<A>_vs_<B>.compare.{json,md,html}``.
    """
    check_batches(batch_sizes)
    a, b, tgt = check_model_file(model_a), check_model_file(model_b), get_target(target)
    cfg, opts = measure or MeasureConfig(), options or RuntimeOptions()
    batches, explicit = batch_sizes or tgt.batch_sizes, batch_sizes is not None
    paths = report_paths(out, f"{a.stem}_vs_{b.stem}", "compare") if out else None
    if paths:
        guard_outputs(list(paths.values()), force)
    if tgt.connection.kind == "ssh":
        from edgekd.profile.remote import run_remote

        report = run_remote(tgt, "compare", [a, b], inputs, batches, cfg, opts, False, timeout_s, explicit)
    else:
        report = compare_local(a, b, tgt, batches, cfg, inputs, opts, quiet, explicit)
    add_statistics(report)
    if paths:
        write_reports(report, paths, out, stage, meta={"a": a.name, "b": b.name, "target": tgt.name}, force=force)
    return report
