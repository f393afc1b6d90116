"""A dataset split into train/val/test by a seeded, stratified draw that the manifest records."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from edgekd.errors import EdgekdError
from edgekd.registry import Registry
from edgekd.schemas import DatasetSpec
from edgekd.schemas.recipe import SplitSpec

if TYPE_CHECKING:
    import torch

DATASETS: Registry[Callable[[DatasetSpec], tuple[np.ndarray, np.ndarray]]] = Registry("dataset")


@dataclass
class Splits:
    """Tensors ready for a model: x (N, C, H, W) float32, y (N,) int64; indices into the source data."""

    x: dict[str, torch.Tensor]
    y: dict[str, torch.Tensor]
    indices: dict[str, list[int]]
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """(C, H, W) of one sample."""
        return tuple(self.x["train"].shape[1:])

    def info(self) -> dict[str, Any]:
        """Sizes and a hash of each split's indices, for the manifest."""
        return {
            name: {"size": len(idx), "indices_sha256": hashlib.sha256(np.asarray(idx, np.int64).tobytes()).hexdigest()}
            for name, idx in self.indices.items()
        }

    def as_json(self) -> dict[str, Any]:
        """What ``split.json`` holds: ``info`` and the exact indices of every split."""
        return {"info": self.info(), "indices": self.indices}


def load_dataset(spec: DatasetSpec) -> Splits:
    """Load ``spec.name``, resize to ``image_size``, and split stratified by ``spec.split.seed``."""
    from edgekd.data.text_splits import TEXT_DATASETS

    if spec.name in TEXT_DATASETS:
        raise EdgekdError(f"dataset {spec.name!r} holds sentences, not samples with labels; "
                          "use it with the sentence stages (sentence_teacher, sentence_search, sentence_distill)")
    x, y = DATASETS.get(spec.name)(spec)
    return split_arrays(x, y, spec.split, spec.image_size)


def split_arrays(x: np.ndarray, y: np.ndarray, split: SplitSpec, image_size: int | None = None) -> Splits:
    """Stratified train/val/test split of x (N, ...) and y (N,); float images (N, C, H, W) are resized to
    ``image_size`` (None keeps them), integer inputs such as token ids (N, L) are kept as int64."""
    import torch  # 3 s to import and sklearn 1.4 s: only when a split is made
    import torch.nn.functional as F
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    rest, test = train_test_split(idx, test_size=split.test, random_state=split.seed, stratify=y)
    val_share = split.val / (1.0 - split.test)
    train, val = train_test_split(rest, test_size=val_share, random_state=split.seed, stratify=y[rest])
    if np.issubdtype(x.dtype, np.integer):
        xt = torch.from_numpy(x.astype(np.int64))
    else:
        xt = torch.from_numpy(x.astype(np.float32))
        if image_size is not None and (xt.shape[-1] != image_size or xt.shape[-2] != image_size):
            xt = F.interpolate(xt, size=(image_size, image_size), mode="bilinear", align_corners=False)
    yt = torch.from_numpy(y.astype(np.int64))
    parts = {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}
    return Splits(
        x={k: xt[v].contiguous() for k, v in parts.items()},
        y={k: yt[v].contiguous() for k, v in parts.items()},
        indices={k: v.tolist() for k, v in parts.items()},
        num_classes=int(y.max()) + 1,
    )


def load_data(spec: DatasetSpec) -> Any:
    """What a recipe's stages get: ``Splits`` for a labelled dataset, ``TextSplits`` for a text one."""
    from edgekd.data.text_splits import TEXT_DATASETS

    return TEXT_DATASETS.get(spec.name)(spec) if spec.name in TEXT_DATASETS else load_dataset(spec)
