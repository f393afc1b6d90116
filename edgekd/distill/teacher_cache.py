"""Teacher outputs for the training samples: a live forward pass, or a cache computed once per dataset.

The cache file ``<cache_dir>/teacher-<key>.safetensors`` holds logits (N, C) and each tapped feature (N, ...);
its key hashes the teacher's weights, the training inputs and the tapped module paths, so any change makes a new one.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from edgekd.distill.taps import Taps
from edgekd.fsutil import atomic_path

LOGITS = "logits"


def default_cache_dir() -> Path:
    """``$EDGEKD_CACHE/teacher`` (default ``~/.cache/edgekd/teacher``)."""
    return Path(os.environ.get("EDGEKD_CACHE", "~/.cache/edgekd")).expanduser() / "teacher"


def cache_key(teacher: nn.Module, x: torch.Tensor, paths: list[str]) -> str:
    h = hashlib.sha256()
    for k, v in teacher.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    h.update(x.contiguous().numpy().tobytes())
    h.update("|".join(paths).encode())
    return h.hexdigest()[:24]


@torch.no_grad()
def run_teacher(teacher: nn.Module, x: torch.Tensor, paths: list[str], device: torch.device,
                batch_size: int = 256) -> dict[str, torch.Tensor]:
    """Teacher logits and tapped features for all of ``x`` (eval mode), on the CPU."""
    teacher.eval()
    taps = Taps(teacher, paths)
    chunks: dict[str, list[torch.Tensor]] = {}
    try:
        for i in range(0, len(x), batch_size):
            logits = teacher(x[i : i + batch_size].to(device))
            for k, v in {LOGITS: logits, **taps.take()}.items():
                chunks.setdefault(k, []).append(v.float().cpu())
    finally:
        taps.close()
    return {k: torch.cat(v) for k, v in chunks.items()}


def cached_outputs(teacher: nn.Module, x: torch.Tensor, paths: list[str], device: torch.device, cache_dir: Path,
                   write: bool = True) -> tuple[dict[str, torch.Tensor], bool]:
    """Outputs from the cache, or computed and (if ``write``) cached; second value: True on a cache hit."""
    path = cache_dir / f"teacher-{cache_key(teacher, x, paths)}.safetensors"
    if path.is_file():
        return load_file(str(path)), True
    out = run_teacher(teacher, x, paths, device)
    if write:
        with atomic_path(path) as tmp:
            save_file({k: v.contiguous() for k, v in out.items()}, str(tmp))
    return out, False


class TeacherSource:
    """Teacher logits and features for a batch: rows of the cached outputs, or a live no-grad forward pass."""

    def __init__(self, teacher: nn.Module, paths: list[str], cached: dict[str, torch.Tensor] | None) -> None:
        self.teacher, self.paths, self.cached = teacher.eval(), paths, cached
        self._taps = None if cached is not None else Taps(teacher, paths)

    @torch.no_grad()
    def __call__(self, idx: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``idx``: (B,) train-sample indices; ``x``: the (augmented) batch on the device."""
        if self.cached is not None:
            rows = {k: v[idx].to(x.device, non_blocking=True) for k, v in self.cached.items()}
            return rows[LOGITS], {p: rows[p] for p in self.paths}
        logits = self.teacher(x)
        return logits.float(), {k: v.float() for k, v in self._taps.take().items()}
