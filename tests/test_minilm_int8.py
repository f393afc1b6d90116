"""Dynamic int8 for transformers: SmoothQuant (edgekd.export.smooth), its numpy sensitivity ranking, and to_int8's
choice of strength, on tiny ONNX models with an outlier activation channel (as BERT's LayerNorm outputs have)."""

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from edgekd.export.precision import _min_cosine, to_int8
from edgekd.export.roles import Part, Roles
from edgekd.export.runtime import run_outputs
from edgekd.errors import VerificationError
from edgekd.export.smooth import activation_stats, local_errors, smooth, weighted_matmuls, worth_smoothing
from edgekd.export.verify import Tolerance, verify_outputs
from edgekd.quant.ptq import PTQConfig, quantize_dynamic_int8

OUTLIER = 3  # the LayerNorm channel scaled up


class Block(nn.Module):
    """LayerNorm -> two projections sharing its output (q, k) -> residual -> feed-forward, on (N, T, 32)."""

    def __init__(self) -> None:
        super().__init__()
        self.ln, self.q, self.k = nn.LayerNorm(32), nn.Linear(32, 32), nn.Linear(32, 32)
        self.ffn, self.out = nn.Linear(32, 64), nn.Linear(64, 16)
        with torch.no_grad():
            self.ln.weight[OUTLIER] = 40.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln(x)
        return self.out(torch.relu(self.ffn(h + self.q(h) * self.k(h) / 8)))


@pytest.fixture(scope="module")
def block(tmp_path_factory):
    torch.manual_seed(0)
    model = Block().eval()
    path = tmp_path_factory.mktemp("smooth") / "block.onnx"
    torch.onnx.export(model, (torch.randn(2, 8, 32),), str(path), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, opset_version=17, dynamo=False)
    x = np.random.default_rng(0).standard_normal((48, 8, 32)).astype(np.float32)
    return model, path, x


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_smoothing_keeps_float_outputs_and_uses_the_papers_scales(block, tmp_path):
    model, path, x = block
    absmax, _ = activation_stats(path, {"x": x})
    groups = weighted_matmuls(onnx.load(str(path)))
    shared = next(name for name, nodes in groups.items() if len(nodes) == 2)  # LayerNorm output read by q and k
    with torch.no_grad():
        h = model.ln(torch.from_numpy(x))
    want_absmax = h.abs().amax((0, 1)).numpy()
    np.testing.assert_allclose(absmax[shared], want_absmax, rtol=1e-5)
    assert absmax[shared].argmax() == OUTLIER

    smooth(path, tmp_path / "s.onnx", absmax, 0.5)
    np.testing.assert_allclose(run_outputs(tmp_path / "s.onnx", {"x": x})["y"], run_outputs(path, {"x": x})["y"],
                               rtol=1e-4, atol=1e-4)
    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(tmp_path / "s.onnx")).graph.initializer}
    wmax = torch.maximum(model.q.weight.abs().amax(0), model.k.weight.abs().amax(0)).detach().numpy()
    np.testing.assert_allclose(1 / inits[f"{shared}_smooth_inv"], want_absmax ** 0.5 / wmax ** 0.5, rtol=1e-4)


def test_smoothing_cuts_the_dynamic_int8_error_of_an_outlier_channel(block, tmp_path):
    _, path, x = block
    cfg = PTQConfig(op_types=["MatMul"], reduce_range=True)
    ref = run_outputs(path, {"x": x})["y"]
    plain = run_outputs(quantize_dynamic_int8(path, tmp_path / "plain.int8.onnx", cfg), {"x": x})["y"]
    absmax, _ = activation_stats(path, {"x": x})
    smooth(path, tmp_path / "s.onnx", absmax, 0.5)
    smoothed = run_outputs(quantize_dynamic_int8(tmp_path / "s.onnx", tmp_path / "s.int8.onnx", cfg), {"x": x})["y"]
    assert _rel(smoothed, ref) < 0.7 * _rel(plain, ref)  # measured: about half


def _two_matmuls(path, rng):
    """y1 = a @ W1 (a has an outlier channel), y2 = b @ W2 (no outlier); both outputs kept."""
    w1, w2 = (rng.standard_normal((32, 24)).astype(np.float32) for _ in range(2))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "W1"], ["y1"], name="mm_outlier"),
         helper.make_node("MatMul", ["b", "W2"], ["y2"], name="mm_clean")], "two",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["n", 32]) for n in ("a", "b")],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["n", 24]) for n in ("y1", "y2")],
        [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(w2, "W2")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_local_errors_rank_the_outlier_matmul_first_and_match_onnx_runtime(tmp_path):
    rng = np.random.default_rng(1)
    _two_matmuls(tmp_path / "two.onnx", rng)
    feed = {"a": rng.standard_normal((64, 32)).astype(np.float32), "b": rng.standard_normal((64, 32)).astype(np.float32)}
    feed["a"][:, 5] *= 60.0
    _, samples = activation_stats(tmp_path / "two.onnx", feed, keep_rows=64)
    errors = local_errors(tmp_path / "two.onnx", samples, reduce_range=True, per_channel=True)
    assert list(errors) == ["mm_outlier", "mm_clean"] and errors["mm_outlier"] > 1.5 * errors["mm_clean"]
    q = quantize_dynamic_int8(tmp_path / "two.onnx", tmp_path / "two.int8.onnx", PTQConfig(op_types=["MatMul"], reduce_range=True))
    ref, got = run_outputs(tmp_path / "two.onnx", feed), run_outputs(q, feed)
    for node, out in (("mm_outlier", "y1"), ("mm_clean", "y2")):  # the simulation is ORT's arithmetic
        assert errors[node] == pytest.approx(_rel(got[out], ref[out]), rel=0.15)
    absmax, _ = activation_stats(tmp_path / "two.onnx", feed)
    assert worth_smoothing(tmp_path / "two.onnx", absmax, samples, [0.5], True, True) == {0.5: {"a"}}  # b: no Mul


def test_dynamic_to_int8_smooths_with_the_strength_that_has_the_lowest_selection_loss(block, tmp_path):
    _, path, x = block
    roles = Roles(verification=Part({"x": x[:16]}, None, "held out"), selection=Part({"x": x[16:]}, None, "selection"))
    cfg = PTQConfig(op_types=["MatMul", "Gemm"], reduce_range=True)
    _, report = to_int8(path, tmp_path / "m.int8.onnx", roles, cfg, None, tmp_path, classifier=False,
                        min_cosine=0.9, dynamic=True, smooth_alphas=(0.5, 0.8))
    sq = report["smoothing"]
    assert [t["alpha"] for t in sq["tried"]] == [None, 0.5, 0.8]
    assert sq["alpha"] == min(sq["tried"], key=lambda t: t["loss"])["alpha"] and sq["alpha"] is not None
    assert sq["statistics"]["data"] == "selection" and report["mode"] == "dynamic"
    ops = {n.op_type for n in onnx.load(str(tmp_path / "m.int8.onnx")).graph.node}
    assert "DynamicQuantizeLinear" in ops and "Mul" in ops
    got, ref = run_outputs(tmp_path / "m.int8.onnx", {"x": x[:16]})["y"], run_outputs(path, {"x": x[:16]})["y"]
    got, ref = got.reshape(16, -1).astype(np.float64), ref.reshape(16, -1).astype(np.float64)  # per-sample cosine
    cos = (got * ref).sum(-1) / np.linalg.norm(got, axis=-1) / np.linalg.norm(ref, axis=-1)
    assert report["min_cosine_vs_fp32"] == pytest.approx(float(cos.min()), abs=1e-6)


def test_padded_token_positions_do_not_count_in_the_int8_loss():
    rng = np.random.default_rng(2)
    ref = {"token_embeddings": rng.standard_normal((4, 6, 8)), "sentence_embedding": rng.standard_normal((4, 8))}
    mask = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0]])
    got = {k: v.copy() for k, v in ref.items()}
    got["token_embeddings"][mask == 0] = 5 * rng.standard_normal(((mask == 0).sum(), 8))  # padding: anything
    assert _min_cosine(ref, got) < 0.9
    assert _min_cosine(ref, got, mask) == pytest.approx(1.0, abs=1e-12)
    tol = Tolerance(max_abs=None, min_cosine=0.99)
    assert verify_outputs(ref, got, tol, "m", False, mask)["outputs"]["token_embeddings"]["padding_ignored"]
    with pytest.raises(VerificationError):
        verify_outputs(ref, got, tol, "m", False)
    got["token_embeddings"][1, 0] *= -1  # a real token changed still counts
    assert _min_cosine(ref, got, mask) < 0.9
