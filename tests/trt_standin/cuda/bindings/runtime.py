"""Stand-in for cuda-python's ``cuda.bindings.runtime`` (see ../../README.md): host memory, perf_counter events.

Every function returns cuda-python's ``(cudaError_t, *values)`` tuple.
"""

from __future__ import annotations

import ctypes
import enum
import time
from types import SimpleNamespace
from typing import Any

CALLS: list[tuple[Any, ...]] = []
_BUFFERS: dict[int, ctypes.Array] = {}
TOTAL_BYTES = 8 << 30


class cudaError_t(enum.IntEnum):  # noqa: N801  (cuda-python's names)
    cudaSuccess = 0
    cudaErrorInvalidValue = 1


class cudaMemcpyKind(enum.IntEnum):  # noqa: N801
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2


class _Event:
    def __init__(self) -> None:
        self.t = None


OK = cudaError_t.cudaSuccess


def cudaStreamCreate() -> tuple:  # noqa: N802
    CALLS.append(("cudaStreamCreate",))
    return OK, 7


def cudaStreamSynchronize(stream: Any) -> tuple:  # noqa: N802
    CALLS.append(("cudaStreamSynchronize", stream))
    return (OK,)


def cudaEventCreate() -> tuple:  # noqa: N802
    return OK, _Event()


def cudaEventRecord(event: _Event, stream: Any) -> tuple:  # noqa: N802
    CALLS.append(("cudaEventRecord", stream))
    event.t = time.perf_counter()
    return (OK,)


def cudaEventSynchronize(event: _Event) -> tuple:  # noqa: N802
    return (OK,) if event.t is not None else (cudaError_t.cudaErrorInvalidValue,)


def cudaEventElapsedTime(start: _Event, end: _Event) -> tuple:  # noqa: N802
    CALLS.append(("cudaEventElapsedTime",))
    return OK, (end.t - start.t) * 1e3


def cudaMalloc(size: int) -> tuple:  # noqa: N802
    buf = ctypes.create_string_buffer(max(int(size), 1))
    _BUFFERS[ctypes.addressof(buf)] = buf
    return OK, ctypes.addressof(buf)


def cudaFree(ptr: int) -> tuple:  # noqa: N802
    _BUFFERS.pop(int(ptr), None)
    return (OK,)


def cudaMemcpy(dst: int, src: int, count: int, kind: cudaMemcpyKind) -> tuple:  # noqa: N802
    CALLS.append(("cudaMemcpy", kind))
    ctypes.memmove(dst, src, count)
    return (OK,)


def cudaMemGetInfo() -> tuple:  # noqa: N802
    used = sum(len(b) for b in _BUFFERS.values())
    return OK, TOTAL_BYTES - used, TOTAL_BYTES


def cudaGetDeviceProperties(device: int) -> tuple:  # noqa: N802
    return OK, SimpleNamespace(name=b"Stand-in GPU\x00\x00", major=9, minor=0)
