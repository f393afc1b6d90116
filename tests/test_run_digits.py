"""The digits path end to end: teacher -> ONNX -> profile, resume by skipping, refusing silent overwrites."""

import json

import numpy as np
import pytest

import edgekd
from edgekd.errors import EdgekdError
from edgekd.models import load_checkpoint
from edgekd.schemas import Manifest


def test_run_writes_every_artifact_with_hashes(digits_run):
    out, _, res = digits_run
    manifest = Manifest.load(out / "manifest.json")
    kinds = {a.kind for a in manifest.artifacts}
    assert {"checkpoint", "arch", "split", "onnx", "verification", "profile"} <= kinds
    assert list(manifest.stages) == ["teacher", "compile", "profile"]
    assert manifest.latest("checkpoint").options["epochs"] == 4 and manifest.latest("onnx").options["precision"] == "fp32"
    assert all(manifest.intact(out, s.artifacts) for s in manifest.stages.values())
    onnx_art = manifest.latest("onnx")
    assert onnx_art.inputs[0].shape[0] == "batch" and onnx_art.inputs[0].shape[1:] == [1, 16, 16]
    assert manifest.env["cores"] >= 1 and "torch" in manifest.env["libraries"]
    split = json.loads((out / "split.json").read_text())
    assert split["info"]["test"]["size"] == 360 and not set(split["indices"]["test"]) & set(split["indices"]["train"])
    assert res["stages"]["teacher"]["metrics"]["test_accuracy"] > 60  # four epochs of a tiny net


def test_onnx_matches_pytorch_and_profile_schema(digits_run):
    out, _, res = digits_run
    verify = json.loads((out / "teacher.fp32.verify.json").read_text())["verification"]
    assert verify["against"] == "pytorch" and verify["inputs"] == "samples"
    assert verify["max_abs_diff"] < 1e-4 and verify["top1_agreement"] == 1.0
    report = json.loads((out / "teacher.fp32.profile.json").read_text())
    lat = report["latency_ms"]
    assert lat["min"] <= lat["median"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert len(report["samples_ms"]) == report["runs"] >= 20
    assert np.isclose(np.median(report["samples_ms"]), lat["median"])
    assert report["batch"] == 1 and report["batches"][0]["batch"] == 4
    assert report["session_create_ms"] > 0 and report["first_run_ms"] > 0


def test_checkpoint_roundtrip_is_safetensors(digits_run):
    out, _, _ = digits_run
    model, arch = load_checkpoint(out / "teacher.safetensors")
    assert arch["name"] == "resnet" and arch["num_classes"] == 10
    assert json.loads((out / "teacher.arch.json").read_text()) == arch


def test_rerun_skips_then_force_redoes(digits_run):
    out, recipe, _ = digits_run
    again = edgekd.run(recipe, out)
    assert {s["status"] for s in again["stages"].values()} == {"skipped"}
    changed = recipe.model_copy(deep=True)
    changed.stages[2].options["min_runs"] = 21
    before = (out / "manifest.json").read_bytes()
    with pytest.raises(EdgekdError, match="already ran .* but option 'min_runs' changed; pass --redo profile"):
        edgekd.run(changed, out)
    assert (out / "manifest.json").read_bytes() == before  # a refused rerun writes nothing, not even the recipe
    redo = edgekd.run(changed, out, force=["profile"])
    assert [s["status"] for s in redo["stages"].values()] == ["skipped", "skipped", "redone"]


def test_tampered_artifact_is_not_silently_overwritten(digits_run, tmp_path):
    out, recipe, _ = digits_run
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "teacher.fp32.onnx").write_bytes(b"junk")
    from edgekd.schemas import Recipe

    as_recorded = Recipe.model_validate(Manifest.load(copy / "manifest.json").recipe)  # earlier tests changed it
    with pytest.raises(EdgekdError, match="changed or removed; pass --redo compile"):
        edgekd.run(as_recorded, copy)


def test_compile_refuses_to_overwrite(digits_run, tmp_path):
    out, _, _ = digits_run
    edgekd.compile(out / "teacher.safetensors", "cpu-ort-fp32", "fp32", tmp_path)
    with pytest.raises(EdgekdError, match="already exists; pass --force"):
        edgekd.compile(out / "teacher.safetensors", "cpu-ort-fp32", "fp32", tmp_path)
    assert edgekd.compile(out / "teacher.safetensors", "cpu-ort-fp32", "fp32", tmp_path, force=True).verification["inputs"] == "random"


def test_an_option_newer_than_the_run_counts_at_its_default(digits_run, tmp_path):
    """A run made before a stage gained an option is not stale: the missing option is compared at its default."""
    import shutil

    from edgekd.schemas import Recipe

    out, _, _ = digits_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    data = json.loads((copy / "manifest.json").read_text())
    del data["stages"]["profile"]["options"]["per_op"]  # as if recorded by an edgekd without per_op
    (copy / "manifest.json").write_text(json.dumps(data))
    as_recorded = Recipe.model_validate(data["recipe"])
    assert {s["status"] for s in edgekd.run(as_recorded, copy)["stages"].values()} == {"skipped"}
    data["stages"]["profile"]["options"]["per_op"] = False  # recorded with a non-default value: changed
    (copy / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(EdgekdError, match="option 'per_op' changed"):
        edgekd.run(as_recorded, copy)


def test_a_stage_sees_only_what_the_stages_before_it_made(tmp_path):
    """teacher -> compile -> distill -> compile: the first compile keeps the teacher on a rerun, although the latest
    checkpoint in the manifest is by then the student's; a rerun skips everything."""
    from edgekd.schemas import Recipe

    recipe = Recipe.model_validate({
        "name": "two-compiles", "dataset": {"name": "digits", "image_size": 8},
        "stages": [
            {"stage": "teacher", "arch": {"name": "resnet", "widths": [4, 8], "blocks": [1, 1]}, "epochs": 1},
            {"stage": "compile", "id": "teacher_onnx", "num_verify": 16},
            {"stage": "distill", "student": {"name": "resnet", "widths": [2, 4], "blocks": [1, 1]}, "epochs": 1,
             "loss": {"ce": 1.0}},
            {"stage": "compile", "num_verify": 16},
        ],
    })
    edgekd.run(recipe, tmp_path)
    manifest = Manifest.load(tmp_path / "manifest.json")
    assert [i.path for i in manifest.stages["teacher_onnx"].inputs] == ["teacher.safetensors"]
    assert [i.path for i in manifest.stages["compile"].inputs] == ["student.safetensors"]
    again = edgekd.run(recipe, tmp_path)
    assert {s["status"] for s in again["stages"].values()} == {"skipped"}
