"""Shared types: target, recipe and manifest schemas, and how to load them with clear errors."""

from edgekd.schemas.base import load_yaml, validate
from edgekd.schemas.manifest import Artifact, Manifest, StageRecord, TensorSpec
from edgekd.schemas.recipe import DatasetSpec, Recipe, StageSpec
from edgekd.schemas.target import Budgets, Connection, Target

__all__ = [
    "Artifact", "Budgets", "Connection", "DatasetSpec", "Manifest", "Recipe", "StageRecord",
    "StageSpec", "Target", "TensorSpec", "load_yaml", "validate",
]
