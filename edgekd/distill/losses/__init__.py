"""Distillation losses: one file each, registered in ``LOSSES`` by the name recipes use."""

from edgekd.distill.losses.base import LOSSES, DistillLoss, LossInputs
from edgekd.distill.losses import attention, ce, dist, dkd, feature, fitnet, kd, minilm, rkd  # noqa: F401  (register)
from edgekd.distill.losses import tskd  # noqa: F401  (register)
from edgekd.distill.losses.combined import Criterion, build_criterion

__all__ = ["LOSSES", "Criterion", "DistillLoss", "LossInputs", "build_criterion"]
