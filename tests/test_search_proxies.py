"""Proxies and search spaces against values computed independently (numpy, closed forms)."""

import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from edgekd.models import build_model
from edgekd.search.proxies import PROXIES, ProxyBatch
from edgekd.search.proxies.diswot import diswot_terms, gram_distance
from edgekd.search.spaces import SPACES, arch_key


def test_gram_distance_closed_form():
    # a a^T = I; b b^T = all twos -> rows (1/sqrt2, 1/sqrt2): (2 * (2 - sqrt2)) / 2^2 = 1 - sqrt2 / 2
    a = torch.eye(2)
    b = torch.ones(2, 2)
    assert gram_distance(a, b) == pytest.approx(1 - math.sqrt(2) / 2, abs=1e-12)
    assert gram_distance(a, a) == 0.0


def _np_gram(m):
    g = m @ m.T
    return g / np.linalg.norm(g, axis=1, keepdims=True)


def test_diswot_reference_value_on_fixed_tensors():
    """Both DisWOT terms against a numpy re-derivation: for a linear head the cross-entropy gradient is
    (softmax(z) - onehot(y))^T f / N, and the head's input f is the relation term's feature."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 1, 2, 2, generator=g)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    teacher = nn.Sequential(nn.Flatten(), nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    student = nn.Sequential(nn.Flatten(), nn.Linear(4, 2), nn.Tanh(), nn.Linear(2, 3))
    for m in (teacher, student):
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(torch.randn(p.shape, generator=g))
    batch = ProxyBatch(x, y, 3, teacher)
    semantic, relation = diswot_terms(student, batch)

    def head_np(model):
        xs = x.flatten(1).numpy().astype(np.float64)
        w1, b1, w2, b2 = (p.detach().numpy().astype(np.float64) for p in model.parameters())
        h = xs @ w1.T + b1
        f = np.maximum(h, 0) if isinstance(model[2], nn.ReLU) else np.tanh(h)
        z = f @ w2.T + b2
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        onehot = np.eye(3)[y.numpy()]
        return f, (p - onehot).T @ f / len(xs)

    ft, at = head_np(teacher)
    fs, as_ = head_np(student)
    want_sem = ((_np_gram(at) - _np_gram(as_)) ** 2).sum() / 3**2
    want_rel = ((_np_gram(ft) - _np_gram(fs)) ** 2).sum() / 6**2
    assert semantic == pytest.approx(want_sem, rel=1e-5)
    assert relation == pytest.approx(want_rel, rel=1e-5)
    assert PROXIES.get("diswot")(student, batch) == pytest.approx(-(want_sem + want_rel), rel=1e-5)
    assert PROXIES.get("diswot")(teacher, ProxyBatch(x, y, 3, teacher)) == pytest.approx(0.0, abs=1e-12)


def test_naswot_reference_value():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, 3, generator=g)
    net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        h1 = torch.relu(net[0](x))
        h2 = torch.relu(net[2](h1))
    k = np.zeros((5, 5))
    for h in (h1.numpy(), h2.numpy()):
        c = (h > 0).astype(np.float64)
        k += c @ c.T + (1 - c) @ (1 - c).T
    want = np.linalg.slogdet(k)[1]
    assert PROXIES.get("naswot")(net, ProxyBatch(x, torch.zeros(5, dtype=torch.long), 2)) == pytest.approx(want, rel=1e-9)


def test_size_proxies_count_what_they_say():
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    batch = ProxyBatch(torch.randn(2, 1, 2, 2), torch.tensor([0, 1]), 3)
    assert PROXIES.get("params")(net, batch) == 15
    assert PROXIES.get("flops")(net, batch) == 2 * 4 * 3  # one sample, multiply-add = 2
    assert PROXIES.get("random")(net, batch) == PROXIES.get("random")(nn.Sequential(nn.Flatten(), nn.Linear(4, 3)), batch)
    assert PROXIES.get("synflow")(net, batch) == pytest.approx(math.log(_synflow_linear(net)), rel=1e-6)
    assert PROXIES.get("grad_norm")(net, batch) > 0


def _synflow_linear(net):
    # R = sum_j (|W| 1 + |b|)_j, so dR/dW = 1 and dR/db = 1: saliency = sum |W| + sum |b|
    return float(net[1].weight.abs().sum() + net[1].bias.abs().sum())


@pytest.mark.parametrize("name", ["cnn", "mobile", "transformer"])
def test_every_space_serialises_to_a_buildable_arch(name):
    space = SPACES.get(name)
    rng = random.Random(0)
    extra = {"vocab_size": 30, "max_len": 12, "num_classes": 2} if space.modality == "tokens" else {"in_channels": 1, "num_classes": 10}
    x = torch.ones(2, 12, dtype=torch.long) if space.modality == "tokens" else torch.randn(2, 1, 16, 16)
    keys = set()
    for _ in range(5):
        arch = {**extra, **space.arch(space.sample(rng))}
        assert arch["name"] == space.family
        keys.add(arch_key(arch))
        assert build_model(arch).eval()(x).shape == (2, extra["num_classes"])
    assert len(keys) > 1
    with pytest.raises(Exception, match="has no parameter"):
        space.with_choices({"nope": [1]})
