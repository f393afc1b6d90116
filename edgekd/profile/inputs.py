"""Inputs for profiling: generated from a model's I/O signature, or read from an ``.npz``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgekd.errors import EdgekdError
from edgekd.inputs import check_array_budget, check_samples, read_npz

if TYPE_CHECKING:
    from edgekd.profile.backends.base import IOSpec


def make_inputs(specs: list[IOSpec], batch: int, seq_len: int = 128, seed: int = 0) -> dict[str, np.ndarray]:
    """Random feeds: the first symbolic axis is the batch, later ones (e.g. sequence) get ``seq_len``.

    Float inputs are standard normal; integer inputs (token ids, masks) are ones.
    """
    rng = np.random.default_rng(seed)
    check_array_budget([[d if isinstance(d, int) and d > 0 else batch for d in s.shape] for s in specs], 8, "profiling inputs")
    feeds = {}
    for s in specs:
        shape = [d if isinstance(d, int) and d > 0 else (batch if i == 0 else seq_len) for i, d in enumerate(s.shape)]
        dtype = np.dtype(s.dtype)
        feeds[s.name] = rng.standard_normal(shape).astype(dtype) if dtype.kind == "f" else np.ones(shape, dtype)
    return feeds


def load_inputs(path: str | Path, specs: list[IOSpec], batch: int) -> dict[str, np.ndarray]:
    """Feeds from an ``.npz`` keyed by input name (a single-input model may use any one key); first ``batch`` rows."""
    arrays = read_npz(path, "inputs file")
    if len(specs) == 1 and specs[0].name not in arrays and len(arrays) == 1:
        arrays = {specs[0].name: next(iter(arrays.values()))}
    missing = [s.name for s in specs if s.name not in arrays]
    if missing:
        raise EdgekdError(f"{path} lacks inputs {missing}; save arrays named after the model's inputs")
    check_samples(arrays, specs, str(path), batch_axis=True)
    feeds = {}
    for s in specs:
        a = arrays[s.name]
        if len(a) < batch:
            a = np.concatenate([a] * (batch // len(a) + 1))
        feeds[s.name] = np.ascontiguousarray(a[:batch], dtype=np.dtype(s.dtype))
    return feeds


def fixed_batch(specs: list[IOSpec]) -> int | None:
    """The size of the first input's first axis when the model fixes it, else None (dynamic batch)."""
    fixed = specs[0].shape[0] if specs and specs[0].shape else None
    return fixed if isinstance(fixed, int) and fixed > 0 else None


def batch_problem(specs: list[IOSpec], batch: int) -> str | None:
    """Why a model with inputs ``specs`` cannot run ``batch`` items at once, or None when it can."""
    fixed = fixed_batch(specs)
    if fixed is None or fixed == batch:
        return None
    return f"input {specs[0].name} has a fixed batch of {fixed}, not {batch}"


def _refuse(problem: str, fixed: list[int]) -> EdgekdError:
    return EdgekdError(f"{problem}; profile with --batch {','.join(map(str, fixed))} or export the model with a dynamic "
                       "batch axis")


def usable_batches(models: list[list[IOSpec]], batches: list[int], explicit: bool) -> tuple[list[int], list[dict[str, object]]]:
    """Split ``batches`` into those every model (its input specs) accepts and the skipped ``{"batch", "reason"}``.

    A batch the user asked for (``explicit``) that a model cannot take is an error, and so is a default list of which
    none fits; otherwise unfit defaults (a target's [1, 8] on a model with a fixed batch of 1) are skipped.
    """
    fixed = sorted({f for specs in models if (f := fixed_batch(specs)) is not None})
    ok, skipped = [], []
    for batch in batches:
        problems = [p for specs in models if (p := batch_problem(specs, batch))]
        if problems and explicit:
            raise _refuse(problems[0], fixed)
        if problems:
            skipped.append({"batch": batch, "reason": "; ".join(problems)})
        else:
            ok.append(batch)
    if not ok:
        raise _refuse(f"none of the target's batch sizes {batches} fits: {skipped[0]['reason']}", fixed)
    return ok, skipped


def feeds_for(specs: list[IOSpec], batch: int, npz: str | Path | None = None) -> dict[str, np.ndarray]:
    """Feeds for one batch size (from ``npz`` when given); raise when the model's batch axis is fixed to another size."""
    problem = batch_problem(specs, batch)
    if problem:
        raise _refuse(problem, [fixed_batch(specs) or batch])
    return load_inputs(npz, specs, batch) if npz else make_inputs(specs, batch)
