"""SynFlow (Tanaka et al., NeurIPS 2020), as a zero-cost proxy (Abdelfattah et al., ICLR 2021): data-free
synaptic saliency sum |theta * dR/dtheta| with R the sum of the output for an all-ones input through |theta|."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from edgekd.search.proxies.base import PROXIES, ProxyBatch


@PROXIES.register("synflow")
def synflow(student: nn.Module, batch: ProxyBatch) -> float:
    """log of the total saliency (the raw value overflows float32 for deep nets); BatchNorm in eval mode."""
    net = copy.deepcopy(student).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    x = torch.ones_like(batch.x[:1])  # images: all ones; token ids: token 1 everywhere
    out = net(x.double() if x.is_floating_point() else x)
    out.sum().backward()
    total = sum(float((p.detach() * p.grad).abs().sum()) for p in net.parameters() if p.grad is not None)
    return math.log(total) if total > 0 else float("-inf")
