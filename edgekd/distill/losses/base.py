"""What every loss sees: logits, labels and tapped features, keyed by module path."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from edgekd.registry import Registry


@dataclass
class LossInputs:
    """One batch as the losses see it.

    ``student``/``teacher``: logits (N, C); ``labels``: (N,) int64 with -1 for unlabelled samples;
    ``s_feats``/``t_feats``: tapped module outputs keyed by module path (e.g. ``layers.2``).
    """

    student: torch.Tensor
    labels: torch.Tensor
    teacher: torch.Tensor | None = None
    s_feats: dict[str, torch.Tensor] = field(default_factory=dict)
    t_feats: dict[str, torch.Tensor] = field(default_factory=dict)


class DistillLoss(nn.Module):
    """Base: constructor kwargs are exactly the recipe's kwargs; ``forward`` returns a scalar."""

    needs_teacher = True

    def taps(self) -> tuple[list[str], list[str]]:
        """Module paths whose outputs this loss reads: (student paths, teacher paths)."""
        return [], []

    def setup(self, s_feats: dict[str, torch.Tensor], t_feats: dict[str, torch.Tensor]) -> None:
        """Create shape adapters from one example batch of features (called once, before the optimizer)."""

    def forward(self, batch: LossInputs) -> torch.Tensor:
        raise NotImplementedError


LOSSES: Registry[type[DistillLoss]] = Registry("loss")


def flat(x: torch.Tensor) -> torch.Tensor:
    """(N, ...) -> (N, D); a pooled view for relation losses."""
    return x.reshape(x.shape[0], -1)
