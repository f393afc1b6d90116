"""Each registered loss: built from recipe-style kwargs, finite, differentiable, zero where theory says so."""

from __future__ import annotations

import pytest
import torch

from edgekd.distill.losses import LOSSES, LossInputs, build_criterion
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
    assert LOSSES.names() == ["at", "ce", "dist", "dkd", "feature", "fitnet", "kd", "minilm", "rkd"]
