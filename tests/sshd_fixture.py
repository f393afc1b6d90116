"""A real OpenSSH server on 127.0.0.1 for remote-profiling tests: generated host and user keys, own config, free port.

Import the ``sshd`` fixture into a test module (``from sshd_fixture import sshd``). It skips only when
/usr/sbin/sshd is missing (CI installs Debian's openssh-server).
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = Path("/usr/sbin/sshd")


@dataclass
class Sshd:
    host: str
    port: int
    user: str
    key: Path  # the client's private key
    known_hosts: Path  # holds the server's host key
    host_key_line: str  # "[127.0.0.1]:port ssh-ed25519 AAAA..."
    root: Path

    def connection(self, **over: object) -> dict:
        """A target ``connection`` mapping for this server; ``over`` replaces fields."""
        conn = {"kind": "ssh", "host": self.host, "port": self.port, "user": self.user, "key": str(self.key),
                "known_hosts": str(self.known_hosts), "workdir": str(self.root / "remote-cache"),
                "python": os.environ.get("EDGEKD_TEST_REMOTE_PYTHON", sys.executable)}
        return {**conn, **over}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    if not SSHD.is_file():
        pytest.skip("/usr/sbin/sshd is missing; install openssh-server")
    root = tmp_path_factory.mktemp("sshd")
    _keygen(root / "host_key")
    _keygen(root / "user_key")
    (root / "authorized_keys").write_text((root / "user_key.pub").read_text())
    port, user = _free_port(), getpass.getuser()
    (root / "sshd_config").write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {root / 'host_key'}
PidFile {root / 'sshd.pid'}
AuthorizedKeysFile {root / 'authorized_keys'}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
LogLevel ERROR
""")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege-separation directory sshd insists on
    with open(root / "sshd.log", "w") as log:
        proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(root / "sshd_config")], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                pytest.fail(f"sshd exited with {proc.returncode}: {(root / 'sshd.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("sshd did not listen within 15 s")
                time.sleep(0.1)
        kind, b64 = (root / "host_key.pub").read_text().split()[:2]
        line = f"[127.0.0.1]:{port} {kind} {b64}"
        (root / "known_hosts").write_text(line + "\n")
        yield Sshd("127.0.0.1", port, user, root / "user_key", root / "known_hosts", line, root)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
