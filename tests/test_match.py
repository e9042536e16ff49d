from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
from builders import dist, write_zip
from packaging.utils import canonicalize_name

from depscan.advisories.backend import AdvisoryBackend, LookupResult, PackageQuery
from depscan.advisories.osv_db import affects
from depscan.advisories.osv_schema import parse_osv
from depscan.config import IgnoreRule
from depscan.match import group_advisories, match
from depscan.models import Advisory, AdvisoryData, ArtifactInfo, Finding, Level, Location, PythonDist, ScanResult
from depscan.policy import failing
from tests.advisories.osv_records import record
from tests.helpers import scan

HIGH = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"  # 7.5


class Fake(AdvisoryBackend):
    """An in-memory backend over parsed records; ``fail`` names packages whose lookup fails."""

    name = "fake"

    def __init__(self, records: list[dict[str, object]], fail: Sequence[str] = ()) -> None:
        self.advisories = [parse_osv(r, "fake") for r in records]
        self.fail = set(fail)

    def lookup(self, queries: Sequence[PackageQuery]) -> LookupResult:
        result = LookupResult(data=AdvisoryData("fake", len(self.advisories), None))
        for q in queries:
            if q.name in self.fail:
                result.failed[q] = "HTTP 503 after 5 attempts"
            else:
                result.affected[q] = [a for a in self.advisories if affects(a, q)]
        return result


def components(tmp_path: Path) -> tuple[object, ...]:
    files = dist("requests", "2.19.1") | dist("urllib3", "1.23", root="lib") | dist("six", "1.16.0", root="x")
    return scan(write_zip(tmp_path / "a.zip", files)).components


RECORDS = [
    record("PYSEC-1", "requests", versions=["2.19.1"], aliases=["CVE-1", "GHSA-a"], summary="leak"),
    record("GHSA-a", "requests", events=[{"introduced": "0"}, {"fixed": "2.20.0"}], aliases=["CVE-1"], cvss=HIGH),
    record("PYSEC-2", "requests", events=[{"introduced": "2.0"}, {"fixed": "2.31.0"}], details="line one\nmore"),
    record("PYSEC-3", "urllib3", events=[{"introduced": "0"}]),  # no fix
]


def test_alias_groups_are_one_finding_with_all_ids(tmp_path: Path) -> None:
    result = match(components(tmp_path), Fake(RECORDS))  # type: ignore[arg-type]
    by_id = {f.id: f for f in result.findings}
    assert set(by_id) == {"PYSEC-1", "PYSEC-2", "PYSEC-3"}
    grouped = by_id["PYSEC-1"]  # the ecosystem's own record names the group, as pip-audit does
    assert grouped.ids == ("PYSEC-1", "GHSA-a", "CVE-1")
    assert grouped.level is Level.HIGH and grouped.score == 7.5 and grouped.vector == HIGH
    assert grouped.fixed_versions == ("2.20.0",)
    assert by_id["PYSEC-2"].summary == "line one" and by_id["PYSEC-2"].level is Level.UNKNOWN
    assert by_id["PYSEC-3"].fixed_versions == ()
    assert result.findings[0].id == "PYSEC-1"  # most severe first
    assert not result.unchecked


def test_transitive_alias_grouping() -> None:
    advisories: list[Advisory] = [
        parse_osv(record("A", "p", aliases=["X"]), "t"),
        parse_osv(record("B", "p", aliases=["Y"]), "t"),
        parse_osv(record("C", "p", aliases=["X", "Y"]), "t"),
        parse_osv(record("D", "p"), "t"),
    ]
    groups = [[a.id for a in g] for g in group_advisories(advisories)]
    assert sorted(groups) == [["A", "B", "C"], ["D"]]


def test_failed_lookup_is_unchecked_never_clean(tmp_path: Path) -> None:
    result = match(components(tmp_path), Fake(RECORDS, fail=["urllib3"]))  # type: ignore[arg-type]
    assert result.unchecked == {"pkg:pypi/urllib3@1.23": "HTTP 503 after 5 attempts"}
    assert all(f.component.normalized_name != "urllib3" for f in result.findings)


def test_ignores_by_alias_and_expiry(tmp_path: Path) -> None:
    rules = [
        IgnoreRule("CVE-1", "not reachable: we never follow redirects", date(2030, 1, 1)),
        IgnoreRule("PYSEC-2", "old excuse", date(2020, 1, 1)),
    ]
    result = match(components(tmp_path), Fake(RECORDS), rules, today=date(2025, 1, 1))  # type: ignore[arg-type]
    by_id = {f.id: f for f in result.findings}
    assert by_id["PYSEC-1"].suppressed is not None
    assert by_id["PYSEC-1"].suppressed.reason == "not reachable: we never follow redirects"
    assert by_id["PYSEC-2"].suppressed is None
    assert result.notes == ["ignore for PYSEC-2 expired on 2020-01-01; it no longer suppresses (old excuse)"]
    assert [f.id for f in failing(result.findings, "any")] == ["PYSEC-2", "PYSEC-3"]


def test_fail_on_thresholds(tmp_path: Path) -> None:
    result = match(components(tmp_path), Fake(RECORDS))  # type: ignore[arg-type]
    assert len(failing(result.findings, "any")) == 3
    assert [f.id for f in failing(result.findings, "high")] == ["PYSEC-1"]
    assert failing(result.findings, "critical") == []


def test_shadowed_copies_get_their_own_findings(tmp_path: Path) -> None:
    function = write_zip(tmp_path / "f.zip", dist("urllib3", "1.23"))
    layer = write_zip(tmp_path / "l.zip", dist("urllib3", "1.23", root="python"))
    comps = scan(function, layer).components
    result = match(comps, Fake(RECORDS))
    assert sorted(f.component.status.value for f in result.findings) == ["shadowed", "used"]
    assert len({f.fingerprint for f in result.findings}) == 2


# -- fixes: computed once, true for every advisory of the finding ----------------------------------


def _dist(name: str, version: str) -> PythonDist:
    return PythonDist(name=name, normalized_name=canonicalize_name(name), version=version,
                      purl=f"pkg:pypi/{name}@{version}", found_by="sbom",
                      metadata_location=Location(f"{name}-{version}.dist-info/METADATA"), metadata_sha256=None,
                      metadata_dir=f"{name}-{version}.dist-info", site_root="")


def _only(records: list[dict[str, object]], name: str, version: str) -> Finding:
    (finding,) = match([_dist(name, version)], Fake(records)).findings
    return finding


def test_a_fixed_value_inside_another_interval_of_the_record_is_no_fix() -> None:
    # wagtail PYSEC-2021-114's shape: "fixed 2.11.6" closes [0, 2.11.6), but [2.11, 2.11.7) holds 2.11.6
    events = [{"introduced": "2.11"}, {"fixed": "2.11.7"}, {"introduced": "0"}, {"fixed": "2.11.6"}]
    finding = _only([record("PYSEC-7", "wagtail", events=events)], "wagtail", "2.11.5")
    assert finding.fixed_versions == ("2.11.7",) and finding.fix == "2.11.7"


@pytest.mark.parametrize(("first_id", "second_id"), [("PYSEC-88", "PYSEC-104"), ("PYSEC-1", "PYSEC-2")])
def test_a_fix_of_one_record_affected_by_another_of_the_group_is_no_fix(first_id: str, second_id: str) -> None:
    # zope PYSEC-2021-88 / PYSEC-2021-104's shape: 5.2 fixes the first, the second still affects it
    # (both orders of the ids: whichever record names the group, every record is checked)
    first = record(first_id, "zope", aliases=["GHSA-x"],
                   events=[{"introduced": "0"}, {"fixed": "4.6"}, {"introduced": "5.0"}, {"fixed": "5.2"}])
    second = record(second_id, "zope", aliases=["GHSA-x"],
                    events=[{"introduced": "5.0"}, {"fixed": "5.2.1"}, {"introduced": "4.0"}, {"fixed": "4.6.1"}])
    finding = _only([first, second], "zope", "5.1")
    assert set(finding.ids) >= {first_id, second_id}
    assert finding.fixed_versions == ("4.6.1", "5.2.1") and finding.fix == "5.2.1"
    assert _only([first, second], "zope", "4.5").fix == "4.6.1"


def test_the_fix_is_the_smallest_fixed_version_above_the_installed_one() -> None:
    events = [{"introduced": "0"}, {"fixed": "1.5"}, {"introduced": "2.0"}, {"fixed": "2.3"}, {"introduced": "3.0"}]
    records = [record("PYSEC-5", "pkg", events=events)]
    assert _only(records, "pkg", "1.0").fix == "1.5"
    assert _only(records, "pkg", "2.1").fix == "2.3"
    on_3 = _only(records, "pkg", "3.1")  # fixed on older lines only: nothing to upgrade to
    assert on_3.fixed_versions == ("1.5", "2.3") and on_3.fix is None


def test_an_installed_version_that_is_not_pep440_gets_no_fix() -> None:
    finding = _only([record("PYSEC-6", "pkg", versions=["2004d"], events=[{"introduced": "5.0"}, {"fixed": "6.0"}])],
                    "pkg", "2004d")
    assert finding.fixed_versions == ("6.0",) and finding.fix is None  # "above 2004d" cannot be said


def test_malformed_range_data_is_never_a_fix_and_the_finding_says_so() -> None:
    # steam PYSEC-2019-125: "fixed: 2019-09-12"
    finding = _only([record("PYSEC-9", "steam", events=[{"introduced": "0"}, {"fixed": "2019-09-12"}])], "steam", "1.0")
    assert finding.fixed_versions == () and finding.fix is None
    assert finding.malformed_ranges == ("PYSEC-9",)
    assert finding.range_note is not None and "PYSEC-9: fixed '2019-09-12'" in finding.range_note
    clean = _only([record("PYSEC-1", "steam", events=[{"introduced": "0"}, {"fixed": "2.0"}])], "steam", "1.0")
    assert clean.malformed_ranges == () and clean.range_note is None


def test_reports_say_which_range_data_is_malformed_and_advise_the_core_fix() -> None:
    from depscan.reporters import json_, markdown, sarif, table
    from depscan.reporters.cyclonedx import render_json

    steam = _dist("steam", "1.0")
    records = [record("PYSEC-9", "steam", events=[{"introduced": "0"}, {"fixed": "2019-09-12"}]),
               record("PYSEC-2", "steam", events=[{"introduced": "0"}, {"fixed": "1.2"}, {"introduced": "1.3"},
                                                  {"fixed": "1.3.1"}])]
    matched = match([steam], Fake(records))
    result = ScanResult(artifact=ArtifactInfo(path="app.zip", kind="zip", size=None), components=(steam,),
                        unknowns=(), findings=tuple(matched.findings), advisory_data=matched.data)
    vulns = {v["id"]: v for v in json.loads(json_.render(result))["vulnerabilities"]}
    assert vulns["PYSEC-9"]["malformed_ranges"] == ["PYSEC-9"] and "2019-09-12" in vulns["PYSEC-9"]["range_note"]
    assert vulns["PYSEC-9"]["fix"] is None and vulns["PYSEC-9"]["fixed_versions"] == []
    assert vulns["PYSEC-2"]["malformed_ranges"] == [] and vulns["PYSEC-2"]["range_note"] is None
    assert vulns["PYSEC-2"]["fix"] == "1.2" and vulns["PYSEC-2"]["fixed_versions"] == ["1.2", "1.3.1"]
    text = " ".join(table.render(result).decode().split())  # the table wraps the note over lines
    assert "malformed range data" in text and "2019-09-12" in text
    assert "| 1.2 |" in markdown.render(result).decode()
    messages = [r["message"]["text"] for r in json.loads(sarif.render(result))["runs"][0]["results"]]
    assert any("Upgrade steam to 1.2." in m for m in messages)
    recommendations = {v["id"]: v["recommendation"] for v in json.loads(render_json(result))["vulnerabilities"]}
    assert recommendations == {"PYSEC-2": "Upgrade steam to 1.2", "PYSEC-9": "No fixed version of steam is known."}


class Trusting(Fake):
    """Every record affects every queried version, as the online API's answer is trusted."""

    def lookup(self, queries: Sequence[PackageQuery]) -> LookupResult:
        result = LookupResult(data=AdvisoryData("trusting", len(self.advisories), None))
        for q in queries:
            result.affected[q] = list(self.advisories)
        return result


def test_the_installed_version_is_never_its_own_fix_even_when_the_source_says_it_is_affected() -> None:
    records = [record("GHSA-1", "pkg", events=[{"introduced": "0"}, {"fixed": "2.0"}, {"introduced": "3.0"},
                                                {"fixed": "3.1"}])]
    (finding,) = match([_dist("pkg", "2.0")], Trusting(records)).findings
    assert finding.fixed_versions == ("2.0", "3.1") and finding.fix == "3.1"
