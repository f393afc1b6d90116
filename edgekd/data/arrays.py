"""Reading sample arrays from ``.npz`` files without pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekd.errors import EdgekdError


def first_array(path: str | Path, key: str | None = None) -> np.ndarray:
    """Array ``key`` (default ``x``, else the first) from an ``.npz``; pickled objects are refused."""
    path = Path(path)
    if not path.is_file():
        raise EdgekdError(f"file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            name = key or ("x" if "x" in f.files else f.files[0])
            return f[name]
    except (ValueError, OSError, IndexError, KeyError) as e:
        raise EdgekdError(f"cannot read arrays from {path}: {e}") from None
