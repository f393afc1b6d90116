"""Quantization-aware distillation: QDQ ONNX parity with the fake-quant model, compile keeps the learned scales,
TensorRT-style symmetric QDQ passes the lint, token-scaled KD against a hand computation, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper
from safetensors.torch import load_file

import edgekd
from edgekd.data import load_dataset
from edgekd.distill import DistillConfig, TeacherConfig, train_teacher
from edgekd.distill.losses import LossInputs, build_criterion
from edgekd.errors import EdgekdError
from edgekd.schemas import DatasetSpec

SPEC = DatasetSpec(name="digits", image_size=8)
torch.set_num_threads(1)  # tiny models: one thread is as fast and does not spin against other work


@pytest.fixture(scope="module")
def qad_run(tmp_path_factory):
    """A small teacher, then QAD of a student that starts from the teacher's own weights (2 epochs)."""
    root = tmp_path_factory.mktemp("qad")
    train_teacher(SPEC, TeacherConfig(arch={"name": "resnet", "widths": [8, 16, 16], "blocks": [1, 1, 1]}, epochs=5,
                                      lr=0.01, shift_pixels=0), root / "teacher")
    teacher = root / "teacher" / "teacher.safetensors"
    cfg = DistillConfig(epochs=2, batch_size=64, lr=5e-4, warmup_epochs=0, shift_pixels=0, loss={"ce": 1.0, "kd": 0.9},
                        cache_dir=str(root / "cache"))
    res = edgekd.distill(teacher, str(teacher), SPEC, root / "qad", cfg, quantize="int8")
    return root, teacher, res


def test_qdq_onnx_matches_fake_quant_model(qad_run):
    from edgekd.quant.qad.checkpoint import load_qad
    from edgekd.quant.qad.export import export_qdq, parity

    root, _, res = qad_run
    assert res.test_accuracy > 80.0, "the QAD student did not learn; parity on near-flat logits says nothing"
    net, _, scheme, shape = load_qad(res.checkpoint)
    # cpu-ort-int8: U8S8, and 7-bit weights, which ONNX Runtime's x86 kernels without VNNI need to compute exactly
    assert scheme.activation_type == "uint8" and not scheme.symmetric_activations and scheme.reduce_range
    model = root / "qad.int8.onnx"
    export_qdq(net, torch.zeros((2, *shape)), model)
    x, y = (t.numpy() for t in (load_dataset(SPEC).x["test"], load_dataset(SPEC).y["test"]))
    rep = parity(net, model, x)
    assert rep["vs_fake_quant"]["top1_agreement"] >= 0.995, rep["vs_fake_quant"]
    assert rep["vs_converted"]["max_abs_diff"] < 0.05 * float(np.abs(load_logits(net, x)).max()), rep["vs_converted"]
    from edgekd.export.runtime import ort_run

    onnx_acc = 100.0 * float((ort_run(model, x).argmax(1) == y).mean())
    assert abs(onnx_acc - res.test_accuracy) <= 0.5
    # Per-layer rows locate differences: unoptimised ONNX Runtime reproduces the first convolution exactly.
    layers = {r["tensor"]: r for r in rep["layers"]}
    assert "conv2d" in layers and layers["conv2d"]["max_abs_diff"] < 1e-4 * max(layers["conv2d"]["scale"], 1.0)
    graph = onnx.load(str(model)).graph
    weights = {t.name: t for t in graph.initializer if t.data_type == onnx.TensorProto.INT8}
    compute = [n for n in graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]
    assert len(weights) >= len(compute) == 10  # 9 convolutions (BatchNorm folded) + the head, weights stored as int8
    assert rep["quantize_linear"] == sum(n.op_type == "QuantizeLinear" for n in graph.node) > 0
    # Every convolution output feeding a residual Add is quantized too, so ONNX Runtime fuses QLinearConv and
    # QLinearAdd throughout (torchao's x86 annotation alone left three Conv -> Add -> Relu chains in float).
    assert rep["float_ops"] == [], rep["float_ops"]


def load_logits(net: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy()


def test_compile_keeps_learned_scales(qad_run, tmp_path):
    root, _, res = qad_run
    sp = load_dataset(SPEC)
    out = edgekd.compile(res.checkpoint, "cpu-ort-int8", "int8", tmp_path / "c", samples=sp.x["test"].numpy(),
                         labels=sp.y["test"].numpy(), measure_speed=False)
    assert out.quantization["method"].startswith("quantization-aware")
    assert out.verification["top1_agreement"] >= 0.995
    learned = [float(v) for k, v in load_file(res.checkpoint).items() if k.endswith(".scale") and v.numel() == 1]
    graph = onnx.load(str(out.model)).graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    act_scales = [float(consts[n.input[1]]) for n in graph.node if n.op_type == "QuantizeLinear" and n.input[1] in consts]
    assert act_scales and all(min(abs(s - v) / v for v in learned) < 1e-6 for s in act_scales), "scales were changed"
    with pytest.raises(EdgekdError, match="precision int8"):
        edgekd.compile(res.checkpoint, "cpu-ort-int8", "fp32", tmp_path / "d", samples=sp.x["test"].numpy())


def test_tensorrt_scheme_passes_lint_and_u8_does_not(tmp_path):
    from edgekd.models import build_model
    from edgekd.quant.qad.checkpoint import save_qad
    from edgekd.quant.qad.fakequant import calibrate, prepare
    from edgekd.quant.qad.student import target_scheme

    arch = {"name": "resnet", "widths": [4, 8], "blocks": [1, 1], "in_channels": 1, "num_classes": 10}
    x = load_dataset(SPEC).x["train"]
    for target in ("x86-trt-int8", "cpu-ort-int8"):
        torch.manual_seed(0)
        net = prepare(build_model(arch).eval(), x[:2], target_scheme(target))
        calibrate(net, x, 128)
        save_qad(net, arch, target_scheme(target), tmp_path / f"{target}.safetensors", (1, 8, 8))
    ok = edgekd.compile(tmp_path / "x86-trt-int8.safetensors", "x86-trt-int8", "int8", tmp_path / "trt",
                        samples=x[:64].numpy())
    body = __import__("json").loads(ok.report.read_text())
    assert not [f for f in body["tensorrt"]["lint"] if f["severity"] == "error"]
    zps = [numpy_helper.to_array(t) for t in onnx.load(str(ok.model)).graph.initializer if "zero_point" in t.name
           or t.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8) and not t.dims]
    assert zps and all(np.all(z == 0) for z in zps)
    with pytest.raises(EdgekdError, match="zero point"):
        edgekd.compile(tmp_path / "cpu-ort-int8.safetensors", "x86-trt-int8", "int8", tmp_path / "u8", samples=x[:64].numpy())


def _tskd_by_hand(s: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None, mask: torch.Tensor, temp: float,
                  tau: float) -> float:
    """Loops over sequences and tokens, straight from the paper's definition."""
    total = 0.0
    for n in range(s.shape[0]):
        scores, kls = [], []
        for i in range(s.shape[1]):
            if not mask[n, i]:
                continue
            pt = torch.softmax(t[n, i].double(), 0)
            score = -float(torch.log(pt[labels[n, i]])) if labels is not None and labels[n, i] >= 0 else \
                -float((pt * torch.log(pt)).sum())
            pts, pss = torch.softmax(t[n, i].double() / temp, 0), torch.softmax(s[n, i].double() / temp, 0)
            kls.append(float((pts * (torch.log(pts) - torch.log(pss))).sum()) * temp**2)
            scores.append(score / tau)
        w = np.exp(np.array(scores) - max(scores))
        total += float((w / w.sum() * np.array(kls)).sum())
    return total / s.shape[0]


def test_token_scaled_kd_matches_hand_computation():
    gen = torch.Generator().manual_seed(0)
    s, t = torch.randn(3, 5, 7, generator=gen), torch.randn(3, 5, 7, generator=gen) * 2
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.bool)
    crit = build_criterion({"tskd": {"temperature": 2.0, "tau": 0.5}})
    got = crit(LossInputs(s, torch.full((3,), -1), t, attention_mask=mask))[0]
    assert float(got) == pytest.approx(_tskd_by_hand(s, t, None, mask, 2.0, 0.5), rel=1e-5)
    # (N, C) logits: the batch is the sequence and the labels pick the teacher's cross-entropy.
    s2, t2, y2 = s[:, 0], t[:, 0], torch.tensor([2, -1, 5])
    got2 = crit(LossInputs(s2, y2, t2))[0]
    ref2 = _tskd_by_hand(s2[None], t2[None], y2[None], torch.ones(1, 3, dtype=torch.bool), 2.0, 0.5)
    assert float(got2) == pytest.approx(ref2, rel=1e-5)
    with pytest.raises(EdgekdError, match="tau"):
        build_criterion({"tskd": {"tau": 0}})


def test_feature_losses_are_refused_for_int8_students(qad_run, tmp_path):
    _, teacher, _ = qad_run
    cfg = DistillConfig(epochs=1, loss={"ce": 1.0, "fitnet": {"student": "layers.1", "teacher": "layers.1"}},
                        shift_pixels=0)
    with pytest.raises(EdgekdError, match="cannot train an int8 student"):
        edgekd.distill(teacher, str(teacher), SPEC, tmp_path / "f", cfg, quantize="int8")


def test_cli_rejects_unknown_quantize(qad_run, tmp_path):
    _, teacher, _ = qad_run
    r = subprocess.run([sys.executable, "-m", "edgekd", "distill", "--teacher", str(teacher), "--out", str(tmp_path / "x"),
                        "--quantize", "int4"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "quantize" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
