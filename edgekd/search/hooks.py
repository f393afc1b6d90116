"""Forward hooks that are always removed: the one way search code looks inside a model while it runs."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

from torch import nn


@contextmanager
def hooked(modules: Iterable[nn.Module], hook: Callable[..., Any], pre: bool = False) -> Iterator[None]:
    """``hook`` on every module of ``modules`` (a pre-hook ``(module, args)`` with ``pre``, else a forward hook
    ``(module, args, output)``) for the duration of the ``with`` block."""
    handles = [m.register_forward_pre_hook(hook) if pre else m.register_forward_hook(hook) for m in modules]
    try:
        yield
    finally:
        for h in handles:
            h.remove()
