"""DisWOT (Dong et al., CVPR 2023): how well a randomly initialised student fits a trained teacher, without training.

Two terms, as the paper defines them, each a distance between row-normalised Gram matrices (lower = more alike):

- semantic: class activation maps. Grad-CAM weighs channels per class by the gradient of the loss with respect
  to the classifier; with A (C classes, D channels) that gradient, G = A A^T (C, C) compares classes, so teacher
  and student need not share D. Distance ||norm(G_t) - norm(G_s)||^2 / C^2.
- relation: sample relations of the penultimate features F (N, D): G = F F^T (N, N), as in similarity-preserving
  KD; distance ||norm(G_t) - norm(G_s)||^2 / N^2.

Score = -(semantic + relation), so higher is better. The reference implementation (lliai/DisWOT-CVPR2023,
``exps/parse_nb201_distill.py``) sums the two terms unweighted, as here; it takes the class-wise correlation over
channels (D x D per class), which needs teacher and student of equal width, so the class-by-class form the paper
writes is used instead.
"""

from __future__ import annotations

import torch
from torch import nn

from edgekd.search.proxies.base import PROXIES, ProxyBatch, head_input_and_grad


def gram_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """||normalize_rows(a a^T) - normalize_rows(b b^T)||_F^2 / rows^2 for a (R, Da), b (R, Db)."""
    ga = nn.functional.normalize(a.double() @ a.double().T, dim=1)
    gb = nn.functional.normalize(b.double() @ b.double().T, dim=1)
    return float(((ga - gb) ** 2).sum() / a.shape[0] ** 2)


def diswot_terms(student: nn.Module, batch: ProxyBatch) -> tuple[float, float]:
    """(semantic distance, relation distance) between ``batch.teacher`` and ``student``; both >= 0."""
    if batch.teacher is None:
        raise ValueError("the diswot proxy needs a teacher")
    if "diswot_teacher" not in batch.cache:
        batch.cache["diswot_teacher"] = head_input_and_grad(batch.teacher, batch)
    t_feat, t_grad = batch.cache["diswot_teacher"]
    s_feat, s_grad = head_input_and_grad(student, batch)
    return gram_distance(t_grad, s_grad), gram_distance(t_feat, s_feat)


@PROXIES.register("diswot")
def diswot(student: nn.Module, batch: ProxyBatch) -> float:
    """-(semantic + relation) distance to the teacher; higher is better."""
    semantic, relation = diswot_terms(student, batch)
    return -(semantic + relation)
