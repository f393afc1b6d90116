"""Architectures edgekd can rebuild from an arch JSON (``{"name": ..., **kwargs}``), and checkpoints."""

from edgekd.models.registry import MODELS, build_model, count_params
from edgekd.models import cnn, transformer  # noqa: F401  (registers the built-in families)
from edgekd.models import mobile  # noqa: F401  (registers "mobilenet")
from edgekd.models.checkpoint import load_checkpoint, read_input_shape, save_checkpoint
from edgekd.models.init import init_from_teacher, scaled_arch

__all__ = ["MODELS", "build_model", "count_params", "init_from_teacher", "load_checkpoint", "read_input_shape", "save_checkpoint",
           "scaled_arch"]
