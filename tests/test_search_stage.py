"""The ``search`` recipe stage feeds the ``distill`` stage (``student: search``)."""

import json

import pytest


def test_search_stage_picks_the_student_distill_trains(tmp_path, monkeypatch):
    import edgekd
    from edgekd.schemas import Recipe
    from edgekd.schemas.manifest import Manifest

    monkeypatch.setenv("EDGEKD_CACHE", str(tmp_path / "cache"))
    recipe = Recipe.model_validate({
        "name": "search-short",
        "dataset": {"name": "digits", "image_size": 8},
        "stages": [
            {"stage": "teacher", "arch": {"name": "resnet", "widths": [8, 16, 16], "blocks": [1, 1, 1]}, "epochs": 1},
            {"stage": "search", "space": "cnn", "proxy": "params", "sampler": "random", "trials": 3, "budget_ms": 100,
             "batch_size": 16, "choices": {"w0": [4, 8], "w1": [8], "w2": [8, 16], "b0": [1], "b1": [1], "b2": [1]}},
            {"stage": "distill", "student": "search", "epochs": 1},
        ],
    })
    res = edgekd.run(recipe, tmp_path / "run")
    out = tmp_path / "run"
    picked = json.loads((out / "search" / "student.arch.json").read_text())
    summary = json.loads((out / "search" / "pareto.json").read_text())
    assert picked == summary["best"]["arch"]
    assert summary["best"]["params"] == max(c["params"] for c in summary["candidates"])  # params proxy: the largest
    assert json.loads((out / "student.arch.json").read_text()) == picked  # distill trained exactly that arch
    assert res["stages"]["distill"]["metrics"]["params"] == summary["best"]["params"]
    manifest = Manifest.load(out / "manifest.json")
    art = manifest.latest("arch", role="searched")
    assert art is not None and art.path == "search/student.arch.json" and art.stage == "search"
    with pytest.raises(Exception, match="needs a arch artifact|add a stage"):
        bad = recipe.model_copy(update={"stages": [recipe.stages[0], recipe.stages[2]]})
        edgekd.run(bad, tmp_path / "nosearch")
