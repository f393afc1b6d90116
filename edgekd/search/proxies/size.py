"""Baselines: parameter count, FLOPs (torch's own counter, one sample) and a seeded random score."""

from __future__ import annotations

import hashlib

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from edgekd.search.proxies.base import PROXIES, ProxyBatch


@PROXIES.register("params")
def params(student: nn.Module, batch: ProxyBatch) -> float:
    """Number of parameters: a bigger student under the same latency is expected to learn more."""
    return float(sum(p.numel() for p in student.parameters()))


def count_flops(model: nn.Module, x: torch.Tensor) -> int:
    """FLOPs of one forward pass on ``x`` (torch.utils.flop_counter; a multiply-add counts 2)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return int(counter.get_total_flops())


@PROXIES.register("flops")
def flops(student: nn.Module, batch: ProxyBatch) -> float:
    """FLOPs for one sample."""
    return float(count_flops(student.eval(), batch.x[:1]))


@PROXIES.register("random")
def random(student: nn.Module, batch: ProxyBatch) -> float:
    """A score in [0, 1) fixed by the student's architecture (its module tree and parameter shapes): the
    random-choice baseline, reproducible across runs and workers."""
    text = repr(student) + repr([tuple(p.shape) for p in student.parameters()])
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) / 16**12
