"""``edgekd profile``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from edgekd.cli.common import emit_json, out, parse_ints


def profile_command(
    models: list[Path] = typer.Argument(..., help="One or more .onnx models."),
    target: str = typer.Option("cpu-ort-fp32", "--target", "-t", help="Target name or YAML path."),
    batch: str = typer.Option(None, "--batch", "-b", help="Batch sizes, e.g. 1,8 (default: the target's)."),
    runs: int = typer.Option(100, "--runs", help="Timed runs at least."),
    duration: float = typer.Option(1.0, "--duration", help="Timed duration at least, seconds."),
    inputs: Path = typer.Option(None, "--inputs", help=".npz with arrays named after the model inputs."),
    out_dir: Path = typer.Option(None, "--out", "-o", help="Write <model>.profile.json here."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing reports."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Measure latency of MODELS on a target."""
    import edgekd
    from edgekd.profile import MeasureConfig

    measure = MeasureConfig(min_runs=runs, min_duration_s=duration)
    reports = [edgekd.profile(m, target, parse_ints(batch, "--batch"), measure, inputs, out_dir, force) for m in models]
    if as_json:
        emit_json(reports if len(reports) > 1 else reports[0])
        return
    table = Table("model", "batch", "runs", "min", "median", "mean", "p90", "p99", "cv", "items/s", title="latency (ms)")
    for r in reports:
        for b in [r, *r["batches"]]:
            s = b["latency_ms"]
            table.add_row(Path(r["model"]).name, str(b["batch"]), str(b["runs"]), *(f"{s[k]:.3f}" for k in ("min", "median", "mean", "p90", "p99")),
                          f"{s['cv']:.1%}", f"{b['throughput_per_s']:.0f}")
    out.print(table)
    for r in reports:
        for w in [w for b in [r, *r["batches"]] for w in b["warnings"]]:
            out.print(f"[yellow]warning:[/yellow] {w}")
