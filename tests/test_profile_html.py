"""The HTML report is self-contained and renders in headless Chromium without console messages."""

import re
import shutil
import subprocess

import pytest

import edgekd
from edgekd.profile import MeasureConfig

FAST = MeasureConfig(warmup_runs=2, warmup_ms=10, min_runs=30, min_duration_s=0.05, per_op_runs=5)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0"]


def render(page, profile_dir, *extra):
    """(DOM, console lines) of ``page`` in headless Chromium."""
    res = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile_dir}", *extra, "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout, [line for line in res.stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def reports(tiny_onnx, tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    edgekd.profile(tiny_onnx(), "cpu-ort-fp32", [1, 4], FAST, out=out, per_op=True, quiet=True)
    edgekd.compare(tiny_onnx(), tiny_onnx("wide.onnx", channels=32), "cpu-ort-fp32", [1], FAST, out=out, quiet=True)
    return out / "tiny.profile.html", out / "tiny_vs_wide.compare.html"


def test_html_is_self_contained(reports):
    for page in reports:
        text = page.read_text()
        assert "<script" not in text and not re.search(r"(src|href)=\"(?!data:)", text)
        assert set(re.findall(r"https?://[^\s\"']+", text)) <= {"http://www.w3.org/2000/svg"}  # a namespace, never fetched


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_html_renders_in_chromium_without_console_errors(reports, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>undefinedFn()</script></body></html>")
    _, console = render(bad, tmp_path / "p0")
    assert any("undefinedFn" in line for line in console)  # the check can see errors
    profile, compare = reports
    dom, console = render(profile, tmp_path / "p1")
    assert console == [] and dom.count("<svg") >= 6 and "Per-op breakdown, batch 4" in dom and "<polyline" in dom
    dom, console = render(compare, tmp_path / "p2")
    assert console == [] and dom.count("<polyline") == 2 and "ratio B/A" in dom
