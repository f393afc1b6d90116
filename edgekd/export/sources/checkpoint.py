"""Source: an edgekd checkpoint (``.safetensors`` with its arch JSON)."""

from __future__ import annotations

from pathlib import Path

from edgekd.errors import EdgekdError
from edgekd.export.sources.base import SOURCES, InputSpec, Source, SourceOptions, torch_reference
from edgekd.models import load_checkpoint, read_input_shape


@SOURCES.register("checkpoint")
class CheckpointSource:
    """Rebuilds the model from its arch (no pickle); the input shape comes from the checkpoint or the samples."""

    @staticmethod
    def matches(path: Path, opts: SourceOptions) -> bool:
        return path.suffix == ".safetensors" and opts.factory is None

    @staticmethod
    def load(path: Path, opts: SourceOptions, work: Path) -> Source:
        net, _ = load_checkpoint(path)
        shape = read_input_shape(path) or opts.sample_shape
        if shape is None:
            raise EdgekdError(f"{path} records no input shape; pass --calib FILE.npz with real samples")
        return Source("checkpoint", path.name.removesuffix(".safetensors"), [InputSpec("input", tuple(shape))],
                      torch_reference(net, ["logits"]), module=net)
