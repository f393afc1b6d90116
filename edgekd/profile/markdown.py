"""Markdown summary of a profile or compare report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STATS = ("min", "median", "mean", "p90", "p95", "p99", "std")


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def _batches(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [report, *report.get("batches", [])]


def _setup(report: dict[str, Any]) -> list[str]:
    env = report["env"]
    where = f"{report['remote']['user']}@{report['remote']['host']}" if report.get("remote") else "this machine"
    return [(f"- target `{report['target']}` on {where}: {report['runtime']} via {', '.join(report['providers'])}, "
             f"threads {report['threads'] or 'runtime default'}, clock {report['clock']} "
             f"(step {report['timer_resolution_ms'] * 1e3:.3f} us)"),
            f"- CPU {env['cpu']} ({env['usable_cores']} usable cores), Python {env['python']}, "
            + ", ".join(f"{k} {v}" for k, v in env["libraries"].items()),
            *(f"- GPU {g['name']}, driver {g['driver']}" for g in env.get("gpus", []))]


def _skipped(report: dict[str, Any]) -> list[str]:
    skipped = report.get("skipped_batches") or []
    return ["", "**Skipped batch sizes** (the target's defaults the model cannot take)", "",
            *(f"- batch {s['batch']}: {s['reason']}" for s in skipped)] if skipped else []


def _per_op(per_op: dict[str, Any], batch: int) -> list[str]:
    lines = ["", (f"## Per-op breakdown (batch {batch}, {per_op['runs']} profiled runs, mean {per_op['ms_per_run']:.3f} ms/run "
                  "with profiler overhead)"), ""]
    lines += _table(["op type", "nodes", "ms/run", "share", "providers"],
                    [[t["op_type"], t["nodes"], f"{t['ms_per_run']:.4f}", f"{t['share']:.1%}", ", ".join(t["providers"])]
                     for t in per_op["op_types"]])
    lines += ["", "Slowest nodes:", ""]
    lines += _table(["node", "op type", "provider", "ms/run", "share"],
                    [[f"`{n['node']}`", n["op_type"], n["provider"], f"{n['ms_per_run']:.4f}", f"{n['share']:.1%}"]
                     for n in per_op["nodes"][:10]])
    return lines


def _profile(report: dict[str, Any]) -> list[str]:
    lines = [f"# Profile: {Path(report['model']).name} on {report['target']}", "", *_setup(report),
             (f"- session creation {report['session_create_ms']:.1f} ms; first run {report['first_run_ms']:.3f} ms "
              "(reported apart from the steady state below)"), "", "## Latency (ms)", ""]
    lines += _table(["batch", "runs", *STATS, "cv", "items/s", "first run"],
                    [[b["batch"], b["runs"], *(f"{b['latency_ms'][k]:.4f}" for k in STATS), f"{b['latency_ms']['cv']:.1%}",
                      f"{b['throughput_per_s']:.1f}", f"{b['first_run_ms']:.3f}"] for b in _batches(report)])
    warnings = [f"- batch {b['batch']}: {w}" for b in _batches(report) for w in b["warnings"]]
    lines += ["", "**Warnings**", "", *warnings] if warnings else []
    lines += _skipped(report)
    for b in _batches(report):
        if b.get("per_op"):
            lines += _per_op(b["per_op"], b["batch"])
    lines += ["", "## Memory", ""]
    lines += _table(["measure", "bytes", "MiB"], [[k, v, f"{v / 2**20:.2f}"] for k, v in report["memory"].items()])
    return lines


def _compare(report: dict[str, Any]) -> list[str]:
    a, b = Path(report["model_a"]["model"]).name, Path(report["model_b"]["model"]).name
    lines = [f"# Compare: A = {a}, B = {b} on {report['target']}", "", *_setup(report),
             "- runs interleaved (A B, then B A, alternating); ratio = median(B) / median(A), below 1 means B is faster",
             f"- session creation A {report['model_a']['session_create_ms']:.1f} ms, B {report['model_b']['session_create_ms']:.1f} ms",
             "", "## Latency (ms)", ""]
    lines += _table(["batch", "runs", "A median", "B median", "A p90", "B p90", "ratio B/A", "CI", "p (Mann-Whitney)", "verdict"],
                    [[r["batch"], r["runs"], f"{r['a']['latency_ms']['median']:.4f}", f"{r['b']['latency_ms']['median']:.4f}",
                      f"{r['a']['latency_ms']['p90']:.4f}", f"{r['b']['latency_ms']['p90']:.4f}", f"{r['ratio_of_medians']:.3f}",
                      f"{r['ci'][0]:.3f}-{r['ci'][1]:.3f}", f"{r['p_value']:.2g}", r["verdict"]] for r in _batches(report)])
    warnings = [f"- batch {r['batch']} {side.upper()}: {w}" for r in _batches(report) for side in "ab" for w in r[side]["warnings"]]
    return lines + (["", "**Warnings**", "", *warnings] if warnings else []) + _skipped(report)


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: setup, latency table, warnings, per-op tables and memory (profile) or ratios (compare)."""
    return "\n".join(_compare(report) if report["kind"] == "compare" else _profile(report)) + "\n"
