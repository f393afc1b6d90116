"""Model-family registry: ``@MODELS.register("name")`` on a factory taking the arch JSON's kwargs."""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from edgekd.errors import EdgekdError
from edgekd.inputs import check_arch, check_model_size
from edgekd.registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model family")
for _name, _module in {"resnet": "edgekd.models.cnn", "bert": "edgekd.models.transformer",
                       "mobilenet": "edgekd.models.mobile"}.items():
    MODELS.declare(_name, _module)  # the built-in families register when first built


def build_model(arch: dict[str, Any]) -> nn.Module:
    """Build a model from an arch dict: ``{"name": "resnet", "widths": [32, 64], ...}``."""
    kwargs = dict(check_arch(arch))
    name = kwargs.pop("name", None)
    if not name:
        raise EdgekdError("arch JSON has no 'name'; add the model family, e.g. \"resnet\"")
    factory = MODELS.get(name)
    check_model_size(factory, kwargs, name)
    try:
        return factory(**kwargs)
    except TypeError as err:
        raise EdgekdError(f"arch {name!r}: {err}; fix the arch JSON") from None


def check_int(family: str, name: str, value: Any, low: int, high: int) -> None:
    """One-line error unless ``value`` is an integer in [low, high] (the high bound catches typos like 64000)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise EdgekdError(f"arch {family!r}: {name} must be an integer from {low} to {high}, got {value!r}; fix the arch")


def check_ints(family: str, name: str, values: Any, low: int, high: int) -> None:
    """Like ``check_int`` for a non-empty list of integers."""
    if not isinstance(values, (list, tuple)) or not values:
        raise EdgekdError(f"arch {family!r}: {name} must be a non-empty list of integers, got {values!r}; fix the arch")
    for i, v in enumerate(values):
        check_int(family, f"{name}[{i}]", v, low, high)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
