"""Numerical verification: a compiled model's outputs against its reference's on the same inputs."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from pydantic import Field

from edgekd.errors import VerificationError
from edgekd.schemas.base import Strict


class Tolerance(Strict):
    """Largest allowed differences to the reference; each precision has its own defaults (``TOLERANCES``)."""

    max_abs: float | None = Field(1e-4, gt=0, description="Largest element-wise abs difference; None: not checked.")
    min_cosine: float = Field(0.9999, gt=0, le=1, description="Cosine similarity of each flattened output.")
    min_top1_agreement: float = Field(1.0, ge=0, le=1, description="Fraction of samples with the same argmax.")


TOLERANCES: dict[str, Tolerance] = {
    "fp32": Tolerance(max_abs=1e-3, min_cosine=0.9999, min_top1_agreement=0.99),
    "fp16": Tolerance(max_abs=None, min_cosine=0.999, min_top1_agreement=0.97),
    "int8": Tolerance(max_abs=None, min_cosine=0.99, min_top1_agreement=0.90),
}


def tolerance_for(precision: str, overrides: Tolerance | Mapping[str, Any] | None = None) -> Tolerance:
    """The default tolerance of ``precision`` with ``overrides`` (a Tolerance replaces it; a dict updates it)."""
    if isinstance(overrides, Tolerance):
        return overrides
    return TOLERANCES[precision].model_copy(update=dict(overrides or {}))


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a.ravel(), b.ravel()) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))


def without_padding(ref: np.ndarray, cand: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, bool]:
    """Zero the padded positions (``mask`` (N, T) == 0) of token outputs (N, T, ...) in both arrays: padding carries
    no meaning downstream, and dynamic int8 changes it freely. Other outputs pass unchanged. Returns (ref, cand, masked)."""
    if mask is None or ref.ndim < 3 or ref.shape[:2] != mask.shape:
        return ref, cand, False
    keep = mask.reshape(*mask.shape, *([1] * (ref.ndim - 2))) != 0
    return np.where(keep, ref, 0.0), np.where(keep, cand, 0.0), True


def compare_one(reference: np.ndarray, candidate: np.ndarray, classifier: bool = True,
                mask: np.ndarray | None = None) -> dict[str, float]:
    """max/mean abs diff, cosine of the flattened arrays, worst per-sample cosine, top-1 agreement for (N, C);
    token outputs count only unpadded positions when an attention ``mask`` (N, T) is given."""
    ref, cand = reference.astype(np.float64), candidate.astype(np.float64)
    if ref.shape != cand.shape:
        raise VerificationError(f"output shapes differ: reference {ref.shape}, compiled {cand.shape}")
    ref, cand, masked = without_padding(ref, cand, mask)
    diff = np.abs(ref - cand)
    rows = [_cosine(r, c) for r, c in zip(ref.reshape(len(ref), -1), cand.reshape(len(cand), -1))]
    out = {"max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()), "cosine": _cosine(ref, cand),
           "min_sample_cosine": float(min(rows)), "samples": int(ref.shape[0])}
    if masked:
        out["padding_ignored"] = True
    if classifier and ref.ndim == 2 and ref.shape[1] > 1:
        out["top1_agreement"] = float((ref.argmax(1) == cand.argmax(1)).mean())
    return out


def compare(reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray], classifier: bool = True,
            mask: np.ndarray | None = None) -> dict[str, Any]:
    """Per-output stats (``outputs``) and the worst of each over all outputs at the top level; top-1 for classifiers."""
    missing = [k for k in reference if k not in candidate]
    if missing:
        raise VerificationError(f"compiled model lacks outputs {missing}")
    per = {k: compare_one(ref, candidate[k], classifier, mask) for k, ref in reference.items()}
    head: dict[str, Any] = {
        "max_abs_diff": max(s["max_abs_diff"] for s in per.values()),
        "mean_abs_diff": max(s["mean_abs_diff"] for s in per.values()),
        "cosine": min(s["cosine"] for s in per.values()),
        "min_sample_cosine": min(s["min_sample_cosine"] for s in per.values()),
        "samples": next(iter(per.values()))["samples"],
    }
    top1 = [s["top1_agreement"] for s in per.values() if "top1_agreement" in s]
    if top1:
        head["top1_agreement"] = min(top1)
    return {**head, "outputs": per}


def verify_outputs(
    reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray], tol: Tolerance, what: str,
    classifier: bool = True, mask: np.ndarray | None = None,
) -> dict[str, Any]:
    """Compare (padded token positions ignored given an attention ``mask``) and raise VerificationError (one
    line) naming the first tolerance broken."""
    if not all(np.isfinite(v).all() for v in candidate.values()):
        raise VerificationError(f"{what}: outputs contain NaN or Inf; the compiled model is broken")
    stats = compare(reference, candidate, classifier, mask)
    checks = [
        (tol.max_abs is None or stats["max_abs_diff"] <= tol.max_abs,
         f"max abs diff {stats['max_abs_diff']:.3g} > {tol.max_abs}"),
        (stats["cosine"] >= tol.min_cosine, f"cosine {stats['cosine']:.6f} < {tol.min_cosine:g}"),
        (stats.get("top1_agreement", 1.0) >= tol.min_top1_agreement,
         f"top-1 agreement {stats.get('top1_agreement', 1.0):.4f} < {tol.min_top1_agreement:g}"),
    ]
    for ok, msg in checks:
        if not ok:
            raise VerificationError(f"{what}: verification failed: {msg}; the compiled model does not match its source")
    return {**stats, "tolerance": tol.model_dump()}
