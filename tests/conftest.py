"""Shared fixtures."""

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """A short digits recipe (teacher -> compile -> profile), run once for the whole session."""
    import edgekd
    from edgekd.schemas import Recipe

    out = tmp_path_factory.mktemp("digits")
    recipe = Recipe.model_validate({
        "name": "digits-short",
        "dataset": {"name": "digits", "image_size": 16},
        "stages": [
            {"stage": "teacher", "arch": {"name": "resnet", "widths": [8, 16], "blocks": [1, 1]}, "epochs": 3},
            {"stage": "compile", "precision": "fp32", "num_verify": 64},
            {"stage": "profile", "batch_sizes": [1, 4], "min_runs": 20, "min_duration_s": 0.05, "warmup_ms": 10},
        ],
    })
    return out, recipe, edgekd.run(recipe, out)
