"""DIST (Huang et al. 2022): match inter-class and intra-class Pearson correlations of softened predictions."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from edgekd.distill.losses.base import LOSSES, DistillLoss, LossInputs, check_options, check_positive


def pearson_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """1 - Pearson correlation between matching rows of a and b (N, C), averaged over rows."""
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    return 1.0 - F.cosine_similarity(a, b, dim=1, eps=1e-8).mean()


@LOSSES.register("dist")
class DIST(DistillLoss):
    """``beta`` * inter-class (per sample) + ``gamma`` * intra-class (per class) relation loss, times T^2."""

    def __init__(self, beta: float = 1.0, gamma: float = 1.0, temperature: float = 1.0) -> None:
        super().__init__()
        check_options("dist", beta=beta, gamma=gamma)
        check_positive("dist", temperature=temperature)
        self.beta, self.gamma, self.temperature = beta, gamma, temperature

    def forward(self, batch: LossInputs) -> torch.Tensor:
        p_s = F.softmax(batch.student / self.temperature, 1)
        p_t = F.softmax(batch.teacher / self.temperature, 1)
        inter = pearson_distance(p_s, p_t)
        intra = pearson_distance(p_s.T, p_t.T)
        return self.temperature**2 * (self.beta * inter + self.gamma * intra)
