"""Losses between a sentence student's and its teacher's outputs on one batch, beyond the per-sentence cosine:
how the in-batch pairwise similarities agree (``similarity_loss``) and how the last layer's token states agree
(``token_loss``). Used by ``edgekd.distill.sentence``; inputs are torch tensors, outputs scalars."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def similarity_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
    """How far the student's in-batch cosine similarities are from the teacher's, for embeddings (N, D) and (N, D')
    (normalised here; N >= 2). With S = cosine matrices (N, N) and i != j only: ``temperature`` None gives
    mean_{i != j} (S_s[i, j] - S_t[i, j])^2; a temperature T gives mean_i KL(softmax_j(S_t[i] / T) ||
    softmax_j(S_s[i] / T)) over j != i. Scalar."""
    s, t = F.normalize(student.float(), dim=-1), F.normalize(teacher.float(), dim=-1)
    ss, st = s @ s.T, t @ t.T
    off = ~torch.eye(len(s), dtype=torch.bool, device=s.device)
    if temperature is None:
        return ((ss - st) ** 2)[off].mean()
    n = len(s)
    ls = F.log_softmax(ss[off].view(n, n - 1) / temperature, dim=-1)
    lt = F.log_softmax(st[off].view(n, n - 1) / temperature, dim=-1)
    return (lt.exp() * (lt - ls)).sum(-1).mean()


def token_loss(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Relative squared error of last-layer token states (N, L, D) over the real tokens (``mask`` (N, L) bool):
    sum ||h_s - h_t||^2 / sum ||h_t||^2 (0: equal; 1: as far as a zero student). Scalar."""
    t = teacher.float()
    return ((student - t) ** 2).sum(-1)[mask].sum() / (t * t).sum(-1)[mask].sum().clamp_min(1e-12)
