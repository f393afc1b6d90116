"""Calibration data: ORT's get_next protocol over named arrays, and .npz loading without pickle."""

import numpy as np
import pytest

from edgekd.errors import EdgekdError
from edgekd.quant.calibration import ArrayReader, as_arrays, calibration_method, load_npz


def test_reader_serves_batches_then_none_and_rewinds():
    reader = ArrayReader({"a": np.zeros((10, 3), np.float32), "b": np.ones((10,), np.int64)}, batch=4)
    sizes = []
    while (batch := reader.get_next()) is not None:
        assert set(batch) == {"a", "b"}
        sizes.append(len(batch["a"]))
    assert sizes == [4, 4, 2] and len(reader) == 10
    reader.rewind()
    assert len(reader.get_next()["b"]) == 4


def test_npz_inputs_labels_and_errors(tmp_path):
    np.savez(tmp_path / "one.npz", x=np.zeros((5, 2)), y=np.arange(5))
    x, y = load_npz(tmp_path / "one.npz")
    assert x.shape == (5, 2) and list(y) == [0, 1, 2, 3, 4]
    np.savez(tmp_path / "two.npz", input_ids=np.zeros((3, 4)), attention_mask=np.ones((3, 4)))
    named, none = load_npz(tmp_path / "two.npz")
    assert set(named) == {"input_ids", "attention_mask"} and none is None
    with pytest.raises(EdgekdError, match="lack arrays for model inputs"):
        as_arrays(named, ["input_ids", "token_type_ids"])
    with pytest.raises(EdgekdError, match="disagree on the number of samples"):
        as_arrays({"a": np.zeros(3), "b": np.zeros(4)}, ["a", "b"])
    with pytest.raises(EdgekdError, match="unknown calibration method 'kl'"):
        calibration_method("kl")
