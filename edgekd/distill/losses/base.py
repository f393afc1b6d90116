"""What every loss sees: logits, labels and tapped features, keyed by module path."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from edgekd.errors import EdgekdError
from edgekd.registry import Registry


@dataclass
class LossInputs:
    """One batch as the losses see it.

    ``student``/``teacher``: logits (N, C); ``labels``: (N,) int64 with -1 for unlabelled samples;
    ``s_feats``/``t_feats``: tapped module outputs keyed by module path (e.g. ``layers.2``);
    ``attention_mask``: (N, L) bool, True at real tokens and False at padding, for token inputs (else None).
    """

    student: torch.Tensor
    labels: torch.Tensor
    teacher: torch.Tensor | None = None
    s_feats: dict[str, torch.Tensor] = field(default_factory=dict)
    t_feats: dict[str, torch.Tensor] = field(default_factory=dict)
    attention_mask: torch.Tensor | None = None


def token_mask(x: torch.Tensor) -> torch.Tensor | None:
    """The attention mask of a model input: token ids (N, L) give ``x != 0`` (id 0 is padding); images give None."""
    return x != 0 if x.dim() == 2 and not x.is_floating_point() else None


class DistillLoss(nn.Module):
    """Base: constructor kwargs are exactly the recipe's kwargs; ``forward`` returns a scalar."""

    needs_teacher = True

    def taps(self) -> tuple[list[str], list[str]]:
        """Module paths whose outputs this loss reads: (student paths, teacher paths)."""
        return [], []

    def setup(self, s_feats: dict[str, torch.Tensor], t_feats: dict[str, torch.Tensor]) -> None:
        """Create shape adapters from one example batch of features (called once, before the optimizer)."""

    def set_epoch(self, epoch: int) -> None:
        """Called by the training loop before each epoch (0-based), for losses whose weight follows a schedule."""

    def forward(self, batch: LossInputs) -> torch.Tensor:
        raise NotImplementedError


LOSSES: Registry[type[DistillLoss]] = Registry("loss")


def check_options(loss: str, **values: float) -> None:
    """One-line error for a negative, NaN or infinite option (coefficients must be finite and >= 0)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
            raise EdgekdError(f"loss {loss!r}: {name} must be a finite number >= 0, got {value!r}")


def check_positive(loss: str, **values: float) -> None:
    """One-line error for an option that must be > 0 (a temperature, an exponent)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
            raise EdgekdError(f"loss {loss!r}: {name} must be a finite number > 0, got {value!r}")


def flat(x: torch.Tensor) -> torch.Tensor:
    """(N, ...) -> (N, D); a pooled view for relation losses."""
    return x.reshape(x.shape[0], -1)
