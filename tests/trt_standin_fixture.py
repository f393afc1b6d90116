"""The ``standin_trt`` fixture: puts tests/trt_standin first on sys.path (a recording ``tensorrt`` and a host-memory
``cuda.bindings.runtime``), points the edgekd cache at a temp dir, and removes the stand-ins afterwards."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

STANDIN = Path(__file__).parent / "trt_standin"


def _forget() -> None:
    for name in [m for m in sys.modules if m == "tensorrt" or m == "cuda" or m.startswith("cuda.")]:
        del sys.modules[name]


@pytest.fixture
def standin_trt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ModuleType]:
    _forget()
    monkeypatch.syspath_prepend(str(STANDIN))
    monkeypatch.setenv("EDGEKD_CACHE", str(tmp_path / "edgekd-cache"))
    import tensorrt

    tensorrt.CALLS.clear()
    yield tensorrt
    _forget()
