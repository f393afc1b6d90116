"""Per-target latency predictor: a per-block lookup table summed (as OFA and nn-Meter do) plus a learned correction.

Each block's latency alone on the target is measured once (``latency.measure_blocks``) and kept in the table. The
sum over a candidate's blocks misses what running them together changes (one session instead of many, fusions
across blocks, caches), so a linear correction ``ms = a * sum + b * blocks + c`` is fitted by least squares on the
candidates measured whole. The predictor reports its own held-out accuracy (k-fold over the measured candidates:
share within +-10 %, RMSE) and refits whenever a measurement arrives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekd.fsutil import write_json

MIN_FIT = 4  # below this many measured candidates the table sum is used as it is


@dataclass
class LatencyPredictor:
    """``table``: block signature -> median ms alone; ``samples``: (block signatures, measured ms) per candidate."""

    target: str
    stat: str = "median"
    table: dict[str, float] = field(default_factory=dict)
    samples: list[tuple[list[str], float]] = field(default_factory=list)
    coef: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0])

    def add_blocks(self, rows: list[dict[str, Any]]) -> list[str]:
        """Put measured blocks (``{"block", "median_ms"}``) in the table; their signatures in order."""
        for r in rows:
            self.table[r["block"]] = float(r["median_ms"])
        return [r["block"] for r in rows]

    def knows(self, signatures: list[str]) -> bool:
        return all(s in self.table for s in signatures)

    def _features(self, signatures: list[str]) -> np.ndarray:
        return np.array([sum(self.table[s] for s in signatures), float(len(signatures)), 1.0])

    def add(self, signatures: list[str], measured_ms: float, refit: bool = True) -> None:
        """One candidate measured whole; refits the correction."""
        self.samples.append((list(signatures), float(measured_ms)))
        if refit:
            self.fit()

    def _solve(self, samples: list[tuple[list[str], float]]) -> np.ndarray:
        if len(samples) < MIN_FIT:
            return np.array([1.0, 0.0, 0.0])
        x = np.stack([self._features(s) for s, _ in samples])
        y = np.array([ms for _, ms in samples])
        w = 1.0 / y  # relative error matters: weight each candidate by 1 / its latency
        return np.linalg.lstsq(x * w[:, None], y * w, rcond=None)[0]

    def fit(self) -> None:
        self.coef = [float(c) for c in self._solve(self.samples)]

    def predict(self, signatures: list[str]) -> float:
        """Predicted latency, ms; every block must be in the table."""
        return float(self._features(signatures) @ np.array(self.coef))

    def evaluate(self, held_out: list[tuple[list[str], float]], coef: np.ndarray | None = None) -> dict[str, float]:
        """Share of ``held_out`` predicted within +-10 % of measured, RMSE (ms) and mean absolute % error."""
        c = np.array(self.coef) if coef is None else coef
        pred = np.array([self._features(s) @ c for s, _ in held_out])
        true = np.array([ms for _, ms in held_out])
        rel = np.abs(pred - true) / true
        return {"n": len(held_out), "within_10pct": float((rel <= 0.10).mean()), "rmse_ms": float(np.sqrt(((pred - true) ** 2).mean())),
                "mape_pct": float(100 * rel.mean())}

    def cross_validate(self, folds: int = 5, seed: int = 0) -> dict[str, float] | None:
        """k-fold held-out accuracy over the measured candidates (each predicted by a fit without it); None when
        fewer than ``MIN_FIT + 1`` are measured."""
        n = len(self.samples)
        if n < MIN_FIT + 1:
            return None
        order = np.random.default_rng(seed).permutation(n)
        preds: list[tuple[list[str], float, np.ndarray]] = []
        for k in range(min(folds, n)):
            test = set(order[k::min(folds, n)].tolist())
            coef = self._solve([s for i, s in enumerate(self.samples) if i not in test])
            preds += [(self.samples[i][0], self.samples[i][1], coef) for i in sorted(test)]
        rows = [self.evaluate([(s, ms)], coef) for s, ms, coef in preds]
        err = np.array([r["rmse_ms"] for r in rows])
        true = np.array([ms for _, ms, _ in preds])
        return {"n": n, "folds": min(folds, n), "within_10pct": float(np.mean([r["within_10pct"] for r in rows])),
                "rmse_ms": float(np.sqrt((err ** 2).mean())), "mape_pct": float(100 * np.mean(err / true))}

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "stat": self.stat, "coef": self.coef, "table": self.table,
                "samples": [{"blocks": s, "ms": ms} for s, ms in self.samples], "held_out": self.cross_validate()}

    def save(self, path: str | Path) -> Path:
        return write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> LatencyPredictor:
        d = json.loads(Path(path).read_text())
        p = cls(d["target"], d["stat"], d["table"], [(s["blocks"], s["ms"]) for s in d["samples"]], d["coef"])
        return p
