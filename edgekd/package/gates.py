"""``edgekd.check``: gate a bundle or run directory on a target's budgets (and flags); JUnit and CI summaries."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from edgekd.budgets import Gate, gates, summary
from edgekd.errors import EdgekdError
from edgekd.package.collect import collect
from edgekd.package.junit import markdown_summary, write_junit
from edgekd.package.schema import BUNDLE_FORMAT, MANIFEST, BundleManifest, Latency
from edgekd.package.verify import check_files, open_bundle
from edgekd.schemas import Target
from edgekd.targets import get_target


def measured(m: BundleManifest, target: str, latency: Latency | None = None) -> tuple[dict[str, float | None], dict[str, str]]:
    """Values of the primary model for every budget, and a note per value saying how it was measured.

    ``latency`` replaces the recorded one (after ``--reprofile``). Recorded latency counts only when it was measured
    at batch 1 for ``target``.
    """
    p = m.model()
    lat = latency or p.latency
    values: dict[str, float | None] = {"size_bytes": float(p.bytes)}
    notes = {"size_bytes": f"{len(p.files)} file(s) of {p.path}"}
    if lat is None:
        why = f"no latency report for {p.path}; profile it or pass --reprofile"
    elif lat.batch != 1:
        why = f"latency was measured at batch {lat.batch}, not 1; pass --reprofile"
    elif lat.target != target:
        why = f"latency was measured for target {lat.target}, not {target}; pass --reprofile"
    else:
        why = ""
        values["p90_latency_ms"] = lat.p90_ms
        notes["p90_latency_ms"] = f"{lat.runs} runs on {lat.cpu or 'an unrecorded CPU'}"
        if lat.peak_rss_bytes is not None:
            values["peak_memory_bytes"] = float(lat.peak_rss_bytes)
            notes["peak_memory_bytes"] = "peak resident memory of the profiling process"
    if why:
        notes["p90_latency_ms"] = notes["peak_memory_bytes"] = why
    d = m.accuracy_drop
    if d is not None:
        values["accuracy_drop_pts"] = d.pts
        notes["accuracy_drop_pts"] = f"against the {d.against}: {d.reference_accuracy:.2f}% -> {d.model_accuracy:.2f}%"
    else:
        notes["accuracy_drop_pts"] = "the run has no labelled evaluation of this model against a teacher or fp32 model"
    return values, notes


def evaluate(m: BundleManifest, target: Target, overrides: dict[str, float | None] | None = None,
             latency: Latency | None = None) -> list[Gate]:
    """Gates of ``target``'s budgets, replaced by ``overrides``, for the bundle's primary model."""
    values, notes = measured(m, target.name, latency)
    return gates(target.budgets, values, overrides, notes)


def _reprofile(model: Path, target: Target) -> Latency:
    """Measure ``model`` at batch 1 on ``target`` now (on its SSH device when it has one)."""
    from edgekd.profile.api import profile

    report = profile(model, target, [1])
    lat = report["latency_ms"]
    return Latency(report="(reprofiled, not saved)", target=target.name, batch=1, runs=report["runs"],
                   median_ms=lat["median"], p90_ms=lat["p90"], p99_ms=lat["p99"], cv=lat["cv"],
                   throughput_per_s=report["throughput_per_s"], peak_rss_bytes=report["memory"].get("peak_rss_bytes"),
                   cpu=report["env"].get("cpu", ""), warnings=report["warnings"])


def _is_bundle_dir(path: Path) -> bool:
    try:
        return json.loads((path / MANIFEST).read_text()).get("format") == BUNDLE_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


@contextmanager
def _open(path: Path) -> Iterator[tuple[Path, BundleManifest, bool]]:
    """``(root, manifest, is_bundle)`` for a bundle (files checked against their hashes first) or a run directory."""
    if path.is_dir() and not _is_bundle_dir(path):
        fields, _ = collect(path)
        yield path, BundleManifest(**fields, files=[]), False
        return
    with open_bundle(path) as (root, m):
        check_files(root, m, path.name)
        yield root, m, True


def check(
    bundle: str | Path,
    target: str | Path | Target | None = None,
    max_p90_ms: float | None = None,
    max_drop_pts: float | None = None,
    max_size_mb: float | None = None,
    reprofile: bool = False,
    junit: str | Path | None = None,
    step_summary: str | Path | None = None,
) -> dict[str, Any]:
    """Gate a bundle (``.tar.gz`` or directory, integrity checked first) or a run directory.

    Budgets come from ``target`` (default: the one the bundle was compiled for); ``max_p90_ms`` (ms at batch 1),
    ``max_drop_pts`` (accuracy points) and ``max_size_mb`` (10^6 bytes) replace the target's. ``reprofile`` measures
    the primary model again instead of trusting the recorded latency. Writes JUnit XML to ``junit`` and appends a
    Markdown table to ``step_summary`` (GitHub's ``$GITHUB_STEP_SUMMARY``). ``passed`` is False when a gate fails.
    """
    for flag, value in (("--max-p90-ms", max_p90_ms), ("--max-drop-pts", max_drop_pts), ("--max-size-mb", max_size_mb)):
        if value is not None and not value >= 0:
            raise EdgekdError(f"{flag} must be a number >= 0, got {value}")
    path = Path(bundle)
    if not path.exists():
        raise EdgekdError(f"bundle or run directory not found: {path}; check the path")
    overrides = {"p90_latency_ms": max_p90_ms, "accuracy_drop_pts": max_drop_pts,
                 "size_bytes": None if max_size_mb is None else max_size_mb * 1e6}
    with _open(path) as (root, m, is_bundle):
        tgt = get_target(target) if target is not None else Target.model_validate(m.target)
        model = root / (m.primary if is_bundle else m.primary.removeprefix("models/"))
        latency = _reprofile(model, tgt) if reprofile else None
        result = evaluate(m, tgt, overrides, latency)
    counts = summary(result)
    out = {"bundle": str(path), "kind": "bundle" if is_bundle else "run", "target": tgt.name, "model": m.primary,
           "reprofiled": reprofile, "gates": [g.to_dict() for g in result], "summary": counts,
           "passed": counts["fail"] == 0, "junit": str(junit) if junit else None}
    if junit:
        write_junit(out, junit)
    if step_summary:
        with open(step_summary, "a") as f:
            f.write(markdown_summary(out))
    return out
