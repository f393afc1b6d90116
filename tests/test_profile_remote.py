"""Remote profiling against a real OpenSSH server on 127.0.0.1 (see sshd_fixture.py)."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sshd_fixture import sshd  # noqa: F401  (fixture)

import edgekd
from edgekd.errors import EdgekdError
from edgekd.profile import MeasureConfig, RuntimeOptions
from edgekd.schemas import Target

FAST = MeasureConfig(warmup_runs=2, warmup_ms=10, min_runs=20, min_duration_s=0.05, per_op_runs=3)


def target(server, **conn) -> Target:
    return Target(name="loopback", threads=1, batch_sizes=[1], connection=server.connection(**conn))


def _shape(obj):
    """Key structure of a report, with lists reduced to their first element."""
    if isinstance(obj, dict):
        return {k: _shape(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_shape(obj[0])] if obj and isinstance(obj[0], (dict, list)) else []
    return type(obj).__name__ if obj is not None else None


def test_remote_profile_matches_local_schema_and_copies_once(sshd, tiny_onnx, tmp_path):  # noqa: F811
    model = tiny_onnx("tiny model $(touch INJECTED);'x'.onnx")  # every remote argument must be quoted
    remote = edgekd.profile(model, target(sshd), [1, 2], FAST, per_op=True, out=tmp_path, timeout_s=120, quiet=True)
    local = edgekd.profile(model, target(sshd, kind="local"), [1, 2], FAST, per_op=True, quiet=True)
    assert remote["remote"]["copied"] and remote["remote"]["host"] == "127.0.0.1"
    assert remote["model"] == local["model"] == str(model) and remote["model_sha256"] == local["model_sha256"]
    skip = {"remote"}
    assert {k: _shape(v) for k, v in remote.items() if k not in skip | {"report", "files"}} == \
        {k: _shape(v) for k, v in local.items() if k not in skip}
    assert remote["per_op"]["op_types"] and len(remote["samples_ms"]) == remote["runs"] >= 20
    assert json.loads((tmp_path / f"{model.stem}.profile.json").read_text())["remote"]["copied"]
    assert not any(list(d.rglob("INJECTED")) for d in (sshd.root, tmp_path)) and not (Path.home() / "INJECTED").exists()
    again = edgekd.compare(model, model, target(sshd), [1], FAST, timeout_s=120, quiet=True)
    assert again["kind"] == "compare" and not again["remote"]["copied"]  # keyed by sha256: already on the device
    assert len(again["remote"]["models"]) == 2 and len(set(again["remote"]["models"])) == 1


def test_unknown_host_key_is_refused(sshd, tiny_onnx, tmp_path):  # noqa: F811
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(EdgekdError, match=r"host key of 127\.0\.0\.1:\d+ is not in .*known_hosts; check the device's "
                                          "fingerprint .* or set connection.accept_new_host_key"):
        edgekd.profile(tiny_onnx(), target(sshd, known_hosts=str(empty)), [1], FAST, quiet=True)
    assert empty.read_text() == ""


def test_changed_host_key_is_refused(sshd, tiny_onnx, tmp_path):  # noqa: F811
    other = tmp_path / "known_hosts"
    other.write_text(f"[127.0.0.1]:{sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHvpEHUSiCnhaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n")
    with pytest.raises(EdgekdError, match="does not match the one in"):
        edgekd.profile(tiny_onnx(), target(sshd, known_hosts=str(other), accept_new_host_key=True), [1], FAST, quiet=True)


def test_new_host_key_accepted_only_when_allowed_and_remote_failure_reported(sshd, tiny_onnx, tmp_path):  # noqa: F811
    fresh = tmp_path / "known_hosts"
    tgt = target(sshd, known_hosts=str(fresh), accept_new_host_key=True, python="/nonexistent/python3")
    with pytest.raises(EdgekdError, match=r"remote profiler on .* failed \(exit 127\): .*connection.python right"):
        edgekd.profile(tiny_onnx(), tgt, [1], FAST, timeout_s=60, quiet=True)
    assert fresh.read_text().strip() == sshd.host_key_line  # saved on first contact


def test_remote_agent_error_is_relayed(sshd, tiny_onnx):  # noqa: F811
    with pytest.raises(EdgekdError, match=r"failed \(exit 2\): input x has a fixed batch of 1, not 2"):
        edgekd.profile(tiny_onnx("fixed.onnx", batch=1), target(sshd), [2], FAST, timeout_s=120, quiet=True)


def test_hanging_remote_is_stopped_at_the_timeout(sshd, tiny_onnx, tmp_path):  # noqa: F811
    hang = tmp_path / "hang.sh"
    hang.write_text("#!/bin/sh\nexec sleep 30\n")
    hang.chmod(0o755)
    t0 = time.monotonic()
    with pytest.raises(EdgekdError, match="did not finish within 2 s and was stopped"):
        edgekd.profile(tiny_onnx(), target(sshd, python=str(hang)), [1], FAST, timeout_s=2, quiet=True)
    assert time.monotonic() - t0 < 10


def test_wrong_user_key_is_refused(sshd, tiny_onnx, tmp_path):  # noqa: F811
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "stranger")], check=True)
    with pytest.raises(EdgekdError, match="SSH login as .* was refused; add the public key"):
        edgekd.profile(tiny_onnx(), target(sshd, key=str(tmp_path / "stranger")), [1], FAST, quiet=True)


def test_agent_watchdog_ends_a_run_past_its_deadline(tiny_onnx):
    endless = MeasureConfig(min_runs=10**9, max_runs=10**9, min_duration_s=3600).model_dump_json()
    argv = [sys.executable, "-m", "edgekd.profile.agent", "profile", str(tiny_onnx()), "--target",
            Target(name="t").model_dump_json(), "--batch", "1", "--measure", endless, "--options",
            RuntimeOptions().model_dump_json(), "--deadline-s", "1"]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert res.returncode == 124 and "deadline of 1 s passed" in res.stderr and "EDGEKD-REPORT" not in res.stdout


def test_agent_refuses_settings_from_another_edgekd_version(tiny_onnx):
    argv = [sys.executable, "-m", "edgekd.profile.agent", "profile", str(tiny_onnx()), "--target", '{"name": "t"}',
            "--batch", "1", "--measure", FAST.model_dump_json(), "--options", RuntimeOptions().model_dump_json()]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and res.stdout.startswith("EDGEKD-ERROR --target lacks runtime, device, precisions")
    assert "install the same edgekd version here as on the host" in res.stdout
