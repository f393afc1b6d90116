"""Hugging Face models of every task edgekd claims compile, with inputs the exporter knows; dynamic int8 and
sentence calibration for transformers (tiny random models saved with save_pretrained, no download)."""

import json
import os
import subprocess

import numpy as np
import onnx
import pytest
import torch

import edgekd
from edgekd.export.onnx_export import io_signature
from edgekd.export.sources import SourceOptions, load_source

transformers = pytest.importorskip("transformers")
pytest.importorskip("optimum.exporters.onnx")
WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "fast", "model", "runs", "small", "edge", "device"]
TOKENS = 20  # [PAD] [UNK] [CLS] [SEP] [MASK] + 14 words + "." : the tokenizer knows fewer ids than the config's 128


def _tokenizer(root):
    (root / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, "."]) + "\n")
    tok = transformers.BertTokenizerFast(vocab_file=str(root / "vocab.txt"), model_max_length=64)
    tok.save_pretrained(root)
    return tok


def _bert_cfg(**kw):
    return transformers.BertConfig(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                   intermediate_size=64, max_position_embeddings=64, **kw)


@pytest.fixture(scope="module")
def hf_models(tmp_path_factory):
    """Directories of a feature-extraction BERT, a text-classification BERT (both with a 20-token tokenizer),
    and an image-classification ViT (3x32x32 images, 8x8 patches)."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("hf")
    dirs = {"feature": root / "bert-feat", "classify": root / "bert-cls", "vit": root / "vit"}
    transformers.BertModel(_bert_cfg()).eval().save_pretrained(dirs["feature"])
    transformers.BertForSequenceClassification(_bert_cfg(num_labels=3)).eval().save_pretrained(dirs["classify"])
    for key in ("feature", "classify"):
        _tokenizer(dirs[key])
    vit = transformers.ViTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
                                 num_attention_heads=2, intermediate_size=64, num_labels=5)
    transformers.ViTForImageClassification(vit).eval().save_pretrained(dirs["vit"])
    return dirs


def test_vision_model_compiles_with_shapes_from_its_config(hf_models, tmp_path):
    res = edgekd.compile(hf_models["vit"], "cpu-ort-fp32", "fp32", tmp_path)
    v = res.verification
    assert v["source"] == "huggingface" and v["against"] == "pytorch" and v["cosine"] > 0.9999
    assert "pixel_values (3, 32, 32)" in v["inputs_from"] and "image-classification" in v["inputs_from"]
    assert "task image-classification" in res.notes[0] and v["top1_agreement"] == 1.0
    src = load_source(hf_models["vit"], SourceOptions(), tmp_path / "scratch")
    x = src.random_inputs(4)["pixel_values"]
    assert x.shape == (4, 3, 32, 32) and x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0  # optimum: U[0, 1)


def test_text_inputs_stay_inside_the_tokenizer_vocabulary(hf_models, tmp_path):
    src = load_source(hf_models["feature"], SourceOptions(), tmp_path / "scratch")
    x = src.random_inputs(256)
    assert x["input_ids"].shape == (256, 16) and x["input_ids"].max() < TOKENS <= 128
    assert set(np.unique(x["attention_mask"])) <= {0, 1} and not src.classifier
    res = edgekd.compile(hf_models["feature"], "cpu-ort-fp32", "fp32", tmp_path / "out")
    assert list(res.verification["outputs"]) == ["last_hidden_state"]
    assert res.verification["cosine"] > 0.9999 and "top1_agreement" not in res.verification


def test_transformer_int8_without_calibration_is_dynamic(hf_models, tmp_path):
    res = edgekd.compile(hf_models["classify"], "cpu-ort-int8", "int8", tmp_path)
    q = res.quantization
    ops = {n.op_type for n in onnx.load(str(res.model)).graph.node}
    assert q["mode"] == "dynamic" and q["calibration"] is None and "QuantizeLinear" not in ops
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops or "kept_in_float" in q and len(q["kept_in_float"]) > 0
    assert res.data["fallback_selection"]["kind"] == "random" and res.data["verification"]["kind"] == "random"
    assert res.data["fallback_selection"]["data"] != res.data["verification"]["data"]  # seed 1 chooses, seed 0 verifies
    assert res.verification["top1_agreement"] >= 0.9 and set(q["speed"]) >= {"batch_1", "batch_64"}


def test_sentences_file_gives_smoothquant_statistics_to_int8_with_the_models_tokenizer(hf_models, tmp_path):
    rng = np.random.default_rng(0)
    sentences = [" ".join(rng.choice(WORDS, rng.integers(3, 12))) + " ." for _ in range(96)]
    (tmp_path / "sentences.txt").write_text("\n".join(sentences) + "\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = ["edgekd", "compile", str(hf_models["feature"]), "--target", "cpu-ort-int8", "--precision", "int8",
           "--calib", str(tmp_path / "sentences.txt"), "--out", str(tmp_path / "out"), "--json",
           "--tol", "min_cosine=0.9"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr
    body = json.loads(res.stdout)
    data, q = body["data"], body["quantization"]
    assert q["mode"] == "dynamic" and q["calibration"] is None  # ONNX Runtime CPU: dynamic int8 after SmoothQuant
    assert q["smoothing"]["statistics"]["kind"] == "calib" and q["smoothing"]["statistics"]["samples"] == 48
    assert [data[k]["samples"] for k in ("verification", "fallback_selection", "calibration")] == [24, 24, 48]
    assert all(data[k]["kind"] == "calib" for k in data) and "held out" in data["verification"]["data"]
    ops = {n.op_type for n in onnx.load(body["model"]).graph.node}
    assert "DynamicQuantizeLinear" in ops or q["kept_in_float"]
    tok = transformers.AutoTokenizer.from_pretrained(str(hf_models["feature"]))
    src = load_source(hf_models["feature"], SourceOptions(), tmp_path / "scratch")
    got, want = src.encode(sentences[:5]), tok(sentences[:5], padding="longest", return_tensors="np")
    assert set(got) == {t.name for t in io_signature(body["model"])[0]}
    for name, arr in got.items():
        np.testing.assert_array_equal(arr, want[name])
