"""Stand-in for the TensorRT 10 Python API (see ../README.md): records calls, runs "engines" with ONNX Runtime."""

from __future__ import annotations

import ctypes
import enum
import json
from typing import Any

import numpy as np
import onnxruntime as ort

__version__ = "10.99.0-standin"
ENGINE_MAGIC = b"EDGEKD-STANDIN-TRT\n"
CALLS: list[tuple[Any, ...]] = []
OUTPUT_ERROR = 0.0  # added to every output when non-zero


def _call(name: str, *args: Any) -> None:
    CALLS.append((name, *args))


class Logger:
    INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = range(5)

    def __init__(self, severity: int = 2) -> None:
        _call("Logger", severity)


class BuilderFlag(enum.Enum):
    FP16 = "FP16"
    INT8 = "INT8"
    BF16 = "BF16"
    STRICT_TYPES = "STRICT_TYPES"


class MemoryPoolType(enum.Enum):
    WORKSPACE = "WORKSPACE"


class ProfilingVerbosity(enum.Enum):
    LAYER_NAMES_ONLY = "LAYER_NAMES_ONLY"
    DETAILED = "DETAILED"
    NONE = "NONE"


class TensorIOMode(enum.Enum):
    NONE = 0
    INPUT = 1
    OUTPUT = 2


class LayerInformationFormat(enum.Enum):
    ONELINE = "ONELINE"
    JSON = "JSON"


class DataType(enum.Enum):
    FLOAT = "FLOAT"
    HALF = "HALF"
    INT8 = "INT8"
    INT32 = "INT32"
    INT64 = "INT64"
    BOOL = "BOOL"


_NP = {DataType.FLOAT: np.float32, DataType.HALF: np.float16, DataType.INT8: np.int8, DataType.INT32: np.int32,
       DataType.INT64: np.int64, DataType.BOOL: np.bool_}
_ORT = {"tensor(float)": DataType.FLOAT, "tensor(float16)": DataType.HALF, "tensor(int64)": DataType.INT64,
        "tensor(int32)": DataType.INT32, "tensor(int8)": DataType.INT8, "tensor(bool)": DataType.BOOL}


def nptype(dtype: DataType) -> type:
    return _NP[dtype]


class IProfiler:
    def __init__(self) -> None:
        pass

    def report_layer_time(self, layer_name: str, ms: float) -> None:
        raise NotImplementedError


class TimingCache:
    def __init__(self, blob: bytes) -> None:
        self.blob = bytes(blob) or b"standin-timing-cache:"

    def serialize(self) -> bytes:
        _call("TimingCache.serialize")
        return self.blob


class _Tensor:
    def __init__(self, name: str) -> None:
        self.name = name


class Network:
    def __init__(self, flags: int) -> None:
        self.flags, self.onnx, self.inputs, self.layers = flags, b"", [], []

    @property
    def num_inputs(self) -> int:
        return len(self.inputs)

    def get_input(self, i: int) -> _Tensor:
        return _Tensor(self.inputs[i])


class OnnxParser:
    def __init__(self, network: Network, logger: Logger) -> None:
        self.network, self.errors = network, []
        _call("OnnxParser")

    def parse_from_file(self, path: str) -> bool:
        _call("OnnxParser.parse_from_file", path)
        try:
            sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        except Exception as err:  # noqa: BLE001  (any load failure is a parse error here)
            self.errors.append(str(err).splitlines()[0])
            return False
        import onnx

        proto = onnx.load(path)
        self.network.onnx = proto.SerializeToString()  # external data inlined, as an engine holds its weights
        self.network.inputs = [i.name for i in sess.get_inputs()]
        self.network.layers = [{"name": n.name or f"node{i}", "type": n.op_type} for i, n in enumerate(proto.graph.node)]
        return True

    @property
    def num_errors(self) -> int:
        return len(self.errors)

    def get_error(self, i: int) -> str:
        return self.errors[i]


class OptimizationProfile:
    def __init__(self) -> None:
        self.shapes: dict[str, list[list[int]]] = {}

    def set_shape(self, name: str, min: tuple, opt: tuple, max: tuple) -> None:  # noqa: A002  (TensorRT's names)
        _call("OptimizationProfile.set_shape", name, tuple(min), tuple(opt), tuple(max))
        self.shapes[name] = [list(min), list(opt), list(max)]


class BuilderConfig:
    def __init__(self) -> None:
        self.flags: list[str] = []
        self.pools: dict[str, int] = {}
        self.profiles: list[OptimizationProfile] = []
        self._verbosity = ProfilingVerbosity.LAYER_NAMES_ONLY
        self.cache: TimingCache | None = None

    @property
    def profiling_verbosity(self) -> ProfilingVerbosity:
        return self._verbosity

    @profiling_verbosity.setter
    def profiling_verbosity(self, value: ProfilingVerbosity) -> None:
        if not isinstance(value, ProfilingVerbosity):
            raise TypeError(f"profiling_verbosity takes a ProfilingVerbosity, got {value!r}")
        _call("BuilderConfig.profiling_verbosity", value)
        self._verbosity = value

    def set_flag(self, flag: BuilderFlag) -> None:
        if not isinstance(flag, BuilderFlag):
            raise TypeError(f"set_flag takes a BuilderFlag, got {flag!r}")
        _call("BuilderConfig.set_flag", flag)
        self.flags.append(flag.value)

    def set_memory_pool_limit(self, pool: MemoryPoolType, size: int) -> None:
        _call("BuilderConfig.set_memory_pool_limit", pool, size)
        self.pools[pool.value] = size

    def add_optimization_profile(self, profile: OptimizationProfile) -> int:
        _call("BuilderConfig.add_optimization_profile")
        self.profiles.append(profile)
        return len(self.profiles) - 1

    def create_timing_cache(self, blob: bytes) -> TimingCache:
        _call("BuilderConfig.create_timing_cache", bytes(blob))
        return TimingCache(blob)

    def set_timing_cache(self, cache: TimingCache, ignore_mismatch: bool) -> bool:
        _call("BuilderConfig.set_timing_cache", ignore_mismatch)
        self.cache = cache
        return True

    def get_timing_cache(self) -> TimingCache | None:
        _call("BuilderConfig.get_timing_cache")
        if self.cache is not None and not self.cache.blob.endswith(b"+built"):
            self.cache.blob += b"+built"  # a build adds its tactic timings
        return self.cache


class Builder:
    def __init__(self, logger: Logger) -> None:
        _call("Builder")

    def create_network(self, flags: int = 0) -> Network:
        _call("Builder.create_network", flags)
        return Network(flags)

    def create_builder_config(self) -> BuilderConfig:
        return BuilderConfig()

    def create_optimization_profile(self) -> OptimizationProfile:
        return OptimizationProfile()

    def build_serialized_network(self, network: Network, config: BuilderConfig) -> bytes | None:
        _call("Builder.build_serialized_network")
        shapes = {k: v for p in config.profiles for k, v in p.shapes.items()}
        header = {"flags": config.flags, "verbosity": config.profiling_verbosity.value, "profiles": shapes,
                  "layers": network.layers}
        head = json.dumps(header).encode()
        return ENGINE_MAGIC + len(head).to_bytes(4, "little") + head + network.onnx


class EngineInspector:
    def __init__(self, engine: "Engine") -> None:
        self.engine = engine

    def get_layer_information(self, i: int, fmt: LayerInformationFormat) -> str:
        node = self.engine.nodes[i]
        if self.engine.header["verbosity"] != "DETAILED":
            return json.dumps(node["name"])  # layer names only: no types
        return json.dumps({"Name": node["name"], "LayerType": node["type"]})


class Engine:
    def __init__(self, blob: bytes) -> None:
        size = int.from_bytes(blob[len(ENGINE_MAGIC):len(ENGINE_MAGIC) + 4], "little")
        start = len(ENGINE_MAGIC) + 4
        self.header = json.loads(blob[start:start + size])
        model = blob[start + size:]
        self.sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        self.nodes = self.header["layers"]
        self.io = [(i.name, TensorIOMode.INPUT, i) for i in self.sess.get_inputs()] + \
                  [(o.name, TensorIOMode.OUTPUT, o) for o in self.sess.get_outputs()]

    num_io_tensors = property(lambda self: len(self.io))
    num_layers = property(lambda self: len(self.nodes))
    device_memory_size_v2 = property(lambda self: 1 << 20)

    def get_tensor_name(self, i: int) -> str:
        return self.io[i][0]

    def _arg(self, name: str) -> Any:
        return next(a for n, _, a in self.io if n == name)

    def get_tensor_mode(self, name: str) -> TensorIOMode:
        return next(m for n, m, _ in self.io if n == name)

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return tuple(d if isinstance(d, int) else -1 for d in self._arg(name).shape)

    def get_tensor_dtype(self, name: str) -> DataType:
        return _ORT[self._arg(name).type]

    def create_engine_inspector(self) -> EngineInspector:
        _call("Engine.create_engine_inspector")
        return EngineInspector(self)

    def create_execution_context(self) -> "Context":
        _call("Engine.create_execution_context")
        return Context(self)


class Context:
    def __init__(self, engine: Engine) -> None:
        self.engine, self.shapes, self.addresses, self.profiler = engine, {}, {}, None

    def set_input_shape(self, name: str, shape: tuple) -> bool:
        _call("Context.set_input_shape", name, tuple(shape))
        lo, _, hi = self.engine.header["profiles"].get(name, [list(shape)] * 3)
        if not all(a <= s <= b for a, s, b in zip(lo, shape, hi)):
            return False
        self.shapes[name] = tuple(shape)
        return True

    def _feeds(self) -> dict[str, np.ndarray]:
        feeds = {}
        for name, mode, arg in self.engine.io:
            if mode is TensorIOMode.INPUT:
                dtype = np.dtype(_NP[_ORT[arg.type]])
                n = int(np.prod(self.shapes[name])) * dtype.itemsize
                raw = ctypes.string_at(self.addresses[name], n) if name in self.addresses else bytes(n)
                feeds[name] = np.frombuffer(raw, dtype).reshape(self.shapes[name]).copy()
        return feeds

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        if self.engine.get_tensor_mode(name) is TensorIOMode.INPUT:
            return self.shapes[name]
        zeros = {k: np.zeros_like(v) for k, v in self._feeds().items()}
        outs = dict(zip([o.name for o in self.engine.sess.get_outputs()], self.engine.sess.run(None, zeros)))
        return outs[name].shape

    def set_tensor_address(self, name: str, ptr: int) -> bool:
        _call("Context.set_tensor_address", name)
        self.addresses[name] = int(ptr)
        return True

    def execute_async_v3(self, stream_handle: Any) -> bool:
        _call("Context.execute_async_v3", stream_handle)
        if any(n not in self.addresses for n, _, _ in self.engine.io):
            return False
        names = [o.name for o in self.engine.sess.get_outputs()]
        for name, out in zip(names, self.engine.sess.run(None, self._feeds())):
            out = np.ascontiguousarray(out + np.asarray(OUTPUT_ERROR, out.dtype) if OUTPUT_ERROR else out)
            ctypes.memmove(self.addresses[name], out.ctypes.data, out.nbytes)
        if self.profiler is not None:
            for node in self.engine.nodes:
                self.profiler.report_layer_time(node["name"], 0.01)
        return True


class Runtime:
    def __init__(self, logger: Logger) -> None:
        _call("Runtime")

    def deserialize_cuda_engine(self, blob: bytes) -> Engine | None:
        _call("Runtime.deserialize_cuda_engine")
        return Engine(bytes(blob)) if bytes(blob).startswith(ENGINE_MAGIC) else None
