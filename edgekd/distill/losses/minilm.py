"""MiniLM-v2-style self-attention relation distillation (Wang et al. 2021) for transformer encoders."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from edgekd.distill.losses.adapters import as_list, check_pairs
from edgekd.distill.losses.base import LOSSES, DistillLoss, LossInputs
from edgekd.errors import EdgekdError


def relation(x: torch.Tensor, heads: int, mask: torch.Tensor | None) -> torch.Tensor:
    """(N, L, D) -> log of softmax(x_h x_h^T / sqrt(d)) per relation head: (N, heads, L, L).

    ``mask`` (N, L) bool, False at padding: padding keys get (numerically) zero probability.
    """
    n, length, d = x.shape
    if d % heads:
        raise EdgekdError(f"minilm: hidden size {d} is not divisible by relation heads {heads}; choose heads that divide it")
    h = x.float().reshape(n, length, heads, d // heads).transpose(1, 2)
    scores = h @ h.transpose(2, 3) / (d // heads) ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask[:, None, None, :], -1e9)
    return F.log_softmax(scores, dim=-1)


def relation_kl(rs: torch.Tensor, rt: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """KL(teacher row || student row) of log relations (N, heads, L, L), summed over real keys and averaged over
    samples, heads and real query positions."""
    kl = rt.exp() * (rt - rs)
    if mask is None:
        return kl.sum(-1).mean()
    keys = mask[:, None, None, :].expand_as(kl)
    rows = mask[:, None, :].expand(kl.shape[:3])
    return kl.masked_fill(~keys, 0.0).sum(-1)[rows].mean()


@LOSSES.register("minilm")
class MiniLM(DistillLoss):
    """Sum over the ``student``/``teacher`` pairs of the KL between teacher and student relations of tapped
    (N, L, D) outputs, e.g. the query, key and value projections of one attention layer (the paper's Q-Q, K-K and
    V-V relations, weight 1 each); widths and head counts may differ (relations are L x L). Padding positions
    (token id 0) are left out of the relations as keys and as queries.
    """

    def __init__(self, student: str | list[str], teacher: str | list[str], heads: int = 4) -> None:
        super().__init__()
        if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
            raise EdgekdError(f"loss 'minilm': heads must be an integer >= 1, got {heads!r}")
        self.student, self.teacher, self.heads = as_list(student), as_list(teacher), heads
        check_pairs(self.student, self.teacher, "minilm")

    def taps(self) -> tuple[list[str], list[str]]:
        return self.student, self.teacher

    def forward(self, batch: LossInputs) -> torch.Tensor:
        mask = batch.attention_mask
        parts = []
        for s, t in zip(self.student, self.teacher):
            rs, rt = relation(batch.s_feats[s], self.heads, mask), relation(batch.t_feats[t], self.heads, mask)
            parts.append(relation_kl(rs, rt, mask))
        return torch.stack(parts).sum()
