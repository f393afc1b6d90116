"""The ``agent_python`` fixture: a Python with only onnxruntime, numpy and psutil (a venv without system site
packages, so no torch, onnx, pydantic or scipy), for running the device agent from the source tree.

Creating it takes about a minute (pip from the local index), so it is kept in pytest's cache directory
(``.pytest_cache/d/edgekd-agent-venv``) and reused while it still imports those three packages.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGES = ("onnxruntime", "numpy", "psutil")
REPO = Path(__file__).parents[1]


def _works(python: Path) -> bool:
    return python.is_file() and subprocess.run([str(python), "-c", f"import {', '.join(PACKAGES)}"],
                                               capture_output=True, timeout=120).returncode == 0


@pytest.fixture(scope="session")
def agent_python(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = getattr(pytestconfig, "cache", None)  # None under -p no:cacheprovider: build it afresh
    venv = (Path(cache.mkdir("edgekd-agent-venv")) if cache else tmp_path_factory.mktemp("agent")) / "venv"
    python = venv / "bin" / "python"
    if not _works(python):
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True, timeout=900)
    return python


def wrapper(path: Path, python: Path, *pythonpath: Path) -> Path:
    """A script that runs ``python`` with ``pythonpath`` (then the source tree) on PYTHONPATH, as a device would."""
    dirs = ":".join(str(p) for p in (*pythonpath, REPO))
    path.write_text(f'#!/bin/sh\nPYTHONPATH="{dirs}" exec "{python}" "$@"\n')
    path.chmod(0o755)
    return path
