"""Self-contained HTML report: inline CSS and SVG charts (latency histogram, CDF, per-op bars), no scripts, no network."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from edgekd.profile.markdown import STATS

W, H, L, R, T, B = 560, 230, 56, 14, 14, 40  # chart size and margins, px
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"  # self-contained: nothing may load
COLORS = ("#2563eb", "#dc2626", "#059669", "#d97706")
CSS = """body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#111}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f4f4f5}td:first-child,th:first-child{text-align:left}
.warn{color:#92400e;background:#fef3c7;padding:6px 10px;border-radius:4px}.charts{display:flex;flex-wrap:wrap;gap:12px}
svg{background:#fafafa;border:1px solid #e5e5e5}svg text{font:11px system-ui,sans-serif;fill:#333}code{font-size:12px}
.muted{color:#666}"""


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    return list(np.linspace(lo, hi, n)) if hi > lo else [lo]


def _frame(x0: float, x1: float, y0: float, y1: float, xlabel: str, ylabel: str, body: str, title: str) -> str:
    """An SVG chart: axes with ticks over data ranges [x0, x1] x [y0, y1], then ``body`` (already in pixels)."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img">',
             f"<title>{escape(title)}</title>",
             f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="#555"/>',
             f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="#555"/>']
    for v in _ticks(x0, x1):
        x = L + (v - x0) / ((x1 - x0) or 1) * (W - L - R)
        parts.append(f'<text x="{x:.1f}" y="{H - B + 14}" text-anchor="middle">{v:.3g}</text>')
    for v in _ticks(y0, y1):
        y = H - B - (v - y0) / ((y1 - y0) or 1) * (H - T - B)
        parts.append(f'<text x="{L - 5}" y="{y + 4:.1f}" text-anchor="end">{v:.3g}</text>')
    parts += [f'<text x="{(L + W - R) / 2}" y="{H - 6}" text-anchor="middle">{escape(xlabel)}</text>',
              (f'<text x="12" y="{(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 12 {(T + H - B) / 2})">'
               f"{escape(ylabel)}</text>"), body, "</svg>"]
    return "\n".join(parts)


def _px(v: float, lo: float, hi: float, size: float, start: float) -> float:
    return start + (v - lo) / ((hi - lo) or 1) * size


def histogram(samples: list[float], marks: dict[str, float], title: str) -> str:
    """Latency histogram (40 bins from min to p99) with vertical lines at ``marks`` (ms)."""
    a = np.asarray(samples)
    lo, hi = float(a.min()), float(np.percentile(a, 99))
    hi = hi if hi > lo else lo + 1e-3
    counts, _ = np.histogram(a[a <= hi], bins=40, range=(lo, hi))
    top = int(counts.max()) or 1
    bw = (W - L - R) / len(counts)
    body = [f'<rect x="{L + i * bw:.1f}" y="{H - B - c / top * (H - T - B):.1f}" width="{max(bw - 1, 1):.1f}" '
            f'height="{c / top * (H - T - B):.1f}" fill="{COLORS[0]}" opacity="0.8"/>' for i, c in enumerate(counts)]
    for i, (name, v) in enumerate(marks.items()):
        if lo <= v <= hi:
            x = _px(v, lo, hi, W - L - R, L)
            body.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{H - B}" stroke="{COLORS[1 + i % 3]}" stroke-dasharray="4 3"/>'
                        f'<text x="{x + 3:.1f}" y="{T + 10 + 12 * i}">{escape(name)}</text>')
    hidden = int((a > hi).sum())
    title = f"{title} ({hidden} samples above p99 not drawn)" if hidden else title
    return _frame(lo, hi, 0, top, "latency (ms)", "runs", "\n".join(body), title)


def cdf(series: list[tuple[str, list[float]]], title: str) -> str:
    """Empirical CDF of each named sample set (ms), on a shared axis up to the largest p99."""
    arrays = [(name, np.sort(np.asarray(s))) for name, s in series]
    lo = min(float(a[0]) for _, a in arrays)
    hi = max(float(np.percentile(a, 99)) for _, a in arrays)
    hi = hi if hi > lo else lo + 1e-3
    body = []
    for i, (name, a) in enumerate(arrays):
        keep = a[a <= hi]
        idx = np.unique(np.linspace(0, len(keep) - 1, min(len(keep), 400)).astype(int))
        pts = " ".join(f"{_px(keep[j], lo, hi, W - L - R, L):.1f},{H - B - (j + 1) / len(a) * (H - T - B):.1f}" for j in idx)
        body.append(f'<polyline points="{pts}" fill="none" stroke="{COLORS[i % 4]}" stroke-width="2"/>'
                    f'<text x="{L + 8}" y="{T + 12 + 14 * i}" fill="{COLORS[i % 4]}">{escape(name)}</text>')
    return _frame(lo, hi, 0, 1, "latency (ms)", "fraction of runs", "\n".join(body), title)


def bars(rows: list[tuple[str, float]], title: str, unit: str = "ms/run") -> str:
    """Horizontal bars, one per (label, value), largest first."""
    rows = rows[:20]
    height = T + 8 + 18 * len(rows)
    top = max((v for _, v in rows), default=1.0) or 1.0
    left, width = 170, W - 170 - 70
    body = []
    for i, (label, v) in enumerate(rows):
        y = T + 18 * i
        body.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{escape(label[:26])}</text>'
                    f'<rect x="{left}" y="{y + 2}" width="{v / top * width:.1f}" height="13" fill="{COLORS[2]}"/>'
                    f'<text x="{left + v / top * width + 4:.1f}" y="{y + 12}">{v:.3g} {escape(unit)}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" viewBox="0 0 {W} {height}" role="img">'
            f"<title>{escape(title)}</title>{''.join(body)}</svg>")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _setup(report: dict[str, Any]) -> str:
    env, where = report["env"], (f"{report['remote']['user']}@{report['remote']['host']}" if report.get("remote") else "this machine")
    libs = ", ".join(f"{k} {v}" for k, v in env["libraries"].items())
    gpus = "".join(f"<li>GPU {escape(g['name'])}, driver {escape(g['driver'])}</li>" for g in env.get("gpus", []))
    return (f"<ul><li>target <code>{escape(report['target'])}</code> on {escape(where)}: {escape(report['runtime'])} via "
            f"{escape(', '.join(report['providers']))}; threads {report['threads'] or 'runtime default'}; clock "
            f"{escape(report['clock'])} (step {report['timer_resolution_ms'] * 1e3:.3f} µs)</li>"
            f"<li>CPU {escape(env['cpu'])} ({env['usable_cores']} usable cores); Python {escape(env['python'])}; {escape(libs)}</li>"
            f"{gpus}</ul>")


def _warnings(lines: list[str]) -> str:
    return "".join(f'<p class="warn">{escape(w)}</p>' for w in lines)


def _skipped(report: dict[str, Any]) -> str:
    """The target's batch sizes the model cannot take, one line each."""
    return "".join(f"<p>Skipped batch {s['batch']} (the target's default): {escape(s['reason'])}</p>"
                   for s in report.get("skipped_batches") or [])


def _profile(report: dict[str, Any]) -> str:
    batches = [report, *report["batches"]]
    parts = [f"<h1>Profile: {escape(Path(report['model']).name)} on {escape(report['target'])}</h1>", _setup(report),
             (f"<p>Session creation {report['session_create_ms']:.1f} ms; first run {report['first_run_ms']:.3f} ms "
              "(apart from the steady state).</p><h2>Latency (ms)</h2>"),
             _table(["batch", "runs", *STATS, "cv", "items/s", "first run"],
                    [[b["batch"], b["runs"], *(f"{b['latency_ms'][k]:.4f}" for k in STATS), f"{b['latency_ms']['cv']:.1%}",
                      f"{b['throughput_per_s']:.1f}", f"{b['first_run_ms']:.3f}"] for b in batches]),
             _warnings([f"batch {b['batch']}: {w}" for b in batches for w in b["warnings"]]), _skipped(report)]
    for b in batches:
        s = b["latency_ms"]
        parts += [f"<h2>Batch {b['batch']}: {b['runs']} timed runs</h2><div class='charts'>",
                  histogram(b["samples_ms"], {"median": s["median"], "p90": s["p90"]}, f"histogram, batch {b['batch']}"),
                  cdf([(f"batch {b['batch']}", b["samples_ms"])], f"CDF, batch {b['batch']}"), "</div>"]
        if b.get("per_op"):
            op = b["per_op"]
            parts += [(f"<h2>Per-op breakdown, batch {b['batch']} ({op['runs']} profiled runs, mean {op['ms_per_run']:.3f} "
                       "ms/run with profiler overhead)</h2>"),
                      "<div class='charts'>", bars([(t["op_type"], t["ms_per_run"]) for t in op["op_types"]], "time by op type"),
                      bars([(n["node"], n["ms_per_run"]) for n in op["nodes"][:12]], "slowest nodes"), "</div>",
                      _table(["op type", "nodes", "ms/run", "share", "providers"],
                             [[t["op_type"], t["nodes"], f"{t['ms_per_run']:.4f}", f"{t['share']:.1%}", ", ".join(t["providers"])]
                              for t in op["op_types"]])]
    parts += ["<h2>Memory</h2>", _table(["measure", "bytes", "MiB"], [[k, v, f"{v / 2**20:.2f}"] for k, v in report["memory"].items()])]
    return "\n".join(parts)


def _compare(report: dict[str, Any]) -> str:
    a, b = Path(report["model_a"]["model"]).name, Path(report["model_b"]["model"]).name
    rows = [report, *report["batches"]]
    parts = [f"<h1>Compare: A = {escape(a)}, B = {escape(b)} on {escape(report['target'])}</h1>", _setup(report),
             "<p>Runs interleaved (A B, then B A); ratio = median(B) / median(A): below 1 means B is faster.</p>",
             _table(["batch", "runs", "A median", "B median", "ratio B/A", "CI", "p (Mann-Whitney)", "verdict"],
                    [[r["batch"], r["runs"], f"{r['a']['latency_ms']['median']:.4f}", f"{r['b']['latency_ms']['median']:.4f}",
                      f"{r['ratio_of_medians']:.3f}", f"{r['ci'][0]:.3f}-{r['ci'][1]:.3f}", f"{r['p_value']:.2g}", r["verdict"]]
                     for r in rows]),
             _warnings([f"batch {r['batch']} {s.upper()}: {w}" for r in rows for s in "ab" for w in r[s]["warnings"]]),
             _skipped(report)]
    for r in rows:
        parts += [f"<h2>Batch {r['batch']}</h2><div class='charts'>",
                  cdf([(f"A {a}", r["a"]["samples_ms"]), (f"B {b}", r["b"]["samples_ms"])], f"CDF, batch {r['batch']}"),
                  bars([("A median", r["a"]["latency_ms"]["median"]), ("B median", r["b"]["latency_ms"]["median"])],
                       "median latency", "ms"), "</div>"]
    return "\n".join(parts)


def render_html(report: dict[str, Any]) -> str:
    """A complete HTML document for a profile or compare report."""
    body = _compare(report) if report["kind"] == "compare" else _profile(report)
    title = escape(f"edgekd {report['kind']}: {report['target']}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}"><style>{CSS}</style></head>\n'
            f'<body>\n{body}\n<p class="muted">Written by edgekd; schema {escape(report["schema"])}.</p></body></html>\n')
