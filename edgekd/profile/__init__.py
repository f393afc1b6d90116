"""Profile: latency reports for a model on a target, here or on a device over SSH, and A/B comparisons.

Names load on first use, so the device agent (``python -m edgekd.profile.agent``) imports only what it runs.
A/B comparison is ``edgekd.compare`` (here ``compare`` is the submodule of that name).
"""

from __future__ import annotations

from edgekd.lazy import lazy_names

EXPORTS: dict[str, str] = {
    "MeasureConfig": "edgekd.profile.config:MeasureConfig",
    "RuntimeOptions": "edgekd.profile.config:RuntimeOptions",
    "profile": "edgekd.profile.api:profile",
    "summarize": "edgekd.profile.measure:summarize",
}

__all__ = sorted(EXPORTS)


__getattr__, __dir__ = lazy_names(__name__, EXPORTS)
