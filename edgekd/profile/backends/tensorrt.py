"""TensorRT backend: a serialized engine run with ``execute_async_v3``, timed with CUDA events.

Written against the documented TensorRT 10 Python API and cuda-python's runtime bindings; neither installs on
machines without NVIDIA's index, so this module imports them only when an engine is opened. Tested against a
stand-in ``tensorrt`` module that records the calls (tests/trt_standin); not verified on GPU hardware.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgekd.errors import EdgekdError
from edgekd.profile.backends.base import BACKENDS, IOSpec, OpTimes
from edgekd.profile.measure import Run
from edgekd.trt_sidecar import load_engine

if TYPE_CHECKING:
    from edgekd.profile.config import RuntimeOptions
    from edgekd.schemas import Target

PER_OP_WARMUP = 3


def _import() -> tuple[Any, Any]:
    """(tensorrt, cuda runtime bindings), or a clear error naming what to install."""
    try:
        import tensorrt as trt
    except ImportError:
        raise EdgekdError("profiling a TensorRT engine needs the tensorrt package on the device; "
                          "install it (pip install 'edgekd[trt]' or JetPack's python3-libnvinfer)") from None
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart
        except ImportError:
            raise EdgekdError("profiling a TensorRT engine needs cuda-python; install it (pip install cuda-python)") from None
    return trt, cudart


def _ok(result: Any) -> Any:
    """Unwrap a cuda-python ``(error, *values)`` tuple, raising on an error code."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise EdgekdError(f"CUDA call failed with {err}; check the driver and that the GPU is free")
    return values[0] if len(values) == 1 else (tuple(values) or None)


def layer_rows(times_ms: dict[str, float], calls: dict[str, int], types: dict[str, str]) -> list[dict[str, Any]]:
    """Per-layer rows in the per-op schema from IProfiler sums; ``types`` maps layer name to layer type."""
    return [{"node": name, "op_type": types.get(name, "?"), "provider": "TensorRT", "total_ms": ms, "calls": calls[name]}
            for name, ms in times_ms.items()]


def layer_types(engine: Any, trt: Any) -> dict[str, str]:
    """Layer name -> type from the engine inspector (needs an engine built with detailed profiling verbosity)."""
    inspector = engine.create_engine_inspector()
    out = {}
    for i in range(engine.num_layers):
        text = inspector.get_layer_information(i, trt.LayerInformationFormat.JSON)
        try:
            info = json.loads(text)
        except ValueError:
            continue
        if isinstance(info, dict) and "Name" in info:
            out[info["Name"]] = info.get("LayerType", "?")
    return out


class TrtSession:
    """A deserialized engine with one execution context and stream; samples are CUDA-event times, ms."""

    clock = "cuda-events"

    def __init__(self, model: Path) -> None:
        self.trt, self.cudart = trt, cudart = _import()
        self.runtime, self.engine = load_engine(model)
        self.context = self.engine.create_execution_context()
        self.stream = _ok(cudart.cudaStreamCreate())
        self.start, self.end = _ok(cudart.cudaEventCreate()), _ok(cudart.cudaEventCreate())
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_names = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.output_names = [n for n in names if n not in self.input_names]
        self.inputs = [IOSpec(name=n, shape=[d if d >= 0 else None for d in self.engine.get_tensor_shape(n)],
                                  dtype=np.dtype(trt.nptype(self.engine.get_tensor_dtype(n))).name) for n in self.input_names]
        self.providers = [f"TensorRT {trt.__version__}"]
        self._buffers: list[int] = []

    def _bind(self, context: Any, feeds: dict[str, np.ndarray]) -> dict[str, tuple[int, np.ndarray]]:
        """Device buffers for every I/O tensor of ``context``; inputs copied in. Name -> (pointer, host array)."""
        cudart, bound = self.cudart, {}
        for name in self.input_names:
            host = np.ascontiguousarray(feeds[name])
            if not context.set_input_shape(name, host.shape):
                raise EdgekdError(f"engine input {name} does not accept shape {host.shape}; rebuild it with an "
                                  "optimisation profile that covers this batch size")
            bound[name] = (_ok(cudart.cudaMalloc(host.nbytes)), host)
            _ok(cudart.cudaMemcpy(bound[name][0], host.ctypes.data, host.nbytes, cudart.cudaMemcpyKind.cudaMemcpyHostToDevice))
        for name in self.output_names:
            dtype = np.dtype(self.trt.nptype(self.engine.get_tensor_dtype(name)))
            host = np.empty(tuple(context.get_tensor_shape(name)), dtype)
            bound[name] = (_ok(cudart.cudaMalloc(max(host.nbytes, 1))), host)
        for name, (ptr, _) in bound.items():
            context.set_tensor_address(name, ptr)
        self._buffers += [ptr for ptr, _ in bound.values()]
        return bound

    def _execute(self, context: Any) -> None:
        if not context.execute_async_v3(self.stream):
            raise EdgekdError("TensorRT execute_async_v3 failed; see the TensorRT log above")

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        bound = self._bind(self.context, feeds)
        self._execute(self.context)
        _ok(self.cudart.cudaStreamSynchronize(self.stream))
        for name in self.output_names:
            ptr, host = bound[name]
            _ok(self.cudart.cudaMemcpy(host.ctypes.data, ptr, host.nbytes, self.cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost))
        return [bound[n][1] for n in self.output_names]

    def bind(self, feeds: dict[str, np.ndarray]) -> Run:
        self._bind(self.context, feeds)
        cudart = self.cudart

        def run() -> float:
            _ok(cudart.cudaEventRecord(self.start, self.stream))
            self._execute(self.context)
            _ok(cudart.cudaEventRecord(self.end, self.stream))
            _ok(cudart.cudaEventSynchronize(self.end))
            return float(_ok(cudart.cudaEventElapsedTime(self.start, self.end)))

        return run

    def per_op(self, feeds: dict[str, np.ndarray], runs: int) -> OpTimes:
        """Per-layer times through an ``IProfiler`` on a second execution context, after unrecorded warm-up runs."""
        trt, times, calls = self.trt, {}, {}

        class LayerProfiler(trt.IProfiler):
            def __init__(self) -> None:
                trt.IProfiler.__init__(self)
                self.recording = False

            def report_layer_time(self, layer_name: str, ms: float) -> None:
                if self.recording:
                    times[layer_name] = times.get(layer_name, 0.0) + ms
                    calls[layer_name] = calls.get(layer_name, 0) + 1

        context = self.engine.create_execution_context()
        context.profiler = profiler = LayerProfiler()
        self._bind(context, feeds)
        for i in range(PER_OP_WARMUP + runs):
            profiler.recording = i >= PER_OP_WARMUP
            self._execute(context)
            _ok(self.cudart.cudaStreamSynchronize(self.stream))
        return OpTimes(runs=runs, nodes=layer_rows(times, calls, layer_types(self.engine, trt)))

    def memory(self) -> dict[str, int]:
        free, total = _ok(self.cudart.cudaMemGetInfo())
        size = getattr(self.engine, "device_memory_size_v2", None) or self.engine.device_memory_size
        return {"gpu_used_bytes": int(total - free), "gpu_total_bytes": int(total), "engine_device_memory_bytes": int(size)}

    def __del__(self) -> None:
        for ptr in getattr(self, "_buffers", []):
            self.cudart.cudaFree(ptr)


@BACKENDS.register("tensorrt")
class TensorRtBackend:
    def open(self, model: Path, target: Target, options: RuntimeOptions) -> TrtSession:
        return TrtSession(model)
