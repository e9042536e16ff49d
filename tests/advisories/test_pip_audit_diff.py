"""Differential check: depscan's online backend against pip-audit, the reference auditor.

Both tools run their own code against one mocked OSV API serving the same data, for the same
pinned distributions:

- pip-audit: ``pip_audit._service.osv.OsvService`` (one ``POST /v1/query`` per package, full
  records in the answer) driven by ``pip_audit._audit.Auditor`` (its alias merging) over a tiny
  ``DependencySource``; its JSON from ``pip_audit._format.json.JsonFormat``.
- depscan: ``OnlineOSV`` (``POST /v1/querybatch`` + ``GET /v1/vulns/{id}``) and
  ``depscan.match.match`` on components found by scanning a zip; its JSON from
  ``depscan.reporters.pip_audit_json.render``.

The mock server decides what affects a (name, version) without depscan's range code: every
record of ``fixtures/advisories/pypi-subset.zip`` (real PyPA advisory database records,
CC-BY-4.0) with an ``affected[]`` entry naming the package whose ``versions`` list holds that
exact version string. Withdrawn records are served too (arrayfire 3.3.20160624 hits one): both
tools must drop them themselves.

The subset holds only PYSEC records, so no two of them share an alias and alias merging would
never be exercised. The real OSV API also answers with the GitHub advisory of the same flaw, so
``GHSA_TWINS`` adds, for a few PYSEC records, a GHSA-shaped record: id = the PYSEC record's GHSA
alias, aliases = its CVE only (as GitHub writes them), a summary of its own, same ``affected``.
Each tool must merge such a pair into one group.

Deliberate differences (asserted as such below, not hidden):

1. (No longer a difference.) Primary id of a merged group: both name it by its PYSEC record
   (depscan orders a group's records PYSEC, then GHSA, then others), so ``id``, ``aliases`` and
   the description (the primary's ``summary``, else its ``details``) match pip-audit's.
2. (No longer a difference; see 1.)
3. Order: pip-audit lists dependencies in its source's order and a dependency's vulns PYSEC
   first in server order, aliases in set order; depscan sorts dependencies by (name, version),
   findings by severity then id. Compared here as sets.
4. Grouping is transitive in depscan (union of ids and aliases); pip-audit folds a non-PYSEC
   result into the first result it aliases. They agree on these data; they would differ when
   one record bridges two PYSEC records that do not alias each other.
5. depscan's findings carry a severity (CVSS score, level); pip-audit has none. The
   ``pip-audit-json`` format leaves it out, so the JSON keys are pip-audit's exactly.
6. A failed lookup: pip-audit aborts the audit (``ServiceError``); depscan reports the
   component as pip-audit reports a skipped dependency (``name`` + ``skip_reason``).

Fix versions agree everywhere pip-audit reports them (pip-audit reads only the first ECOSYSTEM
range of the package's ``affected`` entry; every record here has a single one).
"""

from __future__ import annotations

import copy
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from builders import dist, write_zip
from packaging.version import Version
from pip_audit._audit import Auditor
from pip_audit._dependency_source import DependencySource
from pip_audit._fix import ResolvedFixVersion
from pip_audit._format.json import JsonFormat
from pip_audit._service import (
    Dependency,
    ResolvedDependency,
    SkippedDependency,
    VulnerabilityResult,
)
from pip_audit._service.osv import OsvService

from depscan.advisories.osv_api import OnlineOSV, OSVClient, RecordCache
from depscan.match import MatchResult, match
from depscan.models import ArtifactInfo, PythonDist, ScanResult
from depscan.reporters.pip_audit_json import render
from tests.helpers import scan

SUBSET = Path(__file__).resolve().parents[2] / "fixtures" / "advisories" / "pypi-subset.zip"
BASE = "https://osv.diff.example"

# As written in METADATA (mixed case on purpose: both tools must normalize).
PINNED = [
    ("requests", "2.19.1"),
    ("urllib3", "1.23"),
    ("Jinja2", "2.10"),
    ("idna", "2.7"),
    ("certifi", "2018.4.16"),
    ("PyYAML", "5.3"),
    ("Pillow", "8.0.0"),
    ("arrayfire", "3.3.20160624"),  # only a withdrawn record lists it
    ("six", "1.16.0"),  # no advisory at all
]
GHSA_TWINS = ("PYSEC-2018-28", "PYSEC-2019-132", "PYSEC-2020-96")  # requests, urllib3, pyyaml


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def osv_records() -> dict[str, dict[str, Any]]:
    """The subset's records by id, plus the GHSA twins."""
    records: dict[str, dict[str, Any]] = {}
    with zipfile.ZipFile(SUBSET) as zf:
        for name in zf.namelist():
            rec = json.loads(zf.read(name))
            records[rec["id"]] = rec
    for pysec in GHSA_TWINS:
        original = records[pysec]
        (ghsa,) = [a for a in original["aliases"] if a.startswith("GHSA-")]
        twin = copy.deepcopy(original)
        twin["id"] = ghsa
        twin["aliases"] = [a for a in original["aliases"] if a.startswith("CVE-")]
        twin["summary"] = f"GitHub advisory twin of {pysec} (test data)"
        records[ghsa] = twin
    return records


def affecting(name: str, version: str | None) -> list[dict[str, Any]]:
    """Records naming ``name`` whose ``versions`` list holds exactly ``version`` (withdrawn too); every
    record naming it for a query without a version, as the API answers one."""
    return [
        rec
        for _ident, rec in sorted(osv_records().items())
        if any(
            a.get("package", {}).get("ecosystem") == "PyPI"
            and _normalize(a.get("package", {}).get("name", "")) == _normalize(name)
            and (version is None or version in a.get("versions", []))
            for a in rec.get("affected", [])
        )
    ]


class FakeOSV:
    """The three endpoints, computed from ``affecting``; ``broken`` ids answer 500."""

    def __init__(self, broken: frozenset[str] = frozenset()) -> None:
        self.broken = broken

    def query(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        assert request.body is not None
        item = json.loads(request.body)
        assert item["package"]["ecosystem"] == "PyPI"
        hits = affecting(item["package"]["name"], item["version"])
        return 200, {}, json.dumps({"vulns": hits} if hits else {})

    def querybatch(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        assert request.body is not None
        results = []
        for item in json.loads(request.body)["queries"]:
            hits = affecting(item["package"]["name"], item.get("version"))
            results.append({"vulns": [{"id": r["id"], "modified": r["modified"]} for r in hits]} if hits else {})
        return 200, {}, json.dumps({"results": results})

    def vuln(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        ident = str(request.url).rsplit("/", 1)[1]
        if ident in self.broken:
            return 500, {}, "{}"
        if ident not in osv_records():
            return 404, {}, json.dumps({"code": 5, "message": "Bug not found."})
        return 200, {}, json.dumps(osv_records()[ident])

    def install(self, mock: responses.RequestsMock) -> None:
        mock.add_callback(responses.POST, f"{BASE}/v1/query", callback=self.query)
        mock.add_callback(responses.POST, f"{BASE}/v1/querybatch", callback=self.querybatch)
        mock.add_callback(responses.GET, re.compile(re.escape(f"{BASE}/v1/vulns/") + r"[^/]+"), callback=self.vuln)


class PinnedSource(DependencySource):
    """pip-audit's view of the pins: resolved dependencies, nothing to fix."""

    def __init__(self, pins: list[tuple[str, str]]) -> None:
        self.pins = pins

    def collect(self) -> Iterator[Dependency]:
        for name, version in self.pins:
            yield ResolvedDependency(name=name, version=Version(version))

    def fix(self, fix_version: ResolvedFixVersion) -> None:
        raise NotImplementedError


@dataclass
class Runs:
    pip_audit: dict[Dependency, list[VulnerabilityResult]]
    depscan: MatchResult
    components: list[PythonDist]
    artifact: Path


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def scan_pins(tmp_path: Path) -> tuple[Path, list[PythonDist]]:
    files: dict[str, bytes] = {}
    for name, version in PINNED:
        files |= dist(name, version)
    artifact = write_zip(tmp_path / "app.zip", files)
    found = [c for c in scan(artifact).components if isinstance(c, PythonDist)]
    assert len(found) == len(PINNED)
    return artifact, found


def run_depscan(components: list[PythonDist], tmp_path: Path) -> MatchResult:
    client = OSVClient(requests.Session(), base_url=BASE, sleep=lambda _s: None)
    return match(components, OnlineOSV(client, RecordCache(tmp_path / "depscan-cache")))


def run_pip_audit(tmp_path: Path) -> dict[Dependency, list[VulnerabilityResult]]:
    service = OsvService(cache_dir=tmp_path / "pip-audit-cache", timeout=5, osv_url=f"{BASE}/v1/query")
    return dict(Auditor(service).audit(PinnedSource(PINNED)))


@pytest.fixture
def runs(mock: responses.RequestsMock, tmp_path: Path) -> Runs:
    FakeOSV().install(mock)
    artifact, components = scan_pins(tmp_path)
    return Runs(run_pip_audit(tmp_path), run_depscan(components, tmp_path), components, artifact)


Group = frozenset[str]


def pip_audit_groups(runs: Runs) -> dict[str, set[Group]]:
    return {
        dep.canonical_name: {frozenset({v.id} | set(v.aliases)) for v in vulns} for dep, vulns in runs.pip_audit.items()
    }


def depscan_groups(runs: Runs) -> dict[str, set[Group]]:
    out: dict[str, set[Group]] = {c.normalized_name: set() for c in runs.components}
    for finding in runs.depscan.findings:
        out[finding.component.normalized_name].add(frozenset(finding.ids))
    return out


def depscan_json(runs: Runs) -> dict[str, Any]:
    result = ScanResult(
        artifact=ArtifactInfo(str(runs.artifact), "zip", runs.artifact.stat().st_size),
        components=tuple(runs.components),
        unknowns=(),
        findings=tuple(runs.depscan.findings),
        advisory_data=runs.depscan.data,
        unchecked=tuple(sorted(runs.depscan.unchecked.items())),
    )
    data: dict[str, Any] = json.loads(render(result))
    return data


def pip_audit_json(result: dict[Dependency, list[VulnerabilityResult]]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(JsonFormat(output_desc=True, output_aliases=True).format(result, []))
    return data


def by_group(vulns: list[dict[str, Any]]) -> dict[Group, dict[str, Any]]:
    return {frozenset([v["id"], *v["aliases"]]): v for v in vulns}


# -- the tools' own results ----------------------------------------------------------------------


def test_both_tools_used_their_own_endpoints(runs: Runs, mock: responses.RequestsMock) -> None:
    paths = [str(call.request.url).removeprefix(BASE) for call in mock.calls]
    assert paths.count("/v1/query") == len(PINNED)  # pip-audit: one query per package
    assert paths.count("/v1/querybatch") == 1  # depscan: one batch
    assert any(p.startswith("/v1/vulns/") for p in paths)
    assert not runs.depscan.unchecked


def test_same_advisory_groups_per_package(runs: Runs) -> None:
    theirs, ours = pip_audit_groups(runs), depscan_groups(runs)
    assert ours == theirs
    # the data really exercise what matters: merged twins, withdrawn-only and clean packages
    requests_group = frozenset({"PYSEC-2018-28", "GHSA-x84v-xcm2-53pg", "CVE-2018-18074"})
    assert requests_group in ours["requests"]
    assert ours["arrayfire"] == set() and ours["six"] == set()
    assert len(ours["pillow"]) == 26 and len(ours["urllib3"]) == 7


def test_same_fix_versions_per_group_where_pip_audit_has_them(runs: Runs) -> None:
    theirs = {
        (dep.canonical_name, frozenset({v.id} | set(v.aliases))): [str(f) for f in v.fix_versions]
        for dep, vulns in runs.pip_audit.items()
        for v in vulns
    }
    ours = {(f.component.normalized_name, frozenset(f.ids)): list(f.fixed_versions) for f in runs.depscan.findings}
    assert ours.keys() == theirs.keys()
    compared = {key: fixes for key, fixes in theirs.items() if fixes}
    assert len(compared) == len(theirs)  # every record here states a fix
    assert {key: ours[key] for key in compared} == compared


# -- the pip-audit-json format -------------------------------------------------------------------


def test_pip_audit_json_has_pip_audits_shape_and_content(runs: Runs) -> None:
    ours, theirs = depscan_json(runs), pip_audit_json(runs.pip_audit)
    assert ours.keys() == theirs.keys() == {"dependencies", "fixes"}
    assert ours["fixes"] == theirs["fixes"] == []
    our_deps = {d["name"]: d for d in ours["dependencies"]}
    their_deps = {d["name"]: d for d in theirs["dependencies"]}
    assert our_deps.keys() == their_deps.keys() == {_normalize(n) for n, _v in PINNED}
    for name, theirs_dep in their_deps.items():
        ours_dep = our_deps[name]
        assert ours_dep.keys() == theirs_dep.keys() == {"name", "version", "vulns"}, name
        assert ours_dep["version"] == theirs_dep["version"], name
        our_vulns, their_vulns = by_group(ours_dep["vulns"]), by_group(theirs_dep["vulns"])
        assert our_vulns.keys() == their_vulns.keys(), name
        assert len(ours_dep["vulns"]) == len(theirs_dep["vulns"]), name
        for group, their_vuln in their_vulns.items():
            our_vuln = our_vulns[group]
            assert our_vuln.keys() == their_vuln.keys() == {"id", "fix_versions", "aliases", "description"}
            assert our_vuln["fix_versions"] == their_vuln["fix_versions"], group
            assert our_vuln["id"] not in our_vuln["aliases"], group
            # Both name a merged group by its PYSEC record, and describe it with that record's text.
            assert our_vuln["id"] == their_vuln["id"], group
            assert our_vuln["description"] == their_vuln["description"], group


def test_pip_audit_json_names_are_normalized_and_versions_as_installed(runs: Runs) -> None:
    deps = depscan_json(runs)["dependencies"]
    assert [(d["name"], d["version"]) for d in deps] == sorted((_normalize(n), v) for n, v in PINNED)


def test_failed_lookup_has_pip_audits_skipped_shape(mock: responses.RequestsMock, tmp_path: Path) -> None:
    FakeOSV(broken=frozenset({"PYSEC-2024-60"})).install(mock)  # idna's only advisory
    artifact, components = scan_pins(tmp_path)
    matched = run_depscan(components, tmp_path)
    idna = next(c for c in components if c.normalized_name == "idna")
    assert list(matched.unchecked) == [idna.purl]
    ours = depscan_json(Runs({}, matched, components, artifact))
    (entry,) = [d for d in ours["dependencies"] if d["name"] == "idna"]
    skipped = SkippedDependency(name="IDNA", skip_reason=matched.unchecked[idna.purl])
    (theirs,) = pip_audit_json({skipped: []})["dependencies"]
    assert entry == theirs
    assert entry["skip_reason"].startswith(f"GET {BASE}/v1/vulns/PYSEC-2024-60: HTTP 500")
