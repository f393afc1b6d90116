"""``edgekd.profile``: latency of a model on a target, as a JSON report with raw samples (schema: docs/profile-report.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgekd.budgets import profile_budgets
from edgekd.errors import EdgekdError
from edgekd.inputs import check_model_file
from edgekd.manifest_io import guard_outputs
from edgekd.profile.config import MeasureConfig, RuntimeOptions
from edgekd.profile.local import profile_local
from edgekd.profile.memory import model_size
from edgekd.profile.output import report_paths, write_reports
from edgekd.schemas import Target
from edgekd.targets import get_target

DEFAULT_TIMEOUT_S = 600.0


def check_batches(batch_sizes: list[int] | None) -> None:
    """Refuse an empty list or a batch size below 1 (one line naming the value)."""
    if batch_sizes is None:
        return
    bad = [b for b in batch_sizes if not isinstance(b, int) or isinstance(b, bool) or b < 1]
    if not batch_sizes or bad:
        raise EdgekdError(f"batch sizes must be positive integers, got {list(batch_sizes)}; pass e.g. --batch 1,8")


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
    further batch sizes are under ``batches``. Without ``batch_sizes`` the target's are used and those the model
    cannot take (a fixed batch axis) are listed in ``skipped_batches``; a size asked for in ``batch_sizes`` that
    does not fit is an error. ``session_create_ms``, ``memory`` (bytes) and ``env`` describe the setup. With
    ``out``, also writes ``<stem>.profile.{json,md,html}`` there (``force`` to overwrite).
    ``timeout_s`` bounds a remote profile, s.
    """
    check_batches(batch_sizes)
    path, tgt = check_model_file(model), get_target(target)
    cfg, opts = measure or MeasureConfig(), options or RuntimeOptions()
    batches, explicit = batch_sizes or tgt.batch_sizes, batch_sizes is not None
    paths = report_paths(out, path.stem, "profile") if out else None
    if paths:
        guard_outputs(list(paths.values()), force)
    if tgt.connection.kind == "ssh":
        from edgekd.profile.remote import run_remote

        report = run_remote(tgt, "profile", [path], inputs, batches, cfg, opts, per_op, timeout_s, explicit)
    else:
        report = profile_local(path, tgt, batches, cfg, inputs, opts, per_op, quiet, explicit)
    report["memory"].update(model_size(path))
    report["budgets"] = profile_budgets(tgt, report)
    if paths:
        write_reports(report, paths, out, stage, meta={"model": path.name, "target": tgt.name}, force=force)
    return report
