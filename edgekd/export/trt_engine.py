"""TensorRT engines (extra ``trt``): build from ONNX with the tensorrt Python API, verify against ONNX Runtime, and
serialize with a sidecar JSON.

Written against TensorRT 10's documented Python API (Builder, OnnxParser, IBuilderConfig flags, memory pool limits,
profiling verbosity, optimization profiles, timing cache, Runtime.deserialize_cuda_engine) and cuda-python; tested
here against a stand-in ``tensorrt`` module that records the calls. Not verified on GPU hardware.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from edgekd.errors import EdgekdError, VerificationError
from edgekd.export.trt_lint import Profile
from edgekd.fsutil import atomic_path, sha256, write_json
from edgekd.trt_sidecar import SIDECAR_FORMAT, sidecar_path

FLAGS = {"fp32": [], "fp16": ["FP16"], "int8": ["INT8", "FP16"]}


def default_profiles(inputs: Sequence[tuple[str, Sequence[int | str | None]]], batch_sizes: Sequence[int],
                     sample_shapes: Mapping[str, Sequence[int]]) -> dict[str, Profile]:
    """(min, opt, max) shapes: axis 0 spans the target's batch sizes (opt = the smallest, the latency case);
    other dynamic axes are pinned to the verification samples' size. ``inputs`` is (name, ONNX shape) pairs."""
    lo, hi = min(batch_sizes), max(batch_sizes)
    out: dict[str, Profile] = {}
    for name, shape in inputs:
        fixed = [d if isinstance(d, int) and d > 0 else int(sample_shapes[name][i]) for i, d in enumerate(shape)]
        dyn0 = not (isinstance(shape[0], int) and shape[0] > 0)
        out[name] = ([lo if dyn0 else fixed[0], *fixed[1:]], [lo if dyn0 else fixed[0], *fixed[1:]],
                     [hi if dyn0 else fixed[0], *fixed[1:]])
    return out


def gpu_info() -> dict[str, Any]:
    """Name and compute capability of GPU 0 from cuda-python; {"name": "unknown"} without it."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart
        except ImportError:
            return {"name": "unknown"}
    err, prop = cudart.cudaGetDeviceProperties(0)
    if int(err) != 0:
        return {"name": "unknown"}
    name = prop.name.decode(errors="replace") if isinstance(prop.name, bytes) else str(prop.name)
    return {"name": name.rstrip("\x00").strip(), "compute_capability": [int(prop.major), int(prop.minor)]}


def timing_cache_path(tensorrt_version: str, gpu_name: str) -> Path:
    """The persistent timing cache for one TensorRT version and GPU: ``$EDGEKD_CACHE/tensorrt/timing-<ver>-<gpu>.cache``
    (default ``~/.cache/edgekd``). Tactic timings only transfer between builds on the same GPU and version."""
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", f"{tensorrt_version}-{gpu_name}").strip("-")
    return Path(os.environ.get("EDGEKD_CACHE", "~/.cache/edgekd")).expanduser() / "tensorrt" / f"timing-{slug}.cache"


def verify_engine(engine_path: Path, onnx_path: Path, inputs: Mapping[str, np.ndarray], precision: str,
                  max_batch: int) -> dict[str, Any]:
    """Run the engine and ONNX Runtime (on ``onnx_path``) on the same ``inputs`` (name -> (N, ...)) and compare every
    output with the precision's tolerance; raises VerificationError past it. Runs ``max_batch`` rows at a time."""
    from edgekd.export.runtime import run_outputs
    from edgekd.export.verify import tolerance_for, verify_outputs
    from edgekd.profile.backends.tensorrt import TrtSession

    session = TrtSession(engine_path)
    n = len(next(iter(inputs.values())))
    rows = n - n % max_batch if n > max_batch else n
    parts = [session.run({k: v[i:i + max_batch] for k, v in inputs.items()}) for i in range(0, rows, max_batch)]
    engine_out = {name: np.concatenate([p[j] for p in parts]) for j, name in enumerate(session.output_names)}
    reference = run_outputs(onnx_path, {k: v[:rows] for k, v in inputs.items()})
    return verify_outputs(reference, engine_out, tolerance_for(precision), f"TensorRT engine {engine_path.name}")


def build_engine(
    onnx_path: str | Path,
    engine_path: str | Path,
    precision: str,
    profiles: Mapping[str, Profile],
    workspace_bytes: int | None = None,
    timing_cache: str | Path | None = None,
    verify_inputs: Mapping[str, np.ndarray] | None = None,
) -> list[Path]:
    """Parse ``onnx_path``, build a serialized engine at ``engine_path`` plus its sidecar JSON; return both paths.

    fp16 sets BuilderFlag.FP16; int8 expects an explicitly quantized (QDQ) network and sets INT8 and FP16 (fp16
    fallback for unquantized layers). Profiling verbosity is DETAILED, so the engine inspector and per-layer
    profiles name each layer's type. ``workspace_bytes`` caps the WORKSPACE memory pool. The timing cache is read
    from and written back to ``timing_cache`` (default: ``timing_cache_path`` for this TensorRT and GPU), so later
    builds reuse tactic timings. With ``verify_inputs`` (name -> (N, ...)) the engine's outputs are compared with
    ONNX Runtime's on ``onnx_path`` (``verify_engine``); a mismatch deletes the engine and raises.
    """
    try:
        import tensorrt as trt
    except ImportError:
        raise EdgekdError("building a TensorRT engine needs tensorrt on the GPU machine: pip install 'edgekd[trt]'") from None
    if precision not in FLAGS:
        raise EdgekdError(f"precision {precision!r} has no TensorRT build; use one of {', '.join(FLAGS)}")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EdgekdError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    if workspace_bytes:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_bytes))
    for flag in FLAGS[precision]:
        config.set_flag(getattr(trt.BuilderFlag, flag))
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        name = network.get_input(i).name
        if name in profiles:
            profile.set_shape(name, *(tuple(s) for s in profiles[name]))
    config.add_optimization_profile(profile)
    gpu = gpu_info()
    cache_file = Path(timing_cache) if timing_cache else timing_cache_path(str(trt.__version__), gpu["name"])
    cache = config.create_timing_cache(cache_file.read_bytes() if cache_file.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EdgekdError(f"TensorRT failed to build an engine from {onnx_path}; rerun with --debug for the builder log")
    engine_path = Path(engine_path)
    with atomic_path(engine_path) as tmp:
        tmp.write_bytes(bytes(serialized))
    with atomic_path(cache_file) as tmp:
        tmp.write_bytes(bytes(config.get_timing_cache().serialize()))
    engine = trt.Runtime(logger).deserialize_cuda_engine(bytes(serialized))
    io = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        io.append({"name": name, "mode": "input" if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT else "output",
                   "dtype": str(engine.get_tensor_dtype(name)).rsplit(".", 1)[-1].lower(),
                   "shape": list(engine.get_tensor_shape(name))})
    meta: dict[str, Any] = {
        "format": SIDECAR_FORMAT, "tensorrt_version": str(trt.__version__), "gpu": gpu, "precision": precision,
        "builder_flags": FLAGS[precision], "profiling_verbosity": "DETAILED", "workspace_bytes": workspace_bytes,
        "timing_cache": str(cache_file), "io": io, "profiles": {k: [list(s) for s in v] for k, v in profiles.items()},
        "onnx": Path(onnx_path).name, "onnx_sha256": sha256(onnx_path), "built_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "verification": None,
    }
    side = write_json(sidecar_path(engine_path), meta)  # the loader needs it, also for verification
    if verify_inputs is not None:
        max_batch = min(max(p[2][0] for p in profiles.values()), 64) if profiles else 1
        try:
            meta["verification"] = verify_engine(engine_path, Path(onnx_path), verify_inputs, precision, max_batch)
        except VerificationError:
            engine_path.unlink(missing_ok=True)
            side.unlink(missing_ok=True)
            raise
        write_json(side, meta)
    return [engine_path, side]
