"""Feature matching: cosine or MSE between a student feature (adapted when shapes differ) and the teacher's."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from edgekd.distill.losses.adapters import Adapter, as_list, check_pairs
from edgekd.distill.losses.base import LOSSES, DistillLoss, LossInputs, flat
from edgekd.errors import EdgekdError


@LOSSES.register("feature")
class FeatureLoss(DistillLoss):
    """``kind`` "cosine" (1 - cosine similarity of flattened features) or "mse", averaged over the pairs."""

    def __init__(self, student: str | list[str], teacher: str | list[str], kind: Literal["cosine", "mse"] = "cosine") -> None:
        super().__init__()
        if kind not in ("cosine", "mse"):
            raise EdgekdError(f"loss 'feature': kind must be 'cosine' or 'mse', got {kind!r}")
        self.student, self.teacher, self.kind = as_list(student), as_list(teacher), kind
        check_pairs(self.student, self.teacher, "feature")
        self.adapters = nn.ModuleList()

    def taps(self) -> tuple[list[str], list[str]]:
        return self.student, self.teacher

    def setup(self, s_feats: dict[str, torch.Tensor], t_feats: dict[str, torch.Tensor]) -> None:
        for s, t in zip(self.student, self.teacher):
            same = s_feats[s].shape == t_feats[t].shape
            self.adapters.append(nn.Identity() if same else Adapter(tuple(s_feats[s].shape), tuple(t_feats[t].shape)))

    def forward(self, batch: LossInputs) -> torch.Tensor:
        parts = []
        for a, s, t in zip(self.adapters, self.student, self.teacher):
            fs, ft = a(batch.s_feats[s]), batch.t_feats[t].to(batch.s_feats[s].dtype)
            if self.kind == "mse":
                parts.append(F.mse_loss(fs, ft))
            else:
                parts.append(1.0 - F.cosine_similarity(flat(fs), flat(ft), dim=1).mean())
        return torch.stack(parts).mean()
