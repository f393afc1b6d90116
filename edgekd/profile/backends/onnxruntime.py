"""ONNX Runtime backend: CPU or CUDA execution provider, threads and graph optimisation from the target."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from edgekd.errors import EdgekdError
from edgekd.profile.backends.base import BACKENDS
from edgekd.schemas import Target, TensorSpec

PROVIDERS = {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"]}


class OrtSession:
    def __init__(self, sess: ort.InferenceSession) -> None:
        self.sess = sess
        self.providers = sess.get_providers()
        self.inputs = [TensorSpec(name=i.name, shape=list(i.shape), dtype=_np_dtype(i.type)) for i in sess.get_inputs()]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.sess.run(None, feeds)


def _np_dtype(ort_type: str) -> str:
    """'tensor(float)' -> 'float32'."""
    inner = ort_type.removeprefix("tensor(").removesuffix(")")
    return {"float": "float32", "double": "float64", "float16": "float16"}.get(inner, inner)


def session_options(target: Target) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if target.threads:
        opts.intra_op_num_threads = target.threads
        opts.inter_op_num_threads = 1
    return opts


@BACKENDS.register("onnxruntime")
class OnnxRuntimeBackend:
    def open(self, model: Path, target: Target, opts: ort.SessionOptions | None = None) -> OrtSession:
        wanted = PROVIDERS[target.device]
        if wanted[0] not in ort.get_available_providers():
            raise EdgekdError(f"target {target.name} needs {wanted[0]}, which this onnxruntime lacks; "
                              "install onnxruntime-gpu or pick a cpu target")
        try:
            return OrtSession(ort.InferenceSession(str(model), opts or session_options(target), providers=wanted))
        except Exception as err:  # onnxruntime raises its own exception types per failure
            raise EdgekdError(f"onnxruntime cannot load {model}: {str(err).splitlines()[0]}") from None
