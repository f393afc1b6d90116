"""Running ONNX models with ONNX Runtime on the CPU over named input arrays, in batches."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import onnxruntime as ort

from edgekd.quant.calibration import Arrays, batches, num_samples


def session(path: str | Path, threads: int | None = None) -> ort.InferenceSession:
    """A CPU session; ``threads`` intra-op threads (None: ORT's default)."""
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def fixed_batch(sess: ort.InferenceSession) -> int | None:
    """The batch size a static model was exported with, or None when axis 0 is dynamic."""
    dim = sess.get_inputs()[0].shape[0] if sess.get_inputs()[0].shape else None
    return dim if isinstance(dim, int) else None


def run_outputs(path: str | Path | ort.InferenceSession, inputs: Mapping[str, np.ndarray], batch: int = 64) -> Arrays:
    """Every output of the model on ``inputs`` (name -> (N, ...)), run ``batch`` rows at a time.

    A model with a fixed batch axis runs with that batch; trailing rows that do not fill it are dropped.
    """
    sess = path if isinstance(path, ort.InferenceSession) else session(path)
    names = [o.name for o in sess.get_outputs()]
    fixed = fixed_batch(sess)
    n = num_samples(inputs)
    if fixed:
        batch = fixed
        inputs = {k: v[: n - n % fixed] for k, v in inputs.items()}
    feeds = [i.name for i in sess.get_inputs()]
    parts = [sess.run(None, {k: b[k] for k in feeds}) for b in batches(inputs, batch)]
    return {name: np.concatenate([p[i] for p in parts]) for i, name in enumerate(names)}


def ort_run(path: str | Path, x: np.ndarray, batch: int = 64) -> np.ndarray:
    """The first output of a single-input model on ``x`` (N, ...)."""
    sess = session(path)
    return next(iter(run_outputs(sess, {sess.get_inputs()[0].name: x}, batch).values()))
