"""Budgets: compare measured values with a target's limits; one place shared by compile, profile and check.

A gate is one budget (p90 latency, accuracy drop, size, peak memory) with its limit and the measured value. Every
report shows all three and the verdict: ``pass``, ``fail``, or ``skip`` when the value was not measured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from edgekd.errors import EdgekdError
from edgekd.schemas import Target
from edgekd.schemas.target import Budgets

# budget field -> (what it measures, unit shown to people)
GATES: dict[str, tuple[str, str]] = {
    "p90_latency_ms": ("p90 latency at batch 1", "ms"),
    "accuracy_drop_pts": ("accuracy drop", "pts"),
    "size_bytes": ("model size", "bytes"),
    "peak_memory_bytes": ("peak memory", "bytes"),
}


class GateFailure(EdgekdError):
    """A model broke a budget. ``exit_code`` 1 tells CI "the model failed", not "the input was bad" (2)."""

    exit_code = 1


@dataclass
class Gate:
    """One budget and its verdict. ``budget`` and ``measured`` are in ``unit``; ``note`` says how it was measured."""

    name: str
    budget: float
    measured: float | None
    unit: str
    source: str = "target"
    note: str = ""

    @property
    def status(self) -> str:
        if self.measured is None:
            return "fail" if self.source == "flag" else "skip"
        return "pass" if self.measured <= self.budget else "fail"

    @property
    def message(self) -> str:
        """One line, e.g. ``p90 latency at batch 1: 6.21 ms > budget 5 ms``."""
        what = GATES[self.name][0]
        if self.measured is None:
            return f"{what}: not measured ({self.note or 'no value recorded'}); budget {fmt(self.budget, self.unit)}"
        op = "<=" if self.status == "pass" else ">"
        return f"{what}: {fmt(self.measured, self.unit)} {op} budget {fmt(self.budget, self.unit)}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status, "message": self.message}


def fmt(value: float, unit: str) -> str:
    """``1536000, 'bytes'`` -> ``1.54 MB``; other units keep 4 significant digits."""
    if unit == "bytes":
        return f"{value / 1e6:.3g} MB" if value >= 1e5 else f"{value / 1e3:.3g} kB"
    return f"{value:.4g} {unit}"


def gates(
    budgets: Budgets,
    measured: dict[str, float | None],
    overrides: dict[str, float | None] | None = None,
    notes: dict[str, str] | None = None,
) -> list[Gate]:
    """A gate for every budget that has a limit: the target's, replaced by ``overrides`` (from flags) where given.

    ``measured`` maps budget names (``GATES``) to values in their units (ms, points, bytes); a missing name is
    "not measured". Target gates without a value are skipped; flag gates without one fail (the user asked for them).
    """
    limits = {k: (v, "target") for k, v in budgets.model_dump().items() if v is not None}
    limits.update({k: (v, "flag") for k, v in (overrides or {}).items() if v is not None})
    unknown = set(limits) - set(GATES)
    if unknown:
        raise EdgekdError(f"unknown budget {sorted(unknown)[0]!r}; known: {', '.join(GATES)}")
    return [Gate(name, limit, measured.get(name), GATES[name][1], source, (notes or {}).get(name, ""))
            for name in GATES if name in limits for limit, source in [limits[name]]]


def budget_report(target: Target, **measured: float | None) -> list[dict[str, Any]]:
    """Gates of ``target``'s budgets for the values one tool measured (e.g. ``size_bytes=...``), as dicts.

    Only the budgets named in ``measured`` are reported: compile knows the size, profile knows latency and memory.
    """
    return [g.to_dict() for g in gates(target.budgets, measured) if g.name in measured]


def profile_budgets(target: Target, report: dict[str, Any]) -> list[dict[str, Any]]:
    """Gates of a profile report: p90 latency at batch 1 (not measured when batch 1 was not run) and peak memory."""
    batch1 = next((b for b in [report, *report.get("batches", [])] if b["batch"] == 1), None)
    return budget_report(target, p90_latency_ms=batch1["latency_ms"]["p90"] if batch1 else None,
                         peak_memory_bytes=report.get("memory", {}).get("peak_rss_bytes"))


def summary(result: list[Gate]) -> dict[str, int]:
    """Counts of passed, failed and skipped gates."""
    return {s: sum(g.status == s for g in result) for s in ("pass", "fail", "skip")}
