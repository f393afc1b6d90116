"""Measured latency of a candidate, or of one of its blocks, on the target through ``edgekd.profile``.

A candidate is exported to ONNX at the target's opset and first batch size, and profiled on the target (locally or
over SSH, as the target says). Results are cached by the hash of the ONNX graph's structure (nodes, attributes,
weight shapes; not weight values) and the target's name, so a candidate met again, by another worker or another
search, is not measured twice.

The search exports with TorchScript tracing (``dynamo=False``; about 0.3 s against 5 s for torch.export here);
ONNX Runtime fuses both exporters' graphs of these families (Conv+BN+ReLU, MatMul+Add) to the same kernels.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import onnx
import torch
from torch import nn

from edgekd.fsutil import write_json
from edgekd.profile.config import MeasureConfig
from edgekd.schemas import Target
from edgekd.search.hooks import hooked

# Whole candidates: enough runs for a stable p90 of sub-millisecond models; blocks: a quick median.
MODEL_MEASURE = MeasureConfig(warmup_runs=10, warmup_ms=50.0, min_runs=100, min_duration_s=0.3, per_op_runs=1)
BLOCK_MEASURE = MeasureConfig(warmup_runs=5, warmup_ms=20.0, min_runs=50, min_duration_s=0.1, per_op_runs=1)


def default_cache_dir() -> Path:
    """``$EDGEKD_CACHE/latency`` (default ``~/.cache/edgekd/latency``)."""
    return Path(os.environ.get("EDGEKD_CACHE", "~/.cache/edgekd")).expanduser() / "latency"


def export_fast(module: nn.Module, args: Sequence[torch.Tensor], path: Path, opset: int) -> Path:
    """Trace ``module`` (eval mode) on ``args`` to ONNX at fixed shapes, quietly."""
    names = [f"input{i}" if i else "input" for i in range(len(args))]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        torch.onnx.export(module.eval(), tuple(args), str(path), dynamo=False, opset_version=opset, input_names=names,
                          output_names=["output"], do_constant_folding=True)
    return path


def graph_hash(path: Path) -> str:
    """sha256 of the graph's structure: weight values are dropped, their names, shapes and types kept."""
    proto = onnx.load(str(path))
    for init in proto.graph.initializer:
        init.ClearField("raw_data")
        for name in ("float_data", "int32_data", "int64_data", "double_data"):
            init.ClearField(name)
    proto.ClearField("producer_version")
    return hashlib.sha256(proto.graph.SerializeToString(deterministic=True)).hexdigest()


@dataclass
class LatencyCache:
    """Measurements on one target, one JSON file per graph hash under ``<dir>/<target>/``."""

    root: Path
    target: Target

    @property
    def dir(self) -> Path:
        return self.root / self.target.name

    def get(self, key: str) -> dict[str, Any] | None:
        f = self.dir / f"{key}.json"
        return json.loads(f.read_text()) if f.is_file() else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        write_json(self.dir / f"{key}.json", value)


def measure_onnx(path: Path, cache: LatencyCache, measure: MeasureConfig = MODEL_MEASURE, batch: int | None = None,
                 inputs: Path | None = None) -> dict[str, Any]:
    """Median and p90 latency (ms) of ``path`` on the cache's target at ``batch`` (default: the target's first batch
    size; a fixed-shape graph must be given its own), cached by graph hash. ``inputs``: an ``.npz`` of feeds (e.g.
    token ids of one sequence length for a graph with a dynamic sequence axis); its arrays' shapes join the key."""
    from edgekd.profile.api import profile

    key = graph_hash(path)
    if inputs is not None:
        with np.load(inputs) as arrays:
            key += ":" + ",".join(f"{k}{list(arrays[k].shape)}" for k in sorted(arrays.files))
    hit = cache.get(key)
    if hit is not None:
        return {**hit, "cached": True}
    report = profile(path, cache.target, [batch or cache.target.batch_sizes[0]], measure, inputs=inputs, quiet=True)
    lat = report["latency_ms"]
    value = {"graph_sha256": key, "median_ms": lat["median"], "p90_ms": lat["p90"], "runs": report["runs"],
             "batch": report["batch"], "model_bytes": report["model_bytes"], "cv": lat["cv"]}
    cache.put(key, value)
    return {**value, "cached": False}


def example_inputs(shape: tuple[int, ...], batch: int, tokens: bool) -> torch.Tensor:
    """A (batch, *shape) input: ones for token ids (never padding), else standard normal."""
    return torch.ones((batch, *shape), dtype=torch.int64) if tokens else torch.randn(batch, *shape)


def measure_model(model: nn.Module, x: torch.Tensor, cache: LatencyCache, work: Path) -> dict[str, Any]:
    """Export ``model`` on ``x`` (batch, ...) to ``work`` and measure it; adds ``onnx_bytes``."""
    work.mkdir(parents=True, exist_ok=True)
    path = export_fast(model, [x], work / f"candidate-{os.getpid()}.onnx", cache.target.opset)
    try:
        res = measure_onnx(path, cache)
        return {**res, "onnx_bytes": path.stat().st_size}
    finally:
        path.unlink(missing_ok=True)


def _leaf_blocks(module: nn.Module) -> list[nn.Module]:
    """Containers whose children are all containers or custom blocks expand; anything else is one block."""
    kids = list(module.children())
    expandable = isinstance(module, (nn.Sequential, nn.ModuleList)) and kids and all(
        isinstance(k, (nn.Sequential, nn.ModuleList)) or not type(k).__module__.startswith("torch.nn") for k in kids)
    return [b for k in kids for b in _leaf_blocks(k)] if expandable else [module]


def blocks(model: nn.Module, x: torch.Tensor) -> list[tuple[str, nn.Module, tuple[torch.Tensor, ...]]]:
    """The model's blocks in call order with the inputs each received on ``x``: (signature, module, args).

    Top-level children are blocks, except stage containers, which expand to their blocks (ResNet basic blocks,
    inverted residuals, encoder layers). The signature (type, configuration, input shapes and dtypes) keys the
    per-block lookup table."""
    candidates = [b for child in model.children() for b in _leaf_blocks(child)]
    seen: list[tuple[nn.Module, tuple[torch.Tensor, ...]]] = []

    def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
        seen.append((module, tuple(a.detach().clone() for a in args if isinstance(a, torch.Tensor))))

    with hooked(candidates, hook, pre=True), torch.no_grad():
        model.eval()(x)
    out = []
    for module, args in seen:
        shapes = [(tuple(a.shape), str(a.dtype)) for a in args]
        text = f"{type(module).__name__}|{module!r}|{shapes}"
        out.append((hashlib.sha256(text.encode()).hexdigest()[:20], module, args))
    return out


def measure_blocks(model: nn.Module, x: torch.Tensor, cache: LatencyCache, work: Path) -> list[dict[str, Any]]:
    """Median latency (ms) of each block of ``model`` run alone on its own inputs: the lookup-table entries."""
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for sig, module, args in blocks(model, x):
        hit = cache.get(f"block-{sig}")
        if hit is None:
            path = export_fast(module, args, work / f"block-{os.getpid()}.onnx", cache.target.opset)
            try:
                hit = measure_onnx(path, cache, BLOCK_MEASURE, batch=int(args[0].shape[0]) if args[0].dim() else 1)
            finally:
                path.unlink(missing_ok=True)
            cache.put(f"block-{sig}", hit)
        rows.append({"block": sig, "type": type(module).__name__, "median_ms": hit["median_ms"]})
    return rows
