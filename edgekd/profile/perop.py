"""Per-op breakdown: node times from a separate profiling run, aggregated by node and by op type."""

from __future__ import annotations

from typing import Any

from edgekd.profile.backends.base import OpTimes


def aggregate(op: OpTimes, top: int = 50) -> dict[str, Any]:
    """``nodes`` (the ``top`` slowest) and ``op_types``, each with total ms over the runs, ms per run and share (0-1)."""
    runs = max(op.runs, 1)
    total = sum(n["total_ms"] for n in op.nodes) or 1.0
    nodes = sorted(op.nodes, key=lambda n: n["total_ms"], reverse=True)
    by_type: dict[str, dict[str, Any]] = {}
    for n in nodes:
        row = by_type.setdefault(n["op_type"], {"op_type": n["op_type"], "nodes": 0, "providers": [], "total_ms": 0.0})
        row["nodes"] += 1
        row["total_ms"] += n["total_ms"]
        if n["provider"] not in row["providers"]:
            row["providers"].append(n["provider"])
    types = sorted(by_type.values(), key=lambda r: r["total_ms"], reverse=True)
    for row in [*nodes, *types]:
        row["ms_per_run"] = row["total_ms"] / runs
        row["share"] = row["total_ms"] / total
    return {"runs": op.runs, "ms_per_run": sum(n["total_ms"] for n in op.nodes) / runs,
            "nodes_total": len(nodes), "nodes": nodes[:top], "op_types": types}
