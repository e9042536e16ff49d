"""CycloneDX 1.6/1.5/1.4, JSON and XML: schema-valid (the library's strict validators), bom-refs per
copy, licenses, dependencies for the artifact's interpreter, vulnerabilities, repairs, goldens; and the
marker environment inferred from an artifact."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.validation.xml import XmlValidator

from depscan.environment import marker_environment
from depscan.match import smallest_fix_above
from depscan.models import (
    Advisory,
    AdvisoryData,
    ArtifactInfo,
    Finding,
    Level,
    Location,
    NativeComponent,
    NativeLib,
    PythonDist,
    ScanResult,
    Severity,
    Status,
    Suppression,
    WheelInfo,
)
from depscan.reporters import ReportOptions
from depscan.reporters.cyclonedx import (
    SPEC_VERSIONS,
    render_json,
    render_json_with_warnings,
    render_xml,
    render_xml_with_warnings,
)
from tests.helpers import make_dist

VERSIONS = tuple(SPEC_VERSIONS)  # 1.6, 1.5, 1.4
NS = {"c": "http://cyclonedx.org/schema/bom/1.6"}


# -- validation ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def validate() -> Iterator[Callable[[bytes, str, str], None]]:
    """Validate a document with cyclonedx-python-lib's own validators (strict JSON schema, XSD).

    jsonschema checks every ``iri-reference`` with an Earley parser (~15 ms a URL, ~90 URLs in the demo
    document); the same URLs recur in every version, so the check is memoized for this module. Same
    verdicts, a third of the time.
    """
    from jsonschema import Draft7Validator  # type: ignore[import-untyped]

    checkers = Draft7Validator.FORMAT_CHECKER.checkers
    original = checkers.get("iri-reference")  # absent without jsonschema's format extras: nothing to speed up
    if original is not None:
        check, raises = original
        memo = functools.lru_cache(maxsize=None)(check)
        checkers["iri-reference"] = (lambda v: memo(v) if isinstance(v, str) else check(v), raises)
    validators: dict[tuple[str, str], Any] = {}

    def run(data: bytes, version: str, fmt: str) -> None:
        key = (version, fmt)
        if key not in validators:
            schema = SPEC_VERSIONS[version]
            validators[key] = JsonStrictValidator(schema) if fmt == "json" else XmlValidator(schema)
        errors = validators[key].validate_str(data.decode("utf-8"), all_errors=True)
        messages = [str(e) for e in errors or ()]
        assert not messages, "\n".join(messages)

    try:
        yield run
    finally:
        if original is not None:
            checkers["iri-reference"] = original


_VOLATILE = re.compile(rb"urn:uuid:[0-9a-f-]{36}|(?<=<timestamp>)[^<]+|(?<=\"timestamp\": \")[^\"]+")


@pytest.fixture(autouse=True)
def same_as_the_library(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """Every document a test here renders is also serialized by cyclonedx-python-lib from its model
    (``render_with_library``) and must be the same bytes (serial number and scan time aside), with the
    same repairs: depscan's writer is held to the library's output by every test in this module."""
    from depscan.reporters import cyclonedx

    fast = cyclonedx._render
    compared: list[tuple[str, str]] = []

    def both(result: ScanResult, options: ReportOptions, output_format: Any) -> tuple[bytes, list[str]]:
        data, repairs = fast(result, options, output_format)
        reference, reference_repairs = cyclonedx.render_with_library(result, options, output_format)
        assert _VOLATILE.sub(b"X", data).decode() == _VOLATILE.sub(b"X", reference).decode()
        assert repairs == reference_repairs
        compared.append((options.cyclonedx_version, str(output_format)))
        return data, repairs

    monkeypatch.setattr(cyclonedx, "_render", both)
    yield compared


def _render(result: ScanResult, version: str, fmt: str) -> tuple[bytes, list[str]]:
    options = ReportOptions(cyclonedx_version=version)
    return render_json_with_warnings(result, options) if fmt == "json" else render_xml_with_warnings(result, options)


# -- building results ----------------------------------------------------------------------------


def _dist(name: str, version: str, path: str, **fields: Any) -> PythonDist:
    return make_dist(name, version, path, **{"metadata_sha256": "ab" * 32, **fields})


def _result(*dists: PythonDist, findings: tuple[Finding, ...] = (), checked: bool = True) -> ScanResult:
    return ScanResult(
        artifact=ArtifactInfo(path="/somewhere/app.zip", kind="zip", size=1),
        components=dists,
        unknowns=(),
        tool_version="9.9.9",
        findings=findings,
        advisory_data=AdvisoryData("offline:db.sqlite", 3, "2024-01-01T00:00:00Z") if checked else None,
    )


def _advisory(vuln_id: str, *, aliases: tuple[str, ...] = (), severity: tuple[Severity, ...] = (),
              published: str | None = "2023-01-02T03:04:05Z", modified: str = "2023-02-03T04:05:06.123456789Z",
              references: tuple[str, ...] = ()) -> Advisory:
    return Advisory(id=vuln_id, aliases=aliases, summary=None, details=f"{vuln_id} details.", modified=modified,
                    published=published, withdrawn=None, affected=(), severity=severity, references=references,
                    source="test")


def _finding(dist: PythonDist, advisory: Advisory, fixed: tuple[str, ...] = ("9.0",), *,
             suppressed: Suppression | None = None) -> Finding:
    return Finding(rule="vulnerability", ids=(advisory.id, *advisory.aliases), component=dist, level=Level.UNKNOWN,
                   score=None, vector=None, summary=f"{advisory.id} summary", fixed_versions=fixed,
                   advisories=(advisory,), suppressed=suppressed, fix=smallest_fix_above(dist.version, fixed))


def _json(result: ScanResult, version: str = "1.6") -> dict[str, Any]:
    data, _ = render_json_with_warnings(result, ReportOptions(cyclonedx_version=version))
    doc: dict[str, Any] = json.loads(data)
    return doc


def _by_name(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for component in doc["components"]:
        out.setdefault(component["name"], []).append(component)
    return out


def _props(item: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for prop in item.get("properties", []):
        out.setdefault(prop["name"], []).append(prop.get("value", ""))
    return out


def _edges(doc: dict[str, Any]) -> dict[str, list[str]]:
    return {d["ref"]: d.get("dependsOn", []) for d in doc["dependencies"]}


# -- the demo scan -------------------------------------------------------------------------------


def _redact(data: bytes, tmp_path: Path, result: ScanResult) -> bytes:
    """Serial number, scan time, the tmp_path prefix, and the artifact's own hash and size (they depend
    on the zlib that compressed the demo zips). Advisory dates stay: they are data, not volatile."""
    assert result.artifact.sha256 is not None
    repo = str(Path(__file__).resolve().parents[2])
    text = data.decode("utf-8").replace(str(tmp_path), "TMP").replace(repo, "REPO")
    text = text.replace(result.artifact.sha256, "ARTIFACT-SHA256")
    text = re.sub(r"urn:uuid:[0-9a-f-]{36}", "urn:uuid:REDACTED", text)
    text = re.sub(r'("timestamp": ")[^"]+"', r'\1TIMESTAMP"', text)
    text = re.sub(r"<timestamp>[^<]+</timestamp>", "<timestamp>TIMESTAMP</timestamp>", text)
    text = re.sub(r'("depscan:artifact:size",\s*"value": ")\d+"', r'\1SIZE"', text)
    text = re.sub(r'(<property name="depscan:artifact:size">)\d+<', r"\1SIZE<", text)
    return text.encode("utf-8")


@pytest.mark.parametrize(("version", "fmt"), [("1.6", "json"), ("1.6", "xml"), ("1.5", "json"), ("1.4", "json")])
def test_demo_golden(full_result: ScanResult, tmp_path: Path, golden: Callable[[str, bytes], None],
                     validate: Callable[[bytes, str, str], None], version: str, fmt: str) -> None:
    """The demo with every native type (``native_types``), as the golden shows it."""
    result = dataclasses.replace(full_result, tool_version="VERSION")
    data, repairs = _render(result, version, fmt)
    validate(data, version, fmt)
    assert repairs == []
    golden(f"cyclonedx-{version}.{fmt}", _redact(data, tmp_path, full_result))


@pytest.mark.parametrize("fixture", ["demo_result", "full_result"])
@pytest.mark.parametrize(("version", "fmt"), [("1.5", "xml"), ("1.4", "xml")])
def test_demo_valid_in_every_version_and_format(fixture: str, request: pytest.FixtureRequest,
                                                validate: Callable[[bytes, str, str], None],
                                                version: str, fmt: str) -> None:
    """(``full_result``: with every native type; the autouse fixture holds the writer to the library's bytes.)"""
    data, repairs = _render(request.getfixturevalue(fixture), version, fmt)
    validate(data, version, fmt)
    assert repairs == []


def test_demo_content(demo_result: ScanResult) -> None:
    doc = json.loads(render_json(demo_result, ReportOptions()))
    assert doc["specVersion"] == "1.6"
    assert list(doc)[:3] == ["$schema", "bomFormat", "specVersion"]
    meta = doc["metadata"]
    assert meta["tools"]["components"][0]["name"] == "depscan"
    assert meta["tools"]["components"][0]["version"] == demo_result.tool_version
    root = meta["component"]
    assert (root["name"], root["type"]) == ("function.zip", "application")
    assert root["hashes"] == [{"alg": "SHA-256", "content": demo_result.artifact.sha256}]
    assert _props(root)["depscan:artifact:layer:1"] == ["function.zip"]
    assert _props(root)["depscan:artifact:layer:2"] == ["layer.zip"]
    props = _props(meta)
    assert props["depscan:advisories:checked"] == ["true"]
    assert props["depscan:advisories:records"] == ["92"]
    assert demo_result.advisory_data is not None
    assert props["depscan:advisories:source"] == [demo_result.advisory_data.source]
    assert props["depscan:advisories:newest_modified"] == [demo_result.advisory_data.newest_modified]
    assert props["depscan:environment:python_version"] == ["3.12"]
    unknown = "opt/python/bad-1.0.dist-info/METADATA [layer.zip]: METADATA has no Version field"
    assert props["depscan:unknown"] == [unknown]

    # Eight distributions, two of them urllib3, with refs that are unique, purl-based and free of randomness,
    # and the native library no distribution owns, at the top level too, with the libpq identified in it.
    components = _by_name(doc)
    assert sum(len(v) for v in components.values()) == 10
    refs = [c["bom-ref"] for c in doc["components"] if c["purl"].startswith("pkg:pypi/")]
    assert len(set(refs)) == 8
    assert all(re.fullmatch(r"pkg:pypi/[a-z0-9.-]+@[^?]+\?package-id=[0-9a-f]{16}", ref) for ref in refs)
    (libpq,) = _not_identified(components["libpq"])
    assert (libpq["type"], libpq["version"], libpq["purl"]) == ("library", "5", "pkg:generic/libpq@5")
    assert re.fullmatch(r"pkg:generic/libpq@5\?package-id=[0-9a-f]{16}", libpq["bom-ref"])
    assert libpq["evidence"]["occurrences"] == [{"location": "var/task/lib/libpq.so.5",
                                                 "additionalContext": "layer: function.zip"}]
    assert _props(libpq)["depscan:elf:arch"] == ["x86_64"]
    assert _props(libpq)["depscan:native:kind"] == ["shared-library"]
    # no RECORD lists it: the hash is the file's own, as the ELF cataloger read it whole
    assert libpq["hashes"] == [{"alg": "SHA-256", "content": next(
        c.elf.sha256 for c in demo_result.components if isinstance(c, NativeLib) and c.name == "libpq" and c.elf)}]
    used, shadowed = sorted(components["urllib3"], key=lambda c: c["version"])
    assert (used["version"], shadowed["version"]) == ("1.23", "1.26.5")
    assert _props(used)["depscan:status"] == ["used"]
    assert _props(shadowed)["depscan:status"] == ["shadowed"]
    assert _props(shadowed)["depscan:shadowed_by"] == ["var/task/urllib3-1.23.dist-info/METADATA [function.zip]"]
    assert _props(shadowed)["depscan:layer"] == ["layer.zip"]
    assert _props(shadowed)["depscan:site_root"] == ["opt/python/lib/python3.12/site-packages"]
    assert shadowed["evidence"]["occurrences"] == [{
        "location": "opt/python/lib/python3.12/site-packages/urllib3-1.26.5.dist-info/METADATA",
        "additionalContext": "layer: layer.zip",
    }]
    assert used["purl"] == "pkg:pypi/urllib3@1.23"
    dist = next(d for d in demo_result.components if isinstance(d, PythonDist) and d.version == "1.23")
    # No archive hash is known (no direct_url.json): no package hash; the METADATA digest is named evidence.
    assert "hashes" not in used
    assert _props(used)["depscan:metadata:sha256"] == [dist.metadata_sha256]
    # Licenses: SPDX ids where the License field is one, the free text kept by name otherwise.
    assert used["licenses"] == [{"license": {"id": "MIT"}}]
    assert components["requests"][0]["licenses"] == [{"license": {"name": "Apache 2.0"}}]
    assert components["certifi"][0]["licenses"] == [{"license": {"id": "MPL-2.0"}}]

    # Dependencies: requests -> its four (the used urllib3), Jinja2 -> MarkupSafe (not Babel: an extra);
    # the root -> the used distributions nothing requires; the shadowed copy stays unlinked.
    ref = {(c["name"], c["version"]): c["bom-ref"] for c in _not_identified(doc["components"])}
    edges = _edges(doc)
    # The library takes no part in the graph: which libraries load it is not read by default.
    assert edges.get(libpq["bom-ref"], []) == []
    assert libpq["bom-ref"] not in {r for deps in edges.values() for r in deps}
    assert sorted(edges[ref[("requests", "2.19.1")]]) == sorted(
        ref[k] for k in [("chardet", "3.0.4"), ("idna", "2.7"), ("urllib3", "1.23"), ("certifi", "2018.4.16")])
    assert edges[ref[("Jinja2", "2.10")]] == [ref[("MarkupSafe", "1.0")]]
    assert sorted(edges[root["bom-ref"]]) == sorted([ref[("requests", "2.19.1")], ref[("Jinja2", "2.10")]])
    assert edges[ref[("urllib3", "1.26.5")]] == []
    assert ref[("urllib3", "1.26.5")] not in {r for deps in edges.values() for r in deps}

    # Vulnerabilities: one per group; the group found in both urllib3 copies affects both.
    vulns = {v["id"]: v for v in doc["vulnerabilities"]}
    assert len(vulns) == len({f.id for f in demo_result.findings}) == 14
    cookie = vulns["PYSEC-2023-192"]
    assert sorted(a["ref"] for a in cookie["affects"]) == sorted([used["bom-ref"], shadowed["bom-ref"]])
    assert cookie["source"] == {"name": "OSV", "url": "https://osv.dev/vulnerability/PYSEC-2023-192"}
    assert {r["id"]: r["source"]["name"] for r in cookie["references"]} == {
        "CVE-2023-43804": "NVD", "GHSA-v845-jxx5-vc9f": "GitHub"}
    assert cookie["ratings"] == [{
        "source": {"name": "OSV", "url": "https://osv.dev/vulnerability/PYSEC-2023-192"},
        "score": 8.1, "severity": "high", "method": "CVSSv31", "vector": "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N",
    }]
    # 1.26.17 is the smallest fixed version above both 1.23 and 1.26.5
    assert cookie["recommendation"] == "Upgrade urllib3 to 1.26.17"
    assert cookie["published"] == "2023-10-04T17:15:00+00:00"
    assert "ratings" not in vulns["PYSEC-2018-28"]  # no CVSS vector in that record: no rating at all
    assert vulns["PYSEC-2018-28"]["recommendation"] == "Upgrade requests to 2.20.0"
    # The ignored finding: not_affected, the reason verbatim, no invented justification.
    ignored = vulns["PYSEC-2019-217"]
    assert ignored["analysis"] == {
        "state": "not_affected",
        "detail": "Ignored in depscan configuration (rule CVE-2019-10906): sandbox not used (until 2099-01-01)",
    }
    assert _props(ignored)["depscan:ignored:reason"] == ["sandbox not used"]
    assert all("analysis" not in v for k, v in vulns.items() if k != "PYSEC-2019-217")


def test_demo_xml_content(demo_result: ScanResult) -> None:
    root = ET.fromstring(render_xml(demo_result, ReportOptions()))
    components = root.findall("c:components/c:component", NS)
    assert len(components) == 10  # eight distributions, the unowned libpq.so.5 and the libpq identified in it
    urllib3 = [c for c in components if c.findtext("c:name", namespaces=NS) == "urllib3"]
    assert len({c.get("bom-ref") for c in urllib3}) == 2
    assert root.find("c:vulnerabilities/c:vulnerability/c:analysis/c:state", NS) is not None


def test_version_1_4_degrades(demo_result: ScanResult) -> None:
    doc = json.loads(render_json(demo_result, ReportOptions(cyclonedx_version="1.4")))
    assert doc["specVersion"] == "1.4"
    assert isinstance(doc["metadata"]["tools"], list)  # 1.4 lists tools, not components
    for component in doc["components"]:
        assert "evidence" not in component  # no occurrences before 1.5: the paths become properties
        assert len(_props(component)["depscan:location"]) == 1
    assert any("analysis" in v for v in doc["vulnerabilities"])


def test_unsupported_version_is_refused(demo_result: ScanResult) -> None:
    with pytest.raises(ValueError, match=r"one of: 1\.6, 1\.5, 1\.4"):
        render_json(demo_result, ReportOptions(cyclonedx_version="1.3"))


# -- smaller, targeted results -------------------------------------------------------------------


def test_advisories_not_checked_says_so() -> None:
    doc = _json(_result(_dist("a", "1.0", "a-1.0.dist-info/METADATA"), checked=False))
    props = _props(doc["metadata"])
    assert props["depscan:advisories:checked"] == ["false"]
    assert "depscan:advisories:source" not in props
    assert "vulnerabilities" not in doc


def test_two_copies_of_one_version_are_two_components_with_stable_refs() -> None:
    one = _dist("six", "1.16.0", "var/task/six-1.16.0.dist-info/METADATA", layer="function.zip", site_root="var/task")
    two = dataclasses.replace(one, metadata_location=Location("opt/python/six-1.16.0.dist-info/METADATA", "layer.zip"),
                              site_root="opt/python", status=Status.SHADOWED, shadowed_by=one.metadata_location)
    first, second = _json(_result(one, two)), _json(_result(two, one))
    refs = sorted(c["bom-ref"] for c in first["components"])
    assert len(set(refs)) == 2 and all(r.startswith("pkg:pypi/six@1.16.0?package-id=") for r in refs)
    assert refs == sorted(c["bom-ref"] for c in second["components"])  # independent of order and of the run
    assert first["components"] == second["components"]


def test_licenses() -> None:
    mit = "License :: OSI Approved :: MIT License"
    bsd = "License :: OSI Approved :: BSD License"
    dists = [
        _dist("expr", "1", "e/METADATA", license_expression="mit OR apache-2.0", license="ignored", classifiers=(mit,)),
        _dist("single", "1", "s/METADATA", license_expression="BSD-3-Clause"),
        _dist("ref", "1", "r/METADATA", license_expression="LicenseRef-Proprietary"),
        _dist("bad", "1", "b/METADATA", license_expression="MIT OR ("),
        _dist("classic", "1", "c/METADATA", license="UNKNOWN",
              classifiers=(mit, bsd, "License :: OSI Approved", "Framework :: Django")),
        _dist("field", "1", "f/METADATA", license="GPL-2.0+"),
        _dist("text", "1", "t/METADATA", license="Copyright (c) 2024 Someone\n\nPermission is hereby granted..."),
    ]
    doc, repairs = render_json_with_warnings(_result(*dists), ReportOptions())
    found = {c["name"]: c.get("licenses") for c in json.loads(doc)["components"]}
    assert found["expr"] == [{"expression": "MIT OR Apache-2.0"}]  # PEP 639 wins, normalized
    assert found["single"] == [{"license": {"id": "BSD-3-Clause"}}]
    assert found["ref"] == [{"expression": "LicenseRef-Proprietary"}]
    assert found["bad"] == [{"license": {"name": "MIT OR ("}}]
    assert any("License-Expression 'MIT OR ('" in r for r in repairs)
    assert found["classic"] == [{"license": {"id": "MIT"}}, {"license": {"name": "BSD License"}}]
    assert found["field"] == [{"license": {"id": "GPL-2.0-or-later"}}]
    text = "Copyright (c) 2024 Someone\n\nPermission is hereby granted..."
    assert found["text"] == [{"license": {
        "name": "Copyright (c) 2024 Someone", "text": {"content": text, "contentType": "text/plain"},
    }}]


def test_dependency_markers_follow_the_artifacts_interpreter() -> None:
    root = "python/lib/python3.10/site-packages"
    app = _dist("app", "1", f"{root}/app-1.dist-info/METADATA", site_root=root, requires_dist=(
        'tomli>=1 ; python_version < "3.11"',
        'pywin32 ; sys_platform == "win32"',
        "web[async]>=2",
        "absent>=1",
        "not a requirement !!",
    ))
    web = _dist("web", "2", f"{root}/web-2.dist-info/METADATA", site_root=root, requires_dist=(
        'aio ; extra == "async"', 'docs ; extra == "docs"'))
    names = ("tomli", "pywin32", "aio", "docs")
    others = [_dist(n, "1", f"{root}/{n}-1.dist-info/METADATA", site_root=root) for n in names]
    result = _result(app, web, *others)
    assert marker_environment(result)["python_version"] == "3.10"
    doc, repairs = render_json_with_warnings(result, ReportOptions())
    parsed = json.loads(doc)
    ref = {c["name"]: c["bom-ref"] for c in parsed["components"]}
    edges = _edges(parsed)
    assert sorted(edges[ref["app"]]) == sorted([ref["tomli"], ref["web"]])  # python 3.10 on Linux
    assert edges[ref["web"]] == [ref["aio"]]  # the extra app asks for, not the one nobody does
    assert any("'not a requirement !!' does not parse" in r for r in repairs)
    # On 3.12 (a site root saying so), tomli is not needed.
    moved = [dataclasses.replace(d, site_root="lib/python3.12/site-packages") for d in result.components]
    parsed = _json(_result(*moved))
    ref = {c["name"]: c["bom-ref"] for c in parsed["components"]}
    assert sorted(_edges(parsed)[ref["app"]]) == [ref["web"]]
    top = _edges(parsed)[parsed["metadata"]["component"]["bom-ref"]]
    assert sorted(top) == sorted(ref[n] for n in ("app", "tomli", "pywin32", "docs"))


def test_dependency_on_a_distribution_present_twice_goes_to_the_used_copy() -> None:
    user = _dist("user", "1", "opt/python/user-1.dist-info/METADATA", site_root="opt/python", requires_dist=("lib",))
    used = _dist("lib", "2", "var/task/lib-2.dist-info/METADATA", site_root="var/task")
    shadowed = _dist("lib", "1", "opt/python/lib-1.dist-info/METADATA", site_root="opt/python",
                     status=Status.SHADOWED, shadowed_by=used.metadata_location)
    doc = _json(_result(shadowed, user, used))
    ref = {(c["name"], c["version"]): c["bom-ref"] for c in doc["components"]}
    assert _edges(doc)[ref[("user", "1")]] == [ref[("lib", "2")]]


def test_vulnerability_details() -> None:
    dist = _dist("pkg", "1.5", "pkg-1.5.dist-info/METADATA")
    v4 = Severity("CVSS_V4", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3)
    v2 = Severity("CVSS_V2", "AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0)
    advisories = [
        _advisory("GHSA-aaaa-bbbb-cccc", aliases=("CVE-2024-0001", "PYSEC-2024-1", "SNYK-PYTHON-PKG-1"),
                  severity=(v4, v2), references=("https://example.org/a b", "https://example.org/#x#y")),
        _advisory("PYSEC-2024-2", published=None, modified="not a date"),
    ]
    findings = (
        _finding(dist, advisories[0], ("1.2", "2.0", "1.7", "v-legacy")),
        _finding(dist, advisories[1], ()),
    )
    result = _result(dist, findings=findings)
    doc, repairs = render_json_with_warnings(result, ReportOptions())
    vulns = {v["id"]: v for v in json.loads(doc)["vulnerabilities"]}
    ghsa = vulns["GHSA-aaaa-bbbb-cccc"]
    assert {r["id"]: r["source"]["name"] for r in ghsa["references"]} == {
        "CVE-2024-0001": "NVD", "PYSEC-2024-1": "OSV", "SNYK-PYTHON-PKG-1": "Snyk"}
    assert {(r["method"], r.get("severity")) for r in ghsa["ratings"]} == {("CVSSv4", "critical"), ("CVSSv2", "high")}
    assert ghsa["recommendation"] == "Upgrade pkg to 1.7"
    assert ghsa["published"] == "2023-01-02T03:04:05+00:00"
    assert ghsa["updated"] == "2023-02-03T04:05:06.123456+00:00"
    assert ghsa["advisories"] == [{"url": "https://example.org/a%20b"}]
    assert any("'https://example.org/#x#y' is not a URL; dropped" in r for r in repairs)
    assert ghsa["description"] == "GHSA-aaaa-bbbb-cccc details."  # no summary: the details describe it
    pysec = vulns["PYSEC-2024-2"]
    assert pysec["recommendation"] == "No fixed version of pkg is known."
    assert "published" not in pysec and "updated" not in pysec
    assert any("date 'not a date' does not parse" in r for r in repairs)
    # 1.4 knows no CVSSv4: the rating stays, as method "other".
    old = {v["id"]: v for v in _json(result, "1.4")["vulnerabilities"]}
    assert {(r["method"], r["vector"][:9]) for r in old["GHSA-aaaa-bbbb-cccc"]["ratings"]} == {
        ("other", "CVSS:4.0/"), ("CVSSv2", "AV:N/AC:L")}


def test_recommendation_lists_fixes_when_none_is_above() -> None:
    dist = _dist("pkg", "3.0", "pkg-3.0.dist-info/METADATA")
    doc = _json(_result(dist, findings=(_finding(dist, _advisory("PYSEC-1"), ("1.2", "2.0")),)))
    assert doc["vulnerabilities"][0]["recommendation"] == "Fixed in 1.2, 2.0; none is above the installed 3.0"


def test_group_split_when_only_some_copies_are_ignored() -> None:
    one = _dist("pkg", "1.0", "a/pkg-1.0.dist-info/METADATA")
    two = _dist("pkg", "1.0", "b/pkg-1.0.dist-info/METADATA", status=Status.SHADOWED)
    advisory = _advisory("PYSEC-9")
    rule = Suppression("PYSEC-9", "only b is ignored", None)
    doc = _json(_result(one, two, findings=(_finding(one, advisory), _finding(two, advisory, suppressed=rule))))
    refs = sorted(v["bom-ref"] for v in doc["vulnerabilities"])
    assert refs == ["vulnerability:PYSEC-9", "vulnerability:PYSEC-9:ignored"]


# -- repairs: a hostile distribution costs its bad fields, never the document ----------------------


def _weird_result() -> ScanResult:
    weird = _dist(
        "weird\x01pkg", "1.0\x00-custom build\nfor\tus", "weird/METADATA",
        license="Copyright \x07 Someone\x1b[31m\nall rights reserved \udc80",
        summary="bell \x07 and lone surrogate \udcff",
        requires_dist=("!!!",),
        classifiers=("License :: OSI Approved :: BSD License",),
    )
    # a tar member name that is not UTF-8 arrives as lone surrogates
    weird = dataclasses.replace(weird, purl="not a purl", metadata_sha256="nope",
                                metadata_location=Location("weird\udcff/METADATA", "sha256:ab\x00"))
    long = dataclasses.replace(_dist("long", "9" * 2000, "long/METADATA"), metadata_sha256=None)  # read from an SBOM
    finding = _finding(weird, _advisory("PYSEC-0", published="yesterday", references=("https://x.example/%zz",)))
    return dataclasses.replace(_result(weird, long, findings=(finding,)), warnings=("bad\x00warning",))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_weird_distribution_is_repaired_not_fatal(validate: Callable[[bytes, str, str], None], version: str,
                                                  fmt: str) -> None:
    data, repairs = _render(_weird_result(), version, fmt)
    validate(data, version, fmt)
    text = "\n".join(repairs)
    for expected in (
        "replaced characters XML cannot carry",
        "joined lines",
        "cut to 1024 characters",
        "purl 'not a purl' does not parse",
        "'nope' is not a SHA-256 digest",
        "Requires-Dist '!!!' does not parse",
        "date 'yesterday' does not parse",
        "'https://x.example/%zz' is not a URL",
    ):
        assert expected in text
    assert all("\x00" not in r and "\x07" not in r for r in repairs)
    if fmt == "json":
        components = _by_name(json.loads(data))
        weird = components["weird\ufffdpkg"][0]
        assert weird["version"] == "1.0\ufffd-custom build for us"
        assert "purl" not in weird and "hashes" not in weird
        names = sorted(li["license"]["name"] for li in weird["licenses"])
        assert names == ["BSD License", "Copyright \ufffd Someone\ufffd[31m"]
        text_license = next(li["license"] for li in weird["licenses"] if li["license"]["name"] != "BSD License")
        assert text_license["text"]["content"] == "Copyright \ufffd Someone\ufffd[31m\nall rights reserved \\x80"
        assert weird["description"] == "bell \ufffd and lone surrogate \\xff"
        assert _props(json.loads(data)["metadata"])["depscan:warning"] == ["bad\ufffdwarning"]
        assert len(components["long"][0]["version"]) == 1024
        assert "hashes" not in components["long"][0]
        assert _props(weird)["depscan:layer"] == ["sha256:ab\ufffd"]
        if version != "1.4":
            assert weird["evidence"]["occurrences"][0]["location"] == "weird\\xff/METADATA"


def test_a_distribution_that_cannot_be_described_stays_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from depscan.reporters import cyclonedx

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(cyclonedx._Builder, "full_component", explode)
    data, repairs = render_json_with_warnings(_result(_dist("a", "1.0", "a/METADATA")), ReportOptions())
    component = json.loads(data)["components"][0]
    assert (component["name"], component["version"]) == ("a", "1.0")
    assert any("described by name and version only (RuntimeError: boom)" in r for r in repairs)


def test_render_logs_repairs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="depscan.reporters.cyclonedx"):
        render_json(_result(_dist("a", "1.0\n", "a/METADATA")), ReportOptions())
    assert any("joined lines" in r.getMessage() for r in caplog.records)


# -- the marker environment ----------------------------------------------------------------------


def _wheel(*tags: str) -> WheelInfo:
    return WheelInfo(generator="bdist_wheel", root_is_purelib=False, tags=tags)


def test_marker_environment_defaults_to_lambda() -> None:
    env = marker_environment(_result(_dist("a", "1", "a/METADATA", wheel=_wheel("py3-none-any"))))
    assert env == {
        "implementation_name": "cpython", "implementation_version": "3.12.0", "os_name": "posix",
        "platform_machine": "x86_64", "platform_python_implementation": "CPython", "platform_release": "",
        "platform_system": "Linux", "platform_version": "", "python_full_version": "3.12.0",
        "python_version": "3.12", "sys_platform": "linux", "extra": "",
    }


def test_marker_environment_from_site_roots_majority() -> None:
    dists = [_dist(n, "1", f"{n}/METADATA", site_root=root) for n, root in [
        ("a", "usr/local/lib/python3.11/site-packages"),
        ("b", "usr/local/lib/python3.11/site-packages"),
        ("c", "usr/lib/python3.9/site-packages"),
        ("d", "var/task"),
    ]]
    # the site root wins over a wheel tag naming another interpreter
    dists.append(_dist("e", "1", "e/METADATA", site_root="var/task", wheel=_wheel("cp310-cp310-linux_x86_64")))
    assert marker_environment(_result(*dists))["python_version"] == "3.11"


def test_marker_environment_from_wheel_tags() -> None:
    specific = _dist("a", "1", "a/METADATA", wheel=_wheel("cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64"))
    also = _dist("b", "1", "b/METADATA", wheel=_wheel("cp311-cp311-musllinux_1_1_aarch64"))
    stable = _dist("c", "1", "c/METADATA", wheel=_wheel("cp38-abi3-manylinux_2_28_x86_64"))
    env = marker_environment(_result(specific, also, stable))
    assert (env["python_version"], env["python_full_version"], env["platform_machine"]) == ("3.11", "3.11.0", "aarch64")
    # stable-ABI tags only give a lower bound: the highest one is taken
    newer = _dist("d", "1", "d/METADATA", wheel=_wheel("cp39-abi3-manylinux_2_17_x86_64", "garbage"))
    assert marker_environment(_result(stable, newer))["python_version"] == "3.9"
    legacy = _dist("e", "1", "e/METADATA", wheel=_wheel("cp37-cp37m-manylinux1_x86_64"))
    env = marker_environment(_result(legacy))
    assert (env["python_version"], env["platform_machine"]) == ("3.7", "x86_64")


# -- native libraries ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_native_libraries_are_valid_in_every_version_and_format(native_result: ScanResult,
                                                                validate: Callable[[bytes, str, str], None],
                                                                version: str, fmt: str) -> None:
    data, repairs = _render(native_result, version, fmt)
    validate(data, version, fmt)
    assert repairs == []


def _not_identified(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Leave out the upstream libraries identified in ELF files (tests/reporters/test_native_components.py)."""
    return [c for c in components if "depscan:native:embedded" not in _props(c)]


def test_native_libraries_nest_under_the_distribution_owning_them(native_result: ScanResult) -> None:
    doc = _json(native_result)
    top = {name: kept for name, copies in _by_name(doc).items() if (kept := _not_identified(copies))}
    assert sorted(top) == ["libcustom", "numpy"]  # the owned libraries are not on top
    (numpy,) = top["numpy"]
    nested = {c["name"]: c for c in _not_identified(numpy["components"])}
    assert sorted(nested) == ["_multiarray_umath", "libgfortran"]

    gfortran = nested["libgfortran"]
    lib = next(c for c in native_result.components if isinstance(c, NativeLib) and c.name == "libgfortran")
    assert (gfortran["type"], gfortran["version"], gfortran["purl"]) == (
        "library", "5.0.0", "pkg:generic/libgfortran@5.0.0")
    assert re.fullmatch(r"pkg:generic/libgfortran@5\.0\.0\?package-id=[0-9a-f]{16}", gfortran["bom-ref"])
    assert gfortran["hashes"] == [{"alg": "SHA-256", "content": lib.sha256}]  # from numpy's RECORD
    assert gfortran["evidence"]["occurrences"] == [{"location": "numpy.libs/libgfortran-040039e1.so.5.0.0"}]
    assert _props(gfortran) == {
        "depscan:elf:arch": ["x86_64"],
        "depscan:elf:class": ["64"],
        "depscan:elf:endianness": ["little"],
        "depscan:elf:sha256_source": ["record"],  # the hash is numpy's RECORD's, not recomputed
        "depscan:elf:stripped": ["true"],
        "depscan:elf:type": ["shared-object"],
        "depscan:found_by": ["elf"],
        "depscan:native:bundled_hash": ["040039e1"],
        "depscan:native:kind": ["shared-library"],
        "depscan:native:size": [str(lib.size)],
    }

    extension = nested["_multiarray_umath"]
    assert "purl" not in extension and "version" not in extension  # no honest purl for a module
    assert re.fullmatch(r"native:_multiarray_umath\?package-id=[0-9a-f]{16}", extension["bom-ref"])
    assert _props(extension)["depscan:native:abi_tag"] == ["cpython-311-x86_64-linux-gnu"]
    assert _props(extension)["depscan:native:kind"] == ["python-extension"]

    (custom,) = top["libcustom"]
    assert (custom["version"], custom["purl"], _props(custom)["depscan:elf:arch"]) == (
        "1", "pkg:generic/libcustom@1", ["aarch64"])
    # no RECORD lists it: the hash is the file's own, read whole by the ELF cataloger
    lib = next(c for c in native_result.components if isinstance(c, NativeLib) and c.name == "libcustom")
    assert lib.elf is not None and custom["hashes"] == [{"alg": "SHA-256", "content": lib.elf.sha256}]
    # The graph is the distributions': no library is anybody's dependency.
    targets = {r for deps in _edges(doc).values() for r in deps}
    assert not {gfortran["bom-ref"], extension["bom-ref"], custom["bom-ref"]} & targets


def test_native_library_with_an_owner_not_in_the_result_goes_on_top(native_result: ScanResult) -> None:
    """A library whose owner is not a component here (an edited result) is still listed, never dropped."""
    changed = tuple(
        dataclasses.replace(c, owner_location=Location("elsewhere/METADATA")) if isinstance(c, NativeLib) else c
        for c in native_result.components
    )
    doc = _json(dataclasses.replace(native_result, components=changed))
    top = {name: kept for name, copies in _by_name(doc).items() if (kept := _not_identified(copies))}
    assert sorted(top) == ["_multiarray_umath", "libcustom", "libgfortran", "numpy"]
    assert not _not_identified(top["numpy"][0].get("components", []))


def test_native_libraries_in_1_4_carry_their_path_as_a_property(native_result: ScanResult) -> None:
    doc = _json(native_result, "1.4")
    (custom,) = _not_identified(_by_name(doc)["libcustom"])
    assert "evidence" not in custom
    assert _props(custom)["depscan:location"] == ["lib/libcustom.so.1"]


def test_rescan_of_an_sbom_with_native_libraries_reads_back_distributions_and_identified_libraries(
        native_result: ScanResult, tmp_path: Path) -> None:
    from depscan.sbom_reader import read_sbom

    for version, fmt in (("1.6", "json"), ("1.6", "xml"), ("1.4", "json")):
        path = tmp_path / f"bom.{version}.{fmt}"
        path.write_bytes(_render(native_result, version, fmt)[0])
        contents = read_sbom(path)
        assert [c.purl for c in contents.components] == ["pkg:pypi/numpy@1.26.4"]
        # libgfortran (nested), libcustom and the extension module: depscan's native libraries
        assert contents.native == 3
        # The upstream libraries identified in them (pkg:generic, no depscan:native:kind): native components again
        identified = sorted(c.purl for c in native_result.components if isinstance(c, NativeComponent))
        assert identified and sorted(c.purl for c in contents.natives) == identified
        assert contents.other_ecosystems == {} and contents.without_purl == 0


@pytest.mark.parametrize("direct_url", [
    {"url": "https://files.example/a-1.0.tar.gz", "archive_info": {"hashes": {"sha256": "AB" * 32}}},
    {"url": "https://files.example/a-1.0.tar.gz", "archive_info": {"hash": "sha256=" + "ab" * 32}},
])
def test_the_package_hash_is_the_archive_hash_from_direct_url(direct_url: dict[str, object]) -> None:
    dist = _dist("a", "1.0", "a-1.0.dist-info/METADATA", direct_url=direct_url, metadata_sha256="cd" * 32)
    component = _json(_result(dist))["components"][0]
    assert component["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    assert _props(component)["depscan:metadata:sha256"] == ["cd" * 32]


@pytest.mark.parametrize("direct_url", [
    None, {"url": "x", "archive_info": {"hash": "md5=abc"}}, {"url": "x", "archive_info": {"hashes": {"sha256": "zz"}}},
    {"url": "x", "dir_info": {"editable": True}}, {"url": "x", "archive_info": "not an object"},
])
def test_no_archive_hash_means_no_package_hash(direct_url: dict[str, object] | None) -> None:
    dist = _dist("a", "1.0", "a-1.0.dist-info/METADATA", direct_url=direct_url)
    component = _json(_result(dist))["components"][0]
    assert "hashes" not in component


# -- the writer against the library --------------------------------------------------------------


def test_writer_orders_as_the_library_does(tmp_path: Path, same_as_the_library: list[tuple[str, str]],
                                           validate: Callable[[bytes, str, str], None]) -> None:
    """Orders the library decides by comparing whole objects: one name at several versions and paths,
    native libraries with and without a version (nested and on top), several advisories per component,
    licenses of every kind; every format and version is compared byte for byte by ``same_as_the_library``."""
    from depscan.config import AdvisorySettings, ScanConfig
    from depscan.scan import run
    from fixtures.builders import dist, elf_header, write_zip

    export = Path(__file__).resolve().parents[2] / "fixtures" / "advisories" / "pypi-subset.zip"
    pairs: dict[str, str] = {}
    with zipfile.ZipFile(export) as zf:
        for member in sorted(zf.namelist()):
            for affected in json.loads(zf.read(member)).get("affected", []):
                if affected.get("versions"):
                    pairs.setdefault(affected["package"]["name"], affected["versions"][0])
    files: dict[str, bytes] = {}
    names = sorted(pairs)[:12]
    for i, name in enumerate(names):
        modules = {f"pkg{i}/__init__.py": b"", f"pkg{i}/_ext.cpython-311-x86_64-linux-gnu.so": elf_header(
            padding=name.encode()), f"pkg{i}.libs/libz-{i:08x}.so.1.{i}": elf_header(padding=bytes([i]) * 9)}
        licenses = [{"license": "MIT"}, {"license_expression": "MIT OR Apache-2.0"}, {"license": "BSD"},
                    {"license": "Line one\nline two"}][i % 4]
        files |= dist(name, pairs[name], modules=modules, requires=tuple(names[:i % 3]), summary=f"{name} & <co>",
                      **licenses)  # type: ignore[arg-type]
        files |= dist(name, "0.0.1", root=f"vendored{i}", modules={f"vendored{i}/x.py": b""})
    files["lib/libsame.so"] = elf_header(padding=b"a")  # one name, with and without a version
    files["lib/libsame.so.3"] = elf_header(padding=b"b")
    files["other/libsame.so"] = elf_header(padding=b"c")
    zipped = write_zip(tmp_path / "ordering app.zip", files)
    settings = AdvisorySettings(mode="offline", export=export, cache_dir=tmp_path / "cache", max_age_days=10**6)
    result = run(ScanConfig(str(zipped), hash_artifact=True, advisories=settings))
    assert len(result.findings) >= 5
    for version in VERSIONS:
        for fmt in ("json", "xml"):
            data, _ = _render(result, version, fmt)
            validate(data, version, fmt)
    assert len(same_as_the_library) == 2 * len(VERSIONS)


@pytest.mark.parametrize("purl", [
    "pkg:pypi/urllib3@1.26.5", "pkg:pypi/ruamel.yaml@0.17.21", "pkg:pypi/zope-interface@5.4.0",
    "pkg:pypi/a@1.0.post1.dev2", "pkg:pypi/Django@4.2", "pkg:pypi/foo_bar@1.0", "pkg:pypi/x@1.0+local.7",
    "pkg:pypi/x@1!2.0", "pkg:pypi/x@1.0?arch=x86_64", "pkg:generic/libz@1.2.13", "pkg:pypi/x", "pkg:pypi/%41@1",
])
def test_purl_shortcuts_agree_with_packageurl(purl: str) -> None:
    """bom-refs and purls are written without parsing when PackageURL would leave them as they are:
    the result must be what parsing and writing back gives, for plain and unusual purls alike."""
    from packageurl import PackageURL

    from depscan.reporters import cyclonedx
    from depscan.reporters.cyclonedx_writer import purl_text

    parsed = PackageURL.from_string(purl)
    assert purl_text(parsed) == parsed.to_string()
    builder = cyclonedx._Builder(_result(), cyclonedx.SPEC_VERSIONS["1.6"], [])
    shortcut = builder.purl(purl, "here")
    assert shortcut is not None and tuple(shortcut) == tuple(parsed)
    assert purl_text(shortcut) == purl  # a purl is written as it was read (rescan never rewrites one)
    dist = dataclasses.replace(_dist("x", "1.0", "x/METADATA"), purl=purl)
    qualifiers = {**(parsed.qualifiers if isinstance(parsed.qualifiers, dict) else {}), "package-id": "00ff"}
    expected = PackageURL(type=parsed.type, namespace=parsed.namespace, name=parsed.name, version=parsed.version,
                          qualifiers=qualifiers, subpath=parsed.subpath).to_string()
    assert cyclonedx._bom_ref(dist, "00ff") == expected


def test_the_writer_writes_every_field_the_builder_maps(demo_result: ScanResult, native_result: ScanResult) -> None:
    """No fallback to the library for depscan's own documents: the writer knows every field they use."""
    from depscan.reporters import cyclonedx, cyclonedx_writer

    for result in (demo_result, native_result):
        for version in cyclonedx.SPEC_VERSIONS.values():
            assert cyclonedx_writer.unsupported(cyclonedx._Builder(result, version, []).parts()) is None


def test_a_field_the_writer_does_not_know_goes_through_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """A field added to the builder without the writer is written by the library, not dropped."""
    from depscan.reporters import cyclonedx

    full = cyclonedx._Builder.full_component

    def with_copyright(self: Any, *args: Any) -> dict[str, Any]:
        fields: dict[str, Any] = full(self, *args)
        fields["copyright"] = "Copyright someone"
        return fields

    monkeypatch.setattr(cyclonedx._Builder, "full_component", with_copyright)
    monkeypatch.setattr(cyclonedx, "render_with_library", lambda *args: (b"library", ["used"]))
    data, repairs = render_json_with_warnings(_result(_dist("a", "1.0", "a/METADATA")), ReportOptions())
    assert (data, repairs) == (b"library", ["used"])


def test_external_references_are_written_as_the_library_writes_them(
    same_as_the_library: list[tuple[str, str]], validate: Callable[[bytes, str, str], None]
) -> None:
    from depscan.reporters import cyclonedx, cyclonedx_writer

    dist = _dist("lib", "1.0", "lib/METADATA", home_page="https://example.org/lib", project_urls=(
        ("Source", "https://github.com/example/lib"), ("Issues", "https://github.com/example/lib/issues"),
        ("Funding", "https://example.org/fund & more"), ("Changelog", "https://example.org/changes")))
    result = _result(dist)
    for version in VERSIONS:
        assert cyclonedx_writer.unsupported(cyclonedx._Builder(result, cyclonedx.SPEC_VERSIONS[version], []).parts()) \
            is None  # the fast writer, not the library fallback
        for fmt in ("json", "xml"):
            data, _ = _render(result, version, fmt)
            validate(data, version, fmt)
    assert len(same_as_the_library) == 2 * len(VERSIONS)
