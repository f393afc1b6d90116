"""Datasets for training, calibration and verification, with a fixed, recorded split."""

from edgekd.data.splits import DATASETS, Splits, load_dataset
from edgekd.data import sources  # noqa: F401  (registers digits and npz)

__all__ = ["DATASETS", "Splits", "load_dataset"]
