"""Decoupled KD (Zhao et al. 2022): target-class KD (TCKD) and non-target-class KD (NCKD) weighted apart."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from edgekd.distill.losses.base import LOSSES, DistillLoss, LossInputs


@LOSSES.register("dkd")
class DKD(DistillLoss):
    """``alpha`` * TCKD + ``beta`` * NCKD at ``temperature``; the target is the label, else the teacher's argmax."""

    def __init__(self, alpha: float = 1.0, beta: float = 8.0, temperature: float = 4.0) -> None:
        super().__init__()
        self.alpha, self.beta, self.temperature = alpha, beta, temperature

    def forward(self, batch: LossInputs) -> torch.Tensor:
        s, t, temp = batch.student, batch.teacher, self.temperature
        target = torch.where(batch.labels >= 0, batch.labels, t.argmax(1))
        gt = F.one_hot(target, s.shape[1]).bool()
        p_s, p_t = F.softmax(s / temp, 1), F.softmax(t / temp, 1)
        b_s = torch.stack([(p_s * gt).sum(1), (p_s * ~gt).sum(1)], 1).clamp_min(1e-8)
        b_t = torch.stack([(p_t * gt).sum(1), (p_t * ~gt).sum(1)], 1).clamp_min(1e-8)
        tckd = F.kl_div(b_s.log(), b_t, reduction="batchmean") * temp**2
        mask = gt * 1000.0
        log_nt_s = F.log_softmax(s / temp - mask, 1)
        log_nt_t = F.log_softmax(t / temp - mask, 1)
        nckd = F.kl_div(log_nt_s, log_nt_t, reduction="batchmean", log_target=True) * temp**2
        return self.alpha * tckd + self.beta * nckd
