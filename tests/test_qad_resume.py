"""SIGKILL an int8 (QAD) distillation started from the CLI mid-epoch, resume it with ``--quantize int8 --resume``,
and get the weights and learned scales of an uninterrupted run bit for bit (the ranges freeze at the same step)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from edgekd.distill import TeacherConfig, train_teacher
from edgekd.schemas import DatasetSpec

DRIVER = '''
import os, signal, sys
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook
from edgekd.cli.app import app

teacher, out, kill_at, resume, config = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5]
steps = [0]

def count(optimizer, args, kwargs):  # an optimizer hook: a module hook would be traced by torch.export
    steps[0] += 1
    if steps[0] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

if kill_at:
    register_optimizer_step_pre_hook(count)
args = ["distill", "--teacher", teacher, "--student", teacher, "--data", "digits", "--out", out, "--config", config,
        "--loss", "{ce: 1.0, kd: 0.9}", "--quantize", "int8", "--json"]
app(args + (["--resume"] if resume else []), standalone_mode=False)
'''
CONFIG = """epochs: 3
batch_size: 128
shift_pixels: 1
lr: 0.001
warmup_epochs: 0
qat: {observe: 0.5, calib_samples: 128}
"""


def launch(script: Path, teacher: Path, out: Path, kill_at: int, resume: bool, config: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(script), str(teacher), str(out), str(kill_at), "1" if resume else "0",
                             str(config)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_quantized_sigkill_then_resume_matches_uninterrupted_run(tmp_path: Path) -> None:
    teacher_dir = tmp_path / "teacher"
    train_teacher(DatasetSpec(name="digits", image_size=8),
                  TeacherConfig(arch={"name": "resnet", "widths": [8, 16, 16], "blocks": [1, 1, 1]}, epochs=2), teacher_dir)
    teacher = teacher_dir / "teacher.safetensors"
    script, config = tmp_path / "driver.py", tmp_path / "qad.yaml"
    script.write_text(DRIVER)
    config.write_text(CONFIG)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EDGEKD_CACHE": str(tmp_path / "cache")}
    # The reference run and the run to kill are independent (one thread each): they run at the same time.
    ref = launch(script, teacher, tmp_path / "ref", 0, False, config, env)
    # 1258 training images at batch 128: 10 steps per epoch, ranges freeze after step 15; die at that step.
    killed = launch(script, teacher, tmp_path / "run", 15, False, config, env)
    _, err = ref.communicate(timeout=600)
    assert ref.returncode == 0, err[-2000:]
    assert killed.wait(timeout=600) == -signal.SIGKILL, killed.communicate()[1][-2000:]
    done = [json.loads(line)["epoch"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert done == [0]
    resumed = launch(script, teacher, tmp_path / "run", 0, True, config, env)
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-2000:]
    for name in ("student.last.safetensors", "student.safetensors"):
        a, b = load_file(tmp_path / "ref" / name), load_file(tmp_path / "run" / name)
        assert a.keys() == b.keys() and any(k.endswith(".scale") for k in a)
        for k in a:
            assert torch.equal(a[k], b[k]), f"{name}:{k} differs after resume"
    done = [json.loads(line)["epoch"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert done == [0, 1, 2]
