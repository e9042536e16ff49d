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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

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


@dataclass
class View:
    """What one document says, keyed by component key: the copies of each type, the Requires-Dist graph, which
    distribution (or OS package) ships which identified library, licences and what the vulnerabilities affect."""

    dists: set[str] = field(default_factory=set)
    natives: set[str] = field(default_factory=set)
    identified: set[str] = field(default_factory=set)
    os_packages: set[str] = field(default_factory=set)
    edges: Edges = field(default_factory=set)
    ships: Edges = field(default_factory=set)
    licences: dict[str, str | None] = field(default_factory=dict)
    affects: set[tuple[str, str]] = field(default_factory=set)  # (vulnerability id, component key)
    not_verifiable: set[str] = field(default_factory=set)  # component keys
    policy: int | None = None  # policy findings stated


def _from_json(doc: dict[str, Any]) -> View:
    view = View()
    dists = [c for c in doc["components"] if c["type"] == "python-distribution"]
    view.dists = {c["id"] for c in dists}
    view.edges = {(c["id"], d) for c in dists for d in c["dependencies"]}
    view.edges |= {("root", d) for d in doc["artifact"]["dependencies"]}
    view.licences = {c["id"]: c["license_declared"]["expression"] for c in dists}
    view.natives = {c["id"] for c in doc["components"] if c["type"] == "native-library"}
    identified = [c for c in doc["components"] if c["type"] == "native-component"]
    view.identified = {c["id"] for c in identified}
    view.os_packages = {c["id"] for c in doc["components"] if c["type"] == "os-package"}
    view.ships = {(c["owner_id"] or c["os_package_id"], c["id"]) for c in identified
                  if c["owner_id"] or c["os_package_id"]}
    view.affects = {(v["id"], v["component"]["id"]) for v in doc["vulnerabilities"]}
    unverifiable = {item["purl"] for item in doc["not_verifiable"]}
    view.not_verifiable = {c["id"] for c in doc["components"] if c.get("purl") in unverifiable
                           and c["type"] != "native-library"}
    view.policy = len(doc["policy_findings"])
    return view


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


def _kind(properties: dict[str, str]) -> str:
    """Which type a CycloneDX component is, by the properties depscan gives each."""
    if "depscan:native:kind" in properties:
        return "native"
    if "depscan:native:embedded" in properties:
        return "identified"
    if "depscan:os_package:files" in properties:
        return "os"
    return "dist"


def _cdx_view(components: list[tuple[str | None, str, dict[str, str], list[dict[str, Any]] | None]],
              dependencies: list[tuple[str, list[str]]], affects: list[tuple[str, str]],
              metadata: dict[str, list[str]]) -> View:
    """``components``: (parent ref, ref, properties, licence entries) of every component, nested ones included."""
    view = View()
    kinds = {}
    for _parent, ref, properties, licences in components:
        key, kind = _key(ref), _kind(properties)
        kinds[key] = kind
        {"native": view.natives, "identified": view.identified, "os": view.os_packages, "dist": view.dists}[
            kind].add(key)
        if kind == "dist":
            view.licences[key] = _cdx_licence(licences or [])
        if "depscan:advisories:not_verifiable" in properties:
            view.not_verifiable.add(key)
    nested = {(_key(parent), _key(ref)) for parent, ref, _, _ in components
              if parent is not None and kinds[_key(ref)] == "identified"}
    for ref, targets in dependencies:
        for target in targets:
            edge = (_key(ref), _key(target))
            (view.ships if kinds.get(edge[1]) == "identified" else view.edges).add(edge)
    assert nested == view.ships  # nested in what ships it, and depended on by it
    view.affects = {(vuln, _key(ref)) for vuln, ref in affects}
    view.policy = len(metadata.get("depscan:policy", []))
    return view


def _from_cyclonedx_json(doc: dict[str, Any]) -> View:
    components = []
    stack: list[tuple[str | None, dict[str, Any]]] = [(None, c) for c in doc["components"]]
    while stack:
        parent, component = stack.pop()
        properties = {p["name"]: p["value"] for p in component.get("properties", [])}
        components.append((parent, component["bom-ref"], properties, component.get("licenses", [])))
        stack += [(component["bom-ref"], child) for child in component.get("components", [])]
    dependencies = [(d["ref"], d.get("dependsOn", [])) for d in doc["dependencies"]]
    affects = [(v["id"], a["ref"]) for v in doc.get("vulnerabilities", []) for a in v["affects"]]
    metadata: dict[str, list[str]] = {}
    for prop in doc["metadata"].get("properties", []):
        metadata.setdefault(prop["name"], []).append(prop["value"])
    return _cdx_view(components, dependencies, affects, metadata)


def _from_cyclonedx_xml(data: bytes) -> View:
    root = ElementTree.fromstring(data)
    ns = {"c": root.tag[1:].split("}")[0]}

    def properties(element: Any) -> dict[str, str]:
        return {p.get("name"): p.text or "" for p in element.findall("c:properties/c:property", ns)}

    components = []
    stack: list[tuple[str | None, Any]] = [(None, c) for c in root.findall("c:components/c:component", ns)]
    while stack:
        parent, component = stack.pop()
        entries: list[dict[str, Any]] = []
        for item in component.findall("c:licenses/*", ns):
            if item.tag.endswith("expression"):
                entries.append({"expression": item.text})
            else:
                spdx = item.find("c:id", ns)
                entries.append({"license": {"id": spdx.text} if spdx is not None else {"name": "?"}})
        components.append((parent, component.get("bom-ref"), properties(component), entries))
        stack += [(component.get("bom-ref"), child) for child in component.findall("c:components/c:component", ns)]
    dependencies = [(d.get("ref"), [t.get("ref") for t in d.findall("c:dependency", ns)])
                    for d in root.findall("c:dependencies/c:dependency", ns)]
    affects = [(v.find("c:id", ns).text, t.find("c:ref", ns).text)
               for v in root.findall("c:vulnerabilities/c:vulnerability", ns)
               for t in v.findall("c:affects/c:target", ns)]
    metadata: dict[str, list[str]] = {}
    for prop in root.findall("c:metadata/c:properties/c:property", ns):
        metadata.setdefault(prop.get("name"), []).append(prop.text or "")
    return _cdx_view(components, dependencies, affects, metadata)


def _from_spdx(doc: dict[str, Any]) -> View:
    def key(spdx_id: str) -> str:
        return "root" if spdx_id == "SPDXRef-Artifact" else spdx_id.rsplit("-", 1)[-1]

    def ids(prefix: str) -> set[str]:
        return {key(p["SPDXID"]) for p in doc["packages"] if p["SPDXID"].startswith(prefix)}

    view = View(dists=ids("SPDXRef-Package-python-"), natives=ids("SPDXRef-Native-"),
                identified=ids("SPDXRef-NativeComponent-"), os_packages=ids("SPDXRef-OsPackage-"))
    view.licences = {
        key(p["SPDXID"]): None if p["licenseDeclared"] == "NOASSERTION" else p["licenseDeclared"]
        for p in doc["packages"] if p["SPDXID"].startswith("SPDXRef-Package-python-")
    }
    view.edges = {(key(r["spdxElementId"]), key(r["relatedSpdxElement"]))
                  for r in doc["relationships"] if r["relationshipType"] == "DEPENDS_ON"}
    contains = {(key(r["spdxElementId"]), key(r["relatedSpdxElement"]))
                for r in doc["relationships"] if r["relationshipType"] == "CONTAINS"}
    holder = {inner: outer for outer, inner in contains}
    for comp in view.identified:  # the ELF file's package holds it, and a distribution holds the file
        outer = holder[comp]
        outer = holder.get(outer, outer) if outer in view.natives else outer
        if outer in view.dists or outer in view.os_packages:
            view.ships.add((outer, comp))
    view.not_verifiable = {key(p["SPDXID"]) for p in doc["packages"]
                           if any(a["comment"].startswith("depscan:advisories:not_verifiable=")
                                  for a in p.get("annotations", []))}
    comment = doc.get("comment", "")
    found = re.search(r"(\d+) policy finding\(s\)", comment)
    view.policy = int(found[1]) if found else 0
    return view


def _render(result: ScanResult, fmt: str, version: str = "1.6") -> bytes:
    return get_reporter(fmt)(result, ReportOptions(cyclonedx_version=version))


@pytest.mark.parametrize("fixture", ["graph_result", "demo_result", "native_result", "full_result"])
def test_every_format_states_the_same_components_licences_and_graph(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    result: ScanResult = request.getfixturevalue(fixture)
    facts = facts_for(result)
    keys = facts.dist_keys
    expected = View(
        dists=set(keys), natives=set(facts.native_keys), identified=set(facts.identified_keys),
        os_packages=set(facts.os_keys),
        edges={(keys[i], keys[j]) for i, targets in enumerate(facts.graph.requires) for j in targets}
        | {("root", keys[i]) for i in facts.graph.top},
        licences=dict(zip(keys, (lic.expression for lic in facts.licenses), strict=True)),
        policy=len(result.policy_findings),
    )
    for i, key in enumerate(facts.identified_keys):
        owner, package = facts.identified_owner[i], facts.identified_os[i]
        if owner is not None:
            expected.ships.add((keys[owner], key))
        elif package is not None:
            expected.ships.add((facts.os_keys[package], key))
    expected.affects = {(f.id, str(facts.key_of(f.component))) for f in result.findings}
    unverifiable = {purl for purl, _ in result.not_verifiable}
    expected.not_verifiable = {key for comp, key in zip(facts.identified, facts.identified_keys, strict=True)
                               if comp.purl in unverifiable}
    expected.not_verifiable |= {key for package, key in zip(facts.os_packages, facts.os_keys, strict=True)
                                if package.purl in unverifiable}

    views = {"json": _from_json(json.loads(_render(result, "json")))}
    for version in ("1.6", "1.5", "1.4"):
        views[f"cyclonedx-json {version}"] = _from_cyclonedx_json(json.loads(_render(result, "cyclonedx-json",
                                                                                     version)))
        views[f"cyclonedx-xml {version}"] = _from_cyclonedx_xml(_render(result, "cyclonedx-xml", version))
    views["spdx"] = _from_spdx(json.loads(_render(result, "spdx-json")))
    for name, view in views.items():
        for part in ("dists", "natives", "identified", "os_packages", "edges", "ships", "not_verifiable", "policy"):
            assert getattr(view, part) == getattr(expected, part), (name, part)
        if name != "spdx":  # SPDX 2.3 has no vulnerabilities
            assert view.affects == expected.affects, name
        licences = view.licences
        if name == "spdx":  # SPDX 2.3 cannot declare LicenseRef- ids whose text was not collected
            licences = {k: v for k, v in licences.items() if v is not None}
            assert licences == {k: v for k, v in expected.licences.items()
                                if v is not None and "LicenseRef-" not in v}, name
        else:
            assert licences == expected.licences, name


def test_the_findings_of_every_type_are_stated_by_every_findings_format(full_result: ScanResult) -> None:
    """Vulnerabilities on distributions, identified libraries and OS packages, policy findings and not-verifiable
    components: the same in JSON, SARIF, Markdown and the table; pip-audit's shape states the PyPI ones only."""
    doc = json.loads(_render(full_result, "json"))
    by_type = {(v["id"], v["component"]["type"], v["component"]["purl"], v["component"]["location"]["path"])
               for v in doc["vulnerabilities"]}
    assert {t for _, t, _, _ in by_type} == {"python-distribution", "native-component", "os-package"}
    sarif = json.loads(_render(full_result, "sarif"))["runs"][0]
    vulnerabilities = {(r["ruleId"], r["properties"]["component"]["purl"],
                        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
                       for r in sarif["results"] if "ids" in r.get("properties", {})}
    assert vulnerabilities == {(i, purl, quote(path, safe="/!$&'()*+,;=@")) for i, _, purl, path in by_type}
    rules = {r["id"]: r for r in sarif["tool"]["driver"]["rules"]}
    policy = [(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
              for r in sarif["results"] if r["ruleId"] in {f.rule for f in full_result.policy_findings}]
    assert sorted(policy) == sorted((f.rule, f.location.path) for f in full_result.policy_findings)
    assert all(rules[rule]["help"]["text"] for rule, _ in policy)
    assert [(p["rule"], p["location"]["path"]) for p in doc["policy_findings"]] == [
        (f.rule, f.location.path) for f in full_result.policy_findings]
    unverifiable = [r["properties"]["purl"] for r in sarif["results"] if r["ruleId"] == "depscan/not-verifiable"]
    assert unverifiable == [purl for purl, _ in full_result.not_verifiable] == [
        item["purl"] for item in doc["not_verifiable"]]
    markdown = _render(full_result, "markdown").decode()
    table = _render(full_result, "table").decode()
    for finding in full_result.findings:
        if finding.suppressed is None:
            assert f"[{finding.id}]" in markdown
    for item in full_result.policy_findings:
        assert f"`{item.rule}`" in markdown and item.rule in table
    for purl, _ in full_result.not_verifiable:
        assert f"`{purl}`" in markdown and f"NOT VERIFIABLE: {purl}" in table
    counts = facts_for(full_result).counts
    assert (doc["summary"]["native_components"], doc["summary"]["os_packages"], doc["summary"]["policy_findings"],
            doc["summary"]["not_verifiable"]) == (counts.native_components, counts.os_packages,
                                                   counts.policy_findings, counts.not_verifiable) == (4, 1, 2, 1)
    pip_audit = json.loads(_render(full_result, "pip-audit-json"))
    listed = {d["name"] for d in pip_audit["dependencies"]}
    assert "libwebp" not in listed and "libssl3" not in listed and "markupsafe" in listed
    from depscan.finish import pip_audit_left_out
    assert "pip-audit-json report lists Python distributions only" in str(pip_audit_left_out(full_result))


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
    # used copies nothing requires (the iniconfig vendored under py/_vendored_packages is vendored, not used)
    assert top == {"app", "pytest", "babel", "pywin32"}
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
