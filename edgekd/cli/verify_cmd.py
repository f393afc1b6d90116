"""``edgekd verify``: a bundle is intact (hashes, schema, safe members) and its models load with their I/O."""

from __future__ import annotations

from pathlib import Path

import typer

from edgekd.cli.common import emit_json, out


def verify_command(
    bundle: Path = typer.Argument(..., help="Bundle .tar.gz or directory from edgekd package."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Re-hash every file, validate the manifest and load each model with ONNX Runtime; exit 2 on any mismatch."""
    from edgekd.budgets import fmt
    from edgekd.package.verify import verify

    res = verify(bundle)
    if as_json:
        emit_json(res)
        return
    loaded = sum(m["loaded"] for m in res["models"])
    out.print(f"ok: {res['bundle']}: {res['files']} files ({fmt(res['bytes'], 'bytes')}) match manifest.json; "
              f"{loaded} of {len(res['models'])} models loaded with ONNX Runtime, I/O as recorded", highlight=False)
