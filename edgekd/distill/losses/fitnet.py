"""FitNets hints (Romero et al. 2015): a learned adapter regresses the student's feature onto the teacher's."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edgekd.distill.losses.adapters import Adapter, as_list, check_pairs
from edgekd.distill.losses.base import LOSSES, DistillLoss, LossInputs


@LOSSES.register("fitnet")
class FitNet(DistillLoss):
    """MSE between adapter(student feature) and teacher feature, averaged over the ``student``/``teacher`` pairs."""

    def __init__(self, student: str | list[str], teacher: str | list[str]) -> None:
        super().__init__()
        self.student, self.teacher = as_list(student), as_list(teacher)
        check_pairs(self.student, self.teacher, "fitnet")
        self.adapters = nn.ModuleList()

    def taps(self) -> tuple[list[str], list[str]]:
        return self.student, self.teacher

    def setup(self, s_feats: dict[str, torch.Tensor], t_feats: dict[str, torch.Tensor]) -> None:
        pairs = zip(self.student, self.teacher)
        self.adapters.extend(Adapter(tuple(s_feats[s].shape), tuple(t_feats[t].shape)) for s, t in pairs)

    def forward(self, batch: LossInputs) -> torch.Tensor:
        parts = [F.mse_loss(a(batch.s_feats[s]), batch.t_feats[t].to(batch.s_feats[s].dtype))
                 for a, s, t in zip(self.adapters, self.student, self.teacher)]
        return torch.stack(parts).mean()
