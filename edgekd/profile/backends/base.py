"""The backend interface: open a model for a target, bind inputs, and time or profile runs.

The device agent imports this: numpy and the standard library only (targets and options arrive as attribute objects).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from edgekd.profile.measure import Run
from edgekd.registry import Registry
from edgekd.trt_sidecar import ENGINE_SUFFIXES

if TYPE_CHECKING:
    from edgekd.profile.config import RuntimeOptions
    from edgekd.schemas import Target


@dataclass
class IOSpec:
    """One model input as the runtime reports it: ``shape`` has None (or a name) for dynamic axes; numpy ``dtype``."""

    name: str
    shape: list[int | str | None]
    dtype: str


@dataclass
class OpTimes:
    """Per-node times from a separate profiling run: ``nodes`` rows carry node, op_type, provider, total_ms, calls."""

    runs: int
    nodes: list[dict[str, Any]]
    memory: dict[str, int] = field(default_factory=dict)


class Session(Protocol):
    """An opened model, ready to run."""

    inputs: list[IOSpec]
    providers: list[str]
    clock: str  # "perf_counter" (host wall time) or "cuda-events" (device time)

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]: ...

    def bind(self, feeds: dict[str, np.ndarray]) -> Run:
        """A zero-argument run on fixed inputs, for timing (see ``measure.Run``)."""
        ...

    def per_op(self, feeds: dict[str, np.ndarray], runs: int) -> OpTimes:
        """Per-node times over ``runs`` runs, measured apart from the timed session."""
        ...

    def memory(self) -> dict[str, int]:
        """Runtime memory in bytes where the runtime reports it (GPU memory, arenas); may be empty."""
        ...


class Backend(Protocol):
    """Opens model files for one runtime."""

    def open(self, model: Path, target: Target, options: RuntimeOptions) -> Session: ...


BACKENDS: Registry[type] = Registry("backend")


def backend_name(model: Path, target: Target) -> str:
    """'tensorrt' for serialized engines (.engine/.plan/.trt); ONNX files run on ONNX Runtime with the target's EPs."""
    return "tensorrt" if model.suffix in ENGINE_SUFFIXES else "onnxruntime"


def get_backend(model: Path, target: Target) -> Backend:
    """The backend that runs ``model`` for ``target``."""
    return BACKENDS.get(backend_name(model, target))()
