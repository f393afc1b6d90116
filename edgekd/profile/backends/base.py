"""The backend interface: open a model for a target, then run it on named numpy inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from edgekd.registry import Registry
from edgekd.schemas import Target, TensorSpec


class Session(Protocol):
    """An opened model, ready to run."""

    inputs: list[TensorSpec]
    providers: list[str]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]: ...


class Backend(Protocol):
    """Opens model files for one runtime."""

    def open(self, model: Path, target: Target) -> Session: ...


BACKENDS: Registry[type] = Registry("backend")


def get_backend(target: Target) -> Backend:
    """The backend for ``target.runtime``."""
    return BACKENDS.get(target.runtime)()
