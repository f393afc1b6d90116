"""NASWOT (Mellor et al., ICML 2021): log-determinant of the kernel of binary activation codes over a mini-batch.

Every ReLU-like unit gives each sample a 0/1 code; K[i, j] counts the units where samples i and j agree. Networks
that keep samples apart at initialisation (larger log|K|) train better.
"""

from __future__ import annotations

import torch
from torch import nn

from edgekd.search.proxies.base import PROXIES, ProxyBatch
from edgekd.search.hooks import hooked

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.GELU, nn.LeakyReLU, nn.SiLU)


@PROXIES.register("naswot")
@torch.no_grad()
def naswot(student: nn.Module, batch: ProxyBatch) -> float:
    """log|K| with K = sum over activations of c c^T + (1 - c)(1 - c)^T, c (N, units) the codes (input > 0)."""
    n = batch.x.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64)

    def hook(module: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal kernel
        c = (out.reshape(n, -1) > 0).double()
        kernel += c @ c.T + (1 - c) @ (1 - c).T

    with hooked([m for m in student.modules() if isinstance(m, ACTIVATIONS)], hook):
        student(batch.x)
    return float(torch.linalg.slogdet(kernel)[1])
