"""``edgekd targets list|show``."""

from __future__ import annotations

import typer
from rich.table import Table

from edgekd.cli.common import emit_json, out

app = typer.Typer(no_args_is_help=True, help="List and inspect device targets.")


@app.command("list")
def list_command(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the shipped targets."""
    from edgekd.targets import list_targets

    targets = list_targets()
    if as_json:
        emit_json([t.model_dump(mode="json") for t in targets])
        return
    table = Table("name", "runtime", "device", "precisions", "connection", "p90 budget (ms)")
    for t in targets:
        p90 = t.budgets.p90_latency_ms
        table.add_row(t.name, t.runtime, t.device, ",".join(t.precisions), t.connection.kind, "" if p90 is None else f"{p90:g}")
    out.print(table)


@app.command("show")
def show_command(
    name: str = typer.Argument(..., help="Target name or path to a target YAML."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one target in full."""
    from edgekd.targets import get_target

    t = get_target(name)
    if as_json:
        emit_json(t.model_dump(mode="json"))
        return
    import yaml

    out.print(yaml.safe_dump(t.model_dump(mode="json"), sort_keys=False), highlight=False)
