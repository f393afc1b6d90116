"""Remote profiling over SSH: copy the model once (keyed by its hash), run the agent on the device, read its report.

Host keys are checked against ``connection.known_hosts``; an unknown key is refused unless the target sets
``accept_new_host_key``. Every remote argument is quoted with ``shlex.quote``; one deadline bounds the whole call.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import shlex
import time
from pathlib import Path
from typing import Any

import paramiko

from edgekd.errors import EdgekdError
from edgekd.fsutil import sha256, write_text
from edgekd.profile.agent import ERROR_PREFIX, REPORT_PREFIX
from edgekd.onnx_files import model_files
from edgekd.profile.config import MeasureConfig, RuntimeOptions
from edgekd.schemas import Connection, Target

CONNECT_TIMEOUT_S = 20.0


class UnknownHostKey(paramiko.SSHException):
    """The server's host key is not in known_hosts and the target does not allow adding it."""


class _Refuse(paramiko.MissingHostKeyPolicy):
    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise UnknownHostKey(hostname)


class _AcceptAndSave(paramiko.MissingHostKeyPolicy):
    """Trust a new host key on first contact and append it to the known_hosts file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        old = self.path.read_text() if self.path.is_file() else ""
        write_text(self.path, old + ("" if not old or old.endswith("\n") else "\n") + f"{hostname} {key.get_name()} {key.get_base64()}\n")


def _known_hosts(conn: Connection) -> Path:
    return Path(conn.known_hosts or "~/.ssh/known_hosts").expanduser()


def connect(conn: Connection, timeout_s: float) -> paramiko.SSHClient:
    """An authenticated SSH client, or EdgekdError saying what failed and how to fix it."""
    known, where = _known_hosts(conn), f"{conn.host}:{conn.port}"
    client = paramiko.SSHClient()
    if known.is_file():
        client.load_host_keys(str(known))
    client.set_missing_host_key_policy(_AcceptAndSave(known) if conn.accept_new_host_key else _Refuse())
    key = str(Path(conn.key).expanduser()) if conn.key else None
    try:
        client.connect(conn.host, port=conn.port, username=conn.user, key_filename=key, look_for_keys=key is None,
                       allow_agent=key is None, timeout=timeout_s, banner_timeout=timeout_s, auth_timeout=timeout_s)
    except UnknownHostKey:
        client.close()
        raise EdgekdError(f"host key of {where} is not in {known}; check the device's fingerprint and add it "
                          f"(ssh-keyscan -p {conn.port} {conn.host} >> {known}), or set connection.accept_new_host_key: "
                          "true in the target file") from None
    except paramiko.BadHostKeyException:
        client.close()
        raise EdgekdError(f"host key of {where} does not match the one in {known}: the device was reinstalled or the "
                          "connection is intercepted; verify its fingerprint, then replace the entry") from None
    except paramiko.AuthenticationException:
        client.close()
        raise EdgekdError(f"SSH login as {conn.user}@{where} was refused; add the public key of {conn.key or 'your key'} "
                          "to the device's ~/.ssh/authorized_keys") from None
    except (OSError, paramiko.SSHException) as err:
        client.close()
        raise EdgekdError(f"cannot reach {where} over SSH: {err}; check host, port and that sshd runs") from None
    return client


def _mkdirs(sftp: paramiko.SFTPClient, path: str) -> None:
    parts = path.strip("/").split("/")
    for i in range(1, len(parts) + 1):
        sub = ("/" if path.startswith("/") else "") + "/".join(parts[:i])
        try:
            sftp.stat(sub)
        except OSError:
            sftp.mkdir(sub)


def upload(sftp: paramiko.SFTPClient, files: list[Path], workdir: str) -> tuple[str, bool]:
    """Copy ``files`` (a model and its data files) to ``<workdir>/models/<hash>/`` unless there; (remote path, copied?)."""
    digests = [sha256(f) for f in files]
    key = digests[0] if len(files) == 1 else hashlib.sha256("".join(f"{f.name}:{d}\n" for f, d in zip(files, digests)).encode()).hexdigest()
    folder = posixpath.join(workdir, "models", key)
    _mkdirs(sftp, folder)
    copied = False
    for f in files:
        dst = posixpath.join(folder, f.name)
        try:
            if sftp.stat(dst).st_size == f.stat().st_size:
                continue
        except OSError:
            pass
        tmp = posixpath.join(folder, f".{f.name}.partial")
        sftp.put(str(f), tmp)
        sftp.posix_rename(tmp, dst)
        copied = True
    return posixpath.join(folder, files[0].name), copied


def execute(client: paramiko.SSHClient, command: str, deadline: float) -> tuple[int, str, str]:
    """Run ``command``; (exit code, stdout, stderr). Raises TimeoutError at ``deadline`` (time.monotonic)."""
    chan = client.get_transport().open_session(timeout=max(deadline - time.monotonic(), 1.0))
    chan.exec_command(command)
    out, err = bytearray(), bytearray()
    while True:
        busy = False
        while chan.recv_ready():
            out += chan.recv(65536)
            busy = True
        while chan.recv_stderr_ready():
            err += chan.recv_stderr(65536)
            busy = True
        if chan.exit_status_ready() and not (chan.recv_ready() or chan.recv_stderr_ready()):
            break
        if time.monotonic() > deadline:
            chan.close()
            raise TimeoutError
        if not busy:
            time.sleep(0.02)
    return chan.recv_exit_status(), out.decode(errors="replace"), err.decode(errors="replace")


def agent_command(conn: Connection, kind: str, models: list[str], target: Target, batches: list[int], cfg: MeasureConfig,
                  options: RuntimeOptions, per_op: bool, inputs: str | None, deadline_s: float, explicit: bool) -> str:
    """The shell command that runs ``python -m edgekd.profile.agent`` on the device, every argument quoted."""
    local = target.model_copy(update={"connection": Connection()})
    argv = [conn.python, "-m", "edgekd.profile.agent", kind, *models, "--target", local.model_dump_json(),
            "--batch", ",".join(map(str, batches)), "--measure", cfg.model_dump_json(), "--options", options.model_dump_json(),
            "--deadline-s", f"{deadline_s:.1f}", *(["--per-op"] if per_op else []),
            *(["--explicit-batch"] if explicit else []), *(["--inputs", inputs] if inputs else [])]
    return " ".join(shlex.quote(a) for a in argv)


def _parse(code: int, out: str, err: str, where: str) -> dict[str, Any]:
    lines = out.splitlines()
    report = next((line[len(REPORT_PREFIX):] for line in reversed(lines) if line.startswith(REPORT_PREFIX)), None)
    if code == 0 and report:
        return json.loads(report)
    msg = next((line[len(ERROR_PREFIX):] for line in lines if line.startswith(ERROR_PREFIX)), None)
    msg = msg or next((line for line in reversed(err.splitlines()) if line.strip()), "no output")
    hint = "; is edgekd installed there and connection.python right?" if code in (126, 127) or "No module named" in msg else ""
    raise EdgekdError(f"remote profiler on {where} failed (exit {code}): {msg.strip()}{hint}")


def run_remote(target: Target, kind: str, models: list[Path], inputs: str | Path | None, batches: list[int],
               cfg: MeasureConfig, options: RuntimeOptions, per_op: bool, timeout_s: float, explicit: bool = True) -> dict[str, Any]:
    """Profile (``kind`` "profile") or compare on the target's SSH device; the report ``profile_local`` or
    ``compare_local`` gives. Every file a model needs goes with it (ONNX external data, an engine's sidecar)."""
    conn, start = target.connection, time.monotonic()
    deadline, where = start + timeout_s, f"{conn.user}@{conn.host}:{conn.port}"
    for m in models:
        if not m.is_file():
            raise EdgekdError(f"model not found: {m}")
    needed = [model_files(m) for m in models]  # refuses an engine without its sidecar before connecting
    client = connect(conn, min(CONNECT_TIMEOUT_S, timeout_s))
    try:
        with client.open_sftp() as sftp:
            sftp.get_channel().settimeout(max(deadline - time.monotonic(), 1.0))
            home = sftp.normalize(".")
            workdir = posixpath.join(home, conn.workdir[2:]) if conn.workdir.startswith("~/") else conn.workdir
            placed = [upload(sftp, files, workdir) for files in needed]
            remote_inputs = upload(sftp, [Path(inputs)], workdir)[0] if inputs else None
        command = agent_command(conn, kind, [p for p, _ in placed], target, batches, cfg, options, per_op, remote_inputs,
                                max(deadline - time.monotonic() - 2.0, 1.0), explicit)
        try:
            code, out, err = execute(client, command, deadline)
        except TimeoutError:
            raise EdgekdError(f"remote profiler on {where} did not finish within {timeout_s:.0f} s and was stopped; "
                              "check the device or raise --timeout") from None
    except (OSError, paramiko.SSHException) as err:
        raise EdgekdError(f"SSH session with {where} failed: {err}; check the connection and the device's disk space") from None
    finally:
        client.close()
    report = _parse(code, out, err, where)
    sides = [report] if kind == "profile" else [report["model_a"], report["model_b"]]
    for side, m in zip(sides, models):
        side["model"] = str(m)
    report["remote"] = {"host": conn.host, "port": conn.port, "user": conn.user, "python": conn.python,
                        "models": [p for p, _ in placed], "copied": any(c for _, c in placed),
                        "wall_s": time.monotonic() - start}
    return report
