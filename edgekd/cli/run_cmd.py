"""``edgekd run``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from edgekd.cli.common import emit_json, out


def run_command(
    recipe: Path = typer.Argument(..., help="Recipe YAML."),
    out_dir: Path = typer.Option(None, "--out", "-o", help="Run directory (default: the recipe's 'out')."),
    force: bool = typer.Option(False, "--force", help="Redo every stage and overwrite its outputs."),
    redo: list[str] = typer.Option(None, "--redo", help="Redo this stage id (repeatable or comma-separated); stages "
                                                        "that read its outputs are redone when those change."),
    quick: bool = typer.Option(False, "--quick", help="Use the recipe's 'quick' options: a small, fast run."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Run a recipe's stages in order; finished stages are skipped, interrupted ones redone or resumed."""
    from edgekd.schemas import Recipe, load_yaml, validate

    validate(Recipe, load_yaml(recipe, "recipe"), str(recipe))  # a bad file is refused before torch loads (~5 s)
    import edgekd

    stages = [s.strip() for r in redo or [] for s in r.split(",") if s.strip()]
    res = edgekd.run(recipe, out_dir, True if force else stages, quick=quick)
    if as_json:
        emit_json(res)
        return
    table = Table("stage", "status", "metrics")
    for sid, s in res["stages"].items():
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in s["metrics"].items())
        table.add_row(sid, s["status"], shown)
    out.print(table)
    out.print(f"manifest: {res['manifest']}")
