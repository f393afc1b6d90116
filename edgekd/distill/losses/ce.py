"""Cross-entropy on the labelled samples of a batch (label -1 = unlabelled, ignored)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from edgekd.distill.losses.base import LOSSES, DistillLoss, LossInputs
from edgekd.errors import EdgekdError


@LOSSES.register("ce")
class CrossEntropy(DistillLoss):
    """Supervised loss; ``label_smoothing`` in [0, 1)."""

    needs_teacher = False

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) or not 0 <= label_smoothing < 1:
            raise EdgekdError(f"loss 'ce': label_smoothing must be in [0, 1), got {label_smoothing!r}")
        self.label_smoothing = label_smoothing

    def forward(self, batch: LossInputs) -> torch.Tensor:
        if not bool((batch.labels >= 0).any()):
            return batch.student.sum() * 0.0
        return F.cross_entropy(batch.student, batch.labels, ignore_index=-1, label_smoothing=self.label_smoothing)
