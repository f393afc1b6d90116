"""Profile: latency reports for a model on a target, here or on a device over SSH, and A/B comparisons.

Names load on first use, so the device agent (``python -m edgekd.profile.agent``) imports only what it runs.
A/B comparison is ``edgekd.compare`` (here ``compare`` is the submodule of that name).
"""

from __future__ import annotations

import importlib
from typing import Any

EXPORTS: dict[str, str] = {
    "MeasureConfig": "edgekd.profile.config:MeasureConfig",
    "RuntimeOptions": "edgekd.profile.config:RuntimeOptions",
    "profile": "edgekd.profile.api:profile",
    "summarize": "edgekd.profile.measure:summarize",
}

__all__ = sorted(EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in EXPORTS:
        raise AttributeError(f"module 'edgekd.profile' has no attribute {name!r}")
    module, attr = EXPORTS[name].split(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value
