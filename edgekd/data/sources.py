"""Built-in data sources: each returns x (N, C, H, W) float and y (N,) int."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekd.data.splits import DATASETS
from edgekd.errors import EdgekdError
from edgekd.inputs import read_npz
from edgekd.schemas import DatasetSpec


@DATASETS.register("digits")
def digits(spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 real 8x8 handwritten digits, scaled from 0..16 to -1..1."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.astype(np.float32)[:, None] / 8.0 - 1.0
    return x, d.target.astype(np.int64)


@DATASETS.register("npz")
def npz(spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    """A user's ``.npz`` with ``x`` (N, C, H, W) and integer labels ``y`` (N,)."""
    path = Path(spec.path or "")
    f = read_npz(path, "dataset file")
    if "x" not in f or "y" not in f:
        raise EdgekdError(f"{path} needs arrays 'x' (N,C,H,W) and 'y' (N,); found {sorted(f)}")
    x, y = f["x"], f["y"]
    if x.ndim != 4 or y.ndim != 1 or len(x) != len(y):
        raise EdgekdError(f"{path}: x must be (N,C,H,W) and y (N,), got {x.shape} and {y.shape}")
    return x.astype(np.float32), y.astype(np.int64)
