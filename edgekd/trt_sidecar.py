"""TensorRT engine files: the sidecar JSON beside each engine and the version guard.

Shared by compile (which writes engines) and profile (which loads them): an engine only runs under the TensorRT
version that built it, so both refuse a mismatch with one clear error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from edgekd.errors import EdgekdError

SIDECAR_FORMAT = "edgekd-tensorrt-engine/1"
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")


def tensorrt_version() -> str | None:
    """The installed tensorrt version, or None when it is not importable."""
    try:
        import tensorrt as trt
    except ImportError:
        return None
    return str(trt.__version__)


def sidecar_path(engine: str | Path) -> Path:
    """``model.int8.engine`` -> ``model.int8.engine.json``."""
    engine = Path(engine)
    return engine.with_name(engine.name + ".json")


def check_compatible(sidecar: Mapping[str, Any], installed: str | None) -> None:
    """Raise EdgekdError unless the engine's TensorRT version equals the ``installed`` one (engines do not port)."""
    if sidecar.get("format") != SIDECAR_FORMAT:
        raise EdgekdError(f"not an edgekd engine sidecar (format {sidecar.get('format')!r})")
    if installed is None:
        raise EdgekdError("running a TensorRT engine needs tensorrt: pip install 'edgekd[trt]'")
    built = sidecar.get("tensorrt_version")
    if built != installed:
        raise EdgekdError(f"engine was built with TensorRT {built} but {installed} is installed; engines only load in the "
                          "TensorRT version that built them: rebuild it with `edgekd compile` on this machine")


def load_engine(engine_path: str | Path) -> tuple[Any, Any]:
    """Deserialize an engine after checking its sidecar against the installed TensorRT.

    Returns ``(runtime, engine)``: an IRuntime and an ICudaEngine; keep the runtime alive while the engine is used.
    """
    engine_path = Path(engine_path)
    side = sidecar_path(engine_path)
    if not side.is_file():
        raise EdgekdError(f"{engine_path} has no sidecar {side.name}; rebuild the engine with edgekd")
    check_compatible(json.loads(side.read_text()), tensorrt_version())
    import tensorrt as trt

    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engine = runtime.deserialize_cuda_engine(engine_path.read_bytes())
    if engine is None:
        raise EdgekdError(f"TensorRT could not deserialize {engine_path}; rebuild it with this TensorRT version on this device")
    return runtime, engine
