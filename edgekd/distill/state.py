"""Training state on disk: best/last student weights (safetensors) and a resumable ``last.state.pt``.

``last.state.pt`` holds the student and adapter weights, optimizer, scheduler, grad scaler, RNG states, epoch and
history in one atomic write, so a kill at any moment leaves a consistent state; it loads with ``weights_only=True``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from edgekd.distill.checks import STATE_NAME
from edgekd.errors import EdgekdError
from edgekd.fsutil import atomic_path, write_text
from edgekd.models import save_checkpoint


def save_weights(student: nn.Module, adapters: nn.Module, arch: dict[str, Any], path: Path,
                 input_shape: tuple[int, ...] | None) -> list[Path]:
    """``<stem>.safetensors`` + ``.arch.json``, and ``<stem>.adapters.safetensors`` when there are adapters."""
    files = list(save_checkpoint(student, arch, path, input_shape=input_shape))
    state = {k: v.detach().contiguous().cpu() for k, v in adapters.state_dict().items()}
    if state:
        ad = path.with_name(path.name.removesuffix(".safetensors") + ".adapters.safetensors")
        with atomic_path(ad) as tmp:
            save_file(state, str(tmp), metadata={"edgekd.adapters_for": path.name})
        files.append(ad)
    return files


def rng_state() -> dict[str, Any]:
    out: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_state(run_dir: Path, state: dict[str, Any]) -> Path:
    path = run_dir / STATE_NAME
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_state(run_dir: Path) -> dict[str, Any]:
    """The resumable state in ``run_dir`` (tensors and plain Python only; no pickled code)."""
    path = run_dir / STATE_NAME
    if not path.is_file():
        raise EdgekdError(f"nothing to resume: {path} not found; run without --resume first")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (torch raises several types for a bad file)
        raise EdgekdError(f"cannot read {path}: {str(err).splitlines()[0]}; delete it and rerun without --resume") from None


def rewrite_metrics(path: Path, keep_before_epoch: int) -> None:
    """Drop ``metrics.jsonl`` lines of epochs at or after ``keep_before_epoch`` (they will be redone)."""
    if not path.is_file():
        return
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["epoch"] < keep_before_epoch]
    write_text(path, "".join(ln + "\n" for ln in lines))


def append_metrics(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
