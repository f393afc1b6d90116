"""Source: a local Hugging Face model directory, exported with optimum's ONNX exporter (``edgekd[hf]``)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgekd.errors import EdgekdError
from edgekd.export.onnx_export import io_signature
from edgekd.export.sources.base import SOURCES, Source, SourceOptions
from edgekd.export.sources.onnx_file import onnx_inputs
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


@SOURCES.register("huggingface")
class HuggingFaceSource:
    """Exports with ``optimum.exporters.onnx.main_export`` offline; the PyTorch model is the reference."""

    @staticmethod
    def matches(path: Path, opts: SourceOptions) -> bool:
        return path.is_dir() and (path / "config.json").is_file()

    @staticmethod
    def load(path: Path, opts: SourceOptions, work: Path) -> Source:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from optimum.exporters.onnx import main_export
            from optimum.exporters.tasks import TasksManager
        except ImportError:
            raise EdgekdError("compiling a Hugging Face directory needs optimum: pip install 'edgekd[hf]'") from None
        task, lib = opts.task or infer_task(path), library(path)
        out = work / "hf"
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            logging.getLogger("transformers").setLevel(logging.ERROR)
            try:
                main_export(str(path), output=out, task=task, opset=opts.opset, do_validation=False, local_files_only=True,
                            trust_remote_code=opts.trust_code, library_name=lib, no_dynamic_axes=opts.static)
                model = TasksManager.get_model_from_task(task, str(path), library_name=lib, framework="pt",
                                                         trust_remote_code=opts.trust_code).eval()
            except EdgekdError:
                raise
            except Exception as err:  # optimum/transformers raise many types; report one line
                raise EdgekdError(f"optimum export of {path} (task {task}) failed: {str(err).splitlines()[0]}") from None
        onnx_path = out / "model.onnx"
        if not onnx_path.is_file():
            raise EdgekdError(f"{path}: optimum wrote several ONNX models ({task}); edgekd compiles single-model tasks")
        _, outs = io_signature(onnx_path)
        names = [o.name for o in outs]
        vocab = json.loads((path / "config.json").read_text()).get("vocab_size")
        return Source("huggingface", path.name, onnx_inputs(onnx_path, vocab), _reference(model, names, lib != "transformers"),
                      onnx=onnx_path, output_names=names, notes=[f"task {task}, library {lib}"],
                      quantize_ops=TRANSFORMER_INT8_OPS, classifier=task.endswith("classification"))
