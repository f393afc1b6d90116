"""Training: supervised teachers, and knowledge distillation of students on the same loop.

Names load on first use, so the options (``edgekd.distill.config``) and the checks made before training
(``edgekd.distill.checks``) import no torch.
"""

from __future__ import annotations

from edgekd.lazy import lazy_names

EXPORTS: dict[str, str] = {
    "LOSSES": "edgekd.distill.losses:LOSSES",
    "DistillConfig": "edgekd.distill.config:DistillConfig",
    "DistillLoss": "edgekd.distill.losses:DistillLoss",
    "DistillResult": "edgekd.distill.api:DistillResult",
    "LossInputs": "edgekd.distill.losses:LossInputs",
    "TeacherConfig": "edgekd.distill.config:TeacherConfig",
    "TrainConfig": "edgekd.distill.config:TrainConfig",
    "TrainResult": "edgekd.distill.trainer:TrainResult",
    "build_criterion": "edgekd.distill.losses:build_criterion",
    "distill": "edgekd.distill.api:distill",
    "evaluate": "edgekd.distill.trainer:evaluate",
    "train_classifier": "edgekd.distill.trainer:train_classifier",
    "train_teacher": "edgekd.distill.teacher:train_teacher",
}

__all__ = sorted(EXPORTS)

__getattr__, __dir__ = lazy_names(__name__, EXPORTS)
