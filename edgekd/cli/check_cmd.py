"""``edgekd check``: budget gates for CI. Exit 0 when every gate passes, 1 when one fails, 2 on bad input."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.table import Table

from edgekd.cli.common import emit_json, out


def check_command(
    bundle: Path = typer.Argument(..., help="Bundle (.tar.gz or directory) or run directory."),
    target: str = typer.Option(None, "--target", "-t", help="Target name or YAML path (default: the bundle's)."),
    max_p90_ms: float = typer.Option(None, "--max-p90-ms", help="p90 latency budget at batch 1, ms (replaces the target's)."),
    max_drop_pts: float = typer.Option(None, "--max-drop-pts", help="Accuracy-drop budget, points (replaces the target's)."),
    max_size_mb: float = typer.Option(None, "--max-size-mb", help="Model size budget, MB of 10^6 bytes (replaces the target's)."),
    reprofile: bool = typer.Option(False, "--reprofile", help="Measure latency again on this machine or the target's device."),
    junit: Path = typer.Option(None, "--junit", help="Write JUnit XML here (one testcase per gate)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check a model against a target's budgets and flags; $GITHUB_STEP_SUMMARY gets a Markdown table when set."""
    from edgekd.budgets import fmt
    from edgekd.package.gates import check

    res = check(bundle, target, max_p90_ms, max_drop_pts, max_size_mb, reprofile, junit,
                os.environ.get("GITHUB_STEP_SUMMARY") or None)
    if as_json:
        emit_json(res)
    else:
        table = Table("gate", "budget", "measured", "result", "how", title=f"{res['model']} on {res['target']}")
        for g in res["gates"]:
            got = fmt(g["measured"], g["unit"]) if g["measured"] is not None else "not measured"
            style = {"pass": "green", "fail": "red", "skip": "yellow"}[g["status"]]
            table.add_row(g["name"], fmt(g["budget"], g["unit"]), got, f"[{style}]{g['status']}[/{style}]", g["note"])
        out.print(table)
        s = res["summary"]
        out.print(f"{'passed' if res['passed'] else 'FAILED'}: {s['pass']} passed, {s['fail']} failed, {s['skip']} not measured"
                  + (f"; JUnit: {res['junit']}" if res["junit"] else ""))
    if not res["passed"]:
        raise typer.Exit(1)
