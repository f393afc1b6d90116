"""Each registered loss: built from recipe-style kwargs, finite, differentiable, equal to its paper's formula
(written independently here in numpy) on fixed tensors, and zero where theory says so."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgekd.distill.loop import DistillModule, TrainConfig, fit
from edgekd.distill.losses import LOSSES, Criterion, DistillLoss, LossInputs, build_criterion
from edgekd.distill.taps import Taps
from edgekd.errors import EdgekdError
from edgekd.models import build_model, init_from_teacher, scaled_arch

torch.set_num_threads(1)


def cnn(widths: list[int]) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model({"name": "resnet", "widths": widths, "blocks": [1, 1, 1], "in_channels": 1, "num_classes": 10})


def bert(hidden: int, layers: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model({"name": "bert", "vocab_size": 50, "hidden": hidden, "layers": layers, "heads": 4, "max_len": 12,
                        "num_classes": 3})


def run(spec: dict, student: torch.nn.Module, teacher: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple:
    crit = build_criterion(spec)
    s_paths, t_paths = crit.taps()
    s_taps, t_taps = Taps(student, s_paths), Taps(teacher, t_paths)
    with torch.no_grad():
        t_logits = teacher.eval()(x)
    t_feats = t_taps.take()
    s_logits = student.train()(x)
    crit.setup(s_taps.take(), t_feats)
    s_logits = student(x)
    total, parts = crit(LossInputs(s_logits, y, t_logits, s_taps.take(), t_feats))
    total.backward()
    return crit, total, parts


CNN_SPECS = {
    "kd": {"ce": 1.0, "kd": {"weight": 0.9, "temperature": 4}},
    "dkd": {"ce": 1.0, "dkd": {"alpha": 1.0, "beta": 8.0, "temperature": 4}},
    "dist": {"ce": 1.0, "dist": {"beta": 2.0, "gamma": 2.0}},
    "rkd": {"kd": 1.0, "rkd": {"weight": 1.0, "student": "pool", "teacher": "pool"}},
    "fitnet": {"fitnet": {"weight": 1.0, "student": ["layers.1", "layers.2"], "teacher": ["layers.1", "layers.2"]}},
    "at": {"at": {"student": "layers.0", "teacher": "layers.2"}},
    "feature_cos": {"feature": {"student": "pool", "teacher": "pool", "kind": "cosine"}},
    "feature_mse": {"feature": {"student": "layers.2", "teacher": "layers.2", "kind": "mse"}},
}


@pytest.mark.parametrize("name", sorted(CNN_SPECS))
def test_cnn_losses_are_finite_and_train_the_student(name: str) -> None:
    student, teacher = cnn([4, 8, 8]), cnn([8, 16, 32])
    x, y = torch.randn(6, 1, 8, 8), torch.tensor([0, 1, 2, -1, 4, 5])
    crit, total, parts = run(CNN_SPECS[name], student, teacher, x, y)
    assert torch.isfinite(total) and set(parts) == set(CNN_SPECS[name])
    grads = [p.grad for p in student.parameters() if p.grad is not None]
    assert student.stem[0].weight.grad is not None and all(torch.isfinite(g).all() for g in grads)
    for p in crit.parameters():  # adapters learn too
        assert p.grad is not None


def test_adapters_take_the_teacher_shape() -> None:
    crit, _, _ = run(CNN_SPECS["fitnet"], cnn([4, 8, 8]), cnn([8, 16, 32]), torch.randn(4, 1, 8, 8), torch.arange(4))
    weights = {k: tuple(v.shape) for k, v in crit.state_dict().items() if k.endswith("proj.0.weight")}
    assert weights == {"losses.fitnet.adapters.0.proj.0.weight": (16, 8, 1, 1),
                       "losses.fitnet.adapters.1.proj.0.weight": (32, 8, 1, 1)}


@pytest.mark.parametrize("name", ["kd", "dkd", "dist"])
def test_logit_losses_vanish_when_student_equals_teacher(name: str) -> None:
    logits = torch.randn(8, 10)
    crit = build_criterion({name: 1.0})
    total, _ = crit(LossInputs(logits, torch.arange(8), logits.clone()))
    assert float(total) == pytest.approx(0.0, abs=1e-5)


def test_rkd_is_invariant_to_embedding_scale() -> None:
    e = torch.randn(8, 16)
    crit = build_criterion({"rkd": {"student": "a", "teacher": "b"}})
    total, _ = crit(LossInputs(torch.randn(8, 10), torch.arange(8), torch.randn(8, 10), {"a": 3 * e}, {"b": e}))
    assert float(total) == pytest.approx(0.0, abs=1e-5)


def test_minilm_relations_between_encoders_of_different_width() -> None:
    teacher, student = bert(32, 4), bert(16, 2)
    ids = torch.randint(1, 50, (5, 12))
    spec = {"ce": 1.0, "minilm": {"weight": 1.0, "heads": 4,
                                   "student": ["layers.1.attn.q", "layers.1.attn.k", "layers.1.attn.v"],
                                   "teacher": ["layers.3.attn.q", "layers.3.attn.k", "layers.3.attn.v"]}}
    _, total, parts = run(spec, student, teacher, ids, torch.tensor([0, 1, 2, 0, 1]))
    assert torch.isfinite(total) and float(parts["minilm"]) > 0


def test_student_init_takes_every_other_teacher_layer() -> None:
    teacher = bert(32, 4)
    student = build_model({**scaled_arch({"name": "bert", "vocab_size": 50, "hidden": 32, "layers": 4, "heads": 4,
                                          "max_len": 12, "num_classes": 3}, width=1.0, depth=0.5)})
    copied = init_from_teacher(student, teacher)
    assert "layers.1.attn.q.weight" in copied and "tok.weight" in copied
    assert torch.equal(student.layers[1].attn.q.weight, teacher.layers[2].attn.q.weight)
    assert len(copied) == len(student.state_dict())


def test_spec_errors_are_one_line() -> None:
    with pytest.raises(EdgekdError, match="unknown loss 'kdd'; known: at, ce, dist, dkd, feature, fitnet, kd, minilm, rkd"):
        build_criterion({"kdd": 1.0})
    with pytest.raises(EdgekdError, match="loss 'kd'.*temprature"):
        build_criterion({"kd": {"temprature": 4}})
    with pytest.raises(EdgekdError, match="weight must be a number"):
        build_criterion({"kd": {"weight": "high"}})
    assert {"at", "ce", "dist", "dkd", "feature", "fitnet", "kd", "minilm", "rkd"} <= set(LOSSES.names())


# ---- Reference values: each loss against its paper's formula, written here in numpy on fixed tensors. ----

def np_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p || q) over the last axis."""
    return np.sum(p * (np.log(p) - np.log(q)), -1)


def np_huber(a: np.ndarray, b: np.ndarray) -> float:
    d = np.abs(a - b)
    return float(np.mean(np.where(d < 1, 0.5 * d**2, d - 0.5)))


def fixed(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float64)


def loss_value(name: str, kwargs: dict, s: np.ndarray, t: np.ndarray, labels: list[int] | None = None,
               s_feats: dict | None = None, t_feats: dict | None = None, mask: np.ndarray | None = None,
               epoch: int | None = None) -> float:
    """The registered loss on float64 tensors built from numpy arrays."""
    loss = LOSSES.get(name)(**kwargs)
    if epoch is not None:
        loss.set_epoch(epoch)
    as_t = lambda d: {k: torch.from_numpy(v) for k, v in (d or {}).items()}  # noqa: E731
    batch = LossInputs(torch.from_numpy(s), torch.tensor(labels if labels is not None else [-1] * len(s)),
                       torch.from_numpy(t), as_t(s_feats), as_t(t_feats),
                       None if mask is None else torch.from_numpy(mask))
    with torch.no_grad():
        return float(loss(batch))


S, T = fixed(6, 5, seed=1) * 2, fixed(6, 5, seed=2) * 2
LABELS = [0, 3, 1, -1, 4, 2]


def test_kd_matches_hinton() -> None:
    temp = 3.0
    ref = temp**2 * np.mean(np_kl(np_softmax(T / temp), np_softmax(S / temp)))
    assert loss_value("kd", {"temperature": temp}, S, T) == pytest.approx(ref, rel=1e-6)
    assert ref > 0.05


def np_dkd(s: np.ndarray, t: np.ndarray, labels: list[int], alpha: float, beta: float, temp: float) -> float:
    ps, pt = np_softmax(s / temp), np_softmax(t / temp)
    tckd = nckd = 0.0
    for i, y in enumerate(labels):
        g = y if y >= 0 else int(t[i].argmax())
        bs, bt = np.array([ps[i, g], 1 - ps[i, g]]), np.array([pt[i, g], 1 - pt[i, g]])
        tckd += np_kl(bt, bs)
        rest = [c for c in range(s.shape[1]) if c != g]
        nckd += np_kl(np_softmax(t[i, rest] / temp), np_softmax(s[i, rest] / temp))
    return temp**2 * (alpha * tckd + beta * nckd) / len(labels)


@pytest.mark.parametrize("epoch,ramp", [(0, 1 / 20), (9, 10 / 20), (19, 1.0), (50, 1.0)])
def test_dkd_matches_the_paper_with_its_linear_warmup(epoch: int, ramp: float) -> None:
    ref = ramp * np_dkd(S, T, LABELS, 1.0, 8.0, 4.0)
    assert loss_value("dkd", {}, S, T, LABELS, epoch=epoch) == pytest.approx(ref, rel=1e-5)
    no_warmup = loss_value("dkd", {"alpha": 0.5, "beta": 2.0, "temperature": 2.0, "warmup": 0}, S, T, LABELS, epoch=0)
    assert no_warmup == pytest.approx(np_dkd(S, T, LABELS, 0.5, 2.0, 2.0), rel=1e-5)


def np_pearson_distance(a: np.ndarray, b: np.ndarray) -> float:
    return 1.0 - float(np.mean([np.corrcoef(x, y)[0, 1] for x, y in zip(a, b)]))


def test_dist_matches_huang() -> None:
    temp, beta, gamma = 2.0, 1.5, 3.0
    ps, pt = np_softmax(S / temp), np_softmax(T / temp)
    ref = temp**2 * (beta * np_pearson_distance(ps, pt) + gamma * np_pearson_distance(ps.T, pt.T))
    assert loss_value("dist", {"beta": beta, "gamma": gamma, "temperature": temp}, S, T) == pytest.approx(ref, rel=1e-5)


def np_rkd(s: np.ndarray, t: np.ndarray, w_d: float, w_a: float) -> float:
    n = len(s)

    def dist(e: np.ndarray) -> np.ndarray:
        d = np.array([[np.linalg.norm(e[i] - e[j]) for j in range(n)] for i in range(n)])
        return d / d[~np.eye(n, dtype=bool)].mean()

    def angles(e: np.ndarray) -> np.ndarray:
        def unit(v: np.ndarray) -> np.ndarray:
            norm = np.linalg.norm(v)
            return v / norm if norm > 0 else v
        return np.array([unit(e[i] - e[j]) @ unit(e[k] - e[j]) for i in range(n) for j in range(n) for k in range(n)])

    return w_d * np_huber(dist(s), dist(t)) + w_a * np_huber(angles(s), angles(t))


def test_rkd_matches_park_and_is_zero_for_the_same_embedding_scaled() -> None:
    es, et = fixed(5, 7, seed=3), fixed(5, 7, seed=4)
    got = loss_value("rkd", {"student": "a", "teacher": "b"}, S[:5], T[:5], s_feats={"a": es}, t_feats={"b": et})
    assert got == pytest.approx(np_rkd(es, et, 25.0, 50.0), rel=1e-5) and got > 0.1
    assert loss_value("rkd", {}, 3 * S, S) == pytest.approx(0.0, abs=1e-6)  # logits as embeddings, scale-invariant


def test_fitnet_matches_romero_with_its_regressor() -> None:
    xs, xt = fixed(4, 3, 5, 5, seed=5), fixed(4, 6, 5, 5, seed=6)
    loss = LOSSES.get("fitnet")(student="a", teacher="b").double()
    loss.setup({"a": torch.from_numpy(xs)}, {"b": torch.from_numpy(xt)})
    loss.double()
    w = loss.adapters[0].proj[0].weight.detach().numpy()[:, :, 0, 0]  # the 1x1 conv regressor r, (6, 3)
    y = np.einsum("oc,nchw->nohw", w, xs)
    y = (y - y.mean((0, 2, 3), keepdims=True)) / np.sqrt(y.var((0, 2, 3), keepdims=True) + 1e-5)  # batch norm (train)
    ref = np.mean((y - xt) ** 2)
    batch = LossInputs(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), None, {"a": torch.from_numpy(xs)},
                       {"b": torch.from_numpy(xt)})
    with torch.no_grad():
        assert float(loss(batch)) == pytest.approx(ref, rel=1e-6)
        assert float(loss(LossInputs(batch.student, batch.labels, None, batch.s_feats, {"b": torch.from_numpy(y)}))) \
            == pytest.approx(0.0, abs=1e-12)


def np_attention(x: np.ndarray) -> np.ndarray:
    q = (np.abs(x) ** 2).mean(1).reshape(len(x), -1)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def test_attention_transfer_has_the_papers_beta_by_default() -> None:
    feats_s = {"s1": fixed(3, 4, 6, 6, seed=7), "s2": fixed(3, 8, 3, 3, seed=8)}
    feats_t = {"t1": fixed(3, 16, 6, 6, seed=9), "t2": fixed(3, 32, 3, 3, seed=10)}
    ref = 1000 / 2 * sum(np.mean((np_attention(feats_s[s]) - np_attention(feats_t[t])) ** 2)
                         for s, t in (("s1", "t1"), ("s2", "t2")))
    kwargs = {"student": ["s1", "s2"], "teacher": ["t1", "t2"]}
    assert loss_value("at", kwargs, S[:3], T[:3], s_feats=feats_s, t_feats=feats_t) == pytest.approx(ref, rel=1e-6)
    scaled = {"s1": 5 * feats_t["t1"][:, :4], "s2": 0.5 * feats_t["t2"][:, :8]}  # same maps up to scale: zero loss
    same = {"t1": feats_t["t1"][:, :4], "t2": feats_t["t2"][:, :8]}
    assert loss_value("at", kwargs, S[:3], T[:3], s_feats=scaled, t_feats=same) == pytest.approx(0.0, abs=1e-12)


def np_minilm(pairs: list[tuple[np.ndarray, np.ndarray]], mask: np.ndarray, heads: int) -> float:
    total = 0.0
    for xs, xt in pairs:
        rows = []
        for n in range(len(mask)):
            real = np.flatnonzero(mask[n])
            for h in range(heads):
                def rel(x: np.ndarray) -> np.ndarray:
                    d = x.shape[-1] // heads
                    a = x[n, real, h * d:(h + 1) * d]
                    return np_softmax(a @ a.T / np.sqrt(d))
                rows.extend(np_kl(rel(xt), rel(xs)))
        total += float(np.mean(rows))
    return total


def test_minilm_matches_wang_and_leaves_padding_out() -> None:
    mask = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 0, 0]], dtype=bool)
    fs = {"q": fixed(3, 6, 8, seed=11), "k": fixed(3, 6, 8, seed=12)}
    ft = {"Q": fixed(3, 6, 16, seed=13), "K": fixed(3, 6, 16, seed=14)}
    kwargs = {"student": ["q", "k"], "teacher": ["Q", "K"], "heads": 2}
    got = loss_value("minilm", kwargs, S[:3], T[:3], s_feats=fs, t_feats=ft, mask=mask)
    assert got == pytest.approx(np_minilm([(fs["q"], ft["Q"]), (fs["k"], ft["K"])], mask, 2), rel=1e-6)
    noisy = {k: np.where(mask[:, :, None], v, 100 * fixed(*v.shape, seed=15)) for k, v in fs.items()}
    assert loss_value("minilm", kwargs, S[:3], T[:3], s_feats=noisy, t_feats=ft, mask=mask) == pytest.approx(got, rel=1e-9)
    same = {"q": ft["Q"], "k": ft["K"]}
    assert loss_value("minilm", {**kwargs, "heads": 4}, S[:3], T[:3], s_feats=same, t_feats=ft, mask=mask) \
        == pytest.approx(0.0, abs=1e-9)


def test_feature_losses_match_cosine_and_mse() -> None:
    xs, xt = fixed(4, 3, 2, 2, seed=16), fixed(4, 3, 2, 2, seed=17)
    a, b = xs.reshape(4, -1), xt.reshape(4, -1)
    cos = 1 - np.mean(np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))
    feats = ({"a": xs}, {"b": xt})
    loss = LOSSES.get("feature")(student="a", teacher="b", kind="cosine")
    mse = LOSSES.get("feature")(student="a", teacher="b", kind="mse")
    for m in (loss, mse):
        m.setup({"a": torch.from_numpy(xs)}, {"b": torch.from_numpy(xt)})
    batch = LossInputs(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), None, *({k: torch.from_numpy(v)} for d in feats
                                                                                     for k, v in d.items()))
    assert float(loss(batch)) == pytest.approx(cos, rel=1e-9) and float(mse(batch)) == pytest.approx(np.mean((xs - xt) ** 2))
    same = LossInputs(batch.student, batch.labels, None, {"a": 2 * batch.t_feats["b"]}, batch.t_feats)
    assert float(loss(same)) == pytest.approx(0.0, abs=1e-12)


def test_the_loop_tells_losses_the_epoch() -> None:
    class Recorder(DistillLoss):
        needs_teacher = False

        def __init__(self) -> None:
            super().__init__()
            self.epochs: list[int] = []

        def set_epoch(self, epoch: int) -> None:
            self.epochs.append(epoch)

        def forward(self, batch: LossInputs) -> torch.Tensor:
            return batch.student.sum() * 0.0

    rec = Recorder()
    x, y = torch.randn(16, 1, 8, 8), torch.arange(16) % 10
    fit(cnn([2, 2, 2]), Criterion({"ce": LOSSES.get("ce")(), "rec": rec}, {"ce": 1.0, "rec": 1.0}), x, y, x, y,
        TrainConfig(epochs=3, batch_size=8, shift_pixels=0))
    assert rec.epochs == [0, 1, 2]


def test_token_inputs_give_the_losses_an_attention_mask() -> None:
    teacher, student = bert(32, 2), bert(16, 1)
    ids = torch.randint(1, 50, (4, 12))
    ids[1, 5:], ids[2, 9:] = 0, 0
    spec = {"minilm": {"heads": 4, "student": ["layers.0.attn.q"], "teacher": ["layers.1.attn.q"]}}
    crit = build_criterion(spec)
    s_taps, t_taps = Taps(student, crit.taps()[0]), Taps(teacher, crit.taps()[1])
    with torch.no_grad():
        teacher.eval()(ids)
        t_feats = t_taps.take()
        module = DistillModule(student.eval(), crit, s_taps, None)
        through_loop = float(module(ids, torch.zeros(4, dtype=torch.long), None, t_feats)[0])
        student(ids)
        s_feats = s_taps.take()
        direct = float(crit(LossInputs(torch.zeros(4, 3), torch.zeros(4), None, s_feats, t_feats, ids != 0))[0])
        unmasked = float(crit(LossInputs(torch.zeros(4, 3), torch.zeros(4), None, s_feats, t_feats))[0])
    assert through_loop == pytest.approx(direct, rel=1e-6) and abs(direct - unmasked) > 1e-4


@pytest.mark.parametrize("spec,message", [
    ({"kd": -0.5}, "loss 'kd': weight must be a finite number >= 0"),
    ({"kd": {"temperature": 0}}, "loss 'kd': temperature must be a finite number > 0"),
    ({"dkd": {"beta": -1}}, "loss 'dkd': beta must be a finite number >= 0"),
    ({"dkd": {"warmup": -2}}, "loss 'dkd': warmup must be a finite number >= 0"),
    ({"kd": {"temperature": float("nan")}}, "loss 'kd': temperature must be a finite number > 0"),
    ({"dkd": {"alpha": float("inf")}}, "loss 'dkd': alpha must be a finite number >= 0"),
    ({"dist": {"temperature": -1}}, "loss 'dist': temperature must be a finite number > 0"),
    ({"rkd": {"angle": -1}}, "loss 'rkd': angle must be a finite number >= 0"),
    ({"at": {"student": "a", "teacher": "b", "beta": -1}}, "loss 'at': beta must be a finite number >= 0"),
    ({"minilm": {"student": "a", "teacher": "b", "heads": 0}}, "loss 'minilm': heads must be an integer >= 1"),
    ({"ce": {"label_smoothing": 1.0}}, "loss 'ce': label_smoothing must be in"),
    ({"feature": {"student": "a", "teacher": "b", "kind": "l1"}}, "loss 'feature': kind must be"),
])
def test_impossible_loss_options_are_one_line_errors(spec: dict, message: str) -> None:
    with pytest.raises(EdgekdError, match=message) as err:
        build_criterion(spec)
    assert "\n" not in str(err.value)
