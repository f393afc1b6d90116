"""Attention transfer (Zagoruyko & Komodakis 2017): match normalised spatial attention maps of conv features."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from edgekd.distill.losses.adapters import as_list, check_pairs
from edgekd.distill.losses.base import LOSSES, DistillLoss, LossInputs, check_options, check_positive


def attention_map(x: torch.Tensor, p: float, size: tuple[int, int]) -> torch.Tensor:
    """(N, C, H, W) -> (N, h*w): mean over channels of |x|^p, resized to ``size``, L2-normalised."""
    a = x.float().abs().pow(p).mean(1, keepdim=True)
    if tuple(a.shape[2:]) != size:
        a = F.interpolate(a, size=size, mode="bilinear", align_corners=False)
    return F.normalize(a.flatten(1), dim=1)


@LOSSES.register("at")
class AttentionTransfer(DistillLoss):
    """``beta / 2`` times the sum over the ``student``/``teacher`` pairs of the mean (over samples and the h*w
    positions) squared difference of the L2-normalised attention maps, with exponent ``p``.

    This is the authors' implementation of the paper's eq. (2); their ``beta = 1000`` is the default, so a recipe
    weight of 1 gives the paper's strength. Maps of different spatial size are resized to the teacher's.
    """

    def __init__(self, student: str | list[str], teacher: str | list[str], p: float = 2.0, beta: float = 1000.0) -> None:
        super().__init__()
        check_positive("at", p=p)
        check_options("at", beta=beta)
        self.student, self.teacher, self.p, self.beta = as_list(student), as_list(teacher), p, beta
        check_pairs(self.student, self.teacher, "at")

    def taps(self) -> tuple[list[str], list[str]]:
        return self.student, self.teacher

    def forward(self, batch: LossInputs) -> torch.Tensor:
        parts = []
        for s, t in zip(self.student, self.teacher):
            ft = batch.t_feats[t]
            size = (ft.shape[2], ft.shape[3])
            parts.append((attention_map(batch.s_feats[s], self.p, size) - attention_map(ft, self.p, size)).pow(2).mean())
        return self.beta / 2 * torch.stack(parts).sum()
