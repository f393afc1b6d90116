"""edgekd.compile end to end: every source kind, fp32/fp16/int8 verified by real ORT sessions, loud failures."""

import importlib
import json

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

import edgekd
from edgekd.errors import EdgekdError, VerificationError
from edgekd.export.onnx_export import io_signature, save_onnx
from edgekd.export.sources import SOURCES
from edgekd.export.runtime import run_outputs
from edgekd.models import build_model, save_checkpoint
from edgekd.schemas import Manifest

compile_mod = importlib.import_module("edgekd.export.compile")
ARCH = {"name": "resnet", "widths": [8, 16], "blocks": [1, 1], "in_channels": 1, "num_classes": 10}


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    """A small random-init ResNet checkpoint (input (N, 1, 16, 16)) and 96 random samples."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("cnn")
    path, _ = save_checkpoint(build_model(ARCH).eval(), ARCH, root / "cnn.safetensors", (1, 16, 16))
    return path, np.random.default_rng(0).standard_normal((96, 1, 16, 16)).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A randomly initialised 2-layer BERT classifier saved as a local Hugging Face directory (no download)."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("optimum.exporters.onnx")
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=64, num_labels=4)
    root = tmp_path_factory.mktemp("hf") / "tiny-bert"
    transformers.BertForSequenceClassification(cfg).eval().save_pretrained(root)
    ids = np.random.default_rng(0).integers(0, 128, (48, 16)).astype(np.int64)
    return root, {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_cnn_checkpoint_compiles_and_verifies(cnn, tmp_path, precision):
    ckpt, x = cnn
    res = edgekd.compile(ckpt, "cpu-ort-int8", precision, tmp_path, samples=x[:64], calib=x[64:])
    v = res.verification
    assert res.model == tmp_path / f"cnn.{precision}.onnx" and res.model.is_file()
    assert v["against"] == "pytorch" and v["inputs"] == "samples" and v["samples"] == 64
    assert v["cosine"] >= {"fp32": 0.9999, "fp16": 0.999, "int8": 0.99}[precision] and v["top1_agreement"] >= 0.9
    report = json.loads(res.report.read_text())
    assert report["verification"]["tolerance"]["min_cosine"] == edgekd.export.TOLERANCES[precision].min_cosine
    ins, _ = io_signature(res.model)
    assert ins[0].shape[0] == "batch" and ins[0].dtype == "float32"  # dynamic batch, fp32 I/O at every precision
    ops = {n.op_type for n in onnx.load(str(res.model)).graph.node}
    assert ("QuantizeLinear" in ops) == (precision == "int8")
    if precision == "int8":
        assert res.quantization["agreement_with_fp32"] >= 0.95 and res.quantization["format"] == "QDQ"
    manifest = Manifest.load(tmp_path / "manifest.json")
    assert manifest.latest("onnx").meta == {"precision": precision, "target": "cpu-ort-int8", "source": "checkpoint"}
    assert manifest.intact(tmp_path, [str(f.relative_to(tmp_path)) for f in res.files])
    assert not list(tmp_path.glob(".edgekd-compile-*"))  # the scratch dir is gone


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_small_transformer_compiles_and_verifies(tiny_bert, tmp_path, precision):
    path, samples = tiny_bert
    res = edgekd.compile(path, "cpu-ort-int8", precision, tmp_path, samples=samples if precision == "int8" else None)
    v = res.verification
    assert v["against"] == "pytorch" and v["source"] == "huggingface" and list(v["outputs"]) == ["logits"]
    assert v["cosine"] >= 0.99 and v["top1_agreement"] >= 0.9
    assert [t.name for t in io_signature(res.model)[0]] == ["input_ids", "attention_mask", "token_type_ids"]
    assert "task text-classification" in json.loads(res.report.read_text())["notes"][0]


def test_corrupted_weights_fail_verification_loudly(cnn, tmp_path, monkeypatch, capsys):
    ckpt, x = cnn
    real_export = compile_mod.export_onnx

    def corrupting_export(*args, **kwargs):
        files = real_export(*args, **kwargs)
        proto = onnx.load(str(files[0]))
        init = max(proto.graph.initializer, key=lambda t: np.prod(t.dims))
        arr = numpy_helper.to_array(init)
        init.CopyFrom(numpy_helper.from_array(arr + np.float32(0.5) * np.abs(arr).max(), init.name))
        return save_onnx(proto, files[0])

    monkeypatch.setattr(compile_mod, "export_onnx", corrupting_export)
    with pytest.raises(VerificationError, match="verification failed: max abs diff .* does not match its source"):
        edgekd.compile(ckpt, "cpu-ort-fp32", "fp32", tmp_path, samples=x)
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob(".edgekd-compile-*"))

    from edgekd.cli import main

    monkeypatch.setattr("sys.argv", ["edgekd", "compile", str(ckpt), "--out", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and len(err.splitlines()) == 1 and "verification failed" in err


def test_onnx_and_torch_export_sources(cnn, tmp_path):
    ckpt, x = cnn
    fp32 = edgekd.compile(ckpt, "cpu-ort-fp32", "fp32", tmp_path / "a", samples=x)
    res = edgekd.compile(fp32.model, "cpu-ort-int8", "fp16", tmp_path / "b")
    assert res.verification["against"] == "onnx-fp32" and res.verification["inputs"] == "random"

    from edgekd.models import load_checkpoint

    net, _ = load_checkpoint(ckpt)
    program = torch.export.export(net, (torch.from_numpy(x[:4]),),
                                  dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=1024)},))
    torch.export.save(program, tmp_path / "prog.pt2")
    with pytest.raises(EdgekdError, match="pass --trust-code"):
        edgekd.compile(tmp_path / "prog.pt2", "cpu-ort-fp32", "fp32", tmp_path / "c", samples=x)
    res = edgekd.compile(tmp_path / "prog.pt2", "cpu-ort-fp32", "fp32", tmp_path / "c", samples=x, trust_code=True)
    assert res.verification["source"] == "torch-export" and res.verification["max_abs_diff"] < 1e-4
    assert isinstance(io_signature(res.model)[0][0].shape[0], str)


def test_factory_needs_trust_code(cnn, tmp_path, monkeypatch):
    import sys
    import types

    ckpt, x = cnn
    mod = types.ModuleType("edgekd_test_factory")
    mod.build = lambda: (build_model(ARCH), torch.zeros(2, 1, 16, 16))
    monkeypatch.setitem(sys.modules, "edgekd_test_factory", mod)
    with pytest.raises(EdgekdError, match="pass --trust-code"):
        edgekd.compile(ckpt, out=tmp_path, factory="edgekd_test_factory:build")
    res = edgekd.compile(ckpt, out=tmp_path, factory="edgekd_test_factory:build", trust_code=True, samples=x)
    assert res.verification["source"] == "factory" and res.verification["max_abs_diff"] < 1e-4


def test_static_batch_and_external_data(cnn, tmp_path):
    ckpt, x = cnn
    res = edgekd.compile(ckpt, "cpu-ort-fp32", "fp32", tmp_path, samples=x, static=True)
    assert io_signature(res.model)[0][0].shape[0] == 2 and res.verification["samples"] == 64
    files = save_onnx(onnx.load(str(res.model)), tmp_path / "ext.onnx", external_threshold=0)
    assert [f.name for f in files] == ["ext.onnx", "ext.onnx.data"]
    assert (tmp_path / "ext.onnx").stat().st_size < 10_000 < (tmp_path / "ext.onnx.data").stat().st_size
    got = run_outputs(tmp_path / "ext.onnx", {"input": x[:2]})["logits"]
    np.testing.assert_allclose(got, run_outputs(res.model, {"input": x[:2]})["logits"], rtol=0, atol=0)


def test_int8_accuracy_aware_fallback_keeps_sensitive_nodes_in_float(cnn, tmp_path):
    ckpt, x = cnn
    strict = tmp_path / "strict.yaml"
    strict.write_text("name: strict-int8\nprecisions: [int8]\nbudgets: {accuracy_drop_pts: 0.0}\n")
    # ranges calibrated on inputs 10x too small clip real activations: plain int8 disagrees with fp32 on the
    # validation rows, where the fallback chooses; the held-out samples only report
    res = edgekd.compile(ckpt, strict, "int8", tmp_path, samples=x[48:], calib=x * 0.1, validation=x[:48],
                         tolerance={"min_cosine": 0.9, "min_top1_agreement": 0.5})
    q = res.quantization
    assert q["kept_in_float"] and q["selection"]["agreement_with_fp32"] == 1.0 and q["selection"]["drop_pts"] == 0.0
    assert q["fallback"]["attempts"][0]["loss"] > 0 and q["fallback"]["ranking"][0]["node"] == q["kept_in_float"][0]
    assert res.data["fallback_selection"] == {"data": "validation data", "kind": "validation", "samples": 48, "labels": False}
    assert res.data["verification"]["samples"] == 48 and q["measured_on"] == "verification"


def test_int8_without_calibration_data_is_a_clear_error_before_export(cnn, tmp_path, monkeypatch):
    def no_export(*args, **kwargs):
        raise AssertionError("the model was loaded/exported before the missing calibration data was noticed")

    for name in SOURCES.names():
        monkeypatch.setattr(SOURCES.get(name), "load", staticmethod(no_export))
    monkeypatch.setattr(compile_mod, "export_onnx", no_export)
    with pytest.raises(EdgekdError, match="int8 needs calibration data: pass --calib"):
        edgekd.compile(cnn[0], "cpu-ort-int8", "int8", tmp_path)


def test_recipe_compile_stage_int8_calibrates_on_train_split(digits_run, tmp_path):
    import shutil

    from edgekd.schemas import StageSpec

    out, recipe, _ = digits_run
    run_dir = tmp_path / "run"
    shutil.copytree(out, run_dir)
    int8 = StageSpec(stage="compile", id="compile_int8", options={"precision": "int8", "num_verify": 128})
    res = edgekd.run(recipe.model_copy(update={"stages": [recipe.stages[0], int8]}), run_dir)
    m = res["stages"]["compile_int8"]["metrics"]
    assert res["stages"]["teacher"]["status"] == "skipped" and m["precision"] == "int8"
    assert m["fp32_accuracy"] - m["int8_accuracy"] <= 1.0 + 1e-9 and m["agreement_with_fp32"] >= 0.95
    report = json.loads((run_dir / "teacher.int8.verify.json").read_text())
    data = report["data"]
    assert report["quantization"]["calibration"]["samples"] == 256 and data["calibration"]["data"].startswith("calib")
    assert data["fallback_selection"]["kind"] == "validation" and data["fallback_selection"]["labels"]
    assert data["verification"] == {"data": "samples (held out)", "kind": "samples", "samples": 128, "labels": True}
