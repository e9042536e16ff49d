"""Advisory matching end to end through the real command line (offline data, no network)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
import responses
from typer.testing import CliRunner

from depscan.cli import app
from tests.helpers import cli

REPO = Path(__file__).resolve().parent.parent
SUBSET = REPO / "fixtures" / "advisories" / "pypi-subset.zip"




@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DEPSCAN_DB", raising=False)


def test_demo_finds_vulnerabilities_and_exits_1(demo: tuple[Path, Path], tmp_path: Path) -> None:
    function, layer = demo
    out = tmp_path / "r.json"
    proc = cli("scan", function, "-l", layer, "--advisories", SUBSET, "-f", "json", "-o", out, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["advisory_data"]["records"] == 92 and doc["advisory_data"]["source"].startswith("offline:")
    assert doc["summary"]["vulnerabilities"] == 16
    requests_ids = sorted(v["id"] for v in doc["vulnerabilities"] if v["component"]["name"] == "requests")
    assert requests_ids == ["PYSEC-2018-28", "PYSEC-2023-74"]
    first = next(v for v in doc["vulnerabilities"] if v["id"] == "PYSEC-2018-28")
    assert first["ids"] == ["PYSEC-2018-28", "CVE-2018-18074", "GHSA-x84v-xcm2-53pg"]
    assert first["fixed_versions"] == ["2.20.0"] and first["severity"] == "unknown"
    shadowed = [v for v in doc["vulnerabilities"] if v["component"]["status"] == "shadowed"]
    assert {v["component"]["version"] for v in shadowed} == {"1.26.5"}
    assert "advisory data is" in proc.stderr and "days old" in proc.stderr


def test_fail_on_and_only_fixed(demo: tuple[Path, Path], tmp_path: Path) -> None:
    function, layer = demo
    base = ("scan", function, "-l", layer, "--advisories", SUBSET, "-f", "json")
    assert cli(*base, "--fail-on", "critical", cwd=tmp_path).returncode == 0
    assert cli(*base, "--fail-on", "high", cwd=tmp_path).returncode == 1
    proc = cli(*base, "--fail-on", "bogus", cwd=tmp_path)
    assert proc.returncode == 2 and "unknown --fail-on 'bogus'" in proc.stderr
    proc = cli(*base, "--only-fixed", cwd=tmp_path)
    assert proc.returncode == 1
    assert all(v["fixed_versions"] for v in json.loads(proc.stdout)["vulnerabilities"])


def test_ignore_file_suppresses_and_expired_ignores_say_so(demo: tuple[Path, Path], tmp_path: Path) -> None:
    function, _layer = demo
    (tmp_path / ".depscan.toml").write_text(
        '[[ignore]]\nid = "CVE-2018-18074"\nreason = "no redirects to http"\nexpires = 2099-01-01\n'
        '[[ignore]]\nid = "PYSEC-2023-74"\nreason = "old"\nexpires = 2020-01-01\n'
    )
    proc = cli("scan", function, "--advisories", SUBSET, "-f", "json", cwd=tmp_path)
    doc = json.loads(proc.stdout)
    by_id = {v["id"]: v for v in doc["vulnerabilities"]}
    assert by_id["PYSEC-2018-28"]["suppressed"] == {
        "id": "CVE-2018-18074",
        "reason": "no redirects to http",
        "expires": "2099-01-01",
    }
    assert by_id["PYSEC-2023-74"]["suppressed"] is None
    assert "ignore for PYSEC-2023-74 expired on 2020-01-01" in proc.stderr
    (tmp_path / ".depscan.toml").write_text("[[ignore]]\nid = 'X'\n")
    proc = cli("scan", function, "--advisories", SUBSET, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "depscan: error: .depscan.toml: ignore X needs a 'reason'"


def test_failed_online_lookup_exits_4_and_never_says_clean(demo: tuple[Path, Path], tmp_path: Path) -> None:
    function, _layer = demo
    out = tmp_path / "r.json"
    proc = cli(
        "scan", function, "--source", "online", "--osv-url", "http://127.0.0.1:9", "--osv-retries", "0",
        "-f", "json", "-o", out, cwd=tmp_path,
    )
    assert proc.returncode == 4, proc.stderr
    assert "advisories could not be checked for 5 component(s)" in proc.stderr
    assert "NOT known to be free of vulnerabilities" in proc.stderr
    doc = json.loads(out.read_text())
    assert doc["summary"]["unchecked"] == 5 and len(doc["unchecked"]) == 5
    assert "No known vulnerabilities" not in proc.stdout


def test_db_import_status_and_scan_with_db(demo: tuple[Path, Path], tmp_path: Path) -> None:
    function, _layer = demo
    db = tmp_path / "osv.sqlite"
    proc = cli("db", "import", SUBSET, "--db", db)
    assert proc.returncode == 0 and "92 records imported, 0 skipped" in proc.stderr
    proc = cli("db", "status", "--db", db)
    assert proc.returncode == 0 and "records: 92" in proc.stdout and "days ago" in proc.stdout
    proc = cli("scan", function, "--db", db, "-f", "json", cwd=tmp_path)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["advisory_data"]["source"] == f"offline:{db}"
    missing = tmp_path / "missing.sqlite"
    proc = cli("db", "status", "--db", missing)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.strip() == (f"depscan: error: {missing}: no such advisory database; create it with "
                                   "'depscan db import EXPORT.zip' or 'depscan db update'")


@responses.activate
def test_db_update_downloads_verifies_and_imports(tmp_path: Path) -> None:
    data = SUBSET.read_bytes()
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    responses.add(
        responses.GET,
        "https://mirror.example/osv/PyPI/all.zip",
        body=data,
        headers={"x-goog-hash": f"crc32c=AAAAAA==,md5={md5}"},
    )
    db = tmp_path / "db.sqlite"
    result = CliRunner().invoke(app, ["db", "update", "--db", str(db), "--url", "https://mirror.example/osv"])
    assert result.exit_code == 0, result.output
    assert "PyPI: 92 records" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db.sqlite"]  # the download is gone


@responses.activate
def test_db_update_rejects_a_corrupted_download(tmp_path: Path) -> None:
    data = SUBSET.read_bytes()
    md5 = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    url = "https://mirror.example/PyPI/all.zip"
    responses.add(responses.GET, url, body=data, headers={"x-goog-hash": f"md5={md5}"})
    db = tmp_path / "db.sqlite"
    result = CliRunner().invoke(app, ["db", "update", "--db", str(db), "--url", "https://mirror.example"])
    assert result.exit_code == 4
    assert "does not match its MD5" in result.output
    assert not db.exists()
    responses.replace(responses.GET, "https://mirror.example/PyPI/all.zip", status=503)
    result = CliRunner().invoke(app, ["db", "update", "--db", str(db), "--url", "https://mirror.example"])
    assert result.exit_code == 4 and "HTTP 503" in result.output


SHARED = REPO.parent / "shared" / "advisories" / "osv-pypi-pysec-2024-10-10.zip"


@pytest.mark.skipif(not SHARED.is_file(), reason="../shared/advisories is not beside this checkout")
def test_demo_against_the_whole_real_advisory_database(demo: tuple[Path, Path], tmp_path: Path) -> None:
    function, layer = demo
    db = tmp_path / "full.sqlite"
    proc = cli("db", "import", SHARED, "--db", db)
    assert proc.returncode == 0 and "2661 records imported, 0 skipped" in proc.stderr
    proc = cli("scan", function, "-l", layer, "--db", db, "-f", "json", cwd=tmp_path)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["advisory_data"]["records"] == 2661
    # The whole database finds exactly what the subset (all records of these packages) finds.
    subset = json.loads(cli("scan", function, "-l", layer, "--advisories", SUBSET, "-f", "json", cwd=tmp_path).stdout)
    assert sorted(v["fingerprint"] for v in doc["vulnerabilities"]) == sorted(
        v["fingerprint"] for v in subset["vulnerabilities"]
    )
