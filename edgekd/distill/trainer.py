"""Supervised training of a classifier (the teacher stage) on the shared loop in ``edgekd.distill.loop``."""

from __future__ import annotations

import torch
from torch import nn

from edgekd.distill.ddp import World
from edgekd.distill.losses import build_criterion
from edgekd.distill.loop import TrainConfig, TrainResult, evaluate, fit, random_shift, training_device

__all__ = ["TrainConfig", "TrainResult", "evaluate", "random_shift", "train_classifier", "training_device"]


def train_classifier(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, cfg: TrainConfig,
    world: World | None = None,
) -> TrainResult:
    """Train with cross-entropy on ``world.device`` (default: ``cfg.device``); ``model`` ends holding the weights of
    its best validation epoch."""
    return fit(model, build_criterion({"ce": 1.0}), x, y, x_val, y_val, cfg, world=world, desc="teacher")
