"""Source: a ``torch.export`` program saved with ``torch.export.save`` (``.pt2``)."""

from __future__ import annotations

from pathlib import Path

import torch

from edgekd.errors import EdgekdError
from edgekd.export.checks import check_trust
from edgekd.export.sources.base import SOURCES, InputSpec, Source, SourceOptions, output_names, torch_reference


def _user_inputs(program: torch.export.ExportedProgram) -> list[tuple[str, torch.Tensor]]:
    """(name, example value) of each user input (parameters and buffers left out)."""
    user = set(program.graph_signature.user_inputs)
    return [(n.name, n.meta["val"]) for n in program.graph.nodes if n.op == "placeholder" and n.name in user]


def _dim(d: int | torch.SymInt) -> int:
    return int(d.node.hint) if isinstance(d, torch.SymInt) else int(d)


@SOURCES.register("torch-export")
class TorchProgramSource:
    """The program keeps its own shapes: export it with a ``Dim`` on axis 0 for a dynamic batch."""

    @staticmethod
    def matches(path: Path, opts: SourceOptions) -> bool:
        return path.suffix == ".pt2"

    @staticmethod
    def load(path: Path, opts: SourceOptions, work: Path) -> Source:
        check_trust(path, None, opts.trust_code)
        try:
            program = torch.export.load(str(path))
        except Exception as err:  # torch raises many types for a bad archive
            raise EdgekdError(f"cannot load torch.export program {path}: {str(err).splitlines()[0]}") from None
        module = program.module()
        values = _user_inputs(program)
        if not values:
            raise EdgekdError(f"{path}: the program takes no tensor inputs")
        specs = [InputSpec(n, tuple(_dim(d) for d in v.shape[1:]), str(v.dtype).removeprefix("torch."))
                 for n, v in values]
        batch = values[0][1].shape[0]
        notes = [] if isinstance(batch, torch.SymInt) else [
            f"batch axis fixed at {batch} by the program; export it with a torch.export.Dim for a dynamic batch"]
        example = tuple(torch.zeros([_dim(d) for d in v.shape], dtype=v.dtype) for _, v in values)
        names = output_names(module, example)
        return Source("torch-export", path.stem, specs, torch_reference(module, names, 64 if isinstance(batch, torch.SymInt) else int(batch)),
                      module=program,
                      output_names=names, notes=notes)
