"""Names that are not UTF-8 (common in real tarballs) and lone surrogates (a hostile SBOM) reach every
report and are written escaped, as the byte they stand for; no format crashes on them."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from builders import dist
from defusedxml import ElementTree

from depscan.config import AdvisorySettings, ScanConfig
from depscan.reporters import FORMATS, ReportOptions, get_reporter
from depscan.scan import run
from depscan.text import escape_surrogates


def _tar(path: Path) -> Path:
    files = dist("foo", "1.0", root="site")
    files["site/\udcff\udcfe-1.0.dist-info/METADATA"] = b"Metadata-Version: 2.1\nName: bar\nVersion: 1.0\n"
    files["site/caf\udce9/lib.so"] = b"\x7fELF" + b"\0" * 60  # an ELF header cut short: an unknown
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_escape_rule() -> None:
    assert escape_surrogates("caf\udce9") == "caf\\xe9"
    assert escape_surrogates("a\ud800b") == "a\\ud800b"  # stands for no byte
    assert escape_surrogates("plain é") == "plain é"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_writes_undecodable_names_escaped(fmt: str, tmp_path: Path) -> None:
    result = run(ScanConfig(str(_tar(tmp_path / "nu.tar")), advisories=AdvisorySettings(mode="skip")))
    assert any("\udcff\udcfe" in c.locations[0].path for c in result.components)  # carried as written
    data = get_reporter(fmt)(result, ReportOptions(cyclonedx_version="1.6"))
    text = data.decode("utf-8")  # always valid UTF-8
    if fmt.endswith("xml"):
        ElementTree.fromstring(data)
        assert "\\xff\\xfe-1.0.dist-info" in text
    elif fmt in ("table", "markdown"):
        assert fmt == "markdown" or "\\xff\\xfe-1.0.dist-info" in text
    else:
        doc = json.loads(text)
        if fmt == "sarif":  # results name the unreadable file; its URI percent-encodes the byte itself
            assert "caf%E9/lib.so" in text
        elif fmt != "pip-audit-json":  # it lists only findings' packages
            assert "\\xff\\xfe-1.0.dist-info" in json.dumps(doc, ensure_ascii=False).replace("\\\\", "\\")
