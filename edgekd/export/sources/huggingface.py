"""Source: a local Hugging Face model directory, exported with optimum's ONNX exporter (``edgekd[hf]``)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from edgekd.errors import EdgekdError
from edgekd.export.onnx_export import io_signature
from edgekd.export.sources.base import SOURCES, InputSpec, Source, SourceOptions
from edgekd.export.sources.onnx_file import SEQUENCE, onnx_inputs
from edgekd.quant.calibration import Arrays, batches

HEADS = {"ForSequenceClassification": "text-classification", "ForTokenClassification": "token-classification",
         "ForQuestionAnswering": "question-answering", "ForMaskedLM": "fill-mask", "ForMultipleChoice": "multiple-choice",
         "ForImageClassification": "image-classification", "ForCausalLM": "text-generation", "Model": "feature-extraction"}


TRANSFORMER_INT8_OPS = ["MatMul", "Gemm"]  # embeddings, LayerNorm and Softmax lose too much accuracy in int8


def library(path: Path) -> str:
    """``sentence_transformers`` for a sentence-transformers directory (it has modules.json), else ``transformers``."""
    return "sentence_transformers" if (path / "modules.json").is_file() else "transformers"


def infer_task(path: Path) -> str:
    """The optimum task from config.json's ``architectures`` (e.g. BertForSequenceClassification -> text-classification)."""
    if library(path) == "sentence_transformers":
        return "feature-extraction"
    archs = json.loads((path / "config.json").read_text()).get("architectures") or []
    for arch in archs:
        for suffix, task in HEADS.items():
            if arch.endswith(suffix):
                return task
    raise EdgekdError(f"{path}: cannot infer the task from architectures {archs}; pass --task (e.g. feature-extraction)")


def _reference(model: Any, names: list[str], sentence: bool) -> Any:
    @torch.no_grad()
    def run(inputs: Arrays) -> Arrays:
        parts = []
        for b in batches(inputs, 64):
            feats = {k: torch.from_numpy(v) for k, v in b.items()}
            out = model(feats) if sentence else model(**feats)
            parts.append({n: out[n].float().numpy() for n in names})
        return {n: np.concatenate([p[n] for p in parts]) for n in names}

    return run


def _tokenizer(path: Path) -> Any:
    """The model's own tokenizer, or None when the directory has none."""
    if not any((path / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt")):
        return None
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except Exception:  # transformers raises many types for a broken tokenizer; treat it as none
        return None


def _dummy_inputs(model: Any, task: str, lib: str, specs: list[InputSpec], vocab: int | None) -> tuple[Any, str]:
    """``make_inputs(n, seed)`` from optimum's dummy input generators for ``task`` (shapes and value ranges from
    the model config: image size, channels, vocabulary), fitted to the exported ONNX inputs; and its description."""
    import optimum.exporters.onnx.model_configs  # noqa: F401  (registers the ONNX configs)
    from optimum.exporters.tasks import TasksManager

    config = getattr(model, "config", None) or model[0].auto_model.config
    ctor = TasksManager.get_exporter_config_constructor(exporter="onnx", model=model, task=task, library_name=lib)
    onnx_config = ctor(config, task=task)
    fixed = {s.name: s.shape for s in specs}
    seq = next((shape[0] for name, shape in fixed.items() if "ids" in name or "mask" in name), SEQUENCE)

    def make(n: int, seed: int) -> Arrays:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            raw = onnx_config.generate_dummy_inputs(framework="pt", batch_size=n, sequence_length=seq)
        out = {}
        for spec in specs:
            arr = raw[spec.name].numpy().astype(spec.dtype)
            if "ids" in spec.name and spec.name != "token_type_ids" and vocab:
                arr %= vocab
            out[spec.name] = np.ascontiguousarray(arr)
        return out

    shapes = ", ".join(f"{k} {tuple(v.shape[1:])}" for k, v in make(1, 0).items())
    bound = f"; token ids below the vocabulary size ({vocab}, the smaller of config and tokenizer)" if vocab else ""
    return make, f"optimum's dummy inputs for {task} ({shapes}{bound})"


def _encoder(tokenizer: Any, specs: list[InputSpec], static: bool) -> Any:
    """``encode(texts)``: sentences -> the model's inputs via its tokenizer (padded to the longest, at most 128;
    to the exported length when the export is ``static``)."""
    names = {s.name: s for s in specs}
    fixed = next((s.shape[0] for s in specs if "ids" in s.name), None) if static else None

    def encode(texts: list[str]) -> Arrays:
        longest = min(128, tokenizer.model_max_length or 128)
        enc = tokenizer(texts, padding="max_length" if fixed else "longest", truncation=True,
                        max_length=fixed or longest, return_tensors="np")
        out = {}
        for name, spec in names.items():
            arr = enc[name] if name in enc else np.zeros_like(enc["input_ids"])
            out[name] = np.ascontiguousarray(arr.astype(spec.dtype))
        return out

    return encode


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """optimum and transformers print, warn and log on every export and load: keep errors only."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        for name in ("transformers", "optimum"):
            logging.getLogger(name).setLevel(logging.ERROR)
        yield


def optimum_export(path: Path, opts: SourceOptions, out: Path) -> Path:
    """``out/model.onnx``: the Hugging Face directory ``path`` exported offline by optimum's ``main_export`` (task
    ``opts.task`` or inferred; dynamic batch and sequence axes unless ``opts.static``), without loading a reference."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from optimum.exporters.onnx import main_export
    except ImportError:
        raise EdgekdError("compiling a Hugging Face directory needs optimum: pip install 'edgekd[hf]'") from None
    task, lib = opts.task or infer_task(path), library(path)
    with _quiet():
        try:
            main_export(str(path), output=out, task=task, opset=opts.opset, do_validation=False, local_files_only=True,
                        trust_remote_code=opts.trust_code, library_name=lib, no_dynamic_axes=opts.static)
        except Exception as err:  # optimum/transformers raise many types; report one line
            raise EdgekdError(f"optimum export of {path} (task {task}) failed: {str(err).splitlines()[0]}") from None
    if not (out / "model.onnx").is_file():
        raise EdgekdError(f"{path}: optimum wrote several ONNX models ({task}); edgekd compiles single-model tasks")
    return out / "model.onnx"


@SOURCES.register("huggingface")
class HuggingFaceSource:
    """Exports with ``optimum.exporters.onnx.main_export`` offline; the PyTorch model is the reference."""

    transformer = True

    @staticmethod
    def matches(path: Path, opts: SourceOptions) -> bool:
        return path.is_dir() and (path / "config.json").is_file()

    @staticmethod
    def load(path: Path, opts: SourceOptions, work: Path) -> Source:
        task, lib = opts.task or infer_task(path), library(path)
        onnx_path = optimum_export(path, opts, work / "hf")
        from optimum.exporters.tasks import TasksManager

        with _quiet():
            try:
                model = TasksManager.get_model_from_task(task, str(path), library_name=lib, framework="pt",
                                                         trust_remote_code=opts.trust_code).eval()
                tokenizer = _tokenizer(path)
                config_vocab = json.loads((path / "config.json").read_text()).get("vocab_size")
                sizes = [v for v in (config_vocab, len(tokenizer) if tokenizer is not None else None) if v]
                vocab = min(sizes) if sizes else None
                specs = onnx_inputs(onnx_path, vocab)
                make, described = _dummy_inputs(model, task, lib, specs, vocab)
            except EdgekdError:
                raise
            except Exception as err:  # transformers raises many types; report one line
                raise EdgekdError(f"loading {path} (task {task}) failed: {str(err).splitlines()[0]}") from None
        _, outs = io_signature(onnx_path)
        names = [o.name for o in outs]
        return Source("huggingface", path.name, specs, _reference(model, names, lib != "transformers"),
                      onnx=onnx_path, output_names=names, notes=[f"task {task}, library {lib}"],
                      quantize_ops=TRANSFORMER_INT8_OPS, classifier=task.endswith("classification"),
                      make_inputs=make, inputs_from=described,
                      encode=_encoder(tokenizer, specs, opts.static) if tokenizer is not None else None)
