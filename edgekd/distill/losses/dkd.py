"""Decoupled KD (Zhao et al. 2022): target-class KD (TCKD) and non-target-class KD (NCKD) weighted apart."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from edgekd.distill.losses.base import LOSSES, DistillLoss, LossInputs, check_options, check_positive


@LOSSES.register("dkd")
class DKD(DistillLoss):
    """``alpha`` * TCKD + ``beta`` * NCKD at ``temperature``; the target is the label, else the teacher's argmax.

    As in the authors' code, the loss is scaled by ``min((epoch + 1) / warmup, 1)``: a linear warm-up over the first
    ``warmup`` epochs (the authors' default, 20, used for CIFAR-100; their ImageNet runs use 1; 0 turns it off).
    The training loop sets the epoch through ``set_epoch``.
    """

    def __init__(self, alpha: float = 1.0, beta: float = 8.0, temperature: float = 4.0, warmup: float = 20.0) -> None:
        super().__init__()
        check_options("dkd", alpha=alpha, beta=beta, warmup=warmup)
        check_positive("dkd", temperature=temperature)
        self.alpha, self.beta, self.temperature, self.warmup = alpha, beta, temperature, warmup
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def ramp(self) -> float:
        """The warm-up factor of the current epoch, in (0, 1]."""
        return min((self.epoch + 1) / self.warmup, 1.0) if self.warmup else 1.0

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
        return self.ramp * (self.alpha * tckd + self.beta * nckd)
