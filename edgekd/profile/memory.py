"""Memory: resident set of this process (current and peak), GPU memory, and model size on disk."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path
import psutil

from edgekd.onnx_files import model_files


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


def model_size(model: str | Path) -> dict[str, int]:
    """Bytes on disk: the model file, its external data, and both together."""
    files = model_files(model)
    sizes = [f.stat().st_size for f in files]
    return {"model_file_bytes": sizes[0], "external_data_bytes": sum(sizes[1:]), "model_bytes_on_disk": sum(sizes)}
