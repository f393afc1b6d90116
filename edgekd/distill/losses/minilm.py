"""MiniLM-v2-style self-attention relation distillation (Wang et al. 2021) for transformer encoders."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from edgekd.distill.losses.adapters import as_list, check_pairs
from edgekd.distill.losses.base import LOSSES, DistillLoss, LossInputs
from edgekd.errors import EdgekdError


def relation(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(N, L, D) -> log of softmax(x_h x_h^T / sqrt(d)) per relation head: (N, heads, L, L)."""
    n, length, d = x.shape
    if d % heads:
        raise EdgekdError(f"minilm: hidden size {d} is not divisible by relation heads {heads}; choose heads that divide it")
    h = x.float().reshape(n, length, heads, d // heads).transpose(1, 2)
    return F.log_softmax(h @ h.transpose(2, 3) / (d // heads) ** 0.5, dim=-1)


@LOSSES.register("minilm")
class MiniLM(DistillLoss):
    """KL between teacher and student relations of tapped (N, L, D) outputs, e.g. the query, key and value
    projections of one attention layer each; widths and head counts may differ (relations are L x L).
    Padding positions are included in the relations.
    """

    def __init__(self, student: str | list[str], teacher: str | list[str], heads: int = 4) -> None:
        super().__init__()
        self.student, self.teacher, self.heads = as_list(student), as_list(teacher), heads
        check_pairs(self.student, self.teacher, "minilm")

    def taps(self) -> tuple[list[str], list[str]]:
        return self.student, self.teacher

    def forward(self, batch: LossInputs) -> torch.Tensor:
        parts = []
        for s, t in zip(self.student, self.teacher):
            rs, rt = relation(batch.s_feats[s], self.heads), relation(batch.t_feats[t], self.heads)
            parts.append(F.kl_div(rs.flatten(0, 2), rt.flatten(0, 2), reduction="batchmean", log_target=True))
        return torch.stack(parts).mean()
