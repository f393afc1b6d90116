"""Hinton et al. 2015: KL between temperature-softened teacher and student distributions, times T^2."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from edgekd.distill.losses.base import LOSSES, DistillLoss, LossInputs, check_positive


def soft_kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher_T || student_T) * T^2, mean over the batch; logits (N, C)."""
    log_s = F.log_softmax(student / temperature, dim=1)
    log_t = F.log_softmax(teacher / temperature, dim=1)
    return F.kl_div(log_s, log_t, reduction="batchmean", log_target=True) * temperature**2


@LOSSES.register("kd")
class KD(DistillLoss):
    """Soft-target distillation on logits."""

    def __init__(self, temperature: float = 4.0) -> None:
        super().__init__()
        check_positive("kd", temperature=temperature)
        self.temperature = temperature

    def forward(self, batch: LossInputs) -> torch.Tensor:
        return soft_kl(batch.student, batch.teacher, self.temperature)
