"""ONNX Runtime backend: CPU, CUDA or TensorRT execution providers, threads and graph optimisation."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime as ort

from edgekd.errors import EdgekdError
from edgekd.profile.backends.base import BACKENDS, IOSpec, OpTimes
from edgekd.profile.measure import Run
from edgekd.profile.memory import gpu_memory_bytes

if TYPE_CHECKING:
    from edgekd.profile.config import RuntimeOptions
    from edgekd.schemas import Target

LEVELS = {"disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
          "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
PER_OP_WARMUP = 3


def providers_for(target: Target) -> list[str | tuple[str, dict[str, Any]]]:
    """Execution providers in priority order: TensorRT EP for tensorrt targets, CUDA EP for cuda, else CPU."""
    if target.runtime == "tensorrt":
        trt = {"trt_fp16_enable": target.precision in ("fp16", "int8"), "trt_int8_enable": target.precision == "int8"}
        if target.workspace_bytes:
            trt["trt_max_workspace_size"] = target.workspace_bytes
        return [("TensorrtExecutionProvider", trt), "CUDAExecutionProvider", "CPUExecutionProvider"]
    if target.device == "cuda":
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def session_options(target: Target, options: RuntimeOptions) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = LEVELS[options.graph_optimization]
    threads = options.threads or target.threads
    if threads:
        opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = options.inter_op_threads
    if options.spinning is not None:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if options.spinning else "0")
    return opts


def _np_dtype(ort_type: str) -> str:
    """'tensor(float)' -> 'float32'."""
    inner = ort_type.removeprefix("tensor(").removesuffix(")")
    return {"float": "float32", "double": "float64", "float16": "float16"}.get(inner, inner)


class OrtSession:
    """An ``ort.InferenceSession`` behind the backend ``Session`` interface (host wall-clock timing)."""

    clock = "perf_counter"

    def __init__(self, model: Path, target: Target, options: RuntimeOptions) -> None:
        self.model, self.target, self.options = model, target, options
        self.sess = _create(model, session_options(target, options), providers_for(target))
        self.providers = self.sess.get_providers()
        self.inputs = [IOSpec(name=i.name, shape=list(i.shape), dtype=_np_dtype(i.type)) for i in self.sess.get_inputs()]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.sess.run(None, feeds)

    def bind(self, feeds: dict[str, np.ndarray]) -> Run:
        sess_run = self.sess.run

        def run() -> None:
            sess_run(None, feeds)

        return run

    def per_op(self, feeds: dict[str, np.ndarray], runs: int) -> OpTimes:
        """Node times from ONNX Runtime's profiler in a separate session, after a few unrecorded warm-up runs."""
        with tempfile.TemporaryDirectory(prefix="edgekd-ortprof-") as tmp:
            opts = session_options(self.target, self.options)
            opts.enable_profiling = True
            opts.profile_file_prefix = str(Path(tmp) / "ort")
            sess = _create(self.model, opts, providers_for(self.target))
            for _ in range(PER_OP_WARMUP + runs):
                sess.run(None, feeds)
            events = json.loads(Path(sess.end_profiling()).read_text())
        return parse_ort_profile(events, skip_runs=PER_OP_WARMUP)

    def memory(self) -> dict[str, int]:
        gpu = gpu_memory_bytes() if any(p != "CPUExecutionProvider" for p in self.providers) else None
        return {"gpu_process_bytes": gpu} if gpu is not None else {}


def parse_ort_profile(events: list[dict[str, Any]], skip_runs: int = 0) -> OpTimes:
    """Sum ``Node`` kernel events per node (and their median per call, ms), skipping the first ``skip_runs``
    ``model_run`` events; arena peaks in bytes."""
    starts = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e.get("name") == "model_run")
    since = starts[skip_runs] if len(starts) > skip_runs else 0
    nodes: dict[str, dict[str, Any]] = {}
    arena = in_use = 0
    for e in events:
        if e.get("cat") != "Node" or e["ts"] < since or not e.get("name", "").endswith("_kernel_time"):
            continue
        args = e.get("args", {})
        name = e["name"].removesuffix("_kernel_time")
        row = nodes.setdefault(name, {"node": name, "op_type": args.get("op_name", "?"),
                                      "provider": args.get("provider", "?"), "total_ms": 0.0, "calls": 0, "call_ms": []})
        row["total_ms"] += e["dur"] / 1e3
        row["calls"] += 1
        row["call_ms"].append(e["dur"] / 1e3)
        arena = max(arena, int(args.get("mem_arena_held", 0)))
        in_use = max(in_use, int(args.get("mem_in_use_peak", 0)))
    for row in nodes.values():
        row["median_call_ms"] = float(np.median(row.pop("call_ms")))
    memory = {"ort_arena_held_bytes": arena, "ort_in_use_peak_bytes": in_use} if arena or in_use else {}
    return OpTimes(runs=max(len(starts) - skip_runs, 0), nodes=list(nodes.values()), memory=memory)


def _create(model: Path, opts: ort.SessionOptions, providers: list) -> ort.InferenceSession:
    names = [p[0] if isinstance(p, tuple) else p for p in providers]
    if names[0] not in ort.get_available_providers():
        raise EdgekdError(f"this onnxruntime lacks {names[0]} (has {', '.join(ort.get_available_providers())}); "
                          "install onnxruntime-gpu on the device or pick a cpu target")
    try:
        return ort.InferenceSession(str(model), opts, providers=providers)
    except Exception as err:  # onnxruntime raises its own exception types per failure
        raise EdgekdError(f"onnxruntime cannot load {model}: {str(err).splitlines()[0]}") from None


@BACKENDS.register("onnxruntime")
class OnnxRuntimeBackend:
    def open(self, model: Path, target: Target, options: RuntimeOptions) -> OrtSession:
        return OrtSession(model, target, options)
