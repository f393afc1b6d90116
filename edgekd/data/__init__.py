"""Datasets for training, calibration and verification, with a fixed, recorded split."""

from edgekd.data.splits import DATASETS, Splits, load_data, load_dataset, split_arrays
from edgekd.data import sources  # noqa: F401  (registers digits and npz)
from edgekd.data import folders  # noqa: F401  (registers imagefolder and tokens)
from edgekd.data.folders import image_folder, resolve_data, token_npz

__all__ = ["DATASETS", "Splits", "image_folder", "load_data", "load_dataset", "resolve_data", "split_arrays", "token_npz"]
