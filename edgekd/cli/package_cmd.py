"""``edgekd package``: a run directory -> a reproducible bundle with manifest and model card."""

from __future__ import annotations

from pathlib import Path

import typer

from edgekd.cli.common import emit_json, out


def package_command(
    run: Path = typer.Argument(..., help="Run directory (the --out of edgekd run or edgekd compile)."),
    bundle: Path = typer.Option(..., "--out", "-o", help="Bundle: a .tar.gz file, or any other path for a directory."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing bundle."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Pack a run's models, reports, manifest and model card into one bundle."""
    from edgekd.budgets import fmt
    from edgekd.package.api import package

    res = package(run, bundle, force)
    if as_json:
        emit_json(res)
        return
    out.print(f"bundle: {res['bundle']} ({res['format']}, {len(res['files'])} files, {fmt(res['bytes'], 'bytes')})")
    out.print(f"model: {res['primary']}")
    if res["sha256"]:
        out.print(f"sha256: {res['sha256']}")
    for g in res["budgets"]:
        out.print(f"budget {g['status']}: {g['message']}", highlight=False)
