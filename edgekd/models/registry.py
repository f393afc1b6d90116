"""Model-family registry: ``@MODELS.register("name")`` on a factory taking the arch JSON's kwargs."""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from edgekd.errors import EdgekdError
from edgekd.registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model family")


def build_model(arch: dict[str, Any]) -> nn.Module:
    """Build a model from an arch dict: ``{"name": "resnet", "widths": [32, 64], ...}``."""
    kwargs = dict(arch)
    name = kwargs.pop("name", None)
    if not name:
        raise EdgekdError("arch JSON has no 'name'; add the model family, e.g. \"resnet\"")
    factory = MODELS.get(name)
    try:
        return factory(**kwargs)
    except TypeError as err:
        raise EdgekdError(f"arch {name!r}: {err}; fix the arch JSON") from None


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
