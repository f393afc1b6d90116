"""Runtimes that execute a model for profiling, behind one small interface."""

from edgekd.profile.backends.base import BACKENDS, Backend, Session, get_backend
from edgekd.profile.backends import onnxruntime  # noqa: F401  (registers "onnxruntime")

__all__ = ["BACKENDS", "Backend", "Session", "get_backend"]
