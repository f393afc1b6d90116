"""TensorRT engines (extra ``trt``): build from ONNX with the tensorrt Python API, serialize with a sidecar JSON.

Written against TensorRT 10's documented API (Builder, OnnxParser, IBuilderConfig flags, memory pool limits,
optimization profiles, timing cache, Runtime.deserialize_cuda_engine). Not yet verified on GPU hardware.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Mapping, Sequence

from edgekd.errors import EdgekdError
from edgekd.export.trt_lint import Profile
from edgekd.fsutil import atomic_path, sha256, write_json
from edgekd.trt_sidecar import SIDECAR_FORMAT, sidecar_path


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


def _gpu() -> dict[str, Any]:
    try:
        import torch

        if torch.cuda.is_available():
            return {"name": torch.cuda.get_device_name(0), "compute_capability": list(torch.cuda.get_device_capability(0))}
    except ImportError:
        pass
    return {"name": "unknown"}


def build_engine(
    onnx_path: str | Path,
    engine_path: str | Path,
    precision: str,
    profiles: Mapping[str, Profile],
    workspace_bytes: int | None = None,
    timing_cache: str | Path | None = None,
) -> list[Path]:
    """Parse ``onnx_path``, build a serialized engine at ``engine_path`` plus its sidecar JSON; return both paths.

    fp16 sets BuilderFlag.FP16; int8 expects an explicitly quantized (QDQ) network and sets INT8 and FP16 (fp16
    fallback for unquantized layers). ``workspace_bytes`` caps the WORKSPACE memory pool; ``timing_cache`` is
    read if present and written back after the build.
    """
    try:
        import tensorrt as trt
    except ImportError:
        raise EdgekdError("building a TensorRT engine needs tensorrt on the GPU machine: pip install 'edgekd[trt]'") from None
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EdgekdError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    if workspace_bytes:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_bytes))
    flags = {"fp16": ["FP16"], "int8": ["INT8", "FP16"]}.get(precision, [])
    for flag in flags:
        config.set_flag(getattr(trt.BuilderFlag, flag))
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        name = network.get_input(i).name
        if name in profiles:
            profile.set_shape(name, *(tuple(s) for s in profiles[name]))
    config.add_optimization_profile(profile)
    cache_file = Path(timing_cache) if timing_cache else None
    cache = config.create_timing_cache(cache_file.read_bytes() if cache_file and cache_file.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EdgekdError(f"TensorRT failed to build an engine from {onnx_path}; rerun with --debug for the builder log")
    engine_path = Path(engine_path)
    with atomic_path(engine_path) as tmp:
        tmp.write_bytes(bytes(serialized))
    if cache_file:
        with atomic_path(cache_file) as tmp:
            tmp.write_bytes(bytes(config.get_timing_cache().serialize()))
    engine = trt.Runtime(logger).deserialize_cuda_engine(bytes(serialized))
    io = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        io.append({"name": name, "mode": "input" if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT else "output",
                   "dtype": str(engine.get_tensor_dtype(name)).rsplit(".", 1)[-1].lower(),
                   "shape": list(engine.get_tensor_shape(name))})
    side = write_json(sidecar_path(engine_path), {
        "format": SIDECAR_FORMAT, "tensorrt_version": str(trt.__version__), "gpu": _gpu(), "precision": precision,
        "builder_flags": flags, "workspace_bytes": workspace_bytes, "io": io,
        "profiles": {k: [list(s) for s in v] for k, v in profiles.items()}, "onnx": Path(onnx_path).name,
        "onnx_sha256": sha256(onnx_path), "built_at": dt.datetime.now(dt.timezone.utc).isoformat(),
    })
    return [engine_path, side]
