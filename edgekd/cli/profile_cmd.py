"""``edgekd profile``: one model -> a latency report; two models -> an interleaved A/B comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from edgekd.cli.common import distinct_models, emit_json, out
from edgekd.errors import EdgekdError

GRAPH_OPT = ("disable", "basic", "extended", "all")


def _batches(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [report, *report["batches"]]


def _print_profile(report: dict[str, Any]) -> None:
    table = Table("batch", "runs", "min", "median", "mean", "p90", "p99", "cv", "items/s", "first run",
                  title=f"{Path(report['model']).name} on {report['target']}: latency (ms)")
    for b in _batches(report):
        s = b["latency_ms"]
        table.add_row(str(b["batch"]), str(b["runs"]), *(f"{s[k]:.3f}" for k in ("min", "median", "mean", "p90", "p99")),
                      f"{s['cv']:.1%}", f"{b['throughput_per_s']:.0f}", f"{b['first_run_ms']:.3f}")
    out.print(table)
    out.print(f"session creation {report['session_create_ms']:.1f} ms; peak RSS {report['memory']['peak_rss_bytes'] / 2**20:.1f} MiB")
    _print_skipped(report)
    for b in _batches(report):
        if b["per_op"]:
            top = ", ".join(f"{t['op_type']} {t['share']:.0%}" for t in b["per_op"]["op_types"][:5])
            out.print(f"batch {b['batch']} per op type: {top}")


def _print_compare(report: dict[str, Any]) -> None:
    a, b = Path(report["model_a"]["model"]).name, Path(report["model_b"]["model"]).name
    table = Table("batch", "runs", "A median", "B median", "B/A", "CI", "p", "verdict",
                  title=f"A = {a}, B = {b} on {report['target']} (interleaved, ms)")
    for r in _batches(report):
        table.add_row(str(r["batch"]), str(r["runs"]), f"{r['a']['latency_ms']['median']:.3f}",
                      f"{r['b']['latency_ms']['median']:.3f}", f"{r['ratio_of_medians']:.3f}",
                      f"{r['ci'][0]:.3f}-{r['ci'][1]:.3f}", f"{r['p_value']:.2g}", r["verdict"])
    out.print(table)
    _print_skipped(report)


def _print_skipped(report: dict[str, Any]) -> None:
    for s in report.get("skipped_batches", []):
        out.print(f"skipped batch {s['batch']} (the target's default): {s['reason']}")


def _batch_sizes(text: str | None) -> list[int] | None:
    """'1,8' -> [1, 8]; anything but positive integers is refused with one line."""
    if text is None:
        return None
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise EdgekdError(f"--batch must be positive integers separated by commas, e.g. 1,8; got {text!r}")
    return values


def _check_positive(values: dict[str, float | None]) -> None:
    """Refuse a zero or negative count or time limit with one line naming the option."""
    for flag, value in values.items():
        if value is not None and value <= 0:
            raise EdgekdError(f"{flag} must be positive, got {value:g}")


def _warnings(report: dict[str, Any]) -> list[str]:
    if report["kind"] == "compare":
        return [f"batch {r['batch']} {s.upper()}: {w}" for r in _batches(report) for s in "ab" for w in r[s]["warnings"]]
    return [f"batch {b['batch']}: {w}" for b in _batches(report) for w in b["warnings"]]


def profile_command(
    models: list[Path] = typer.Argument(..., help="One model to profile, or two (.onnx or TensorRT .engine) to compare."),
    target: str = typer.Option("cpu-ort-fp32", "--target", "-t", help="Target name or YAML path."),
    batch: str = typer.Option(None, "--batch", "-b", help="Batch sizes, e.g. 1,8 (default: the target's)."),
    runs: int = typer.Option(100, "--runs", help="Timed runs at least."),
    duration: float = typer.Option(1.0, "--duration", help="Timed duration at least, seconds (0: --runs alone decides)."),
    warmup_ms: float = typer.Option(200.0, "--warmup-ms", help="Warm-up time at least, ms."),
    per_op: bool = typer.Option(False, "--per-op", help="Add a per-op breakdown (separate profiling run)."),
    threads: int = typer.Option(None, "--threads", help="Intra-op threads (default: the target's)."),
    graph_opt: str = typer.Option("all", "--graph-opt", help="ONNX Runtime graph optimisation: " + ", ".join(GRAPH_OPT) + "."),
    inputs: Path = typer.Option(None, "--inputs", help=".npz with arrays named after the model inputs."),
    timeout: float = typer.Option(600.0, "--timeout", help="Give up on a remote device after this many seconds."),
    out_dir: Path = typer.Option(None, "--out", "-o", help="Write <model>.profile.{json,md,html} here."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing reports."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Measure latency of a model on a target, or compare two models with interleaved runs."""
    import edgekd
    from edgekd.profile import MeasureConfig, RuntimeOptions

    if len(models) > 2:
        raise EdgekdError(f"got {len(models)} models; pass one to profile or two to compare")
    distinct_models(models)
    _check_positive({"--runs": runs, "--threads": threads, "--timeout": timeout})
    for flag, value in {"--duration": duration, "--warmup-ms": warmup_ms}.items():
        if value < 0:
            raise EdgekdError(f"{flag} must be 0 or more, got {value:g}")
    if graph_opt not in GRAPH_OPT:
        raise EdgekdError(f"--graph-opt must be one of {', '.join(GRAPH_OPT)}, got {graph_opt!r}")
    measure = MeasureConfig(min_runs=runs, min_duration_s=duration, warmup_ms=warmup_ms)
    options = RuntimeOptions(threads=threads, graph_optimization=graph_opt)
    batches = _batch_sizes(batch)
    if len(models) == 2:
        report = edgekd.compare(models[0], models[1], target, batches, measure, inputs, out_dir, force, options=options,
                                timeout_s=timeout)
    else:
        report = edgekd.profile(models[0], target, batches, measure, inputs, out_dir, force, per_op=per_op,
                                options=options, timeout_s=timeout)
    if as_json:
        emit_json(report)
        return
    (_print_compare if report["kind"] == "compare" else _print_profile)(report)
    for w in _warnings(report):
        out.print(f"[yellow]warning:[/yellow] {w}")
    if report.get("files"):
        out.print(f"reports: {', '.join(report['files'].values())}")
