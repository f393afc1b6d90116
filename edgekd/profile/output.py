"""Write a profile or compare report as JSON, a Markdown summary and a self-contained HTML page."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from edgekd.fsutil import scratch_dir, write_json, write_text
from edgekd.manifest_io import publish
from edgekd.profile.html import render_html
from edgekd.profile.markdown import render_markdown


def report_paths(out: str | Path, stem: str, kind: str) -> dict[str, Path]:
    """``<out>/<stem>.<kind>.{json,md,html}``."""
    return {ext: Path(out) / f"{stem}.{kind}.{ext}" for ext in ("json", "md", "html")}


def write_reports(report: dict[str, Any], paths: dict[str, Path], out: str | Path, stage: str, meta: dict[str, Any],
                  force: bool = False) -> None:
    """Write all three files into a scratch folder, add their paths to ``report``, then publish them into ``out``
    and record them in ``<out>/manifest.json`` under the folder's lock (``force`` overwrites)."""
    report["report"] = str(paths["json"])
    report["files"] = {ext: str(p) for ext, p in paths.items()}
    work = scratch_dir(out, "profile")
    try:
        staged = {ext: work / p.name for ext, p in paths.items()}
        write_text(staged["md"], render_markdown(report))
        write_text(staged["html"], render_html(report))
        write_json(staged["json"], report)
        kind = report["kind"]
        publish(out, stage, [(staged["json"], kind, {"meta": meta}), (staged["md"], f"{kind}-summary", {"meta": meta}),
                             (staged["html"], f"{kind}-html", {"meta": meta})], force=force,
                options={"batch_sizes": [b["batch"] for b in [report, *report["batches"]]], "measure": report["measure"],
                         "runtime": report["options"], "per_op": report.get("per_op") is not None})
    finally:
        shutil.rmtree(work, ignore_errors=True)
