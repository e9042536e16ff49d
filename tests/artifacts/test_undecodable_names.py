"""Member names that are not UTF-8 (common in real tarballs and in zips made on Windows) are carried
with ``surrogateescape`` from the opener to every report, which writes them escaped (``caf\\xe9``):
no traceback, no exit 1 or 70, whatever the format."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from builders import dist, elf_header, write_zip

from depscan.errors import CorruptArtifact
from tests.helpers import cli, dists, scan

FORMATS = ("table", "json", "pip-audit-json", "cyclonedx-json", "cyclonedx-xml", "spdx-json", "sarif", "markdown")


def _files() -> dict[str, bytes]:
    files = dist("six", "1.16.0", root="site")
    files["site/six.libs/libz-0123abcd.so.1"] = elf_header() + b"\0" * 64
    return files


def _tar_with_raw_names(path: Path, mode: str) -> Path:
    """A tar whose site directory is the Latin-1 bytes ``caf\\xe9`` (not UTF-8)."""
    with tarfile.open(path, mode, encoding="utf-8", errors="surrogateescape") as tf:  # type: ignore[call-overload]
        for name, data in _files().items():
            info = tarfile.TarInfo(name.replace("site/", "caf\udce9/", 1))
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_a_tar_with_names_that_are_not_utf8_scans_and_reports_them_escaped(tmp_path: Path, mode: str) -> None:
    path = _tar_with_raw_names(tmp_path / f"raw names.tar{mode[2:] and '.gz'}", mode)
    result = scan(path)
    six = dists(result)["six==1.16.0"]
    assert six.metadata_location.path == "caf\udce9/six-1.16.0.dist-info/METADATA"  # the exact bytes, carried
    assert result.unknowns == ()
    outputs = [f"{fmt}={tmp_path / f'out-{fmt}'}" for fmt in FORMATS if fmt != "table"]
    proc = cli("scan", path, "--source", "skip", "--fail-on", "medium",  # its .so is unowned (low)
               "-o", "table", *[arg for o in outputs for arg in ("-o", o)])
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "caf\\xe9" in proc.stdout  # the table, escaped
    report = json.loads((tmp_path / "out-json").read_text(encoding="utf-8"))
    paths = {c["location"]["path"] for c in report["components"] if "location" in c}
    assert "caf\\xe9/six-1.16.0.dist-info/METADATA" in paths, paths
    for fmt in FORMATS[1:]:
        text = (tmp_path / f"out-{fmt}").read_bytes().decode("utf-8")  # every report is valid UTF-8
        assert "\udce9" not in text
        if fmt in ("cyclonedx-json", "cyclonedx-xml", "spdx-json"):  # the formats that carry locations
            assert "caf\\xe9" in text or "caf\\\\xe9" in text, fmt


def _zip_with_raw_name(path: Path, placeholder: bytes, raw: bytes) -> Path:
    """A zip whose names hold ``raw`` bytes where ``placeholder`` was written (same length)."""
    assert len(placeholder) == len(raw)
    files = {name.replace("site/", placeholder.decode("utf-8") + "/", 1): data for name, data in _files().items()}
    write_zip(path, files)
    data = path.read_bytes()
    assert data.count(placeholder) > 0
    path.write_bytes(data.replace(placeholder, raw))
    return path


def test_a_zip_name_without_the_utf8_flag_is_cp437(tmp_path: Path) -> None:
    # Flag bit 11 clear: the name is CP437 (APPNOTE appendix D), as zipfile and unzip read it;
    # byte 0xE9 is "Θ" there, 0x82 is "é".
    path = _zip_with_raw_name(tmp_path / "cp437.zip", b"cafXY", b"caf\xe9\x82")
    result = scan(path)
    assert dists(result)["six==1.16.0"].metadata_location.path == "cafΘé/six-1.16.0.dist-info/METADATA"
    proc = cli("scan", path, "--source", "skip", "--fail-on", "medium", "-f", "json")  # its .so is unowned (low)
    assert proc.returncode == 0, proc.stderr
    assert "cafΘé/six-1.16.0.dist-info/METADATA" in proc.stdout


def test_a_zip_name_flagged_utf8_that_is_not_is_a_one_line_error(tmp_path: Path) -> None:
    # Flag bit 11 set (zipfile writes it for the non-ASCII placeholder), bytes that are not UTF-8.
    path = _zip_with_raw_name(tmp_path / "bad utf8.zip", "caf\u00e9".encode(), b"caf\xff\xfe")
    with pytest.raises(CorruptArtifact) as raised:
        scan(path)
    assert str(raised.value).startswith(f"{path}: not a readable zip archive")
    proc = cli("scan", path, "--source", "skip")
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
