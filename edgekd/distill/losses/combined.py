"""A weighted sum of registered losses, built from the recipe's ``loss`` mapping."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from edgekd.distill.checks import parse_spec
from edgekd.distill.losses.base import LOSSES, LossInputs
from edgekd.errors import EdgekdError

LossSpec = dict[str, Any]


class Criterion(nn.Module):
    """``sum_i weight_i * loss_i(batch)``; holds the losses' adapters, so they train and save with the student."""

    def __init__(self, losses: dict[str, nn.Module], weights: dict[str, float]) -> None:
        super().__init__()
        self.losses = nn.ModuleDict(losses)
        self.weights = weights

    @property
    def needs_teacher(self) -> bool:
        return any(getattr(m, "needs_teacher", True) for m in self.losses.values())

    def taps(self) -> tuple[list[str], list[str]]:
        """Union of the module paths the losses read: (student, teacher), in first-seen order."""
        s: dict[str, None] = {}
        t: dict[str, None] = {}
        for m in self.losses.values():
            ms, mt = m.taps()
            s.update(dict.fromkeys(ms))
            t.update(dict.fromkeys(mt))
        return list(s), list(t)

    def setup(self, s_feats: dict[str, torch.Tensor], t_feats: dict[str, torch.Tensor]) -> None:
        for m in self.losses.values():
            m.setup(s_feats, t_feats)

    def set_epoch(self, epoch: int) -> None:
        """Tell every loss the epoch about to start (0-based); DKD ramps its weight up with it."""
        for m in self.losses.values():
            m.set_epoch(epoch)

    def forward(self, batch: LossInputs) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total loss (scalar) and each weighted part, detached."""
        parts = {name: self.weights[name] * m(batch) for name, m in self.losses.items()}
        total = torch.stack(list(parts.values())).sum()
        return total, {k: v.detach() for k, v in parts.items()}


def build_criterion(spec: LossSpec) -> Criterion:
    """Instantiate each named loss with its own kwargs; unknown names and options are one-line errors."""
    losses, weights = {}, {}
    for name, (weight, kwargs) in parse_spec(spec).items():
        cls = LOSSES.get(name)
        try:
            losses[name] = cls(**kwargs)
        except TypeError as err:
            raise EdgekdError(f"loss {name!r}: {err}; check its options") from None
        weights[name] = weight
    return Criterion(losses, weights)
