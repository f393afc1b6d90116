"""grad-norm (Abdelfattah et al., ICLR 2021): the sum over parameter tensors of the L2 norm of the gradient of the
mini-batch cross-entropy at initialisation."""

from __future__ import annotations

from torch import nn

from edgekd.search.proxies.base import PROXIES, ProxyBatch


@PROXIES.register("grad_norm")
def grad_norm(student: nn.Module, batch: ProxyBatch) -> float:
    student.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(student(batch.x), batch.y).backward()
    total = sum(float(p.grad.norm()) for p in student.parameters() if p.grad is not None)
    student.zero_grad(set_to_none=True)
    return total
