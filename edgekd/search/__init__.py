"""Search: student architectures under a target's measured latency budget (training-free proxies, Optuna).

Light to import: the engine (torch, onnx, optuna) loads when ``search`` is first called.
"""

from __future__ import annotations

from typing import Any


def search(*args: Any, **kwargs: Any) -> Any:
    """``edgekd.search.api.search``: see its docstring."""
    from edgekd.search.api import search as run

    return run(*args, **kwargs)
