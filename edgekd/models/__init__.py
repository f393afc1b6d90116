"""Architectures edgekd can rebuild from an arch JSON (``{"name": ..., **kwargs}``), and checkpoints.

Names load on first use, and the families register when ``MODELS`` first builds one, so the light modules here
(``hf_student``'s checks) load no torch.
"""

from __future__ import annotations

from edgekd.lazy import lazy_names

EXPORTS: dict[str, str] = {
    "MODELS": "edgekd.models.registry:MODELS",
    "build_model": "edgekd.models.registry:build_model",
    "count_params": "edgekd.models.registry:count_params",
    "init_from_teacher": "edgekd.models.init:init_from_teacher",
    "load_checkpoint": "edgekd.models.checkpoint:load_checkpoint",
    "read_input_shape": "edgekd.models.checkpoint:read_input_shape",
    "save_checkpoint": "edgekd.models.checkpoint:save_checkpoint",
    "scaled_arch": "edgekd.models.init:scaled_arch",
}

__all__ = sorted(EXPORTS)


__getattr__, __dir__ = lazy_names(__name__, EXPORTS)
