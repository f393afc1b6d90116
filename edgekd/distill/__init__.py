"""Training: supervised teachers now; knowledge distillation of students builds on the same loop."""

from edgekd.distill.teacher import TeacherConfig, train_teacher
from edgekd.distill.trainer import TrainConfig, TrainResult, evaluate, train_classifier

__all__ = ["TeacherConfig", "TrainConfig", "TrainResult", "evaluate", "train_classifier", "train_teacher"]
