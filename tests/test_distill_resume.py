"""SIGKILL a distillation run mid-epoch, resume it, and get the weights of an uninterrupted run bit for bit."""

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
import edgekd
from edgekd.distill import DistillConfig

teacher, out, kill_at, resume = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
steps = [0]

def count(module, args):
    if module.training and module.__class__.__name__ == "ResNet":
        steps[0] += 1
        if steps[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

if kill_at:
    torch.nn.modules.module.register_module_forward_pre_hook(count)
cfg = DistillConfig(epochs=3, batch_size=128, shift_pixels=1, optimizer="sgd", lr=0.05, grad_clip=2.0,
                    loss={"ce": 1.0, "kd": 0.9, "fitnet": {"student": "layers.2", "teacher": "layers.2"}})
edgekd.distill(teacher, {"width": 0.5}, "digits", out, cfg, resume=resume)
'''


def launch(script: Path, teacher: Path, out: Path, kill_at: int, resume: bool, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(script), str(teacher), str(out), str(kill_at), "1" if resume else "0"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(tmp_path: Path) -> None:
    teacher_dir = tmp_path / "teacher"
    train_teacher(DatasetSpec(name="digits", image_size=8),
                  TeacherConfig(arch={"name": "resnet", "widths": [8, 16, 16], "blocks": [1, 1, 1]}, epochs=2), teacher_dir)
    teacher = teacher_dir / "teacher.safetensors"
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EDGEKD_CACHE": str(tmp_path / "cache")}
    ref = launch(script, teacher, tmp_path / "ref", 0, False, env)
    killed = launch(script, teacher, tmp_path / "run", 15, False, env)  # 10 steps per epoch: dies in epoch 2 of 3
    assert killed.wait(timeout=300) == -signal.SIGKILL, killed.communicate()[1][-2000:]
    done = [json.loads(line)["epoch"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert done == [0]
    resumed = launch(script, teacher, tmp_path / "run", 0, True, env)
    for p in (ref, resumed):
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    for name in ("student.last.safetensors", "student.safetensors", "student.last.adapters.safetensors"):
        a, b = load_file(tmp_path / "ref" / name), load_file(tmp_path / "run" / name)
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), f"{name}:{k} differs after resume"
    done = [json.loads(line)["epoch"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert done == [0, 1, 2]
