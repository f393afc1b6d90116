"""The proxy registry and the mini-batch every proxy scores a freshly initialised student on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from edgekd.registry import Registry
from edgekd.search.hooks import hooked


@dataclass
class ProxyBatch:
    """One mini-batch of the user's data: ``x`` (N, C, H, W) float or (N, L) int64 ids, ``y`` (N,) int64 classes;
    the trained ``teacher`` (eval mode) for teacher-aware proxies; ``cache`` keeps teacher-side values between
    candidates."""

    x: torch.Tensor
    y: torch.Tensor
    num_classes: int
    teacher: nn.Module | None = None
    cache: dict[str, Any] = field(default_factory=dict)


# A proxy: (student at initialisation, batch) -> score, higher predicts a better student. Seconds on CPU.
Proxy = Callable[[nn.Module, ProxyBatch], float]

PROXIES: Registry[Proxy] = Registry("proxy")


def head(model: nn.Module, num_classes: int) -> nn.Linear:
    """The classifier: the last ``nn.Linear`` with ``num_classes`` outputs."""
    found = [m for m in model.modules() if isinstance(m, nn.Linear) and m.out_features == num_classes]
    if not found:
        raise ValueError(f"{type(model).__name__} has no nn.Linear with {num_classes} outputs to use as its classifier")
    return found[-1]


def head_input_and_grad(model: nn.Module, batch: ProxyBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier's input features (N, D) and the gradient of the batch's cross-entropy with respect to the
    classifier weight (num_classes, D): Grad-CAM's per-class channel weights."""
    fc = head(model, batch.num_classes)
    feats: list[torch.Tensor] = []
    with hooked([fc], lambda m, inp, out: feats.append(inp[0].detach())):
        model.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(batch.x), batch.y)
        grad = torch.autograd.grad(loss, fc.weight)[0]
    return feats[-1].flatten(1), grad.detach()
