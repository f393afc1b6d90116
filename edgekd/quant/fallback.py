"""Accuracy-aware int8: rank nodes by the error their quantization causes, keep the worst in float until a budget holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from edgekd.errors import EdgekdError


def rank_nodes(nodes: Sequence[str], quantize_only: Callable[[str], Path], error: Callable[[Path], float]) -> list[tuple[str, float]]:
    """Layer-wise sensitivity: quantize each node alone and measure ``error`` of that model against fp32.

    ``quantize_only(name)`` writes a model with only ``name`` quantized (calibration ranges cached, so this is
    cheap); returns (node, error) pairs, most sensitive first.
    """
    scores = [(name, float(error(quantize_only(name)))) for name in nodes]
    return sorted(scores, key=lambda kv: -kv[1])


@dataclass
class FallbackResult:
    """The model that met the budget, the nodes kept in float, and every attempt's loss."""

    model: Path
    excluded: list[str]
    loss: float
    attempts: list[dict] = field(default_factory=list)


def accuracy_aware(
    quantize: Callable[[list[str]], Path],
    loss: Callable[[Path], float],
    ranking: Sequence[str],
    budget: float,
) -> FallbackResult:
    """Keep the 1, 2, 4, ... most sensitive nodes of ``ranking`` in float until ``loss(model) <= budget``.

    ``quantize(excluded)`` writes an int8 model keeping ``excluded`` in float; ``loss`` measures it against fp32
    (accuracy drop in points, or 1 - cosine). Raises EdgekdError when every ranked node in float still breaks it.
    """
    attempts: list[dict] = []
    k = 1
    while True:
        excluded = list(ranking[: min(k, len(ranking))])
        model = quantize(excluded)
        drop = loss(model)
        attempts.append({"excluded": len(excluded), "loss": drop})
        if drop <= budget:
            return FallbackResult(model, excluded, drop, attempts)
        if k >= len(ranking):
            raise EdgekdError(f"int8 breaks its budget (loss {drop:.4g} > {budget:.4g}) even with all "
                              f"{len(ranking)} quantizable nodes in float; compile fp16 or fp32 instead")
        k *= 2
