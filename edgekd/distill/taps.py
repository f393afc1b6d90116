"""Feature taps: forward hooks that collect module outputs into a dict keyed by module path."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from edgekd.errors import EdgekdError


def find_module(model: nn.Module, path: str) -> nn.Module:
    """The submodule at ``path`` (as in ``named_modules``), or an error listing some valid paths."""
    try:
        return model.get_submodule(path)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n]
        shown = ", ".join(names[:25]) + (", ..." if len(names) > 25 else "")
        raise EdgekdError(f"no module {path!r} in {type(model).__name__}; modules: {shown}") from None


class Taps:
    """Hooks on ``paths`` of ``model``; after a forward pass, ``feats[path]`` holds that module's output."""

    def __init__(self, model: nn.Module, paths: list[str]) -> None:
        self.feats: dict[str, torch.Tensor] = {}
        self._handles = [find_module(model, p).register_forward_hook(self._hook(p)) for p in paths]

    def _hook(self, path: str) -> Any:
        def store(module: nn.Module, args: Any, output: Any) -> None:
            self.feats[path] = output[0] if isinstance(output, (tuple, list)) else output

        return store

    def take(self) -> dict[str, torch.Tensor]:
        """The features of the last forward pass; clears the store."""
        feats, self.feats = self.feats, {}
        return feats

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
