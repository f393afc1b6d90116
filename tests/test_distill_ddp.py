"""``torchrun --nproc_per_node 2`` with gloo on CPU: DDP ranks end identical and only rank 0 writes files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from edgekd.distill import TeacherConfig, train_teacher
from edgekd.schemas import DatasetSpec

DRIVER = '''
import builtins, json, os, sys
import torch
import edgekd
from edgekd.distill import DistillConfig
from safetensors.torch import save_file

teacher, out, report = sys.argv[1], sys.argv[2], sys.argv[3]
rank = int(os.environ["RANK"])
writes, real_open, real_replace = [], builtins.open, os.replace

def spy_open(file, mode="r", *args, **kwargs):
    if any(c in mode for c in "wax+"):
        writes.append(str(file))
    return real_open(file, mode, *args, **kwargs)

def spy_replace(src, dst, *args, **kwargs):
    writes.append(str(dst))
    return real_replace(src, dst, *args, **kwargs)

builtins.open, os.replace = spy_open, spy_replace
hint = {"student": "layers.2", "teacher": "layers.2"}
cfg = DistillConfig(epochs=2, batch_size=64, shift_pixels=0, loss={"ce": 1.0, "kd": 0.9, "fitnet": hint})
res = edgekd.distill(teacher, {"width": 0.5}, "digits", out, cfg)
builtins.open, os.replace = real_open, real_replace
save_file({k: v.contiguous() for k, v in res.model.state_dict().items()}, f"{report}/rank{rank}.safetensors")
with open(f"{report}/rank{rank}.json", "w") as f:
    json.dump({"writes": writes, "world": int(os.environ["WORLD_SIZE"])}, f)
'''


def test_torchrun_two_ranks_gloo(tmp_path: Path) -> None:
    teacher_dir = tmp_path / "teacher"
    train_teacher(DatasetSpec(name="digits", image_size=8),
                  TeacherConfig(arch={"name": "resnet", "widths": [8, 16, 16], "blocks": [1, 1, 1]}, epochs=2), teacher_dir)
    script, report = tmp_path / "driver.py", tmp_path / "report"
    script.write_text(DRIVER)
    report.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "EDGEKD_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script),
           str(teacher_dir / "teacher.safetensors"), str(tmp_path / "out"), str(report)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    w0, w1 = load_file(report / "rank0.safetensors"), load_file(report / "rank1.safetensors")
    assert w0.keys() == w1.keys() and all(torch.equal(w0[k], w1[k]) for k in w0)
    r0, r1 = (json.loads((report / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2
    assert r1["writes"] == [] and any(w.endswith("student.safetensors") for w in r0["writes"])
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [0, 1]
    saved = load_file(tmp_path / "out" / "student.safetensors")
    assert all(torch.equal(saved[k], w0[k]) for k in saved)
