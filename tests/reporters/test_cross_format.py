"""Every format states the same facts about one scan: which component copies there are, which
licence each declares, which copy depends on which, and the counts.

Each format names a copy by ``depscan.facts.component_key`` (the JSON ``id``, the CycloneDX
``package-id`` qualifier of a bom-ref, the suffix of an SPDX id), so the facts read back from each
document are compared as sets keyed by it, against each other and against the scan itself.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from builders import dist, elf_header, write_zip
from defusedxml import ElementTree

from depscan.config import ScanConfig
from depscan.facts import facts_for
from depscan.models import PythonDist, ScanResult
from depscan.reporters import ReportOptions, get_reporter
from depscan.scan import run

REPO = Path(__file__).resolve().parents[2]

Edges = set[tuple[str, str]]


@pytest.fixture
def graph_result(tmp_path: Path) -> ScanResult:
    """A site-packages with what makes graphs and licences hard: a vendored copy of a dependency
    (pytest's own site root holds iniconfig 2.1.0, py vendors iniconfig 1.1.1), an extra asked for by
    another distribution (requests[socks] -> PySocks), an extra nobody asks for (jinja2[i18n] -> Babel),
    a marker false for the artifact (pywin32), and licences from every source."""
    site = "python/lib/python3.12/site-packages"
    vendored = f"{site}/py/_vendored_packages"
    files = (
        dist("pytest", "8.3.3", root=site, requires=("iniconfig", "py", 'colorama ; sys_platform == "win32"'),
             license="MIT")
        | dist("iniconfig", "2.1.0", root=site, license_expression="mit")
        | dist("py", "1.11.0", root=site, extra_metadata="Classifier: License :: OSI Approved :: MIT License\n")
        | dist("iniconfig", "1.1.1", root=vendored, license="MIT License (the usual)")
        | dist("requests", "2.32.3", root=site, requires=("urllib3<3", 'PySocks!=1.5.7 ; extra == "socks"'),
               license="Apache 2.0")
        | dist("urllib3", "2.2.3", root=site, license_expression="MIT")
        | dist("PySocks", "1.7.1", root=site, license="BSD")
        | dist("app", "1.0", root=site, requires=("requests[socks]", "Jinja2>=3"))
        | dist("Jinja2", "3.1.4", root=site, requires=("MarkupSafe>=2.0", "Babel>=2.7 ; extra == 'i18n'"),
               extra_metadata="Classifier: License :: OSI Approved :: BSD License\n")
        | dist("MarkupSafe", "2.1.5", root=site, license="BSD-3-Clause")
        | dist("Babel", "2.16.0", root=site, license="BSD-3-Clause")
        | dist("pywin32", "306", root=site)
    )
    files[f"{site}/cryptography.libs/libssl-abcdef12.so.3"] = elf_header(padding=b"ssl" * 20)
    files["lib/libcustom.so.1"] = elf_header(padding=b"custom" * 20)
    return run(ScanConfig(str(write_zip(tmp_path / "layer.zip", files)), hash_artifact=True))


def _from_json(doc: dict[str, Any]) -> tuple[set[str], Edges, dict[str, str | None], set[str]]:
    dists = [c for c in doc["components"] if c["type"] == "python-distribution"]
    edges = {(c["id"], d) for c in dists for d in c["dependencies"]}
    edges |= {("root", d) for d in doc["artifact"]["dependencies"]}
    licences = {c["id"]: c["license_declared"]["expression"] for c in dists}
    natives = {c["id"] for c in doc["components"] if c["type"] == "native-library"}
    return {c["id"] for c in dists}, edges, licences, natives


_PACKAGE_ID = re.compile(r"package-id=([0-9a-f]{16}(?:-\d+)?)")


def _key(ref: str) -> str:
    if ref.startswith("artifact:"):
        return "root"
    found = _PACKAGE_ID.search(ref)
    assert found, ref
    return found[1]


def _cdx_licence(entries: list[dict[str, Any]]) -> str | None:
    if len(entries) == 1 and "expression" in entries[0]:
        return str(entries[0]["expression"])
    if len(entries) == 1 and "id" in entries[0].get("license", {}):
        return str(entries[0]["license"]["id"])
    return None  # named licences (or several): no single SPDX expression stated


def _is_file(component: dict[str, Any]) -> bool:
    """An ELF file's component (not an upstream library identified in one)."""
    return any(p["name"] == "depscan:native:kind" for p in component.get("properties", []))


def _is_file_xml(component: Any, ns: dict[str, str]) -> bool:
    return any(p.get("name") == "depscan:native:kind" for p in component.findall("c:properties/c:property", ns))


def _from_cyclonedx_json(doc: dict[str, Any]) -> tuple[set[str], Edges, dict[str, str | None], set[str]]:
    dists, licences, natives = set(), {}, set()
    for component in doc["components"]:
        key = _key(component["bom-ref"])
        if component["bom-ref"].startswith("pkg:pypi/"):
            dists.add(key)
            licences[key] = _cdx_licence(component.get("licenses", []))
            natives |= {_key(n["bom-ref"]) for n in component.get("components", []) if _is_file(n)}
        elif _is_file(component):
            natives.add(key)
    edges = {(_key(d["ref"]), _key(t)) for d in doc["dependencies"] for t in d.get("dependsOn", [])}
    return dists, edges, licences, natives


def _from_cyclonedx_xml(data: bytes) -> tuple[set[str], Edges, dict[str, str | None], set[str]]:
    root = ElementTree.fromstring(data)
    ns = {"c": root.tag[1:].split("}")[0]}
    dists, licences, natives = set(), {}, set()
    for component in root.findall("c:components/c:component", ns):
        key = _key(component.get("bom-ref"))
        if component.get("bom-ref").startswith("pkg:pypi/"):
            dists.add(key)
            entries: list[dict[str, Any]] = []
            for item in component.findall("c:licenses/*", ns):
                if item.tag.endswith("expression"):
                    entries.append({"expression": item.text})
                else:
                    spdx = item.find("c:id", ns)
                    entries.append({"license": {"id": spdx.text} if spdx is not None else {"name": "?"}})
            licences[key] = _cdx_licence(entries)
            natives |= {_key(n.get("bom-ref")) for n in component.findall("c:components/c:component", ns)
                        if _is_file_xml(n, ns)}
        elif _is_file_xml(component, ns):
            natives.add(key)
    edges = {
        (_key(d.get("ref")), _key(t.get("ref")))
        for d in root.findall("c:dependencies/c:dependency", ns)
        for t in d.findall("c:dependency", ns)
    }
    return dists, edges, licences, natives


def _from_spdx(doc: dict[str, Any]) -> tuple[set[str], Edges, dict[str, str | None], set[str]]:
    def key(spdx_id: str) -> str:
        return "root" if spdx_id == "SPDXRef-Artifact" else spdx_id.rsplit("-", 1)[-1]

    dists = {key(p["SPDXID"]) for p in doc["packages"] if p["SPDXID"].startswith("SPDXRef-Package-python-")}
    natives = {key(p["SPDXID"]) for p in doc["packages"] if p["SPDXID"].startswith("SPDXRef-Native-")}
    licences = {
        key(p["SPDXID"]): None if p["licenseDeclared"] == "NOASSERTION" else p["licenseDeclared"]
        for p in doc["packages"] if p["SPDXID"].startswith("SPDXRef-Package-python-")
    }
    edges = {(key(r["spdxElementId"]), key(r["relatedSpdxElement"]))
             for r in doc["relationships"] if r["relationshipType"] == "DEPENDS_ON"}
    return dists, edges, licences, natives


def _render(result: ScanResult, fmt: str, version: str = "1.6") -> bytes:
    return get_reporter(fmt)(result, ReportOptions(cyclonedx_version=version))


@pytest.mark.parametrize("fixture", ["graph_result", "demo_result", "native_result"])
def test_every_format_states_the_same_components_licences_and_graph(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    result: ScanResult = request.getfixturevalue(fixture)
    facts = facts_for(result)
    expected_dists = set(facts.dist_keys)
    expected_natives = set(facts.native_keys)
    keys = facts.dist_keys
    expected_edges = {(keys[i], keys[j]) for i, targets in enumerate(facts.graph.requires) for j in targets}
    expected_edges |= {("root", keys[i]) for i in facts.graph.top}
    expected_licences = dict(zip(keys, (lic.expression for lic in facts.licenses), strict=True))

    views = {"json": _from_json(json.loads(_render(result, "json")))}
    for version in ("1.6", "1.5", "1.4"):
        cdx = json.loads(_render(result, "cyclonedx-json", version))
        views[f"cyclonedx-json {version}"] = _from_cyclonedx_json(cdx)
        views[f"cyclonedx-xml {version}"] = _from_cyclonedx_xml(_render(result, "cyclonedx-xml", version))
    views["spdx"] = _from_spdx(json.loads(_render(result, "spdx-json")))
    for name, (dists, edges, licences, natives) in views.items():
        assert dists == expected_dists, name
        assert natives == expected_natives, name
        assert edges == expected_edges, name
        if name == "spdx":  # SPDX 2.3 cannot declare LicenseRef- ids whose text was not collected
            licences = {k: v for k, v in licences.items() if v is not None}
            assert licences == {k: v for k, v in expected_licences.items()
                                if v is not None and "LicenseRef-" not in v}, name
        else:
            assert licences == expected_licences, name


def test_the_graph_follows_the_import_not_the_vendored_copy(graph_result: ScanResult) -> None:
    facts = facts_for(graph_result)
    by = {(d.normalized_name, d.version): i for i, d in enumerate(facts.dists)}
    requires = facts.graph.requires

    def names(i: int, edges: tuple[tuple[int, ...], ...]) -> set[str]:
        return {f"{facts.dists[j].normalized_name} {facts.dists[j].version}" for j in edges[i]}

    assert names(by[("pytest", "8.3.3")], requires) == {"iniconfig 2.1.0", "py 1.11.0"}  # not the vendored 1.1.1
    assert names(by[("requests", "2.32.3")], requires) == {"urllib3 2.2.3", "pysocks 1.7.1"}  # socks asked for
    assert names(by[("jinja2", "3.1.4")], requires) == {"markupsafe 2.1.5"}
    assert names(by[("jinja2", "3.1.4")], facts.graph.optional) == {"babel 2.16.0"}  # i18n: nobody asked
    assert not any(facts.dists[j].normalized_name == "pywin32" for edges in requires for j in edges)
    top = {facts.dists[i].normalized_name for i in facts.graph.top}
    assert top == {"app", "pytest", "iniconfig", "babel", "pywin32"}  # used copies nothing requires
    spdx = json.loads(_render(graph_result, "spdx-json"))
    optional = [r for r in spdx["relationships"] if r["relationshipType"] == "OPTIONAL_DEPENDENCY_OF"]
    assert len(optional) == 1 and "babel" in optional[0]["spdxElementId"].lower()


def test_licences_are_one_fact_in_every_format(graph_result: ScanResult) -> None:
    facts = facts_for(graph_result)
    declared = {f"{d.normalized_name} {d.version}": lic for d, lic in zip(facts.dists, facts.licenses, strict=True)}
    assert declared["pytest 8.3.3"].expression == "MIT" and declared["pytest 8.3.3"].source == "License"
    assert declared["iniconfig 2.1.0"].expression == "MIT"  # License-Expression, canonical case
    assert declared["py 1.11.0"].expression == "MIT" and declared["py 1.11.0"].source == "classifier"
    assert declared["iniconfig 1.1.1"].expression is None
    assert declared["iniconfig 1.1.1"].texts == ("MIT License (the usual)",)
    assert declared["requests 2.32.3"].texts == ("Apache 2.0",)
    assert declared["jinja2 3.1.4"].texts == ("BSD License",)
    assert declared["pywin32 306"].expression is None and declared["pywin32 306"].texts == ()
    spdx = json.loads(_render(graph_result, "spdx-json"))
    comments = {p["name"]: p.get("comment", "") for p in spdx["packages"]}
    assert "Apache 2.0" in comments["requests"] and "not an SPDX expression" in comments["requests"]


def test_counts_are_one_fact(graph_result: ScanResult, demo_result: ScanResult) -> None:
    for result in (graph_result, demo_result):
        counts = facts_for(result).counts
        summary = json.loads(_render(result, "json"))["summary"]
        assert summary["python_distributions"] == counts.python_distributions
        assert summary["native_libraries_unowned"] == counts.native_libraries_unowned
        markdown = _render(result, "markdown").decode()
        assert f"{counts.python_distributions} Python distributions" in markdown
        cdx = json.loads(_render(result, "cyclonedx-json"))
        listed = [c for c in cdx["components"] if c["bom-ref"].startswith("pkg:pypi/")]
        assert len(listed) == counts.python_distributions
        assert counts.python_distributions == sum(1 for c in result.components if isinstance(c, PythonDist))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


def test_every_input_file_is_hashed_in_every_sbom(demo_result: ScanResult) -> None:
    import hashlib

    (layer,) = demo_result.artifact.inputs
    digest = hashlib.sha256(Path(layer.path).read_bytes()).hexdigest()
    assert layer.sha256 == digest and Path(layer.path).name == "layer.zip"
    assert json.loads(_render(demo_result, "json"))["artifact"]["inputs"][0]["sha256"] == digest
    for version in ("1.6", "1.4"):
        root = json.loads(_render(demo_result, "cyclonedx-json", version))["metadata"]["component"]
        (file,) = root["components"]
        assert (file["name"], file["type"], file["hashes"]) == ("layer.zip", "file", [{"alg": "SHA-256",
                                                                                     "content": digest}])
    spdx = json.loads(_render(demo_result, "spdx-json"))
    packages = {p["SPDXID"]: p for p in spdx["packages"]}
    assert packages["SPDXRef-Input-1"]["checksums"] == [{"algorithm": "SHA256", "checksumValue": digest}]
    assert {"spdxElementId": "SPDXRef-Artifact", "relationshipType": "CONTAINS",
            "relatedSpdxElement": "SPDXRef-Input-1"} in spdx["relationships"]


def test_home_page_and_project_urls_are_external_references(tmp_path: Path) -> None:
    metadata = ("Home-page: https://example.org/lib\n"
                "Project-URL: Source, https://github.com/example/lib\n"
                "Project-URL: Bug Tracker, https://github.com/example/lib/issues\n"
                "Project-URL: Documentation, https://lib.readthedocs.io\n"
                "Project-URL: Homepage, https://example.org/lib\n"  # the same URL again: listed once
                "Project-URL: Funding, https://example.org/fund\n"
                "Project-URL: Weird, not a url\n")
    files = dist("lib", "1.0", extra_metadata=metadata)
    result = run(ScanConfig(str(write_zip(tmp_path / "app.zip", files))))
    (component,) = json.loads(_render(result, "cyclonedx-json"))["components"]
    assert {(r["type"], r["url"], r.get("comment")) for r in component["externalReferences"]} == {
        ("website", "https://example.org/lib", None),
        ("vcs", "https://github.com/example/lib", None),
        ("issue-tracker", "https://github.com/example/lib/issues", None),
        ("documentation", "https://lib.readthedocs.io", None),
        ("other", "https://example.org/fund", "Funding"),
    }  # (the library orders them its own way)
    (package,) = [p for p in json.loads(_render(result, "spdx-json"))["packages"] if p["name"] == "lib"]
    assert package["homepage"] == "https://example.org/lib"
    (listed,) = json.loads(_render(result, "json"))["components"]
    assert listed["home_page"] == "https://example.org/lib"
    assert [link["kind"] for link in listed["links"]] == ["website", "vcs", "issue-tracker", "documentation", "other"]
