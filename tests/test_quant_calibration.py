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


def test_sentences_files_and_seeded_disjoint_splits(tmp_path):
    from edgekd.quant.calibration import load_calibration, load_sentences, split_rows

    (tmp_path / "s.txt").write_text("a cat sat\n\n  the dog ran  \n")
    assert load_sentences(tmp_path / "s.txt") == ["a cat sat", "the dog ran"]
    assert load_calibration(tmp_path / "s.txt") == (["a cat sat", "the dog ran"], None)
    (tmp_path / "empty.txt").write_text("\n \n")
    with pytest.raises(EdgekdError, match="holds no sentences"):
        load_sentences(tmp_path / "empty.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(EdgekdError, match="not UTF-8 text"):
        load_sentences(tmp_path / "bin.txt")
    with pytest.raises(EdgekdError, match=r"\.npz arrays or a \.txt file of sentences"):
        load_calibration(tmp_path / "data.csv")
    parts = split_rows(100, {"verification": 25, "selection": 25, "calibration": 256})
    assert [len(parts[k]) for k in ("verification", "selection", "calibration")] == [25, 25, 50]
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(100))  # disjoint, every row once
    assert all((np.diff(p) > 0).all() for p in parts.values())
    again = split_rows(100, {"verification": 25, "selection": 25, "calibration": 256})
    assert all((parts[k] == again[k]).all() for k in parts) and not (parts["verification"] == np.arange(25)).all()
