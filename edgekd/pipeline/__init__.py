"""Recipes: ordered stages over a run directory described by its manifest."""

from edgekd.pipeline.stage import STAGES, StageContext, StageResult, stage
from edgekd.pipeline.runner import load_recipe, run

__all__ = ["STAGES", "StageContext", "StageResult", "load_recipe", "run", "stage"]
