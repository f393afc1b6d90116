"""Run directories and bundles shared by the package, check and verify tests (built once per session).

``student_run`` extends the session's digits run (teacher -> compile -> profile) with a one-epoch student, its fp32
and int8 models, a profile of the int8 model and the ``package`` and ``check`` stages, so one run holds a teacher, a
student and two precisions. Test modules import the helpers; the memo makes every module share one build.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from edgekd.schemas import Manifest, Recipe

_MEMO: dict[str, Path] = {}

STUDENT_STAGES = [
    {"stage": "distill", "student": {"name": "resnet", "widths": [4, 8], "blocks": [1, 1]}, "epochs": 1,
     "shift_pixels": 0, "lr": 0.01},
    {"stage": "compile", "id": "compile-student", "precision": "fp32", "num_verify": 64},
    {"stage": "compile", "id": "compile-int8", "precision": "int8", "num_verify": 64, "calib_samples": 64},
    {"stage": "profile", "id": "profile-int8", "batch_sizes": [1], "min_runs": 20, "min_duration_s": 0.05,
     "warmup_ms": 10, "per_op": False},
    {"stage": "package"},
    {"stage": "check", "max_drop_pts": 100.0},
]


def recorded_recipe(run: Path, extra: list[dict]) -> Recipe:
    """The stages ``run`` finished (with their recorded options, so they are skipped) followed by ``extra``."""
    manifest = Manifest.load(run / "manifest.json")
    done = [{"stage": s.stage, "id": sid, "options": s.options} for sid, s in manifest.stages.items()]
    return Recipe.model_validate({"name": "digits-package", "dataset": manifest.recipe["dataset"],
                                  "stages": done + extra})


def student_run(digits_run, tmp_path_factory) -> Path:
    """A copy of the session digits run extended with ``STUDENT_STAGES`` (built once)."""
    if "student" not in _MEMO:
        import edgekd

        out = tmp_path_factory.mktemp("student_run") / "run"
        shutil.copytree(digits_run[0], out)
        edgekd.run(recorded_recipe(out, STUDENT_STAGES), out)
        _MEMO["student"] = out
    return _MEMO["student"]


def teacher_bundle(digits_run, tmp_path_factory) -> Path:
    """The session digits run (teacher only) packed into a tarball (built once)."""
    if "teacher" not in _MEMO:
        from edgekd.package.api import package

        out = tmp_path_factory.mktemp("teacher_bundle") / "teacher.tar.gz"
        package(digits_run[0], out)
        _MEMO["teacher"] = out
    return _MEMO["teacher"]


def edgekd_cli(*args: str | Path, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The installed ``edgekd`` console script, as CI calls it."""
    return subprocess.run(["edgekd", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
