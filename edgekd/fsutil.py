"""Atomic file writes, content hashes, per-directory locks and scratch folders that a later run can clean.

Every temporary name edgekd makes in an output directory carries the writer's pid (``.<name>.<pid>.<rand>.tmp``
files, ``.edgekd-<what>-<pid>-<rand>`` folders), so that whoever next holds the directory's lock can remove the
ones whose writer is gone (killed with SIGKILL, power lost) without touching a live writer's files.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

_UMASK = os.umask(0)
os.umask(_UMASK)

LOCK_NAME = ".edgekd.lock"
_STALE = re.compile(r"^\.(?:edgekd-[\w]+-(?P<dir_pid>\d+)-.*|.+\.(?P<file_pid>\d+)\.[^.]+\.tmp)$")
_held: dict[str, list[Any]] = {}  # resolved dir -> [open lock file, depth]: the lock is re-entrant within a process
_held_guard = threading.Lock()


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success rename it over ``path``, on error delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def scratch_dir(parent: str | Path, what: str) -> Path:
    """A new hidden work folder in ``parent`` (same file system, so results move in with an atomic rename)."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".edgekd-{what}-{os.getpid()}-", dir=parent))


def pid_alive(pid: int) -> bool:
    """True while a process with ``pid`` exists (also when it belongs to another user)."""
    try:
        os.kill(pid, 0)
    except OSError as e:
        return e.errno == errno.EPERM
    return True


def clean_stale(directory: str | Path) -> list[str]:
    """Remove temp files and scratch folders in ``directory`` whose writing process no longer runs; their names."""
    removed = []
    for entry in Path(directory).iterdir() if Path(directory).is_dir() else []:
        m = _STALE.match(entry.name)
        if not m:
            continue
        pid = int(m.group("dir_pid") or m.group("file_pid"))
        if pid == os.getpid() or pid_alive(pid):
            continue
        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
        removed.append(entry.name)
    return removed


@contextmanager
def dir_lock(directory: str | Path, on_wait: Callable[[str], None] | None = None) -> Iterator[Path]:
    """Hold an exclusive lock on ``directory`` (``.edgekd.lock``, flock); re-entrant within this process.

    A second process waits (``on_wait`` is told once who holds it). On first acquisition stale temp files of
    killed writers are removed, so a run interrupted by SIGKILL leaves nothing behind after the next one.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = str(directory.resolve())
    with _held_guard:
        if key in _held:
            _held[key][1] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield directory
        finally:
            with _held_guard:
                _held[key][1] -= 1
        return
    f = open(directory / LOCK_NAME, "a+")
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            if on_wait:
                on_wait(f"{directory} is in use by {holder}; waiting for it to finish")
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(f"edgekd pid {os.getpid()}\n")
        f.flush()
        clean_stale(directory)
        with _held_guard:
            _held[key] = [f, 1]
        try:
            yield directory
        finally:
            with _held_guard:
                del _held[key]
    finally:
        f.close()  # closing releases the flock


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
