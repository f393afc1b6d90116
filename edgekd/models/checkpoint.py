"""Checkpoints: safetensors weights with the arch JSON in their metadata and beside them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from edgekd.errors import EdgekdError
from edgekd.inputs import check_arch, check_model_file, parse_json, read_config_text
from edgekd.fsutil import atomic_path, write_json
from edgekd.models.registry import build_model

ARCH_KEY = "edgekd.arch"
SHAPE_KEY = "edgekd.input_shape"


def arch_path(weights: str | Path) -> Path:
    """``teacher.safetensors`` -> ``teacher.arch.json``."""
    weights = Path(weights)
    return weights.with_name(weights.name.removesuffix(".safetensors") + ".arch.json")


def save_checkpoint(
    model: nn.Module, arch: dict[str, Any], path: str | Path, input_shape: tuple[int, ...] | None = None
) -> tuple[Path, Path]:
    """Write ``path`` (safetensors) and its ``.arch.json`` atomically; return both paths.

    ``input_shape`` is one sample's shape, e.g. (1, 32, 32), kept so exporters can build example inputs.
    """
    path = Path(path)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    meta = {ARCH_KEY: json.dumps(arch)}
    if input_shape is not None:
        meta[SHAPE_KEY] = json.dumps(list(input_shape))
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
        sort_metadata(Path(tmp))
    return path, write_json(arch_path(path), arch)


def sort_metadata(path: Path) -> None:
    """Rewrite a safetensors header with its metadata keys sorted, in place and at the same length.

    safetensors writes metadata in hash-map order, which changes from one save to the next, so the same weights
    would not give the same bytes (and sha256) without this.
    """
    with open(path, "r+b") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
        header["__metadata__"] = dict(sorted(header.get("__metadata__", {}).items()))
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        if len(text) <= size:
            f.seek(8)
            f.write(text.ljust(size, b" "))


def read_metadata(path: str | Path) -> dict[str, str]:
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except (OSError, SafetensorError) as err:
        raise EdgekdError(f"cannot read checkpoint {path}: {err}; pass a .safetensors file") from None


def read_input_shape(path: str | Path) -> tuple[int, ...] | None:
    """One sample's input shape recorded with the checkpoint, or None."""
    meta = read_metadata(path)
    return tuple(parse_json(meta[SHAPE_KEY], f"{path} metadata {SHAPE_KEY}")) if SHAPE_KEY in meta else None


def read_arch(path: str | Path) -> dict[str, Any]:
    """The arch dict stored with a checkpoint: its metadata, else the sidecar JSON."""
    path = Path(path)
    meta = read_metadata(path)
    if ARCH_KEY in meta:
        return check_arch(parse_json(meta[ARCH_KEY], f"{path} metadata {ARCH_KEY}"), f"{path} metadata {ARCH_KEY}")
    side = arch_path(path)
    if side.is_file():
        return check_arch(parse_json(read_config_text(side, "arch JSON"), str(side)), str(side))
    raise EdgekdError(f"{path} has no architecture; put its arch JSON beside it as {side.name}")


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model from its arch and load the weights (no pickle involved); eval mode."""
    path = check_model_file(path)
    arch = read_arch(path)
    model = build_model(arch)
    try:
        model.load_state_dict(load_file(str(path)))
    except RuntimeError as err:
        raise EdgekdError(f"{path}: weights do not match arch {arch.get('name')!r}: {str(err).splitlines()[0]}") from None
    return model.eval(), arch
