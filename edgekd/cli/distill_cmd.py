"""``edgekd distill``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from edgekd.cli.common import emit_json, out


def _mapping(text: str | None, what: str) -> Any:
    """Inline YAML/JSON (``{ce: 1, kd: {weight: 0.9}}``), a file holding it, or comma-separated names (``ce,kd``)."""
    if text is None:
        return None
    import yaml

    path = Path(text)
    raw = path.read_text() if path.suffix in (".json", ".yaml", ".yml") and path.is_file() else text
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise typer.BadParameter(f"{what}: not valid YAML/JSON: {text}") from None
    if isinstance(value, str) and what == "--loss":
        return {name.strip(): 1.0 for name in value.split(",") if name.strip()}
    return value


def distill_command(
    teacher: Path = typer.Option(..., "--teacher", "-t", help="Teacher .safetensors checkpoint."),
    student: str = typer.Option(None, "--student", "-s", help="Arch JSON file or inline JSON, a .safetensors to start "
                                "from, or scale factors like '{width: 0.33, depth: 1}'."),
    data: str = typer.Option("digits", "--data", "-d", help="'digits', an .npz (x/y images or input_ids/y tokens) "
                             "or an ImageFolder dir."),
    out_dir: Path = typer.Option(Path("student"), "--out", "-o", help="Output directory."),
    loss: str = typer.Option(None, "--loss", help="Weighted losses, e.g. '{ce: 1.0, kd: {weight: 0.9, temperature: 4}}' "
                             "or 'ce,dist'."),
    epochs: int = typer.Option(None, "--epochs", "-e", min=1, help="Training epochs."),
    config: Path = typer.Option(None, "--config", "-c", help="YAML with any distill options (see DistillConfig)."),
    quantize: str = typer.Option(None, "--quantize", help="'int8': quantization-aware distillation (fake-quantized "
                                 "student; compile its checkpoint with --precision int8, scales kept)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/last.state.pt exactly."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing outputs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Distil a TEACHER checkpoint into a smaller student (runs under torchrun for DDP)."""
    from edgekd.distill.checks import check_outputs, distill_options, parse_spec
    from edgekd.distill.config import DistillConfig
    from edgekd.inputs import check_model_file
    from edgekd.schemas import load_yaml, validate

    cfg = validate(DistillConfig, load_yaml(config, "distill config") or {}, str(config)) if config else DistillConfig()
    student_spec = _mapping(student, "--student") if student and not student.endswith((".json", ".safetensors")) else student
    loss_spec = _mapping(loss, "--loss")
    # options, loss weights, outputs and the teacher file are checked before torch loads (~3 s): bad input is refused
    options = distill_options(cfg, student=student_spec, loss=loss_spec, epochs=epochs, quantize=quantize)
    parse_spec(options.loss)
    check_outputs(out_dir, options, resume, force)
    check_model_file(teacher)
    import edgekd

    res = edgekd.distill(teacher, student_spec, data, out_dir, cfg, loss=loss_spec, epochs=epochs, quantize=quantize,
                         resume=resume, force=force)
    if as_json:
        emit_json(res.to_dict())
        return
    table = Table("metric", "value")
    for k, v in res.to_dict().items():
        table.add_row(k, f"{v:.4g}" if isinstance(v, float) else json.dumps(v) if not isinstance(v, str) else v)
    out.print(table)
