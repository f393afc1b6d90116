"""``edgekd search``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from edgekd.cli.common import emit_json, out


def search_command(
    teacher: Path = typer.Option(..., "--teacher", "-t", help="Teacher .safetensors checkpoint."),
    data: str = typer.Option("digits", "--data", "-d", help="'digits', an .npz or an ImageFolder dir (the proxies' batch)."),
    target: str = typer.Option("cpu-ort-fp32", "--target", help="Target name or YAML whose latency constrains the search."),
    out_dir: Path = typer.Option(Path("search"), "--out", "-o", help="Output directory (study, candidates, pareto.json)."),
    budget_ms: float = typer.Option(None, "--budget-ms", min=0.0, help="Latency budget, ms (default: the target's p90 budget)."),
    budget_ratio: float = typer.Option(None, "--budget-ratio", min=0.0, help="Budget as a share of the teacher's latency."),
    space: str = typer.Option("mobile", "--space", help="cnn, mobile or transformer."),
    proxy: str = typer.Option("naswot", "--proxy", help="naswot, diswot, synflow, grad_norm, params, flops or random."),
    trials: int = typer.Option(None, "--trials", "-n", min=1, help="Trials in the study (all workers together)."),
    workers: int = typer.Option(None, "--workers", "-w", min=1, help="Worker processes sharing the study."),
    storage: str = typer.Option(None, "--storage", help="Optuna storage URL or journal *.log (default OUT/study.db)."),
    sampler: str = typer.Option(None, "--sampler", help="nsga2, tpe or random."),
    latency: str = typer.Option(None, "--latency", help="measured (every candidate) or predicted (table + correction)."),
    max_params: int = typer.Option(None, "--max-params", min=1, help="Parameter limit."),
    seed: int = typer.Option(None, "--seed", help="Sampler and initialisation seed."),
    config: Path = typer.Option(None, "--config", "-c", help="YAML with any search options (see SearchConfig)."),
    force: bool = typer.Option(False, "--force", help="Start over when OUT holds a search with other options."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Search student architectures for TEACHER under a latency budget measured on the target."""
    from edgekd.inputs import check_model_file
    from edgekd.schemas import load_yaml
    from edgekd.search.checks import check_request

    options = load_yaml(config, "search config") or {} if config else {}
    given = {"budget_ms": budget_ms, "budget_ratio": budget_ratio, "space": space, "proxy": proxy, "trials": trials,
             "workers": workers, "storage": storage, "sampler": sampler, "latency": latency, "max_params": max_params,
             "seed": seed}
    options.update({k: v for k, v in given.items() if v is not None})
    check_request(teacher, target, None, options)  # these checks and the teacher file's before torch loads (~3 s)
    check_model_file(teacher)
    from edgekd.search import search

    res = search(teacher, data, target, out_dir, force=force, **options)
    if as_json:
        emit_json(res.to_dict())
        return
    table = Table("result", "value")
    for k in ("key", "proxy", "latency_ms", "budget_ms", "params", "trials", "evaluated", "arch_path", "pareto"):
        v = getattr(res, k)
        table.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
    if res.interleaved:
        table.add_row("teacher / pick, interleaved", res.interleaved["verdict"])
    out.print(table)
