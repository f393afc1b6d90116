"""``edgekd compile``."""

from __future__ import annotations

from pathlib import Path

import typer

from edgekd.cli.common import emit_json, out


def compile_command(
    model: Path = typer.Argument(..., help="An edgekd .safetensors checkpoint or an .onnx model."),
    target: str = typer.Option("cpu-ort-fp32", "--target", "-t", help="Target name or YAML path."),
    precision: str = typer.Option(None, "--precision", "-p", help="fp32, fp16 or int8 (default: the target's)."),
    out_dir: Path = typer.Option(Path("compiled"), "--out", "-o", help="Output directory."),
    calib: Path = typer.Option(None, "--calib", help=".npz whose first array holds real input samples."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing outputs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Compile MODEL to a verified ONNX model for a target."""
    import edgekd
    from edgekd.data.arrays import first_array

    samples = first_array(calib) if calib else None
    res = edgekd.compile(model, target, precision, out_dir, samples=samples, force=force)
    if as_json:
        emit_json(res.to_dict())
        return
    v = res.verification
    out.print(f"[green]wrote[/green] {res.model} ({res.precision}, target {res.target})")
    out.print(f"verified against {v['against']} on {v['samples']} {v['inputs']} inputs: max abs diff {v['max_abs_diff']:.2e}, "
              f"cosine {v['cosine']:.6f}" + (f", top-1 agreement {v['top1_agreement']:.2%}" if "top1_agreement" in v else ""))
