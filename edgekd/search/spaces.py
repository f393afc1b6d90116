"""Search spaces as data: each is a table of parameters and their choices plus the rule that makes an arch JSON.

A candidate is a flat dict of choices (what Optuna samples); ``space.arch(params)`` turns it into the arch JSON that
``edgekd distill`` and ``edgekd compile`` accept. Adding a space is one ``SPACES.register`` call.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from edgekd.errors import EdgekdError
from edgekd.registry import Registry

Choice = int | float | str | bool


@dataclass(frozen=True)
class SearchSpace:
    """``choices``: parameter -> allowed values (primitives, sampled as categoricals); ``to_arch``: params -> arch.

    ``modality`` is ``image`` (inputs (N, C, H, W) float) or ``tokens`` (inputs (N, L) int64 ids).
    """

    name: str
    family: str
    modality: str
    choices: dict[str, tuple[Choice, ...]]
    to_arch: Callable[[dict[str, Choice]], dict[str, Any]] = field(repr=False)

    def with_choices(self, overrides: dict[str, list[Choice]] | None) -> SearchSpace:
        """A copy whose listed parameters take the given choices (from a recipe or ``--choices``)."""
        if not overrides:
            return self
        unknown = sorted(set(overrides) - set(self.choices))
        if unknown:
            raise EdgekdError(f"space {self.name!r} has no parameter {unknown[0]!r}; its parameters: {', '.join(self.choices)}")
        bad = [k for k, v in overrides.items() if not isinstance(v, list) or not v]
        if bad:
            raise EdgekdError(f"space {self.name!r}: choices for {bad[0]!r} must be a non-empty list")
        return SearchSpace(self.name, self.family, self.modality, {**self.choices, **{k: tuple(v) for k, v in overrides.items()}},
                           self.to_arch)

    def suggest(self, trial: Any) -> dict[str, Choice]:
        """One candidate's choices from an Optuna trial."""
        return {k: trial.suggest_categorical(k, list(v)) for k, v in self.choices.items()}

    def sample(self, rng: random.Random) -> dict[str, Choice]:
        """One uniformly random candidate."""
        return {k: rng.choice(v) for k, v in self.choices.items()}

    def arch(self, params: dict[str, Choice]) -> dict[str, Any]:
        return self.to_arch(params)

    def size(self) -> int:
        """Number of distinct choice combinations."""
        n = 1
        for v in self.choices.values():
            n *= len(v)
        return n


def arch_key(arch: dict[str, Any]) -> str:
    """A short stable id of an arch JSON (sha256 of its canonical JSON, 16 hex digits)."""
    return hashlib.sha256(json.dumps(arch, sort_keys=True).encode()).hexdigest()[:16]


SPACES: Registry[SearchSpace] = Registry("search space")


def _resnet(p: dict[str, Choice]) -> dict[str, Any]:
    return {"name": "resnet", "widths": [p["w0"], p["w1"], p["w2"]], "blocks": [p["b0"], p["b1"], p["b2"]]}


def _mobile(p: dict[str, Choice]) -> dict[str, Any]:
    return {"name": "mobilenet", "stem": p["stem"], "stem_stride": p["stem_stride"],
            "widths": [p["c0"], p["c1"], p["c2"]], "depths": [p["n0"], p["n1"], p["n2"]],
            "kernels": [p["k0"], p["k1"], p["k2"]], "expansions": [p["e0"], p["e1"], p["e2"]], "strides": [1, 2, 2]}


def _transformer(p: dict[str, Choice]) -> dict[str, Any]:
    hidden = int(p["hidden"])
    return {"name": "bert", "layers": p["layers"], "hidden": hidden, "heads": p["heads"], "ffn": int(hidden * float(p["ffn_ratio"]))}


SPACES.register("cnn")(SearchSpace("cnn", "resnet", "image", {
    "w0": (4, 8, 12, 16, 24, 32), "w1": (8, 16, 24, 32, 48, 64), "w2": (16, 24, 32, 48, 64, 128),
    "b0": (1, 2), "b1": (1, 2), "b2": (1, 2)}, _resnet))

SPACES.register("mobile")(SearchSpace("mobile", "mobilenet", "image", {
    "stem": (8, 16, 24), "stem_stride": (1, 2),
    "c0": (8, 16, 24), "c1": (16, 24, 32, 48), "c2": (24, 32, 48, 64),
    "n0": (1, 2), "n1": (1, 2, 3), "n2": (1, 2, 3),
    "k0": (3, 5, 7), "k1": (3, 5, 7), "k2": (3, 5, 7),
    "e0": (1, 3, 6), "e1": (1, 3, 6), "e2": (1, 3, 6)}, _mobile))

SPACES.register("transformer")(SearchSpace("transformer", "bert", "tokens", {
    "layers": (1, 2, 3, 4), "hidden": (32, 64, 96, 128), "heads": (1, 2, 4), "ffn_ratio": (1.0, 2.0, 4.0)}, _transformer))
