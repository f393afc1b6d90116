"""Model sources, one file each: checkpoint, torch.export program, Hugging Face directory, ONNX file, factory."""

from __future__ import annotations

from pathlib import Path

from edgekd.errors import EdgekdError
from edgekd.export.sources.base import SOURCES, InputSpec, Source, SourceLoader, SourceOptions
from edgekd.export.sources import checkpoint, factory, huggingface, onnx_file, qad, torch_program  # noqa: F401
from edgekd.inputs import check_model_file

ORDER = ("factory", "qad", "checkpoint", "torch-export", "huggingface", "onnx")


def find_loader(path: str | Path, opts: SourceOptions) -> SourceLoader:
    """The first registered loader that accepts ``path`` (nothing is loaded, and the file is not checked: callers
    check it once where it enters, as ``load_source`` and ``edgekd.export.checks.check_request`` do)."""
    path = Path(path)
    for name in [*ORDER, *(n for n in SOURCES.names() if n not in ORDER)]:
        loader = SOURCES.get(name)
        if loader.matches(path, opts):
            return loader
    raise EdgekdError(f"{path}: unsupported model; pass an edgekd .safetensors checkpoint, a .pt2 torch.export program, "
                      "a Hugging Face model directory, an .onnx file, or --factory module:function --trust-code")


def load_source(path: str | Path, opts: SourceOptions, work: Path) -> Source:
    """``path`` checked (``check_model_file``, unless a factory makes the model), then loaded by the first registered
    loader that accepts it; ``work`` is a scratch directory."""
    if opts.factory is None:
        check_model_file(path)
    return find_loader(path, opts).load(Path(path), opts, work)


__all__ = ["SOURCES", "InputSpec", "Source", "SourceOptions", "find_loader", "load_source"]
