"""The CLI as a user meets it: real subprocesses, exit codes, one-line errors, valid JSON."""

import json
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "edgekd"]


def edgekd(*args, cwd=None):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def assert_one_line_error(res, *fragments):
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def test_version():
    res = edgekd("--version")
    assert res.returncode == 0 and res.stdout.startswith("edgekd ")


def test_targets_list_json():
    res = edgekd("targets", "list", "--json")
    assert res.returncode == 0, res.stderr
    names = {t["name"] for t in json.loads(res.stdout)}
    assert {"cpu-ort-fp32", "rpi5-ort-int8", "jetson-orin-trt-int8"} <= names


def test_targets_show_json():
    res = edgekd("targets", "show", "jetson-orin-trt-fp16", "--json")
    assert json.loads(res.stdout)["connection"]["kind"] == "ssh"


def test_missing_recipe(tmp_path):
    assert_one_line_error(edgekd("run", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")), "recipe file not found")


@pytest.mark.parametrize("body, fragments", [
    ("stages:\n  - stage: teech\n", ["stages[0]: unknown stage 'teech'", "known:", "teacher"]),
    ("stages:\n  - stage: teacher\n    epocs: 3\n", ["stages[0].epocs: unknown key"]),
    ("stages: [{stage: teacher}]\nbogus: 1\n", ["bogus: unknown key"]),
    ("target: nowhere-ort\nstages: [{stage: teacher}]\n", ["unknown target 'nowhere-ort'", "cpu-ort-fp32"]),
    ("stages: [\n", ["not valid YAML"]),
    ("dataset: {name: cifar}\nstages: [{stage: teacher}]\n", ["dataset.name: unknown dataset 'cifar'", "imagefolder"]),
])
def test_bad_recipes_give_one_line(tmp_path, body, fragments):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(body)
    assert_one_line_error(edgekd("run", str(recipe), "--out", str(tmp_path / "o")), *fragments)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_unknown_target_on_targets_show():
    assert_one_line_error(edgekd("targets", "show", "nowhere"), "unknown target 'nowhere'")


def test_debug_shows_traceback(tmp_path):
    res = edgekd("--debug", "run", str(tmp_path / "nope.yaml"))
    assert res.returncode != 0 and "Traceback" in res.stderr


def test_compile_and_profile_json(digits_run, tmp_path):
    out, _, _ = digits_run
    res = edgekd("compile", str(out / "teacher.safetensors"), "--out", str(tmp_path), "--json")
    assert res.returncode == 0, res.stderr
    model = json.loads(res.stdout)["model"]
    res = edgekd("profile", model, "--batch", "1", "--runs", "10", "--duration", "0", "--json")
    assert res.returncode == 0, res.stderr
    assert set(json.loads(res.stdout)["latency_ms"]) >= {"min", "median", "mean", "p90", "p99"}


def test_ctrl_c_during_an_import_exits_130(monkeypatch, capsys):
    """Ctrl-C while a module defines a class reaches the CLI as RuntimeError('Error calling __set_name__ ...')
    with the interrupt as its cause (CI saw exit 1 and 'internal error' for it); it must still exit 130."""
    import importlib

    cli = importlib.import_module("edgekd.cli.app")

    class Interrupting:
        def __set_name__(self, owner, name):
            raise KeyboardInterrupt

    def app(**_):
        type("DistState", (), {"_hash": Interrupting()})  # what a class body does during an import

    monkeypatch.setattr(cli, "app", app)
    monkeypatch.setattr(sys, "argv", ["edgekd", "run", "recipe.yaml"])
    with pytest.raises(SystemExit) as ex:
        cli.main()
    assert ex.value.code == 130
    assert "aborted" in capsys.readouterr().err
