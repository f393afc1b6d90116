"""The device agent runs with only onnxruntime, numpy and psutil installed (no torch, onnx, pydantic, scipy)."""

import json
import subprocess

import numpy as np
from agent_venv import REPO, agent_python, wrapper  # noqa: F401  (fixture)
from sshd_fixture import sshd  # noqa: F401  (fixture)

import edgekd
from edgekd.profile import MeasureConfig, RuntimeOptions
from edgekd.profile.agent import REPORT_PREFIX
from edgekd.profile.compare import add_statistics
from edgekd.schemas import Target

FAST = MeasureConfig(warmup_runs=2, warmup_ms=5, min_runs=25, min_duration_s=0, per_op_runs=3)
TARGET = Target(name="pi", threads=1, batch_sizes=[1, 2])


def _agent(python, kind, models, tmp_path, *extra, measure=FAST):
    argv = [str(python), "-m", "edgekd.profile.agent", kind, *map(str, models), "--target", TARGET.model_dump_json(),
            "--batch", "1,2", "--measure", measure.model_dump_json(), "--options", RuntimeOptions().model_dump_json(), *extra]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stdout + res.stderr
    line = next(x for x in res.stdout.splitlines() if x.startswith(REPORT_PREFIX))
    return json.loads(line[len(REPORT_PREFIX):])


def test_the_venv_lacks_the_heavy_libraries(agent_python):  # noqa: F811
    code = "import importlib.util as u; print([m for m in ('torch','onnx','pydantic','scipy','yaml','rich','paramiko') if u.find_spec(m)])"
    res = subprocess.run([str(agent_python), "-c", code], capture_output=True, text=True, timeout=60)
    assert res.stdout.strip() == "[]", res.stdout + res.stderr


def test_agent_profiles_and_compares_with_three_packages(agent_python, tiny_onnx, tmp_path):  # noqa: F811
    model = tiny_onnx()
    r = _agent(agent_python, "profile", [model], tmp_path, "--per-op")
    assert r["kind"] == "profile" and [b["batch"] for b in [r, *r["batches"]]] == [1, 2]
    for b in [r, *r["batches"]]:
        assert b["runs"] == len(b["samples_ms"]) >= 25 and b["latency_ms"]["median"] == float(np.median(b["samples_ms"]))
        assert {t["op_type"] for t in b["per_op"]["op_types"]} >= {"Conv", "MatMul"}
    assert r["measure"] == FAST.model_dump() and r["options"] == RuntimeOptions().model_dump() and r["threads"] == 1
    assert set(r["env"]["libraries"]) <= {"edgekd", "numpy", "onnxruntime"}  # what the device has
    # 200 rounds: split over 4 fresh session pairs, 25 would leave 7 rounds a pair and decide nothing
    c = _agent(agent_python, "compare", [model, tiny_onnx("wide.onnx", channels=32)], tmp_path,
               measure=FAST.model_copy(update={"min_runs": 200, "warmup_runs": 10}))
    assert "ratio_of_medians" not in c and len(c["a"]["samples_ms"]) == len(c["b"]["samples_ms"]) == c["runs"]
    assert add_statistics(c)["verdict"].startswith("B is slower")  # statistics are added on the host


def test_remote_profile_over_ssh_to_a_three_package_device(agent_python, sshd, tiny_onnx, tmp_path):  # noqa: F811
    device = wrapper(tmp_path / "device-python", agent_python)
    tgt = Target(name="pi", threads=1, batch_sizes=[1, 8], connection=sshd.connection(python=str(device)))
    fixed = tiny_onnx("fixed1.onnx", batch=1)
    r = edgekd.profile(fixed, tgt, None, FAST, per_op=True, timeout_s=300, quiet=True)
    assert r["remote"]["copied"] and r["batch"] == 1 and [s["batch"] for s in r["skipped_batches"]] == [8]
    assert r["memory"]["model_bytes_on_disk"] == fixed.stat().st_size and r["per_op"]["op_types"]
    ab = edgekd.compare(fixed, fixed, tgt, [1], FAST, timeout_s=300, quiet=True)
    # The device timed the model against itself on 4 fresh session pairs, the host added the statistics, and the
    # model was not sent again. 25 rounds on a loaded machine decide no verdict (verdicts are tested on synthetic
    # data in test_profile_stats.py); identical work only has to stay near 1.
    assert not ab["remote"]["copied"] and sorted(set(ab["session_pair"])) == [0, 1, 2, 3]
    assert ab["ci"][0] <= ab["ratio_of_medians"] <= ab["ci"][1] and 0.5 < ab["ratio_of_medians"] < 2, ab["verdict"]
