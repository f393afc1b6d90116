"""Write a profile or compare report as JSON, a Markdown summary and a self-contained HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgekd.fsutil import write_json, write_text
from edgekd.manifest_io import record
from edgekd.profile.html import render_html
from edgekd.profile.markdown import render_markdown


def report_paths(out: str | Path, stem: str, kind: str) -> dict[str, Path]:
    """``<out>/<stem>.<kind>.{json,md,html}``."""
    return {ext: Path(out) / f"{stem}.{kind}.{ext}" for ext in ("json", "md", "html")}


def write_reports(report: dict[str, Any], paths: dict[str, Path], out: str | Path, stage: str, meta: dict[str, Any]) -> None:
    """Write all three files atomically, add their paths to ``report`` and record them in ``<out>/manifest.json``."""
    report["report"] = str(paths["json"])
    report["files"] = {ext: str(p) for ext, p in paths.items()}
    write_text(paths["md"], render_markdown(report))
    write_text(paths["html"], render_html(report))
    write_json(paths["json"], report)
    kind = report["kind"]
    record(out, stage, [(paths["json"], kind, {"meta": meta}), (paths["md"], f"{kind}-summary", {"meta": meta}),
                        (paths["html"], f"{kind}-html", {"meta": meta})],
           options={"batch_sizes": [b["batch"] for b in [report, *report["batches"]]], "measure": report["measure"],
                    "runtime": report["options"], "per_op": report.get("per_op") is not None})
