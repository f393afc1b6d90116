"""Checks at the edges: model files, config text, arch dicts and arrays are refused with one clear line.

Every limit is a module constant and is named in the message that enforces it. Heavy libraries (onnx, torch) are
imported inside the functions that need them, so importing this module stays cheap.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from edgekd.errors import EdgekdError

MAX_CONFIG_BYTES = 1 << 20          # YAML/JSON configs: targets, recipes, arch JSON, distill configs
MAX_CONFIG_VALUES = 100_000         # values in a loaded config, aliases expanded
MAX_CONFIG_DEPTH = 64               # nesting of mappings and lists in a config
MAX_ONNX_BYTES = 2**31              # protobuf cannot parse a single ONNX file past 2 GiB (use external data)
MAX_SAFETENSORS_HEADER = 100 << 20  # safetensors' own header limit
MAX_ARRAY_BYTES = 4 << 30           # inputs edgekd reads or generates at once
MAX_PARAMS = 1_000_000_000          # parameters of a model built from an arch JSON (4 GB in fp32)
ZIP_MAGIC = b"PK\x03\x04"


def _gib(n: int) -> str:
    return f"{n / 2**30:g} GiB" if n >= 2**30 else f"{n / 2**20:g} MiB"


def check_file(path: str | Path, what: str) -> Path:
    """``path`` is an existing, non-empty regular file; else EdgekdError saying which of those it is not."""
    path = Path(path)
    if path.is_dir():
        raise EdgekdError(f"{what} {path} is a directory; pass a file")
    if not path.exists():
        raise EdgekdError(f"{what} not found: {path}; check the path")
    if not path.is_file():
        raise EdgekdError(f"{what} {path} is not a regular file")
    if path.stat().st_size == 0:
        raise EdgekdError(f"{what} {path} is empty (0 bytes)")
    return path


def check_out_dir(path: str | Path) -> Path:
    """An output directory path that is a directory or does not exist yet (a file in its place is refused)."""
    path = Path(path)
    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            raise EdgekdError(f"output directory {path}: {p} is a file; choose another --out")
    return path


def read_config_text(path: str | Path, what: str) -> str:
    """UTF-8 text of a config file no larger than MAX_CONFIG_BYTES."""
    path = Path(path)
    if path.is_dir():
        raise EdgekdError(f"{what} {path} is a directory; pass a YAML file")
    if not path.is_file():
        raise EdgekdError(f"{what} file not found: {path}; check the path")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise EdgekdError(f"{what} {path} is {size:,} bytes, over the {MAX_CONFIG_BYTES:,}-byte limit for config files")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise EdgekdError(f"{what} {path} is not UTF-8 text (byte {err.start}); pass a YAML or JSON file") from None


def check_tree(data: Any, source: str) -> Any:
    """Refuse configs nested deeper than MAX_CONFIG_DEPTH or holding more than MAX_CONFIG_VALUES (aliases expanded)."""
    count = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_CONFIG_VALUES:
            raise EdgekdError(f"{source}: more than {MAX_CONFIG_VALUES:,} values (YAML aliases expanded); "
                              "configs this large are refused")
        if depth > MAX_CONFIG_DEPTH:
            raise EdgekdError(f"{source}: nested deeper than {MAX_CONFIG_DEPTH} levels; flatten it")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
            stack.extend((k, depth + 1) for k in node)
        elif isinstance(node, (list, tuple)):
            stack.extend((v, depth + 1) for v in node)
    return data


def parse_json(text: str, source: str) -> Any:
    """JSON text (at most MAX_CONFIG_BYTES) -> value; malformed JSON raises EdgekdError with the line."""
    if len(text) > MAX_CONFIG_BYTES:
        raise EdgekdError(f"{source}: {len(text):,} characters, over the {MAX_CONFIG_BYTES:,}-byte limit for JSON")
    try:
        return check_tree(json.loads(text), source)
    except (ValueError, RecursionError) as err:
        where = f" at line {err.lineno}" if isinstance(err, json.JSONDecodeError) else ""
        raise EdgekdError(f"{source}: not valid JSON{where}; fix the syntax") from None


def check_arch(arch: Any, source: str = "arch JSON") -> dict[str, Any]:
    """An arch dict: a mapping with a string ``name`` and finite numbers (each family checks its own ranges)."""
    if not isinstance(arch, dict):
        raise EdgekdError(f"{source}: must be a JSON object like {{\"name\": \"resnet\", ...}}, got {type(arch).__name__}")
    if not isinstance(arch.get("name"), str) or not arch["name"]:
        raise EdgekdError(f"{source}: 'name' must be a model family name such as \"resnet\"")
    for key, value in arch.items():
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, float) and not math.isfinite(v):
                raise EdgekdError(f"{source}: {key} holds {v}; use finite numbers")
    return arch


def check_model_size(factory: Any, kwargs: dict[str, Any], name: str) -> None:
    """Build the model on torch's meta device (no memory) and refuse more than MAX_PARAMS parameters."""
    import torch

    try:
        with torch.device("meta"):
            params = sum(p.numel() for p in factory(**kwargs).parameters())
    except (TypeError, ValueError, RuntimeError) as err:
        raise EdgekdError(f"arch {name!r}: {str(err).splitlines()[0] if str(err) else type(err).__name__}; "
                          "fix the arch JSON") from None
    if params > MAX_PARAMS:
        raise EdgekdError(f"arch {name!r} has {params:,} parameters, over the limit of {MAX_PARAMS:,}; "
                          "check its widths and sizes")


def _check_onnx(path: Path) -> None:
    size = path.stat().st_size
    if size > MAX_ONNX_BYTES:
        raise EdgekdError(f"{path} is {size:,} bytes, over ONNX's {_gib(MAX_ONNX_BYTES)} single-file limit; "
                          "save its weights as external data")
    with path.open("rb") as f:
        head = f.read(1)
    if head != b"\x08":  # protobuf tag of ModelProto.ir_version, which every serialised model starts with
        raise EdgekdError(f"{path} is not an ONNX model (it does not start like one); pass an .onnx file")
    import onnx

    try:
        onnx.checker.check_model(str(path))
    except Exception as err:  # onnx raises DecodeError, ValidationError, OSError... for a bad file
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise EdgekdError(f"{path} is not a valid ONNX model: {first[:200]}") from None


def _check_safetensors(path: Path) -> None:
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
        if n < 2 or n > min(size - 8, MAX_SAFETENSORS_HEADER):
            raise EdgekdError(f"{path} is not a safetensors file (its header length {n} does not fit a "
                              f"{size:,}-byte file); pass a .safetensors checkpoint")
        try:
            header = json.loads(f.read(n))
        except ValueError:
            raise EdgekdError(f"{path} is not a safetensors file (its header is not JSON)") from None
    ends = [t.get("data_offsets", [0, 0])[1] for k, t in header.items() if k != "__metadata__" and isinstance(t, dict)]
    if ends and max(ends) > size - 8 - n:
        raise EdgekdError(f"{path} is truncated: its header describes {max(ends):,} bytes of tensors, "
                          f"the file holds {size - 8 - n:,}")


def check_model_file(path: str | Path) -> Path:
    """A model path edgekd can read: an existing non-empty file whose bytes match its kind, or a HF directory.

    ``.onnx``: at most MAX_ONNX_BYTES, protobuf start, ``onnx.checker``; ``.safetensors``: header fits the file;
    ``.pt2``: a zip archive. Other suffixes are left to the loaders.
    """
    path = Path(path)
    if path.is_dir():
        if (path / "config.json").is_file():
            parse_json(read_config_text(path / "config.json", "Hugging Face config"), str(path / "config.json"))
            return path
        raise EdgekdError(f"{path} is a directory without config.json; pass a model file or a Hugging Face model directory")
    check_file(path, "model")
    if path.suffix == ".onnx":
        _check_onnx(path)
    elif path.suffix == ".safetensors":
        _check_safetensors(path)
    elif path.suffix == ".pt2":
        with path.open("rb") as f:
            if f.read(4) != ZIP_MAGIC:
                raise EdgekdError(f"{path} is not a torch.export program (not a zip archive); save it with torch.export.save")
    return path


def read_npz(path: str | Path, what: str = "arrays file") -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (no pickle), checked by ``check_arrays``."""
    path = check_file(path, what)
    with path.open("rb") as f:
        if f.read(4) != ZIP_MAGIC:
            raise EdgekdError(f"{path} is not an .npz (not a zip archive); save it with numpy.savez")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise EdgekdError(f"{path} holds pickled object arrays, which edgekd never loads; save numeric arrays") from None
        raise EdgekdError(f"{path}: cannot read arrays: {str(err).splitlines()[0]}") from None
    except Exception as err:  # zipfile.BadZipFile, OSError, EOFError for a damaged archive
        raise EdgekdError(f"{path}: damaged .npz ({type(err).__name__}); save it again with numpy.savez") from None
    if not arrays:
        raise EdgekdError(f"{path} holds no arrays")
    return check_arrays(arrays, str(path))


def check_arrays(arrays: Mapping[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    """Numeric (bool, int, float), non-empty, finite arrays of at most MAX_ARRAY_BYTES in all."""
    total = 0
    for name, a in arrays.items():
        if a.dtype.kind not in "biuf":
            raise EdgekdError(f"{source}: array {name!r} has dtype {a.dtype}; save numeric arrays")
        if a.ndim == 0 or a.size == 0:
            raise EdgekdError(f"{source}: array {name!r} has shape {a.shape}; it needs at least one sample on axis 0")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            bad = int((~np.isfinite(a)).sum())
            raise EdgekdError(f"{source}: array {name!r} holds {bad} NaN or infinite values; clean the data")
        total += a.nbytes
    if total > MAX_ARRAY_BYTES:
        raise EdgekdError(f"{source}: {total:,} bytes of arrays, over the {_gib(MAX_ARRAY_BYTES)} limit")
    return dict(arrays)


def check_array_budget(shapes: Sequence[Sequence[int]], itemsize: int, source: str) -> None:
    """Refuse generating arrays of ``shapes`` (elements of ``itemsize`` bytes) past MAX_ARRAY_BYTES."""
    total = sum(math.prod(s) for s in shapes) * itemsize
    if total > MAX_ARRAY_BYTES:
        raise EdgekdError(f"{source} would allocate {total:,} bytes, over the {_gib(MAX_ARRAY_BYTES)} limit; "
                          "use a smaller batch or sample count")


def check_samples(samples: np.ndarray | Mapping[str, np.ndarray], specs: Sequence[Any], source: str,
                  batch_axis: bool = False) -> np.ndarray | dict[str, np.ndarray]:
    """Arrays (N, ...) against a model's input ``specs`` (each with ``name``, ``shape``, numpy ``dtype`` name).

    ``shape`` is one sample's, or starts with the batch axis when ``batch_axis``. Rank and fixed axis sizes
    (symbolic axes match anything) must agree, float arrays cannot feed integer inputs, and the arrays must pass
    ``check_arrays``. Inputs missing from ``samples`` are left to the caller. Returns ``samples``.
    """
    named = {specs[0].name: samples} if isinstance(samples, np.ndarray) and len(specs) == 1 else samples
    if not isinstance(named, Mapping):
        return samples
    named = check_arrays({k: np.asarray(v) for k, v in named.items()}, source)
    for spec in specs:
        if spec.name not in named:
            continue
        a, want = named[spec.name], tuple(spec.shape[1:] if batch_axis else spec.shape)
        got = a.shape[1:]
        if len(got) != len(want) or any(isinstance(w, int) and w > 0 and g != w for g, w in zip(got, want)):
            shown = ", ".join(str(w) if isinstance(w, int) and w > 0 else "?" for w in want)
            raise EdgekdError(f"{source}: array for input {spec.name!r} has samples of shape {got}; the model takes "
                              f"({shown}); save (N, {shown}) arrays")
        if np.dtype(spec.dtype).kind != "f" and a.dtype.kind == "f":
            raise EdgekdError(f"{source}: array for input {spec.name!r} has dtype {a.dtype}; the model takes {spec.dtype}")
    return samples
