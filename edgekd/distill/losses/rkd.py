"""Relational KD (Park et al. 2019): match pairwise distances and triplet angles of embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from edgekd.distill.losses.base import LOSSES, DistillLoss, LossInputs, check_options, flat


def _distances(e: torch.Tensor) -> torch.Tensor:
    d = torch.cdist(e, e).clamp_min(1e-12)
    off = ~torch.eye(len(e), dtype=torch.bool, device=e.device)
    return d / d[off].mean().clamp_min(1e-12)


def _angles(e: torch.Tensor) -> torch.Tensor:
    diff = F.normalize(e[None, :, :] - e[:, None, :], p=2, dim=2)
    return torch.bmm(diff, diff.transpose(1, 2)).flatten()


@LOSSES.register("rkd")
class RKD(DistillLoss):
    """``distance`` * distance loss + ``angle`` * angle loss (Huber) on embeddings (N, D).

    ``student``/``teacher``: module paths to tap (None: use the logits).
    """

    def __init__(self, distance: float = 25.0, angle: float = 50.0, student: str | None = None,
                 teacher: str | None = None) -> None:
        super().__init__()
        check_options("rkd", distance=distance, angle=angle)
        self.distance, self.angle, self.student, self.teacher = distance, angle, student, teacher

    def taps(self) -> tuple[list[str], list[str]]:
        return [self.student] if self.student else [], [self.teacher] if self.teacher else []

    def forward(self, batch: LossInputs) -> torch.Tensor:
        s = flat(batch.s_feats[self.student] if self.student else batch.student).float()
        t = flat(batch.t_feats[self.teacher] if self.teacher else batch.teacher).float()
        loss = s.new_zeros(())
        if self.distance:
            loss = loss + self.distance * F.smooth_l1_loss(_distances(s), _distances(t))
        if self.angle:
            loss = loss + self.angle * F.smooth_l1_loss(_angles(s), _angles(t))
        return loss
