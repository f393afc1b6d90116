"""Options of the sentence-student search and the checks of its grid (pydantic only: importing this loads no torch,
so ``edgekd sentence search`` and recipe checks refuse bad input at once)."""

from __future__ import annotations

import itertools
from typing import Any, Literal

from pydantic import Field

from edgekd.errors import EdgekdError
from edgekd.schemas.base import Strict


class SentenceSearchConfig(Strict):
    """The grid of student shapes, the latency budget and the proxy."""

    layers: list[int] = Field([1, 2, 3], min_length=1, description="Student depths (teacher layers kept).")
    intermediate_sizes: list[int] = Field([384, 768, 1536], min_length=1, description="Feed-forward widths.")
    heads: list[int] = Field([12], min_length=1, description="Attention heads kept per layer.")
    speedup: float = Field(4.0, gt=1, le=1000, description="Budget: the teacher's median latency / speedup.")
    budget_ms: float | None = Field(None, gt=0, description="Budget in ms at batch 1; replaces speedup.")
    max_length: int = Field(128, ge=8, le=512, description="Tokens per sentence when timing (batch 1).")
    proxy: Literal["pairwise_spearman", "mean_cosine"] = "pairwise_spearman"
    proxy_sentences: int = Field(256, ge=3, le=100_000, description="Validation sentences the proxy is measured on.")
    proxy_train: int = Field(0, ge=0, le=1_000_000, description="Train sentences of one short distillation epoch that "
                             "each shape within the budget gets before its proxy is measured; 0: the agreement at "
                             "initialisation (training-free).")
    proxy_lr: float = Field(2e-3, gt=0, description="Peak learning rate of that short distillation.")
    confirm_pairs: int = Field(4, ge=1, le=64, description="Fresh session pairs of each interleaved teacher comparison.")


def shape_grid(cfg: SentenceSearchConfig, teacher: dict[str, Any]) -> list[tuple[int, int, int]]:
    """(layers, intermediate size, heads) for every grid point; values past the teacher's are an error."""
    limits = {"layers": int(teacher["num_hidden_layers"]), "intermediate_sizes": int(teacher["intermediate_size"]),
              "heads": int(teacher["num_attention_heads"])}
    for name, top in limits.items():
        bad = [v for v in getattr(cfg, name) if not 1 <= v <= top]
        if bad:
            raise EdgekdError(f"sentence search: {name} {bad[0]} is outside 1..{top} (the teacher's); choose values in it")
    return sorted(set(itertools.product(cfg.layers, cfg.intermediate_sizes, cfg.heads)))
