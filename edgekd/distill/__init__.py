"""Training: supervised teachers, and knowledge distillation of students on the same loop."""

from edgekd.distill.api import DistillConfig, DistillResult, distill
from edgekd.distill.losses import LOSSES, DistillLoss, LossInputs, build_criterion
from edgekd.distill.teacher import TeacherConfig, train_teacher
from edgekd.distill.trainer import TrainConfig, TrainResult, evaluate, train_classifier

__all__ = [
    "LOSSES", "DistillConfig", "DistillLoss", "DistillResult", "LossInputs", "TeacherConfig", "TrainConfig",
    "TrainResult", "build_criterion", "distill", "evaluate", "train_classifier", "train_teacher",
]
