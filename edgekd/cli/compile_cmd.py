"""``edgekd compile``."""

from __future__ import annotations

from pathlib import Path

import typer

from edgekd.cli.common import emit_json, out


def _tolerance(text: str | None) -> dict[str, float] | None:
    """'max_abs=1e-3,min_cosine=0.999' -> {"max_abs": 0.001, "min_cosine": 0.999}."""
    if not text:
        return None
    try:
        values = {k.strip(): float(v) for k, v in (part.split("=", 1) for part in text.split(",") if part.strip())}
    except ValueError:
        raise typer.BadParameter("--tol takes key=value pairs, e.g. min_cosine=0.999,min_top1_agreement=0.98") from None
    from edgekd.export.verify import Tolerance
    from edgekd.schemas.base import check_overrides

    return check_overrides(Tolerance, values, "--tol")


def compile_command(
    model: Path = typer.Argument(..., help="A .safetensors checkpoint, .pt2 program, Hugging Face directory or .onnx "
                                           "(with --factory: a .safetensors state dict or '-')."),
    target: str = typer.Option("cpu-ort-fp32", "--target", "-t", help="Target name or YAML path."),
    precision: str = typer.Option(None, "--precision", "-p", help="fp32, fp16 or int8 (default: the target's)."),
    out_dir: Path = typer.Option(Path("compiled"), "--out", "-o", help="Output directory."),
    calib: Path = typer.Option(None, "--calib", help=".npz of real inputs ('x' or one array per input name; 'y' labels), "
                                                     "or a .txt of sentences (one per line) for Hugging Face text models. "
                                                     "Without --eval it is split: calibration / fallback choice / verification. "
                                                     "Transformers on ONNX Runtime CPU: SmoothQuant statistics for dynamic int8."),
    eval_data: Path = typer.Option(None, "--eval", help=".npz of held-out inputs (and 'y' labels) for verification and "
                                                        "reported accuracy; then --calib serves calibration and the fallback only."),
    calib_samples: int = typer.Option(256, "--calib-samples", min=1, help="Samples that calibrate int8."),
    calib_method: str = typer.Option("minmax", "--calib-method", help="minmax, entropy or percentile (static int8 only)."),
    num_verify: int = typer.Option(64, "--num-verify", min=1, help="Samples compared against the source model."),
    tol: str = typer.Option(None, "--tol", help="Tolerance overrides, e.g. min_cosine=0.999,max_abs=1e-3."),
    task: str = typer.Option(None, "--task", help="Hugging Face task (default: inferred from config.json)."),
    static: bool = typer.Option(False, "--static", help="Fix the batch axis instead of a dynamic one."),
    factory: str = typer.Option(None, "--factory", help="module:function returning an nn.Module (needs --trust-code)."),
    trust_code: bool = typer.Option(False, "--trust-code", help="Allow code to run: --factory, pickled objects in .pt2 programs, Hugging Face remote code."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing outputs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Compile MODEL to a verified ONNX model (and TensorRT engine) for a target."""
    from edgekd.export.checks import check_request

    check_request(model, target, precision, out_dir, factory, trust_code)  # before torch loads (~3 s)
    tolerance = _tolerance(tol)
    from edgekd.quant.calibration import calibration_method, load_calibration, load_npz

    calibration_method(calib_method)
    cal, cal_labels = load_calibration(calib) if calib else (None, None)
    samples, labels = load_npz(eval_data) if eval_data else (None, None)
    import edgekd

    res = edgekd.compile(model, target, precision, out_dir, samples=samples, num_verify=num_verify,
                         tolerance=tolerance, force=force, labels=labels, calib=cal, calib_labels=cal_labels,
                         calib_samples=calib_samples, calib_method=calib_method, task=task, static=static,
                         factory=factory, trust_code=trust_code)
    if as_json:
        emit_json(res.to_dict())
        return
    v, q = res.verification, res.quantization
    out.print(f"[green]wrote[/green] {res.model} ({res.precision}, target {res.target})")
    out.print(f"verified against {v['against']} on {v['samples']} inputs ({v['inputs_from']}): max abs diff "
              f"{v['max_abs_diff']:.2e}, cosine {v['cosine']:.6f}"
              + (f", top-1 agreement {v['top1_agreement']:.2%}" if "top1_agreement" in v else ""))
    if q:
        sq = q.get("smoothing")
        how = (f"static, {q['calibration']['method']} on {q['calibration']['data']}" if q["calibration"]
               else f"dynamic, SmoothQuant alpha {sq['alpha']} from {sq['statistics']['data']}" if sq
               else "dynamic, no calibration data")
        t = q["types"]
        out.print(f"int8 ({how}; activations {t['activations']}, weights {t['weights']})")
        acc = "" if q.get("int8_accuracy") is None else f"accuracy {q['fp32_accuracy']:.2f} -> {q['int8_accuracy']:.2f}, "
        agree = f"agreement with fp32 {q['agreement_with_fp32']:.2%}, " if "agreement_with_fp32" in q else ""
        out.print(f"held out ({v['inputs_from']}): {acc}{agree}worst cosine {q['min_cosine_vs_fp32']:.4f}")
        if q["kept_in_float"]:
            out.print(f"kept in float, chosen on {res.data['fallback_selection']['data']}: {', '.join(q['kept_in_float'])}")
        for k, s in (q.get("speed") or {}).items():
            if k.startswith("batch_"):
                out.print(f"int8 vs fp32 here, {k.replace('_', ' ')}: {s['int8_speedup']:.2f}x fp32 speed")
    for note in res.notes:
        out.print(f"[yellow]note[/yellow] {note}")
    for f in (f for f in res.files if f not in (res.model, res.report)):
        out.print(f"wrote {f}")
