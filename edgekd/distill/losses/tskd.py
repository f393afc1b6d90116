"""Token-Scaled Logit Distillation (Kim et al., NeurIPS 2023, for quantization-aware training of language models).

Per-token KD whose weights come from the teacher's own per-token cross-entropy: ``scale = softmax(CE_T / tau)``
over the tokens of a sequence, so tokens the teacher is unsure of weigh more and confident ones cannot dominate
(the paper's remedy for overfitting when quantized students learn from logits and labels together).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from edgekd.distill.losses.base import LOSSES, DistillLoss, LossInputs, check_positive


def token_scales(teacher: torch.Tensor, labels: torch.Tensor | None, mask: torch.Tensor, tau: float) -> torch.Tensor:
    """(N, L) weights summing to 1 over each row's unmasked tokens; teacher logits (N, L, C), mask (N, L) bool.

    The teacher's cross-entropy to ``labels`` (N, L) where >= 0, else its entropy, is the token's score.
    """
    log_t = F.log_softmax(teacher, -1)
    score = -(log_t.exp() * log_t).sum(-1)
    if labels is not None:
        known = labels >= 0
        ce = -log_t.gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)
        score = torch.where(known, ce, score)
    return torch.softmax((score / tau).masked_fill(~mask, float("-inf")), -1)


@LOSSES.register("tskd")
class TokenScaledKD(DistillLoss):
    """KL(teacher_T || student_T) * T^2 per token, weighted by ``token_scales`` at ``tau``.

    Logits (N, L, C) (a sequence model; padding from ``attention_mask`` is left out) or (N, C), where the batch
    is the sequence and each sample a token. Labels (N,) for (N, C), (N, L) for (N, L, C), -1 unlabelled.
    """

    def __init__(self, temperature: float = 1.0, tau: float = 1.0) -> None:
        super().__init__()
        check_positive("tskd", temperature=temperature, tau=tau)
        self.temperature, self.tau = temperature, tau

    def forward(self, batch: LossInputs) -> torch.Tensor:
        s, t, labels = batch.student, batch.teacher, batch.labels
        if s.dim() == 2:
            s, t, labels = s.unsqueeze(0), t.unsqueeze(0), labels.unsqueeze(0)
            mask = torch.ones(s.shape[:2], dtype=torch.bool, device=s.device)
        else:
            am = batch.attention_mask
            mask = am.bool() if am is not None and am.shape == s.shape[:2] else torch.ones(s.shape[:2], dtype=torch.bool,
                                                                                          device=s.device)
            labels = labels if labels.shape == s.shape[:2] else None
        temp = self.temperature
        log_s, log_t = F.log_softmax(s / temp, -1), F.log_softmax(t / temp, -1)
        kl = (log_t.exp() * (log_t - log_s)).sum(-1) * temp**2
        scales = token_scales(t.detach(), labels, mask, self.tau)
        return (scales * kl.masked_fill(~mask, 0.0)).sum(-1).mean()
