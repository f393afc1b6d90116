"""int8: calibrators with their real options, types from the target, old-layout ONNX, no test-set leakage, speed."""

import json
import subprocess

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

import edgekd
from edgekd.errors import EdgekdError
from edgekd.export.runtime import ort_run
from edgekd.models import build_model, save_checkpoint
from edgekd.quant.ptq import PTQConfig, calibrate, preprocess
from edgekd.schemas import Target
from edgekd.targets import get_target

ARCH = {"name": "resnet", "widths": [8, 16], "blocks": [1, 1], "in_channels": 1, "num_classes": 10}


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("cnn8")
    path, _ = save_checkpoint(build_model(ARCH).eval(), ARCH, root / "cnn.safetensors", (1, 16, 16))
    return path, np.random.default_rng(0).standard_normal((96, 1, 16, 16)).astype(np.float32)


def _ranges(cache):
    """{tensor: (low, high)} from ORT's calibration cache JSON."""
    out = {}
    for name, d in json.loads(cache.read_text())["data"].items():
        lo, hi = d["lowest"], d["highest"]
        out[name] = (float(np.ravel(lo["data"] if isinstance(lo, dict) else lo)[0]),
                     float(np.ravel(hi["data"] if isinstance(hi, dict) else hi)[0]))
    return out


def test_calibration_methods_do_what_their_names_say(tiny_onnx, tmp_path):
    x = np.random.default_rng(1).standard_normal((128, 3, 16, 16)).astype(np.float32)
    x.reshape(-1)[:: 997] *= 40.0  # rare outliers
    pre = preprocess(tiny_onnx("calib.onnx"), tmp_path / "pre.onnx")
    got = {}
    for method in ("minmax", "entropy", "percentile"):
        cfg = PTQConfig(method=method, percentile=99.9, symmetric_activations=True)
        got[method] = _ranges(calibrate(pre, {"x": x}, cfg, tmp_path / f"{method}.json"))["x"]
    bound = float(np.abs(x).max())
    assert got["minmax"] == pytest.approx((-bound, bound), rel=1e-6)  # symmetric: +-max |x|, outliers included
    assert got["percentile"][1] == pytest.approx(np.percentile(np.abs(x), 99.9), rel=0.02)  # 2048-bin histogram
    assert got["entropy"][1] < 0.5 * bound  # the KL threshold clips the rare outliers
    assert len({got[m][1] for m in got}) == 3
    assert PTQConfig(method="entropy").calibrator_options() == {"symmetric": False, "num_bins": 2048, "num_quantized_bins": 128}


def _zero_points(path):
    """dtype and values of the activation QuantizeLinear zero points (weights are DequantizeLinear-only)."""
    proto = onnx.load(str(path))
    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    return [inits[n.input[2]] for n in proto.graph.node if n.op_type == "QuantizeLinear" and n.input[2] in inits]


def test_int8_types_come_from_the_target(cnn, tmp_path):
    ckpt, x = cnn
    assert get_target("cpu-ort-int8").int8_options()["activation_type"] == "uint8"
    assert get_target("x86-trt-int8").int8_options() | {} == {"activation_type": "int8", "weight_type": "int8",
                                                             "symmetric_activations": True, "per_channel": True,
                                                             "reduce_range": False}
    assert get_target("rpi5-ort-int8").int8_options()["activation_type"] == "int8"
    with pytest.raises(ValueError, match="TensorRT runs only symmetric int8"):
        Target.model_validate({"name": "t", "runtime": "tensorrt", "quantization": {"activation_type": "uint8"}})
    loose = {"min_cosine": 0.95}  # a random-init net on noise: this test is about the types, not the accuracy
    cpu = edgekd.compile(ckpt, "cpu-ort-int8", "int8", tmp_path / "cpu", samples=x[:32], calib=x[32:], measure_speed=False,
                         tolerance=loose)
    zps = _zero_points(cpu.model)
    assert zps and all(z.dtype == np.uint8 for z in zps) and cpu.quantization["types"]["activations"] == "uint8"
    own = tmp_path / "s8.yaml"
    own.write_text("name: s8\nprecisions: [int8]\nbudgets: {accuracy_drop_pts: 1.0}\n"
                   "quantization: {activation_type: int8, symmetric_activations: true}\n")
    s8 = edgekd.compile(ckpt, own, "int8", tmp_path / "s8", samples=x[:32], calib=x[32:], tolerance=loose)
    zps = _zero_points(s8.model)
    assert zps and all(z.dtype == np.int8 and not z.any() for z in zps)


def _old_layout(tmp_path):
    """A Conv/Linear model exported at opset 9 with every initializer also listed among the graph inputs."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(8 * 8 * 8, 5)).eval()
    path = tmp_path / "zoo.onnx"
    torch.onnx.export(net, (torch.zeros(1, 3, 8, 8),), str(path), opset_version=9, dynamo=False,
                      input_names=["data"], output_names=["prob"], dynamic_axes={"data": {0: "N"}, "prob": {0: "N"}})
    proto = onnx.load(str(path))
    listed = {i.name for i in proto.graph.input}
    for t in proto.graph.initializer:
        if t.name not in listed:
            proto.graph.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    onnx.save(proto, str(path))
    assert len(proto.graph.input) > 1 and proto.opset_import[0].version == 9
    return path, net


def test_old_layout_onnx_quantizes_to_int8(tmp_path):
    path, net = _old_layout(tmp_path)
    x = np.random.default_rng(0).standard_normal((96, 3, 8, 8)).astype(np.float32)
    res = edgekd.compile(path, "cpu-ort-int8", "int8", tmp_path / "out", samples=x[:32], calib=x[32:],
                         measure_speed=False)
    changes = res.quantization["graph_changes"]
    assert any("initializers from the graph inputs" in c for c in changes) and "upgraded opset 9 -> 13" in changes
    assert "QuantizeLinear" in {n.op_type for n in onnx.load(str(res.model)).graph.node}
    with torch.no_grad():
        ref = net(torch.from_numpy(x[:32])).numpy()
    got = ort_run(res.model, x[:32])
    assert (got.argmax(1) == ref.argmax(1)).mean() >= 0.9 and res.verification["cosine"] > 0.99


def test_fallback_never_sees_the_held_out_labels(cnn, tmp_path):
    ckpt, x = cnn
    strict = tmp_path / "strict.yaml"
    strict.write_text("name: strict-int8\nprecisions: [int8]\nbudgets: {accuracy_drop_pts: 0.0}\n")
    # calibration and validation data are both 10x too small, so int8 looks perfect there; the held-out samples
    # (real scale) would show the damage, but no choice may use them: nothing is kept in float
    small = x * 0.1
    res = edgekd.compile(ckpt, strict, "int8", tmp_path, samples=x[:48], labels=np.arange(48) % 10, calib=small[48:],
                         validation=small[:48], tolerance={"min_cosine": 0.1, "min_top1_agreement": 0.0},
                         measure_speed=False)
    q = res.quantization
    assert q["kept_in_float"] == [] and q["selection"]["drop_pts"] == 0.0 and q["fallback"]["plain_int8_loss"] == 0.0
    assert q["measured_on"] == "verification" and q["agreement_with_fp32"] < 1.0  # the damage is reported, held out
    assert res.data["verification"]["labels"] and q["int8_accuracy"] is not None


def _cli(*args):
    return subprocess.run(["edgekd", *args], capture_output=True, text=True, timeout=600)


def test_cli_calib_is_split_and_eval_is_held_out(cnn, tmp_path):
    ckpt, x = cnn
    np.savez(tmp_path / "calib.npz", x=x, y=np.arange(96) % 10)
    res = _cli("compile", str(ckpt), "--target", "cpu-ort-int8", "--precision", "int8", "--calib",
               str(tmp_path / "calib.npz"), "--out", str(tmp_path / "a"), "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)["data"]
    assert [data[k]["samples"] for k in ("verification", "fallback_selection", "calibration")] == [24, 24, 48]
    assert all(data[k]["labels"] for k in data) and "held out" in data["verification"]["data"]
    np.savez(tmp_path / "eval.npz", x=x[:40], y=np.arange(40) % 10)
    res = _cli("compile", str(ckpt), "--target", "cpu-ort-int8", "--precision", "int8", "--calib",
               str(tmp_path / "calib.npz"), "--eval", str(tmp_path / "eval.npz"), "--out", str(tmp_path / "b"), "--json")
    assert res.returncode == 0, res.stderr
    body = json.loads(res.stdout)
    data = body["data"]
    assert data["verification"] == {"data": "samples (held out)", "kind": "samples", "samples": 40, "labels": True}
    assert data["fallback_selection"]["samples"] == 24 and data["calibration"]["samples"] == 72
    assert body["verification"]["samples"] == 40
    res = _cli("compile", str(ckpt), "--precision", "int8", "--out", str(tmp_path / "c"))
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        "error: int8 needs calibration data: pass --calib FILE.npz of real inputs (or compile fp16)"] or \
        len(res.stderr.strip().splitlines()) == 1 and "int8 needs calibration data" in res.stderr


def test_report_says_where_int8_is_slower_with_the_measured_ratio(cnn, tmp_path):
    ckpt, x = cnn
    res = edgekd.compile(ckpt, "cpu-ort-int8", "int8", tmp_path, samples=x[:32], calib=x[32:])
    speed = res.quantization["speed"]
    assert set(speed) >= {"batch_1", "batch_64"} and speed["threads"] == 2
    for b in (1, 64):
        s = speed[f"batch_{b}"]
        assert s["int8_speedup"] == pytest.approx(s["fp32_ms"] / s["int8_ms"]) and s["rounds"] >= 5
        slower = [n for n in res.notes if n.startswith(f"int8 is slower than fp32 at batch {b} ")]
        assert bool(slower) == (s["int8_speedup"] < 1.0)
        if slower:
            assert f"{s['int8_speedup']:.2f}x of fp32 speed" in slower[0]
    report = json.loads(res.report.read_text())
    assert report["notes"] == res.notes and report["quantization"]["speed"] == speed
    with pytest.raises(EdgekdError, match="unknown calibration method 'kl'"):
        edgekd.compile(ckpt, "cpu-ort-int8", "int8", tmp_path / "x", calib=x, calib_method="kl")


def test_target_default_keeps_fp32_where_int8_is_slower(cnn, tmp_path, monkeypatch):
    """cpu-ort-int8 lists [int8, fp32]: left to the target, compile deploys fp32 when int8 measured slower at any of the
    target's batch sizes (ratio in the report); an explicit --precision int8 keeps int8 whatever the speed."""
    import importlib

    comp = importlib.import_module("edgekd.export.compile")

    real = comp.int8_speed

    def slower_at_64(*a, **k):
        speed = real(*a, **k)
        row = speed["batch_64"]
        speed["batch_64"] = {**row, "int8_ms": row["fp32_ms"] / 0.8, "int8_speedup": 0.8}  # as on this CPU at batch 64
        speed["batch_1"] = {**speed["batch_1"], "int8_ms": speed["batch_1"]["fp32_ms"], "int8_speedup": 1.0}
        return speed

    monkeypatch.setattr(comp, "int8_speed", slower_at_64)
    ckpt, x = cnn
    res = edgekd.compile(ckpt, "cpu-ort-int8", None, tmp_path / "auto", samples=x[:32], calib=x[32:])
    assert res.precision == "fp32" and res.model.name == "cnn.fp32.onnx"
    assert sorted(p.name for p in (tmp_path / "auto").glob("*.onnx")) == ["cnn.fp32.onnx"]
    assert res.quantization["kept"] == {"precision": "fp32", "int8_slower_at": {64: 0.8}}
    assert res.quantization["int8_verification"]["cosine"] > 0.99  # the int8 model was built and verified
    assert any("batch 64" in n and "0.80x of fp32 speed" in n and "fp32 kept" in n for n in res.notes)
    ops = {n.op_type for n in onnx.load(str(res.model)).graph.node}
    assert "QuantizeLinear" not in ops and "Conv" in ops
    assert res.verification["max_abs_diff"] < 1e-4  # the deployed model matches PyTorch at fp32
    report = json.loads(res.report.read_text())
    assert report["precision"] == "fp32" and report["quantization"]["kept"]["int8_slower_at"] == {"64": 0.8}
    manifest = json.loads((tmp_path / "auto" / "manifest.json").read_text())
    assert "cnn.fp32.onnx" in json.dumps(manifest) and "cnn.int8.onnx" not in json.dumps(manifest)

    explicit = edgekd.compile(ckpt, "cpu-ort-int8", "int8", tmp_path / "int8", samples=x[:32], calib=x[32:])
    assert explicit.precision == "int8" and "kept" not in explicit.quantization
    assert any("batch 64" in n and "--precision" not in n for n in explicit.notes)
