"""Calibration data: named input arrays served in batches through ONNX Runtime's ``get_next`` protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod

from edgekd.errors import EdgekdError

Arrays = dict[str, np.ndarray]
METHODS = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
           "percentile": CalibrationMethod.Percentile}


def calibration_method(name: str) -> CalibrationMethod:
    """``minmax`` | ``entropy`` | ``percentile`` -> ORT's enum, or a clear error."""
    if name not in METHODS:
        raise EdgekdError(f"unknown calibration method {name!r}; use one of {', '.join(METHODS)}")
    return METHODS[name]


def num_samples(arrays: Mapping[str, np.ndarray]) -> int:
    """Rows shared by every array (axis 0 is the sample axis)."""
    sizes = {len(a) for a in arrays.values()}
    if len(sizes) != 1:
        raise EdgekdError(f"input arrays disagree on the number of samples: {sorted(sizes)}")
    return sizes.pop()


def take(arrays: Mapping[str, np.ndarray], start: int, stop: int) -> Arrays:
    """Rows ``start:stop`` of every array, contiguous."""
    return {k: np.ascontiguousarray(v[start:stop]) for k, v in arrays.items()}


def batches(arrays: Mapping[str, np.ndarray], batch: int) -> Iterator[Arrays]:
    """Consecutive batches of ``batch`` rows (the last may be smaller)."""
    n = num_samples(arrays)
    for i in range(0, n, batch):
        yield take(arrays, i, min(i + batch, n))


class ArrayReader(CalibrationDataReader):
    """ORT calibration reader over named arrays: ``get_next()`` returns one batch dict, None when done.

    ``arrays`` maps each model input name to (N, ...) samples; ``batch`` rows go to the model per call.
    Any object with the same ``get_next``/``rewind`` methods works where this is accepted.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], batch: int = 32) -> None:
        self.arrays, self.batch = dict(arrays), batch
        self._it: Iterator[Arrays] = batches(self.arrays, batch)

    def get_next(self) -> Arrays | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = batches(self.arrays, self.batch)

    def __len__(self) -> int:
        return num_samples(self.arrays)


def as_arrays(samples: np.ndarray | Mapping[str, np.ndarray], input_names: list[str]) -> Arrays:
    """A bare (N, ...) array for a single-input model, or a dict keyed by input names, -> a checked dict."""
    if isinstance(samples, np.ndarray):
        if len(input_names) != 1:
            raise EdgekdError(f"the model has inputs {input_names}; give samples as arrays named after each of them")
        return {input_names[0]: samples}
    missing = [n for n in input_names if n not in samples]
    if missing:
        raise EdgekdError(f"samples lack arrays for model inputs {missing}; name the .npz arrays after the inputs")
    out = {n: np.asarray(samples[n]) for n in input_names}
    num_samples(out)
    return out


def load_npz(path: str | Path) -> tuple[np.ndarray | Arrays, np.ndarray | None]:
    """Samples and optional labels ``y`` from an ``.npz`` (no pickle).

    Samples are array ``x`` (or the only other array) for a single-input model, else every non-``y`` array
    keyed by its name, which must match the model's input names. Returns (samples, labels or None).
    """
    from edgekd.inputs import read_npz

    data = read_npz(path, "samples file")
    labels = data.pop("y", None)
    if not data:
        raise EdgekdError(f"{path} holds no input arrays; save samples as 'x' or under the model's input names")
    n = num_samples(data)
    if labels is not None and (labels.ndim != 1 or len(labels) != n or labels.dtype.kind not in "iu"):
        raise EdgekdError(f"{path}: labels 'y' must be {n} integers (one per sample), got {labels.dtype} {labels.shape}")
    if "x" in data or len(data) == 1:
        return data.get("x", next(iter(data.values()))), labels
    return data, labels


MAX_TEXT_BYTES = 64 * 2**20


def load_sentences(path: str | Path) -> list[str]:
    """Sentences from a UTF-8 text file, one per line (blank lines skipped), for calibrating transformer models."""
    path = Path(path)
    if not path.is_file():
        raise EdgekdError(f"calibration file not found: {path}")
    if path.stat().st_size > MAX_TEXT_BYTES:
        raise EdgekdError(f"{path} is over {MAX_TEXT_BYTES // 2**20} MB; a few hundred sentences calibrate int8")
    try:
        lines = [s.strip() for s in path.read_text(encoding="utf-8").splitlines()]
    except UnicodeDecodeError:
        raise EdgekdError(f"{path} is not UTF-8 text; give one sentence per line") from None
    sentences = [s for s in lines if s]
    if not sentences:
        raise EdgekdError(f"{path} holds no sentences; write one sentence per line")
    return sentences


def load_calibration(path: str | Path) -> tuple[np.ndarray | Arrays | list[str], np.ndarray | None]:
    """``.npz`` arrays (see ``load_npz``) or a ``.txt`` of sentences; returns (samples, labels or None)."""
    path = Path(path)
    if path.suffix == ".txt":
        return load_sentences(path), None
    if path.suffix != ".npz":
        raise EdgekdError(f"{path}: give calibration data as .npz arrays or a .txt file of sentences (one per line)")
    return load_npz(path)


def split_rows(n: int, parts: dict[str, int], seed: int = 0) -> dict[str, np.ndarray]:
    """Disjoint row indices for named parts from a seeded permutation of ``n`` rows (sizes are capped in order;
    a size of -1 takes every row left). Indices in each part are sorted."""
    order = np.random.default_rng(seed).permutation(n)
    out, start = {}, 0
    for name, size in parts.items():
        stop = n if size < 0 else min(n, start + size)
        out[name] = np.sort(order[start:stop])
        start = stop
    return out
