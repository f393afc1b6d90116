"""Which data does what in a compile: calibration, fallback selection and held-out verification, never the same rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from edgekd.quant.calibration import Arrays, num_samples, split_rows, take


@dataclass
class Part:
    """Named input arrays (N, ...) for one role, their labels (N,) if any, and where they came from (for reports)."""

    arrays: Arrays
    labels: np.ndarray | None
    what: str
    kind: str = "samples"  # samples | calib | validation | random

    def __len__(self) -> int:
        return num_samples(self.arrays)

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.what, "kind": self.kind, "samples": len(self), "labels": self.labels is not None}


@dataclass
class Roles:
    """calibration: sets int8 activation ranges; selection: the fallback chooses float nodes on it; verification:
    held out from both, every reported accuracy and difference is measured on it."""

    verification: Part
    calibration: Part | None = None
    selection: Part | None = None

    def to_dict(self) -> dict[str, Any]:
        parts = {"calibration": self.calibration, "fallback_selection": self.selection, "verification": self.verification}
        return {k: v.to_dict() for k, v in parts.items() if v is not None}


def _rows(arrays: Arrays, labels: np.ndarray | None, idx: np.ndarray, what: str, kind: str) -> Part:
    return Part({k: np.ascontiguousarray(v[idx]) for k, v in arrays.items()},
                None if labels is None else np.asarray(labels)[idx], what, kind)


def assign(
    samples: Arrays | None,
    labels: np.ndarray | None,
    calib: Arrays | None,
    calib_labels: np.ndarray | None,
    validation: Arrays | None,
    validation_labels: np.ndarray | None,
    random: Callable[[int, int], Arrays],
    random_what: str,
    num_verify: int,
    calib_samples: int,
    int8: bool,
    dynamic: bool = False,
) -> Roles:
    """Give each role its rows. ``samples`` are held out for verification; without them, ``calib`` (or, without
    calib, ``samples``) is split by a seeded permutation into disjoint verification (a quarter, at most
    ``num_verify``), fallback-selection (a quarter, at most 256, unless ``validation`` is given) and calibration
    rows (at most ``calib_samples``). ``random(n, seed)`` makes inputs where no data is given (seed 0 verifies,
    seed 1 selects). fp32 and fp16 make no choices from data, so they verify on whatever real data there is.
    ``dynamic`` int8 without ``calib`` calibrates nothing: ``samples`` stay held out and the fallback chooses on
    ``validation``; with ``calib`` it is split as above (its calibration rows give SmoothQuant statistics).
    """
    def fresh(n: int, seed: int) -> Part:
        return Part(random(n, seed), None, f"{random_what} (seed {seed})", "random")

    if not int8:
        for arrays, lab, name in ((samples, labels, "samples"), (calib, calib_labels, "calib")):
            if arrays is not None:
                n = min(num_verify, num_samples(arrays))
                return Roles(Part(take(arrays, 0, n), None if lab is None else np.asarray(lab)[:n],
                                  f"{name}: first {n} rows", name))
        return Roles(fresh(num_verify, 0))
    held_out = samples is not None and calib is not None
    pool, pool_labels, name = (calib, calib_labels, "calib") if calib is not None else (samples, labels, "samples")
    selection = None if validation is None else Part(validation, validation_labels, "validation data", "validation")
    if (dynamic and calib is None) or pool is None:  # dynamic, no calib: choose on inputs drawn apart from verification
        verification = Part(take(samples, 0, num_verify), None if labels is None else np.asarray(labels)[:num_verify],
                            "samples (held out)") if samples is not None else fresh(num_verify, 0)
        return Roles(verification, None, selection or fresh(min(num_verify, 64), 1))
    n = num_samples(pool)
    sizes: dict[str, int] = {}
    if not held_out:
        sizes["verification"] = min(num_verify, n // 4)
    if selection is None:
        sizes["selection"] = min(256, n // 4)
    sizes["calibration"] = calib_samples
    idx = split_rows(n, sizes)
    split = f"of {n} {name} rows (seeded split, seed 0)"
    calibration = _rows(pool, pool_labels, idx["calibration"], f"{name}: {len(idx['calibration'])} {split}", name)
    if held_out:
        verification = Part(take(samples, 0, num_verify), None if labels is None else np.asarray(labels)[:num_verify],
                            "samples (held out)")
    elif len(idx["verification"]):
        verification = _rows(pool, pool_labels, idx["verification"],
                             f"{name}: {len(idx['verification'])} {split}, held out", name)
    else:
        verification = fresh(num_verify, 0)
    if selection is None:
        selection = (_rows(pool, pool_labels, idx["selection"], f"{name}: {len(idx['selection'])} {split}", name)
                     if len(idx["selection"]) else Part(calibration.arrays, calibration.labels,
                                                        "the calibration rows (too few rows to hold some out)", name))
    return Roles(verification, calibration, selection)
