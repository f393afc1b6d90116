"""Registry, schemas and targets: validation errors name the key path."""

import pytest

from edgekd.errors import EdgekdError
from edgekd.registry import Registry
from edgekd.schemas import Manifest, Recipe, Target, validate
from edgekd.targets import get_target, list_targets

SHIPPED = {"cpu-ort-fp32", "cpu-ort-int8", "cuda-ort-fp16", "x86-trt-int8", "jetson-orin-trt-fp16",
           "jetson-orin-trt-int8", "rpi5-ort-int8"}


def test_registry_rejects_duplicates_and_lists_known():
    reg: Registry[int] = Registry("widget")
    reg.register("a")(1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(2)
    with pytest.raises(EdgekdError, match="unknown widget 'b'; known: a"):
        reg.get("b")
    assert reg.names("a*") == ["a"]


def test_shipped_targets_load_and_validate():
    names = {t.name for t in list_targets()}
    assert SHIPPED <= names
    rpi = get_target("rpi5-ort-int8")
    assert rpi.connection.kind == "ssh" and rpi.precision == "int8" and rpi.budgets.size_bytes == 8_000_000


def test_target_file_by_path(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("name: mine\nruntime: onnxruntime\nthreads: 1\n")
    assert get_target(str(p)).threads == 1


def test_target_error_names_key_path():
    with pytest.raises(EdgekdError, match=r"t\.yaml: connection\.port: .*less than or equal to 65535"):
        validate(Target, {"name": "x", "connection": {"kind": "ssh", "host": "h", "user": "u", "port": 70000}}, "t.yaml")
    with pytest.raises(EdgekdError, match=r"budgets\.p90_ms: unknown key"):
        validate(Target, {"name": "x", "budgets": {"p90_ms": 3}}, "t.yaml")
    with pytest.raises(EdgekdError, match="ssh connection needs host and user"):
        validate(Target, {"name": "x", "connection": {"kind": "ssh"}}, "t.yaml")


def test_unknown_target_lists_known():
    with pytest.raises(EdgekdError, match="unknown target 'nope'; known: .*cpu-ort-fp32"):
        get_target("nope")


def test_recipe_inline_options_and_unique_ids():
    r = Recipe.model_validate({"stages": [{"stage": "compile", "precision": "fp32"}]})
    assert r.stages[0].id == "compile" and r.stages[0].options == {"precision": "fp32"}
    with pytest.raises(EdgekdError, match="stage id 'compile' appears twice"):
        validate(Recipe, {"stages": [{"stage": "compile"}, {"stage": "compile"}]}, "r.yaml")
    with pytest.raises(EdgekdError, match=r"r\.yaml: dataset\.nmae: unknown key"):
        validate(Recipe, {"dataset": {"nmae": "digits"}, "stages": [{"stage": "teacher"}]}, "r.yaml")


def test_manifest_records_hash_and_detects_tampering(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"hello")
    m = Manifest()
    art = m.add(tmp_path, f, "blob", "s1")
    assert art.bytes == 5 and art.sha256.startswith("2cf24dba")
    m.save(tmp_path / "manifest.json")
    m2 = Manifest.load(tmp_path / "manifest.json")
    assert m2.intact(tmp_path, ["a.bin"])
    f.write_bytes(b"HELLO")
    assert not m2.intact(tmp_path, ["a.bin"])
