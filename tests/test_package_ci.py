"""examples/ci/github-actions.yml: valid YAML with the expected steps, and its edgekd commands run here as written."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from test_package_runs import recorded_recipe

WORKFLOW = Path(__file__).resolve().parents[1] / "examples" / "ci" / "github-actions.yml"


@pytest.fixture(scope="module")
def workflow():
    return yaml.safe_load(WORKFLOW.read_text())


def test_workflow_shape(workflow):
    triggers = workflow[True]  # PyYAML reads the key `on` as a boolean
    assert "push" in triggers and "model" in triggers["workflow_dispatch"]["inputs"]
    steps = workflow["jobs"]["model"]["steps"]
    assert all(("uses" in s) != ("run" in s) for s in steps)
    uses = [s["uses"].split("@")[0] for s in steps if "uses" in s]
    assert uses == ["actions/checkout", "actions/setup-python", "actions/upload-artifact"]
    upload = steps[-1]
    assert upload["if"] == "${{ always() }}" and "env.JUNIT" in upload["with"]["path"]
    assert {"RECIPE", "TARGET", "RUN_DIR", "BUNDLE", "JUNIT", "MODEL"} <= set(workflow["env"])


def _run_steps(workflow, env: dict[str, str], cwd: Path, given_model: bool) -> list[str]:
    """Run every edgekd command of the workflow's `run:` steps with bash, as the runner would; returns them."""
    ran = []
    for step in workflow["jobs"]["model"]["steps"]:
        cond = step.get("if", "")
        for_model = "inputs.model != ''" in cond
        if "run" not in step or ("inputs.model" in cond and for_model != given_model):
            continue
        for line in step["run"].splitlines():
            if line.strip().startswith("edgekd "):
                res = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
                assert res.returncode == 0, f"{step['name']}: {line}\n{res.stdout}\n{res.stderr}"
                ran.append(line.split()[1])
    return ran


def _env(workflow, tmp_path: Path, **over: str) -> dict[str, str]:
    env = {k: str(v) for k, v in workflow["env"].items() if "${{" not in str(v)}
    return {**os.environ, **env, "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), **over}


def test_recipe_path_runs_here(workflow, digits_run, tmp_path):
    """The push path, with the session's digits run as the finished recipe (its stages are skipped, not retrained)."""
    run = tmp_path / "runs" / "model"
    shutil.copytree(digits_run[0], run)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(recorded_recipe(run, []).model_dump(mode="json")))
    env = _env(workflow, tmp_path, RECIPE=str(recipe), MODEL="")
    ran = _run_steps(workflow, env, tmp_path, given_model=False)
    assert ran == ["run", "package", "verify", "check"]
    suite = ET.parse(tmp_path / workflow["env"]["JUNIT"]).getroot()
    assert suite.get("failures") == "0" and int(suite.get("tests")) >= 2
    assert "edgekd check passed" in (tmp_path / "summary.md").read_text()


def test_given_model_path_runs_here(workflow, digits_run, tmp_path):
    """The manual path: compile and profile a given ONNX model, then package, verify and check it."""
    env = _env(workflow, tmp_path, MODEL=str(digits_run[0] / "teacher.fp32.onnx"))
    ran = _run_steps(workflow, env, tmp_path, given_model=True)
    assert ran == ["compile", "profile", "package", "verify", "check"]
    assert (tmp_path / workflow["env"]["BUNDLE"]).is_file()
    cases = {c.get("name"): c for c in ET.parse(tmp_path / workflow["env"]["JUNIT"]).getroot().iter("testcase")}
    assert cases["p90_latency_ms"].find("failure") is None and cases["p90_latency_ms"].find("skipped") is None
    assert cases["accuracy_drop_pts"].find("skipped") is not None  # no labels: not measured, said so
