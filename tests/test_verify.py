"""edgekd verify: an intact bundle passes; every kind of tampering fails with one clear line and exit code 2."""

from __future__ import annotations

import io
import json
import shutil
import tarfile

import pytest
from test_package_runs import edgekd_cli, teacher_bundle

from edgekd.errors import EdgekdError
from edgekd.package.verify import verify


@pytest.fixture(scope="module")
def bundle(digits_run, tmp_path_factory):
    return teacher_bundle(digits_run, tmp_path_factory)


def _members(path):
    """[(TarInfo, bytes | None)] of a tarball, in order."""
    with tarfile.open(path) as tar:
        return [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]


def _write(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _flip_byte(members):
    out = []
    for info, data in members:
        if info.name == "models/teacher.fp32.onnx":
            data = data[:100] + bytes([data[100] ^ 0x01]) + data[101:]
        out.append((info, data))
    return out


def _symlink(members):
    link = tarfile.TarInfo("models/evil.onnx")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return [*members, (link, None)]


TAMPER = {
    "one byte changed": (_flip_byte, "models/teacher.fp32.onnx does not match its sha256 in manifest.json"),
    "file added": (lambda ms: [*ms, _file("reports/extra.txt", b"hello")],
                   "reports/extra.txt is not listed in manifest.json (added after packaging)"),
    "file removed": (lambda ms: [(i, d) for i, d in ms if i.name != "MODEL_CARD.md"],
                     "MODEL_CARD.md is listed in manifest.json but missing"),
    "dot-dot member": (lambda ms: [*ms, _file("models/../../evil.txt", b"x")], "points outside the bundle ('..')"),
    "symlink member": (_symlink, "is a link to '/etc/passwd'"),
    "absolute member": (lambda ms: [*ms, _file("/tmp/evil.txt", b"x")], "has an absolute path"),
}


def test_intact_bundle_verifies(bundle):
    res = edgekd_cli("verify", bundle, "--json")
    assert res.returncode == 0, res.stderr
    body = json.loads(res.stdout)
    assert body["ok"] and body["models"] == [{"path": "models/teacher.fp32.onnx", "loaded": True, "inputs": 1, "outputs": 1}]
    assert body["files"] == len([m for m, _ in _members(bundle) if m.isfile()]) - 1  # all but manifest.json


@pytest.mark.parametrize("case", list(TAMPER))
def test_tampered_bundle_fails_with_one_line(bundle, tmp_path, case):
    change, expected = TAMPER[case]
    bad = _write(tmp_path / "bad.tar.gz", change(_members(bundle)))
    res = edgekd_cli("verify", bad)
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and lines[0].startswith("error: bad.tar.gz"), lines
    assert not (tmp_path.parent / "evil.txt").exists()


def test_io_signature_mismatch_and_bad_schema(bundle, tmp_path):
    root = tmp_path / "b"
    root.mkdir()
    with tarfile.open(bundle) as tar:
        tar.extractall(root, filter="data")
    verify(root)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["models"][0]["inputs"][0]["name"] = "pixels"
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(EdgekdError, match=r"models/teacher.fp32.onnx inputs .* do not match manifest.json"):
        verify(root)
    del manifest["models"]
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(EdgekdError, match="manifest.json: models: Field required"):
        verify(root)


def test_directory_bundle_with_a_link_fails(bundle, tmp_path):
    root = tmp_path / "b"
    root.mkdir()
    with tarfile.open(bundle) as tar:
        tar.extractall(root, filter="data")
    shutil.move(root / "MODEL_CARD.md", tmp_path / "card.md")
    (root / "MODEL_CARD.md").symlink_to(tmp_path / "card.md")
    res = edgekd_cli("verify", root)
    assert res.returncode == 2 and "MODEL_CARD.md is a link" in res.stderr


def test_not_a_bundle(tmp_path):
    (tmp_path / "x.tar.gz").write_bytes(b"not gzip")
    res = edgekd_cli("verify", tmp_path / "x.tar.gz")
    assert res.returncode == 2 and "not a readable tar.gz bundle" in res.stderr and "Traceback" not in res.stderr
