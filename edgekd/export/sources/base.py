"""What a source loader returns: a model to export (or an exported ONNX file), its inputs and its reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch
from torch import nn

from edgekd.inputs import check_array_budget
from edgekd.quant.calibration import Arrays, batches
from edgekd.registry import Registry


@dataclass
class InputSpec:
    """One model input: one sample's ``shape``, numpy ``dtype``, and for integer inputs values in [0, ``high``)."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    high: int | None = None


@dataclass
class SourceOptions:
    """What loaders may need besides the path: the HF task, a factory, trust, opset, static batch, samples."""

    task: str | None = None
    factory: str | None = None
    trust_code: bool = False
    opset: int = 18
    static: bool = False
    sample_shape: tuple[int, ...] | None = None


@dataclass
class Source:
    """A loaded model. Torch sources set ``module`` (compile exports it); ONNX-producing ones set ``onnx``.

    ``reference(inputs)`` returns the fp32 outputs by name for (N, ...) named inputs; ``against`` says what it is.
    ``quantize_ops`` limits int8 to these op types (None: all ORT supports); ``classifier``: (N, C) logits out.
    ``make_inputs(n, seed)`` (when set) draws inputs the way the exporter knows them (shapes, value ranges),
    described by ``inputs_from``; ``encode(texts)`` turns sentences into model inputs with the model's tokenizer.
    ``quantization(model, inputs)``, set by sources that are already int8 (QAD), reports on the compiled QDQ model;
    ``float_twin(path)`` writes their float equivalent there (same weights, no Q/DQ), for the int8 speed check.
    """

    kind: str
    stem: str
    inputs: list[InputSpec]
    reference: Callable[[Arrays], Arrays]
    against: str = "pytorch"
    module: nn.Module | torch.export.ExportedProgram | None = None
    onnx: Path | None = None
    output_names: list[str] = field(default_factory=lambda: ["logits"])
    notes: list[str] = field(default_factory=list)
    quantize_ops: list[str] | None = None
    classifier: bool = True
    make_inputs: Callable[[int, int], Arrays] | None = None
    inputs_from: str = "random inputs (standard normal floats; integers below each input's bound)"
    encode: Callable[[list[str]], Arrays] | None = None
    quantization: Callable[[Path, Arrays], dict[str, Any]] | None = None
    float_twin: Callable[[Path], Path] | None = None

    def random_inputs(self, n: int, seed: int = 0) -> Arrays:
        """``n`` random samples per input from ``make_inputs``, else standard normal floats and integers
        uniform below ``high``."""
        check_array_budget([(n, *s.shape) for s in self.inputs], 8, f"{n} random samples")
        if self.make_inputs is not None:
            return self.make_inputs(n, seed)
        rng = np.random.default_rng(seed)
        out: Arrays = {}
        for spec in self.inputs:
            shape = (n, *spec.shape)
            if spec.name == "attention_mask":
                lengths = rng.integers(max(1, spec.shape[-1] // 2), spec.shape[-1] + 1, size=n)
                out[spec.name] = (np.arange(spec.shape[-1])[None, :] < lengths[:, None]).astype(spec.dtype)
            elif np.issubdtype(np.dtype(spec.dtype), np.integer):
                out[spec.name] = rng.integers(0, spec.high or 2, size=shape).astype(spec.dtype)
            else:
                out[spec.name] = rng.standard_normal(shape).astype(spec.dtype)
        return out


class SourceLoader(Protocol):
    """One way in: ``matches(path, opts)`` decides, ``load(path, opts, work)`` loads (``work``: a scratch dir).

    A loader whose class sets ``transformer = True`` gets dynamic int8 when no calibration data is given.
    """

    def matches(self, path: Path, opts: SourceOptions) -> bool: ...

    def load(self, path: Path, opts: SourceOptions, work: Path) -> Source: ...


SOURCES: Registry[SourceLoader] = Registry("model source")


def torch_reference(fn: Callable[..., object], names: list[str], batch: int = 64) -> Callable[[Arrays], Arrays]:
    """Wrap a PyTorch callable taking positional tensors into ``reference``: named arrays in, named outputs out."""

    @torch.no_grad()
    def run(inputs: Arrays) -> Arrays:
        parts: list[list[np.ndarray]] = []
        for b in batches(inputs, batch):
            out = fn(*(torch.from_numpy(v) for v in b.values()))
            outs = [out] if isinstance(out, torch.Tensor) else list(out)
            parts.append([o.detach().float().numpy() for o in outs])
        return {n: np.concatenate([p[i] for p in parts]) for i, n in enumerate(names)}

    return run


def output_names(module: Callable[..., object], example: tuple[torch.Tensor, ...], single: str = "output") -> list[str]:
    """``[single]`` for one output tensor, else ``output_0, output_1, ...``."""
    with torch.no_grad():
        out = module(*example)
    return [single] if isinstance(out, torch.Tensor) else [f"output_{i}" for i in range(len(out))]
