"""Deterministic tar.gz writing and safe extraction of bundles.

Written members are sorted, with fixed mtime, owner and modes, and the gzip header carries no name or time, so the
same files always give the same bytes. Extraction refuses absolute paths, ``..``, links and device files with one
clear line, then extracts with the standard library's ``data`` filter as a second guard.
"""

from __future__ import annotations

import gzip
import tarfile
from pathlib import Path, PurePosixPath

from edgekd.errors import EdgekdError
from edgekd.fsutil import atomic_path

MTIME = 946684800  # 2000-01-01T00:00:00Z: fixed, so packing twice gives the same bytes
MAX_MEMBERS = 10_000


def is_tarball(path: str | Path) -> bool:
    return str(path).endswith((".tar.gz", ".tgz"))


def _info(name: str, size: int, is_dir: bool) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.uid, info.gid, info.uname, info.gname = size, MTIME, 0, 0, "", ""
    info.type, info.mode = (tarfile.DIRTYPE, 0o755) if is_dir else (tarfile.REGTYPE, 0o644)
    return info


def write_tarball(root: Path, dest: Path) -> Path:
    """Pack every file under ``root`` into ``dest`` (members relative to ``root``), byte-for-byte reproducibly."""
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    dirs = sorted({str(parent) for f in files for parent in PurePosixPath(f).parents if str(parent) != "."})
    with atomic_path(dest) as tmp, open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for name in sorted([*dirs, *files]):
                    path = root / name
                    if path.is_dir():
                        tar.addfile(_info(name, 0, True))
                    else:
                        with open(path, "rb") as f:
                            tar.addfile(_info(name, path.stat().st_size, False), f)
    return dest


def _check_member(bundle: Path, m: tarfile.TarInfo) -> None:
    """Raise EdgekdError for a member that could write outside the extraction directory or is not plain data."""
    name = m.name
    where = f"{bundle.name}: member {name!r}"
    if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or (len(name) > 1 and name[1] == ":"):
        raise EdgekdError(f"{where} has an absolute path; refusing to extract (the bundle was tampered with)")
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        raise EdgekdError(f"{where} points outside the bundle ('..'); refusing to extract (the bundle was tampered with)")
    if m.issym() or m.islnk():
        raise EdgekdError(f"{where} is a link to {m.linkname!r}; bundles hold only plain files, refusing to extract")
    if not (m.isfile() or m.isdir()):
        raise EdgekdError(f"{where} is a device, fifo or other special file; bundles hold only plain files")


def safe_extract(bundle: Path, dest: Path) -> Path:
    """Extract tarball ``bundle`` into the empty directory ``dest`` after checking every member."""
    try:
        with tarfile.open(bundle, "r:*") as tar:
            members = tar.getmembers()
            if len(members) > MAX_MEMBERS:
                raise EdgekdError(f"{bundle.name}: {len(members)} members is more than any bundle holds; not a bundle")
            for m in members:
                _check_member(bundle, m)
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as err:
        raise EdgekdError(f"{bundle}: not a readable tar.gz bundle ({err}); package it again with edgekd package") from None
    return dest
