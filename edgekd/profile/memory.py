"""Memory: resident set of this process (current and peak), GPU memory, and model size on disk."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from edgekd.errors import EdgekdError

if TYPE_CHECKING:
    import onnx


def rss_bytes() -> int:
    """Current resident set size of this process, bytes."""
    return psutil.Process().memory_info().rss


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ``/proc/self/clear_refs``); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """Peak resident set size since the last reset (Linux VmHWM), else since process start, bytes."""
    try:
        with open("/proc/self/status") as f:
            found = re.search(r"^VmHWM:\s+(\d+)\s+kB", f.read(), re.MULTILINE)
        if found:
            return int(found.group(1)) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def gpu_memory_bytes(pid: int | None = None) -> int | None:
    """GPU memory that ``pid`` (default: this process) holds per ``nvidia-smi``, bytes; None without one."""
    pid = pid or os.getpid()
    try:
        res = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    used = [int(mib) for p, mib in (r.split(", ") for r in res.stdout.splitlines() if r.count(", ") == 1)
            if p.strip() == str(pid)]
    return sum(used) * 2**20 if used else None


def model_files(model: str | Path) -> list[Path]:
    """The model file and, for ONNX with external data, the data files it references (relative to it)."""
    model = Path(model)
    if model.suffix != ".onnx":
        return [model]
    import onnx

    try:
        proto = onnx.load(str(model), load_external_data=False)
    except Exception as err:  # protobuf raises DecodeError and others
        raise EdgekdError(f"{model} is not a readable ONNX file ({type(err).__name__}); re-export it") from None
    found: list[Path] = []
    for tensor in _tensors(proto.graph):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            loc = next((e.value for e in tensor.external_data if e.key == "location"), None)
            path = model.parent / loc if loc else None
            if path and path not in found:
                if not path.is_file():
                    raise EdgekdError(f"{model} references external data {loc}, which is missing beside it")
                found.append(path)
    return [model, *found]


def _tensors(graph: onnx.GraphProto) -> list[onnx.TensorProto]:
    """Initializers and tensor attributes of ``graph`` and its subgraphs."""
    out = list(graph.initializer)
    for node in graph.node:
        for attr in node.attribute:
            out += ([attr.t] if attr.HasField("t") else []) + list(attr.tensors)
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                out += _tensors(sub)
    return out


def model_size(model: str | Path) -> dict[str, int]:
    """Bytes on disk: the model file, its external data, and both together."""
    files = model_files(model)
    sizes = [f.stat().st_size for f in files]
    return {"model_file_bytes": sizes[0], "external_data_bytes": sum(sizes[1:]), "model_bytes_on_disk": sum(sizes)}
