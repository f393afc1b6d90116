"""Runtimes that execute a model for profiling, behind one small interface."""

from edgekd.profile.backends import onnxruntime, tensorrt  # noqa: F401  (register "onnxruntime", "tensorrt")
from edgekd.profile.backends.base import BACKENDS, Backend, IOSpec, OpTimes, Session, backend_name, get_backend

__all__ = ["BACKENDS", "Backend", "IOSpec", "OpTimes", "Session", "backend_name", "get_backend"]
