"""More data sources: ImageFolder directories and tokenised text; ``resolve_data`` maps ``--data`` onto them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekd.data.splits import DATASETS, Splits, load_dataset
from edgekd.errors import EdgekdError
from edgekd.inputs import read_npz
from edgekd.schemas import DatasetSpec
from edgekd.schemas.recipe import SplitSpec

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".pgm", ".ppm"}


def image_folder(root: str | Path, image_size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``root/<class>/<image>`` -> x (N, C, S, S) in -1..1, y (N,), class names (sorted directory names).

    Grey images give C=1, anything else is converted to RGB (C=3). Needs Pillow (``pip install edgekd[images]``).
    """
    try:
        from PIL import Image
    except ImportError:
        raise EdgekdError("ImageFolder data needs Pillow; pip install 'edgekd[images]'") from None
    root = Path(root)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir()) if root.is_dir() else []
    files = [(f, i) for i, c in enumerate(classes) for f in sorted((root / c).iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise EdgekdError(f"{root}: no images found; expected {root}/<class name>/<image>.png")
    with Image.open(files[0][0]) as first:
        mode = "L" if first.mode in ("L", "1", "I;16") else "RGB"
    xs = []
    for f, _ in files:
        with Image.open(f) as im:
            arr = np.asarray(im.convert(mode).resize((image_size, image_size), Image.BILINEAR), np.float32)
        xs.append(arr[None] if mode == "L" else arr.transpose(2, 0, 1))
    x = np.stack(xs) / 127.5 - 1.0
    return x.astype(np.float32), np.array([i for _, i in files], np.int64), classes


@DATASETS.register("imagefolder")
def imagefolder_dataset(spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    x, y, _ = image_folder(spec.path or "", spec.image_size)
    return x, y


@DATASETS.register("tokens")
def tokens_dataset(spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    return token_npz(spec.path or "")


def token_npz(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Tokenised text: ``.npz`` with ``input_ids`` (N, L) integers (0 = padding, position 0 = [CLS]) and ``y`` (N,)."""
    f = read_npz(path, "dataset file")
    if "input_ids" not in f or "y" not in f:
        raise EdgekdError(f"{path} needs arrays 'input_ids' (N,L) and 'y' (N,); found {sorted(f)}")
    ids, y = f["input_ids"], f["y"]
    if ids.ndim != 2 or y.ndim != 1 or len(ids) != len(y) or not np.issubdtype(ids.dtype, np.integer):
        raise EdgekdError(f"{path}: input_ids must be integer (N,L) and y (N,), got {ids.dtype}{ids.shape} and {y.shape}")
    return ids.astype(np.int64), y.astype(np.int64)


def resolve_data(data: str | Path | DatasetSpec | Splits, image_size: int = 32, split: SplitSpec | None = None) -> Splits:
    """``Splits`` from a recipe spec, a ``Splits``, ``"digits"``, an ``.npz`` (images ``x``/``y`` or tokens
    ``input_ids``/``y``) or an ImageFolder directory; the split is stratified and seeded by ``split``."""
    if isinstance(data, Splits):
        return data
    if isinstance(data, DatasetSpec):
        return load_dataset(data)
    path, split = Path(data), split or SplitSpec()
    if str(data) == "digits":
        name = "digits"
    elif path.is_dir():
        name = "imagefolder"
    elif path.suffix == ".npz" and path.is_file():
        name = "tokens" if "input_ids" in read_npz(path, "dataset file") else "npz"
    else:
        raise EdgekdError(f"data {str(data)!r} not found; pass 'digits', an .npz file or an ImageFolder directory")
    path_arg = None if name == "digits" else str(path)
    return load_dataset(DatasetSpec(name=name, path=path_arg, image_size=image_size, split=split))
