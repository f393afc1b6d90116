"""Inputs for profiling: generated from a model's I/O signature, or read from an ``.npz``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekd.errors import EdgekdError
from edgekd.schemas import TensorSpec


def make_inputs(specs: list[TensorSpec], batch: int, seq_len: int = 128, seed: int = 0) -> dict[str, np.ndarray]:
    """Random feeds: the first symbolic axis is the batch, later ones (e.g. sequence) get ``seq_len``.

    Float inputs are standard normal; integer inputs (token ids, masks) are ones.
    """
    rng = np.random.default_rng(seed)
    feeds = {}
    for s in specs:
        shape = [d if isinstance(d, int) and d > 0 else (batch if i == 0 else seq_len) for i, d in enumerate(s.shape)]
        dtype = np.dtype(s.dtype)
        feeds[s.name] = rng.standard_normal(shape).astype(dtype) if dtype.kind == "f" else np.ones(shape, dtype)
    return feeds


def load_inputs(path: str | Path, specs: list[TensorSpec], batch: int) -> dict[str, np.ndarray]:
    """Feeds from an ``.npz`` keyed by input name (a single-input model may use any one key); first ``batch`` rows."""
    path = Path(path)
    if not path.is_file():
        raise EdgekdError(f"inputs file not found: {path}")
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    if len(specs) == 1 and specs[0].name not in arrays and len(arrays) == 1:
        arrays = {specs[0].name: next(iter(arrays.values()))}
    missing = [s.name for s in specs if s.name not in arrays]
    if missing:
        raise EdgekdError(f"{path} lacks inputs {missing}; save arrays named after the model's inputs")
    feeds = {}
    for s in specs:
        a = arrays[s.name]
        if len(a) < batch:
            a = np.concatenate([a] * (batch // len(a) + 1))
        feeds[s.name] = np.ascontiguousarray(a[:batch], dtype=np.dtype(s.dtype))
    return feeds


def feeds_for(specs: list[TensorSpec], batch: int, npz: str | Path | None = None) -> dict[str, np.ndarray]:
    """Feeds for one batch size (from ``npz`` when given); raise when the model's batch axis is fixed to another size."""
    fixed = specs[0].shape[0] if specs and specs[0].shape else None
    if isinstance(fixed, int) and fixed > 0 and fixed != batch:
        raise EdgekdError(f"input {specs[0].name} has a fixed batch of {fixed}, not {batch}; profile with --batch {fixed} "
                          "or export the model with a dynamic batch axis")
    return load_inputs(npz, specs, batch) if npz else make_inputs(specs, batch)
