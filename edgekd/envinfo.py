"""Environment fingerprint recorded in manifests and reports."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess

LIBRARIES = ("edgekd", "torch", "numpy", "onnx", "onnxruntime", "onnxslim", "tensorrt", "cuda-python", "transformers", "optimum")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def gpus() -> list[dict[str, str]]:
    """GPUs reported by nvidia-smi (name, driver, memory); empty without an NVIDIA driver."""
    try:
        res = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    rows = [r.split(", ") for r in res.stdout.strip().splitlines() if r.strip()]
    return [{"name": r[0], "driver": r[1], "memory": r[2]} for r in rows if len(r) == 3]


def fingerprint() -> dict:
    """CPU model, cores, OS, Python and library versions, GPUs."""
    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "libraries": library_versions(),
        "gpus": gpus(),
    }
