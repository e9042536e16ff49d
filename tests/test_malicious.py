"""Known-malicious packages: OSV ``MAL-`` records (OpenSSF malicious-packages) offline and online.

The records in ``fixtures/advisories/malicious`` are shaped like osv.dev's (fixtures/README.md): one
listing a single version, one with a range from 0 and no fix (and a GHSA alias), one withdrawn. A
malicious project's every version is affected, so the installed versions below are ones the records
do not list.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from builders import dist, write_zip

from depscan.advisories import osv_db
from depscan.advisories.backend import PackageQuery
from depscan.advisories.osv_api import OnlineOSV, OSVClient
from depscan.match import MALICIOUS_NOTE, match
from depscan.models import Level, PythonDist, Suppression
from tests.advisories.osv_records import record
from tests.helpers import cli, make_dist, scan

REPO = Path(__file__).resolve().parent.parent
MALICIOUS = REPO / "fixtures" / "advisories" / "malicious"
BASE = "https://osv.test.example"
BATCH = f"{BASE}/v1/querybatch"


def mal_records() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(MALICIOUS.glob("*.json"))}


def ordinary() -> dict[str, Any]:
    """An ordinary advisory of ``demo`` affecting 1.0 only: its range must still be honoured."""
    return record("PYSEC-2099-1", "demo", versions=["1.0"], events=[{"introduced": "0"}, {"fixed": "1.1"}])


@pytest.fixture
def records_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "osv records"
    shutil.copytree(MALICIOUS, folder)
    (folder / "PYSEC-2099-1.json").write_text(json.dumps(ordinary()))
    return folder


@pytest.fixture
def export_zip(records_dir: Path, tmp_path: Path) -> Path:
    path = tmp_path / "PyPI all.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for p in sorted(records_dir.glob("*.json")):
            zf.write(p, p.name)
    return path


@pytest.fixture
def database(records_dir: Path, tmp_path: Path) -> Iterator[osv_db.OfflineDatabase]:
    db = tmp_path / "osv.sqlite"
    osv_db.import_sources(db, [records_dir])
    backend = osv_db.OfflineDatabase(db)
    yield backend
    backend.close()


def q(name: str, version: str) -> PackageQuery:
    return PackageQuery("PyPI", name, version)


# -- offline ---------------------------------------------------------------------------------------


def test_import_keeps_and_indexes_mal_records_withdrawn_included(database: osv_db.OfflineDatabase) -> None:
    assert database.info().records == 4
    assert database.advisory("MAL-2023-1578").summary == "Malicious code in aiohtt (PyPI)"
    assert database.advisory("MAL-2099-0003").withdrawn is not None  # stored, never matched


def test_offline_mal_record_matches_any_version(database: osv_db.OfflineDatabase) -> None:
    queries = [q("aiohtt", "0.1"), q("aiohtt", "7.3"), q("aiohtt", "not-pep440"), q("requestz", "2.31.0"),
               q("honest-tool", "1.0.0"), q("demo", "1.0"), q("demo", "1.1")]
    result = database.lookup(queries)
    ids = {query.version if query.name == "aiohtt" else query.name + " " + query.version:
           [a.id for a in result.affected[query]] for query in queries}
    assert ids == {
        "0.1": ["MAL-2023-1578"],
        "7.3": ["MAL-2023-1578"],  # not in the record's versions list: the whole project is malicious
        "not-pep440": ["MAL-2023-1578"],
        "requestz 2.31.0": ["MAL-2099-0002"],
        "honest-tool 1.0.0": [],  # withdrawn: a retracted report matches nothing
        "demo 1.0": ["PYSEC-2099-1"],
        "demo 1.1": [],  # an ordinary record keeps its range
    }
    assert osv_db.affects(database.advisory("MAL-2023-1578"), q("aiohtt", "99"))
    assert not osv_db.affects(database.advisory("MAL-2023-1578"), q("aiohttp", "3.9.0"))


def test_findings_are_critical_malicious_and_say_so(database: osv_db.OfflineDatabase) -> None:
    components = [make_dist(name, version, f"{name}-{version}.dist-info/METADATA")
                  for name, version in (("aiohtt", "0.2"), ("demo", "1.0"), ("requestz", "2.31.0"))]
    findings = match(components, database).findings
    assert [(f.id, f.malicious) for f in findings] == [
        ("MAL-2023-1578", True), ("MAL-2099-0002", True), ("PYSEC-2099-1", False),  # malicious first
    ]
    evil = findings[1]
    assert evil.ids == ("MAL-2099-0002", "GHSA-9999-mal0-0002")
    assert evil.level is Level.CRITICAL and evil.fix is None and evil.fixed_versions == ()
    assert evil.range_note == MALICIOUS_NOTE and "the whole project is malicious" in MALICIOUS_NOTE
    assert evil.summary == "Malicious code in requestz (PyPI)"
    assert findings[2].level is Level.UNKNOWN and findings[2].fix == "1.1"


# -- online ----------------------------------------------------------------------------------------


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def test_online_asks_each_package_without_a_version_and_keeps_only_mal_ids(mock: responses.RequestsMock) -> None:
    mal = mal_records()["MAL-2023-1578"]
    pysec_other = record("PYSEC-2099-7", "aiohtt", versions=["0.1"])  # listed by the name query only
    bodies: list[Any] = []

    def batch(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        assert request.body is not None
        queries = json.loads(request.body)["queries"]
        bodies.append(queries)
        results = []
        for item in queries:
            if "version" in item:  # the versioned query: 0.2 is in no record's list
                results.append({})
            else:
                results.append({"vulns": [{"id": r["id"], "modified": r["modified"]} for r in (mal, pysec_other)]})
        return 200, {}, json.dumps({"results": results})

    mock.add_callback(responses.POST, BATCH, callback=batch)
    mock.get(f"{BASE}/v1/vulns/MAL-2023-1578", json=mal)
    backend = OnlineOSV(OSVClient(requests.Session(), base_url=BASE))
    result = backend.lookup([q("aiohtt", "0.2"), q("aiohtt", "0.3")])
    assert bodies == [[
        {"package": {"name": "aiohtt", "ecosystem": "PyPI"}, "version": "0.2"},
        {"package": {"name": "aiohtt", "ecosystem": "PyPI"}, "version": "0.3"},
        {"package": {"name": "aiohtt", "ecosystem": "PyPI"}},  # once per package, in the same batch
    ]]
    assert not result.failed
    assert {query.version: [a.id for a in found] for query, found in result.affected.items()} == {
        "0.2": ["MAL-2023-1578"], "0.3": ["MAL-2023-1578"],
    }
    fetched = [str(c.request.url) for c in mock.calls if c.request.method == "GET"]
    assert fetched == [f"{BASE}/v1/vulns/MAL-2023-1578"]  # the PYSEC id of the name query is not fetched


def test_online_failed_name_query_fails_the_versions(mock: responses.RequestsMock) -> None:
    """The name query in a chunk of its own that fails: the package is not known to be clean."""
    import depscan.advisories.osv_api as osv_api

    calls: list[int] = []

    def batch(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        assert request.body is not None
        queries = json.loads(request.body)["queries"]
        calls.append(len(queries))
        if all("version" not in item for item in queries):
            return 400, {}, "{}"
        return 200, {}, json.dumps({"results": [{} for _ in queries]})

    mock.add_callback(responses.POST, BATCH, callback=batch)
    original = osv_api.BATCH_SIZE
    osv_api.BATCH_SIZE = 1
    try:
        result = OnlineOSV(OSVClient(requests.Session(), base_url=BASE)).lookup([q("aiohtt", "0.2")])
    finally:
        osv_api.BATCH_SIZE = original
    assert calls == [1, 1]
    assert list(result.failed) == [q("aiohtt", "0.2")] and "HTTP 400" in result.failed[q("aiohtt", "0.2")]
    assert not result.affected


# -- the command line: exit code and every report --------------------------------------------------


@pytest.fixture
def function_zip(tmp_path: Path) -> Path:
    files = {**dist("aiohtt", "0.2", root="python"), **dist("requestz", "2.31.0", root="python"),
             **dist("demo", "1.1", root="python")}
    return write_zip(tmp_path / "my function.zip", files)


def test_malicious_fails_the_run_at_any_fail_on(function_zip: Path, export_zip: Path, tmp_path: Path) -> None:
    for fail_on in ("critical", "any"):
        proc = cli("scan", function_zip, "--advisories", export_zip, "--fail-on", fail_on, "-f", "json",
                   cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        assert "2 vulnerabilities (2 KNOWN-MALICIOUS)" in proc.stderr  # the summary line
        assert "2 known-malicious package(s) installed: aiohtt 0.2 (MAL-2023-1578), requestz 2.31.0 " \
               "(MAL-2099-0002) (fails the run at any --fail-on)" in proc.stderr
    baseline = tmp_path / "baseline.json"
    first = cli("scan", function_zip, "--advisories", export_zip, "-o", f"json={baseline}", cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    proc = cli("scan", function_zip, "--advisories", export_zip, "--baseline", baseline, "--new-only",
               "--fail-on", "critical", cwd=tmp_path)
    assert proc.returncode == 1 and "2 known-malicious package(s)" in proc.stderr  # not new, still malicious
    (tmp_path / ".depscan.toml").write_text(
        '[[ignore]]\nid = "MAL-2023-1578"\nreason = "our own test package"\n'
        '[[ignore]]\nid = "GHSA-9999-mal0-0002"\nreason = "reviewed"\n'
    )
    proc = cli("scan", function_zip, "--advisories", export_zip, "--fail-on", "critical", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr  # only an ignore naming the record's id stops it


def test_every_report_shows_the_malicious_packages(function_zip: Path, export_zip: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    args: list[str | Path] = ["scan", function_zip, "--advisories", export_zip]
    for fmt, name in (("table", "t.txt"), ("markdown", "m.md"), ("json", "r.json"), ("sarif", "r.sarif"),
                      ("cyclonedx-json", "c.json"), ("spdx-json", "s.json")):
        args += ["-o", f"{fmt}={out / name}"]
    proc = cli(*args, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr

    table = (out / "t.txt").read_text()
    assert table.lstrip().startswith("Malicious packages")
    assert table.index("MAL-2023-1578") < table.index("my function.zip")  # before the inventory
    assert "No other known vulnerabilities." in table and "PYSEC" not in table  # demo 1.1 is fixed
    assert "Vulnerabilities" not in table  # the malicious findings are not listed twice

    markdown = (out / "m.md").read_text().splitlines()
    assert markdown[2] == (":skull: **2 known-malicious packages**: `aiohtt 0.2`, `requestz 2.31.0`. The whole "
                           "project is malicious (every version): remove it and treat the environment it ran in "
                           "as compromised.")
    assert "### Malicious packages" in markdown

    doc = json.loads((out / "r.json").read_text())
    assert doc["summary"]["malicious"] == 2 and doc["summary"]["vulnerabilities"] == 2
    by_id = {v["id"]: v for v in doc["vulnerabilities"]}
    assert by_id["MAL-2023-1578"]["malicious"] is True and by_id["MAL-2023-1578"]["severity"] == "critical"
    assert by_id["MAL-2023-1578"]["range_note"] == MALICIOUS_NOTE

    sarif = json.loads((out / "r.sarif").read_text())["runs"][0]
    rules = {r["id"]: r for r in sarif["tool"]["driver"]["rules"]}
    assert rules["MAL-2023-1578"]["properties"]["tags"] == ["security", "malicious"]
    assert rules["MAL-2023-1578"]["properties"]["security-severity"] == "10.0"
    results = [r for r in sarif["results"] if r["ruleId"] == "MAL-2023-1578"]
    assert results[0]["level"] == "error" and results[0]["properties"]["malicious"] is True
    assert results[0]["message"]["text"].startswith("aiohtt 0.2 is a known-malicious package (MAL-2023-1578).")

    bom = json.loads((out / "c.json").read_text())
    vuln = next(v for v in bom["vulnerabilities"] if v["id"] == "MAL-2099-0002")
    assert {"name": "depscan:malicious", "value": "true"} in vuln["properties"]
    assert [r["severity"] for r in vuln["ratings"]] == ["critical"]
    assert vuln["recommendation"].startswith("Remove requestz")

    spdx = json.loads((out / "s.json").read_text())
    package = next(p for p in spdx["packages"] if p["name"] == "aiohtt")
    assert "depscan:malicious=MAL-2023-1578" in [a["comment"] for a in package["annotations"]]
    assert "KNOWN-MALICIOUS PACKAGES: 2" in spdx["comment"]


def test_scan_helper_sees_the_distributions(function_zip: Path) -> None:
    """The fixture zip holds what the tests above assume (three distributions under python/)."""
    names = sorted(c.name for c in scan(function_zip).components if isinstance(c, PythonDist))
    assert names == ["aiohtt", "demo", "requestz"]


@pytest.mark.parametrize("version", ["1.4", "1.5", "1.6"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_cyclonedx_writer_matches_the_library_for_a_malicious_rating(
    function_zip: Path, database: osv_db.OfflineDatabase, version: str, fmt: str
) -> None:
    """The critical rating without a score or vector and the ``depscan:malicious`` property are written
    byte for byte as cyclonedx-python-lib writes them (the reporter tests' rule)."""
    import dataclasses
    import re

    from cyclonedx.output import OutputFormat

    from depscan.reporters import ReportOptions, cyclonedx

    result = scan(function_zip)
    matched = match(result.components, database)
    result = dataclasses.replace(result, findings=tuple(matched.findings), advisory_data=matched.data)
    options = ReportOptions(cyclonedx_version=version)
    output_format = OutputFormat.JSON if fmt == "json" else OutputFormat.XML
    data, repairs = cyclonedx._render(result, options, output_format)
    reference, reference_repairs = cyclonedx.render_with_library(result, options, output_format)
    volatile = re.compile(rb"urn:uuid:[0-9a-f-]{36}|(?<=<timestamp>)[^<]+|(?<=\"timestamp\": \")[^\"]+")
    assert volatile.sub(b"X", data) == volatile.sub(b"X", reference) and repairs == reference_repairs
    assert b"depscan:malicious" in data and b"critical" in data


def test_a_failed_lookup_still_exits_4_and_names_the_malicious_packages(
    function_zip: Path, database: osv_db.OfflineDatabase
) -> None:
    import dataclasses

    from depscan.errors import ExitCode
    from depscan.policy import verdict

    result = scan(function_zip)
    matched = match(result.components, database)
    result = dataclasses.replace(result, findings=tuple(matched.findings), advisory_data=matched.data)
    assert verdict(result, "critical").code is ExitCode.FINDINGS
    broken = dataclasses.replace(result, unchecked=(("pkg:pypi/other@1.0", "HTTP 503"),))
    judged = verdict(broken, "critical")
    assert judged.code is ExitCode.LOOKUP_FAILED
    assert judged.message is not None and judged.message.endswith(
        "; 2 known-malicious package(s) installed: aiohtt 0.2 (MAL-2023-1578), requestz 2.31.0 (MAL-2099-0002)")
    suppressed = dataclasses.replace(result, findings=tuple(
        dataclasses.replace(f, suppressed=Suppression(f.id, "reviewed", None)) for f in result.findings))
    assert verdict(suppressed, "critical").code is ExitCode.OK
