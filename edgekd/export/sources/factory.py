"""Source: an arbitrary ``nn.Module`` from ``--factory module:function``; imports user code, so needs --trust-code."""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from edgekd.errors import EdgekdError
from edgekd.export.checks import check_trust, factory_parts
from edgekd.export.sources.base import SOURCES, InputSpec, Source, SourceOptions, output_names, torch_reference


def call_factory(spec: str) -> tuple[nn.Module, torch.Tensor | None]:
    """Import ``module:function`` and call it; it returns a module or (module, example input (N, ...))."""
    mod_name, fn_name = factory_parts(spec)
    try:
        fn = getattr(importlib.import_module(mod_name), fn_name)
    except (ImportError, AttributeError) as err:
        raise EdgekdError(f"--factory {spec!r}: {err}") from None
    made = fn()
    module, example = (made if isinstance(made, tuple) else (made, None))
    if not isinstance(module, nn.Module):
        raise EdgekdError(f"--factory {spec!r} returned {type(module).__name__}, not a torch nn.Module")
    return module, example


@SOURCES.register("factory")
class FactorySource:
    """MODEL is a ``.safetensors`` state dict loaded into the factory's module, or ``-`` to keep its weights."""

    @staticmethod
    def matches(path: Path, opts: SourceOptions) -> bool:
        return opts.factory is not None

    @staticmethod
    def load(path: Path, opts: SourceOptions, work: Path) -> Source:
        check_trust(path, opts.factory, opts.trust_code)
        module, example = call_factory(str(opts.factory))
        if str(path) != "-":
            if path.suffix != ".safetensors" or not path.is_file():
                raise EdgekdError(f"with --factory, MODEL is a .safetensors state dict or '-'; got {path}")
            try:
                module.load_state_dict(load_file(str(path)))
            except RuntimeError as err:
                raise EdgekdError(f"{path}: weights do not fit the factory's module: {str(err).splitlines()[0]}") from None
        shape = tuple(example.shape[1:]) if example is not None else opts.sample_shape
        if shape is None:
            raise EdgekdError("the factory gave no example input; return (module, example) or pass --calib FILE.npz")
        module = module.eval()
        names = output_names(module, (torch.zeros((2, *shape)),))
        stem = opts.factory.replace(":", ".").rsplit(".", 1)[-1] if str(path) == "-" else path.name.removesuffix(".safetensors")
        return Source("factory", stem, [InputSpec("input", tuple(shape))], torch_reference(module, names),
                      module=module, output_names=names)
