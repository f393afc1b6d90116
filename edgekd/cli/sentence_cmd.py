"""``edgekd sentence corpus|search|distill``: the sentence-embedding stages on files a user already has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from edgekd.cli.common import emit_json, out

app = typer.Typer(help="Sentence-embedding students of a sentence-transformers BERT teacher.", no_args_is_help=True)

DATA_HELP = "Folder with train.txt, val.txt and test.txt (one sentence per line), or 'sentences' for the installed packages' corpus."


def _texts(data: str) -> dict[str, list[str]]:
    from edgekd.data.text_splits import sentences
    from edgekd.schemas import DatasetSpec

    return sentences(DatasetSpec(name="sentences", path=None if data == "sentences" else data)).texts


def _options(config: Path | None, given: dict[str, Any], model: Any, what: str) -> Any:
    """``model`` from the ``--config`` YAML with the options given on the command line on top."""
    from edgekd.schemas import load_yaml, validate

    options = (load_yaml(config, what) or {}) if config else {}
    options.update({k: v for k, v in given.items() if v is not None})
    return validate(model, options, str(config) if config else "command line")


def _show(rows: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(rows)
        return
    table = Table("result", "value")
    for k, v in rows.items():
        table.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
    out.print(table)


@app.command("corpus")
def corpus_command(
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder for train.txt, val.txt, test.txt and corpus.json."),
    per_source: int = typer.Option(300, "--per-source", min=1, help="Sentences per installed distribution at most."),
    max_source_kb: int = typer.Option(200, "--max-source-kb", min=0, help="kB of .py source read per distribution."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """English sentences from the installed packages' READMEs and docstrings, split 80/10/10 by hash."""
    from edgekd.data.text_corpus import build_corpus, corpus_outputs, write_corpus

    corpus_outputs(out_dir, force)
    corpus = build_corpus(per_source=per_source, max_source_bytes=max_source_kb * 1000)
    write_corpus(corpus, out_dir, force=force)
    _show({"out": str(out_dir), "distributions": len(corpus.sources), **corpus.info()["sizes"]}, as_json)


@app.command("search")
def search_command(
    teacher: Path = typer.Option(..., "--teacher", "-t", help="A sentence-transformers BERT model directory."),
    data: str = typer.Option("sentences", "--data", "-d", help=DATA_HELP),
    target: str = typer.Option("cpu-ort-fp32", "--target", help="Target name or YAML whose latency sets the budget."),
    out_dir: Path = typer.Option(Path("sentence_search"), "--out", "-o", help="Output directory."),
    speedup: float = typer.Option(None, "--speedup", help="Budget: the teacher's latency / this (default 4)."),
    budget_ms: float = typer.Option(None, "--budget-ms", help="Budget in ms at batch 1 (replaces --speedup)."),
    config: Path = typer.Option(None, "--config", "-c", help="YAML with any options (see SentenceSearchConfig)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing outputs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Student shapes of TEACHER under a latency budget measured on the target; the pick goes to OUT/student."""
    from edgekd.search.checks import check_sentence_request
    from edgekd.search.sentence_config import SentenceSearchConfig

    cfg = _options(config, {"speedup": speedup, "budget_ms": budget_ms}, SentenceSearchConfig, "sentence search config")
    check_sentence_request(teacher, target, out_dir, cfg, force)  # before the corpus (seconds) and torch load
    texts = _texts(data)
    from edgekd.search.sentence import search_sentence_student

    res = search_sentence_student(teacher, texts["val"], target, out_dir, cfg, force=force, train=texts["train"])
    pick, inter = res["pick"], res["pick"].get("interleaved", {})
    _show({"student": str(out_dir / "student"), "layers": pick["layers"], "intermediate_size": pick["intermediate_size"],
           "heads": pick["heads"], "params": pick["params"], res["proxy"]: pick["proxy"], "budget_ms": res["budget_ms"],
           "latency_ms": pick["latency_ms"], "speedup_interleaved": inter.get("teacher_over_candidate"),
           "speedup_confirmed": res["speedup_confirmed_interleaved"]}, as_json)


@app.command("distill")
def distill_command(
    teacher: Path = typer.Option(..., "--teacher", "-t", help="A sentence-transformers BERT model directory."),
    student: Path = typer.Option(..., "--student", "-s", help="The student's directory (edgekd sentence search, or "
                                 "edgekd.make_sentence_student)."),
    data: str = typer.Option("sentences", "--data", "-d", help=DATA_HELP),
    out_dir: Path = typer.Option(Path("sentence_student"), "--out", "-o", help="Output directory (OUT/student)."),
    epochs: int = typer.Option(None, "--epochs", "-e", min=1, help="Training epochs."),
    config: Path = typer.Option(None, "--config", "-c", help="YAML with any options (see SentenceDistillConfig)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/last.state.pt exactly."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing outputs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Distil TEACHER's sentence embeddings into STUDENT; the best epoch on val goes to OUT/student."""
    from edgekd.distill.checks import check_sentence_request
    from edgekd.distill.sentence_config import SentenceDistillConfig

    cfg = _options(config, {"epochs": epochs}, SentenceDistillConfig, "sentence distill config")
    check_sentence_request(teacher, student, out_dir, cfg, force, resume)  # before the corpus and torch load
    texts = _texts(data)
    from edgekd.distill.sentence import distill_sentence_student

    res = distill_sentence_student(teacher, student, texts, out_dir, cfg, resume=resume, force=force)
    _show({"student": str(out_dir / "student"), "best_epoch": res["best_epoch"],
           **{f"test_{k}": v for k, v in res["test_after"].items()}}, as_json)
