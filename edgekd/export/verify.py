"""Numerical verification: a compiled model against its reference on the same inputs."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from edgekd.errors import VerificationError
from edgekd.schemas.base import Strict


class Tolerance(Strict):
    """Largest allowed differences to the reference; fp16/int8 loosen these per precision."""

    max_abs: float = Field(1e-4, gt=0)
    min_cosine: float = Field(0.9999, gt=0, le=1)
    min_top1_agreement: float = Field(1.0, ge=0, le=1, description="Fraction of samples with the same argmax.")


def compare(reference: np.ndarray, candidate: np.ndarray, classifier: bool = True) -> dict[str, float]:
    """max/mean abs diff, cosine similarity of the flattened outputs, top-1 agreement for classifiers."""
    ref, cand = reference.astype(np.float64), candidate.astype(np.float64)
    diff = np.abs(ref - cand)
    cos = float(np.dot(ref.ravel(), cand.ravel()) / (np.linalg.norm(ref) * np.linalg.norm(cand) + 1e-30))
    out = {"max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()), "cosine": cos, "samples": int(ref.shape[0])}
    if classifier and ref.ndim == 2:
        out["top1_agreement"] = float((ref.argmax(1) == cand.argmax(1)).mean())
    return out


def verify_outputs(reference: np.ndarray, candidate: np.ndarray, tol: Tolerance, what: str) -> dict[str, float]:
    """Compare and raise VerificationError naming the first tolerance broken."""
    stats = compare(reference, candidate)
    if not np.isfinite(candidate).all():
        raise VerificationError(f"{what}: outputs contain NaN or Inf; the model is broken")
    checks = [
        (stats["max_abs_diff"] <= tol.max_abs, f"max abs diff {stats['max_abs_diff']:.3g} > {tol.max_abs:g}"),
        (stats["cosine"] >= tol.min_cosine, f"cosine {stats['cosine']:.6f} < {tol.min_cosine:g}"),
        (stats.get("top1_agreement", 1.0) >= tol.min_top1_agreement,
         f"top-1 agreement {stats.get('top1_agreement', 1.0):.4f} < {tol.min_top1_agreement:g}"),
    ]
    for ok, msg in checks:
        if not ok:
            raise VerificationError(f"{what}: verification failed: {msg}; the compiled model does not match its source")
    return stats
