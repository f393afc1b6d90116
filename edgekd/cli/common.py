"""Output helpers shared by every command: JSON on stdout, one-line errors on stderr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from edgekd.errors import EdgekdError

out = Console()
err = Console(stderr=True)


def emit_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout (no rich markup, no wrapping)."""
    typer.echo(json.dumps(obj, indent=2, default=str))


def parse_ints(text: str | None, what: str) -> list[int] | None:
    """'1,8,32' -> [1, 8, 32]."""
    if text is None:
        return None
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(f"{what} must be comma-separated integers, e.g. 1,8") from None
    if not values or min(values) < 1:
        raise typer.BadParameter(f"{what} must be positive integers, e.g. 1,8")
    return values


def distinct_models(models: list[Path]) -> None:
    """Refuse an A/B comparison of a file with itself (it would report noise as a speed-up)."""
    if len(models) == 2 and models[0].resolve() == models[1].resolve():
        raise EdgekdError(f"both models are {models[0]}; compare two different files, or profile one")
