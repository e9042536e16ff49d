"""SPDX 2.3 JSON: schema-valid, stable package ids per copy, licenses, relationships, golden."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import depscan
from depscan.artifacts.kinds import ArtifactKind
from depscan.facts import license_facts
from depscan.models import ArtifactInfo, Location, NativeLib, PythonDist, ScanResult, Status
from depscan.reporters import ReportOptions
from depscan.reporters.spdx import declared_license, document, native_id, package_id, render
from tests.helpers import make_dist
from tests.redact import redact

SCHEMA = Path(__file__).resolve().parents[2] / "fixtures" / "schemas" / "spdx-2.3-schema.json"
SPDX_ID = re.compile(r"^SPDXRef-[A-Za-z0-9.-]+$")


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    # The file declares draft-07 (the spdx-spec v2.3 schema does), so validate with the draft it names.
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


def _validate(doc: dict[str, Any]) -> None:
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


_dist = make_dist


def _result(*dists: PythonDist, sha256: str | None = None) -> ScanResult:
    return ScanResult(
        artifact=ArtifactInfo(path="/somewhere/app.zip", kind="zip", size=1, sha256=sha256),
        components=dists,
        unknowns=(),
        tool_version="9.9.9",
    )


def _dists(result: ScanResult) -> list[PythonDist]:
    return [c for c in result.components if isinstance(c, PythonDist)]


def _packages(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["SPDXID"]: p for p in doc["packages"]}


def _edges(doc: dict[str, Any], kind: str) -> set[tuple[str, str]]:
    """Edges between packages of distributions (the artifact's own DEPENDS_ON its top level are left out)."""
    return {
        (r["spdxElementId"], r["relatedSpdxElement"]) for r in doc["relationships"]
        if r["relationshipType"] == kind and not (kind == "DEPENDS_ON" and r["spdxElementId"] == "SPDXRef-Artifact")
    }


def test_demo_document_is_valid_spdx_2_3(demo_result: ScanResult) -> None:
    data = render(demo_result, ReportOptions())
    doc = json.loads(data)
    _validate(doc)
    assert doc["spdxVersion"] == "SPDX-2.3"
    assert doc["dataLicense"] == "CC0-1.0"
    assert doc["SPDXID"] == "SPDXRef-DOCUMENT"
    assert doc["creationInfo"]["creators"] == [f"Tool: depscan-{depscan.__version__}"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["creationInfo"]["created"])
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", doc["documentNamespace"])


def test_golden(full_result: ScanResult, tmp_path: Path, golden: Callable[[str, bytes], None]) -> None:
    _validate(json.loads(render(full_result, ReportOptions())))
    text = render(full_result, ReportOptions()).decode()
    text = redact(text, extra=[(str(tmp_path), "TMP"), (f"depscan-{depscan.__version__}", "depscan-VERSION")])
    golden("spdx-2.3.json", text.encode())


def test_namespace_is_unique_per_run_and_ids_are_stable(demo_result: ScanResult) -> None:
    first, second = document(demo_result), document(demo_result)
    assert first["documentNamespace"] != second["documentNamespace"]
    assert [p["SPDXID"] for p in first["packages"]] == [p["SPDXID"] for p in second["packages"]]


def test_artifact_package_is_described_and_contains_every_copy(demo_result: ScanResult) -> None:
    doc = document(demo_result)
    packages = _packages(doc)
    artifact = packages["SPDXRef-Artifact"]
    assert artifact["name"] == "function.zip"
    assert artifact["checksums"] == [{"algorithm": "SHA256", "checksumValue": demo_result.artifact.sha256}]
    assert _edges(doc, "DESCRIBES") == {("SPDXRef-DOCUMENT", "SPDXRef-Artifact")}
    dist_ids = [package_id(d) for d in _dists(demo_result)]
    assert len(set(dist_ids)) == len(dist_ids) == 8
    (lib,) = [c for c in demo_result.components if isinstance(c, NativeLib)]
    # libpq.so.5 is owned by no distribution: the artifact contains it directly.
    # ... and so does it the layer zip it was scanned with (an input, with its own checksum).
    expected = [*dist_ids, native_id(lib), "SPDXRef-Input-1"]
    # (the libpq identified in the file is contained by the file's package: test_native_components.py)
    from_artifact = {e for e in _edges(doc, "CONTAINS") if e[0] == "SPDXRef-Artifact"}
    assert from_artifact == {("SPDXRef-Artifact", i) for i in expected}
    assert all(SPDX_ID.match(i) for i in packages)
    assert "could not be read" in doc["comment"] and "bad-1.0.dist-info" in doc["comment"]


def test_two_urllib3_copies_get_distinct_ids_and_their_own_details(demo_result: ScanResult) -> None:
    packages = _packages(document(demo_result))
    copies = [p for p in packages.values() if p["name"] == "urllib3"]
    assert sorted(p["versionInfo"] for p in copies) == ["1.23", "1.26.5"]
    assert len({p["SPDXID"] for p in copies}) == 2
    dists = {d.version: d for d in _dists(demo_result) if d.normalized_name == "urllib3"}
    for package in copies:
        dist = dists[package["versionInfo"]]
        assert package["SPDXID"].startswith(f"SPDXRef-Package-python-urllib3-{dist.version}-")
        assert "checksums" not in package  # no archive hash known; the METADATA digest is only stated as such
        assert f"SHA-256 of {dist.metadata_location.path} as read: {dist.metadata_sha256}." in package["comment"]
        assert package["externalRefs"] == [
            {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": dist.purl}
        ]
        assert dist.metadata_location.path in package["sourceInfo"]
        assert f"in layer {dist.metadata_location.layer}" in package["sourceInfo"]
        assert package["downloadLocation"] == "NOASSERTION" and package["filesAnalyzed"] is False
    shadowed = next(p for p in copies if p["versionInfo"] == "1.26.5")
    assert "Shadowed by var/task/urllib3-1.23.dist-info/METADATA" in shadowed["comment"]


def test_same_name_and_version_in_two_places_differ_only_by_path_hash() -> None:
    a = _dist("six", "1.16.0", "a/six-1.16.0.dist-info/METADATA")
    b = _dist("six", "1.16.0", "b/six-1.16.0.dist-info/METADATA")
    assert package_id(a) != package_id(b)
    assert package_id(a).startswith("SPDXRef-Package-python-six-1.16.0-")
    assert package_id(b).startswith("SPDXRef-Package-python-six-1.16.0-")
    # A rebuilt image renames its layers; the ids (like finding fingerprints) do not change.
    assert package_id(dataclasses.replace(a, metadata_location=Location(a.metadata_location.path, "sha256:feed"))) == (
        package_id(a)
    )


def test_round_trip_through_the_sbom_reader(demo_result: ScanResult, tmp_path: Path) -> None:
    """``depscan rescan`` reads this document back: every copy, by purl, and not the artifact itself."""
    from depscan.sbom_reader import read_sbom

    path = tmp_path / "scan.spdx.json"
    path.write_bytes(render(demo_result))
    contents = read_sbom(path)
    assert sorted(c.purl for c in contents.components) == sorted(d.purl for d in _dists(demo_result))
    assert contents.without_purl == 0
    # libpq.so.5: not matched, counted; the libpq identified in it (pkg:generic): a native component again
    assert contents.other_ecosystems == {} and contents.native == 1
    assert [(c.name, c.purl, c.version, c.location.path) for c in contents.natives] == [
        ("libpq", "pkg:generic/libpq", None, "var/task/lib/libpq.so.5")]
    again = document(dataclasses.replace(demo_result, components=contents.components, unknowns=()))
    _validate(again)
    for package in again["packages"]:
        if not package["SPDXID"].startswith("SPDXRef-Package-"):
            continue  # the artifact and its input zips
        assert "checksums" not in package  # a read-back SBOM has no archive hash
        # the METADATA path comes back from the depscan:location annotation
        assert package["sourceInfo"].startswith("listed in a stored SBOM as ")
        assert package["sourceInfo"].split(" as ", 1)[1].split(" in layer ")[0].endswith("/METADATA")


def test_ids_keep_only_allowed_characters() -> None:
    odd = _dist("zope.interface", "1!2.0+local_build", "x/zope.interface-2.0.dist-info/METADATA")
    spdx_id = package_id(odd)
    assert SPDX_ID.match(spdx_id)
    assert spdx_id.startswith("SPDXRef-Package-python-zope-interface-1-2.0-local-build-")
    _validate(document(_result(odd)))


def test_reported_twice_still_unique() -> None:
    dist = _dist("six", "1.16.0", "six-1.16.0.dist-info/METADATA")
    doc = document(_result(dist, dataclasses.replace(dist)))
    ids = [p["SPDXID"] for p in doc["packages"]]
    assert len(ids) == len(set(ids)) == 3


@pytest.mark.parametrize(
    ("expression", "license_text", "declared", "comment"),
    [
        ("mit", None, "MIT", None),
        ("Apache-2.0 OR MIT", "whatever", "Apache-2.0 OR MIT", None),
        ("Apache-2.0 WITH LLVM-exception", None, "Apache-2.0 WITH LLVM-exception", None),
        ("MIT AND LicenseRef-Proprietary", None, "NOASSERTION", "MIT AND LicenseRef-Proprietary"),
        ("Apache 2.0", None, "NOASSERTION", "(not an SPDX expression): Apache 2.0"),
        (None, "BSD-like", "NOASSERTION", "(not an SPDX expression): BSD-like"),
        (None, "MIT", "MIT", None),  # a License field that is a valid SPDX expression is one (as in CycloneDX)
        (None, "UNKNOWN", "NOASSERTION", None),
        (None, None, "NOASSERTION", None),
    ],
)
def test_declared_license(expression: str | None, license_text: str | None, declared: str, comment: str | None) -> None:
    dist = _dist("pkg", "1.0", "pkg-1.0.dist-info/METADATA", license_expression=expression, license=license_text)
    value, note = declared_license(license_facts(dist))
    assert value == declared
    if comment is None:
        assert note is None
    else:
        assert note is not None and comment in note
    package = _packages(document(_result(dist)))[package_id(dist)]
    assert package["licenseDeclared"] == declared and package["licenseConcluded"] == "NOASSERTION"
    if comment is not None:
        assert comment in package["comment"]


def test_depends_on_targets_the_imported_copy(demo_result: ScanResult) -> None:
    doc = document(demo_result)
    by: dict[tuple[str, str], str] = {(d.normalized_name, d.version): package_id(d) for d in _dists(demo_result)}
    depends = _edges(doc, "DEPENDS_ON")
    requests = by[("requests", "2.19.1")]
    assert {t for s, t in depends if s == requests} == {
        by[("chardet", "3.0.4")],
        by[("idna", "2.7")],
        by[("urllib3", "1.23")],
        by[("certifi", "2018.4.16")],
    }
    assert (by[("jinja2", "2.10")], by[("markupsafe", "1.0")]) in depends
    assert not any(t == by[("urllib3", "1.26.5")] for _, t in depends)  # the shadowed copy is not imported


def test_markers_are_evaluated_for_the_artifact_and_unasked_extras_are_optional() -> None:
    jinja = _dist(
        "Jinja2",
        "3.1.4",
        "python/lib/python3.12/site-packages/jinja2-3.1.4.dist-info/METADATA",
        requires_dist=(
            "MarkupSafe>=2.0",
            "Babel>=2.7; extra == 'i18n'",
            "not a requirement !!",
            "missing-dep",
            "Jinja2[i18n]; extra == 'all'",  # a self-reference, itself behind an extra nobody asked for
        ),
    )
    markupsafe = _dist("MarkupSafe", "2.1.5", "markupsafe-2.1.5.dist-info/METADATA")
    babel = _dist(
        "Babel",
        "2.16.0",
        "babel-2.16.0.dist-info/METADATA",
        requires_dist=(
            "pytz>=2015.7; python_version < '3.9'",  # false on the artifact's Python 3.12
            "tzdata; sys_platform == 'linux'",
            "pywin32; sys_platform == 'win32'",
        ),
    )
    pytz = _dist("pytz", "2024.1", "pytz-2024.1.dist-info/METADATA")
    tzdata = _dist("tzdata", "2024.1", "tzdata-2024.1.dist-info/METADATA")
    pywin32 = _dist("pywin32", "306", "pywin32-306.dist-info/METADATA")
    doc = document(_result(jinja, markupsafe, babel, pytz, tzdata, pywin32))
    _validate(doc)
    j, m, b, _, t, _ = (package_id(d) for d in (jinja, markupsafe, babel, pytz, tzdata, pywin32))
    assert _edges(doc, "DEPENDS_ON") == {(j, m), (b, t)}
    assert _edges(doc, "OPTIONAL_DEPENDENCY_OF") == {(b, j)}


def test_extras_asked_for_by_another_distribution_are_active() -> None:
    app = _dist("app", "1.0", "app-1.0.dist-info/METADATA", requires_dist=("Jinja2[I18N]>=3",))
    jinja = _dist("Jinja2", "3.1.4", "jinja2-3.1.4.dist-info/METADATA", requires_dist=("Babel>=2.7; extra == 'i18n'",))
    babel = _dist("Babel", "2.16.0", "babel-2.16.0.dist-info/METADATA")
    doc = document(_result(app, jinja, babel))
    a, j, b = (package_id(d) for d in (app, jinja, babel))
    assert _edges(doc, "DEPENDS_ON") == {(a, j), (j, b)}
    assert _edges(doc, "OPTIONAL_DEPENDENCY_OF") == set()


def test_shadowed_only_copies_are_still_targets() -> None:
    app = _dist("app", "1.0", "app-1.0.dist-info/METADATA", requires_dist=("lib",))
    lib = _dist("lib", "1.0", "x/lib-1.0.dist-info/METADATA", status=Status.SHADOWED)
    doc = document(_result(app, lib))
    assert _edges(doc, "DEPENDS_ON") == {(package_id(app), package_id(lib))}


def test_artifact_without_hash_has_no_checksum_and_explicit_time_is_used() -> None:
    when = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
    doc = document(_result(), namespace="urn:uuid:00000000-0000-4000-8000-000000000000", created=when)
    _validate(doc)
    artifact = _packages(doc)["SPDXRef-Artifact"]
    assert "checksums" not in artifact
    assert artifact["name"] == "app.zip" and artifact["primaryPackagePurpose"] == "ARCHIVE"
    assert doc["creationInfo"] == {"created": "2024-05-06T07:08:09Z", "creators": ["Tool: depscan-9.9.9"]}
    assert doc["documentNamespace"] == "urn:uuid:00000000-0000-4000-8000-000000000000"
    assert "comment" not in doc


def test_hostile_metadata_costs_its_bad_fields_not_the_document() -> None:
    weird = _dist(
        "weird\x01pkg",
        "1.0\x00-custom build\nfor\tus",
        "weird/METADATA",
        license="Copyright \x07 Someone\x1b[31m \udc80",
        summary="bell \x07 and lone surrogate \udcff",
        requires_dist=("!!!",),
    )
    weird = dataclasses.replace(weird, purl="not a purl", metadata_sha256="nope")
    long = _dist("long", "9" * 2000, "long/METADATA")
    data = render(_result(weird, long, sha256="not-hex"))
    doc = json.loads(data.decode("utf-8"))
    _validate(doc)
    packages = {p["name"]: p for p in doc["packages"]}
    bad = packages["weird\x01pkg"]
    assert SPDX_ID.match(bad["SPDXID"])
    assert "checksums" not in bad and "externalRefs" not in bad
    assert "purl 'not a purl' does not parse." in bad["comment"]
    assert bad["summary"] == "bell \x07 and lone surrogate \\xff"  # written escaped (depscan.text)
    assert "checksums" not in packages["app.zip"]
    assert SPDX_ID.match(packages["long"]["SPDXID"])


def test_native_libraries_are_packages_contained_by_their_owner(native_result: ScanResult) -> None:
    doc = document(native_result)
    _validate(doc)
    packages = _packages(doc)
    (numpy,) = _dists(native_result)
    libs = {c.name: c for c in native_result.components if isinstance(c, NativeLib)}
    contains = _edges(doc, "CONTAINS")
    assert (package_id(numpy), native_id(libs["libgfortran"])) in contains
    assert (package_id(numpy), native_id(libs["_multiarray_umath"])) in contains
    assert ("SPDXRef-Artifact", native_id(libs["libcustom"])) in contains  # no distribution owns it
    assert ("SPDXRef-Artifact", native_id(libs["libgfortran"])) not in contains

    gfortran = packages[native_id(libs["libgfortran"])]
    assert gfortran["SPDXID"].startswith("SPDXRef-Native-libgfortran-")
    assert gfortran["versionInfo"] == "5.0.0"
    assert gfortran["checksums"] == [{"algorithm": "SHA256", "checksumValue": libs["libgfortran"].sha256}]
    assert gfortran["externalRefs"][0]["referenceLocator"] == "pkg:generic/libgfortran@5.0.0"
    assert gfortran["primaryPackagePurpose"] == "LIBRARY"
    assert "x86_64, ELFCLASS64, little-endian, shared-object" in gfortran["comment"]
    assert "auditwheel (file name hash 040039e1)" in gfortran["comment"]
    assert gfortran["sourceInfo"].startswith("ELF file at numpy.libs/libgfortran-040039e1.so.5.0.0,")

    extension = packages[native_id(libs["_multiarray_umath"])]
    assert "externalRefs" not in extension and "versionInfo" not in extension
    assert "Python extension module." in extension["comment"]
    custom = packages[native_id(libs["libcustom"])]
    # no RECORD lists it: the checksum is the file's own, read whole by the ELF cataloger
    assert libs["libcustom"].elf is not None
    assert custom["checksums"] == [{"algorithm": "SHA256", "checksumValue": libs["libcustom"].elf.sha256}]
    assert "No distribution's RECORD and no OS package lists this file." in custom["comment"]
    assert "aarch64" in custom["comment"]


def test_native_library_ids_keep_only_allowed_characters(native_result: ScanResult) -> None:
    lib = next(c for c in native_result.components if isinstance(c, NativeLib) and c.name == "libcustom")
    odd = dataclasses.replace(lib, name="libstdc++ (weird)")
    assert SPDX_ID.match(native_id(odd))
    _validate(document(dataclasses.replace(native_result, components=(*native_result.components, odd))))


@pytest.mark.parametrize("kind", [k for k in ArtifactKind if k is not ArtifactKind.LAYER])
def test_every_artifact_kind_has_a_purpose_and_a_file_name_when_it_is_a_file(kind: ArtifactKind) -> None:
    result = dataclasses.replace(_result(), artifact=ArtifactInfo(path="/x/image", kind=kind, size=None))
    artifact = _packages(document(result))["SPDXRef-Artifact"]
    expected = {ArtifactKind.DOCKER_ARCHIVE: "CONTAINER", ArtifactKind.OCI_ARCHIVE: "CONTAINER",
                ArtifactKind.OCI_DIR: "CONTAINER", ArtifactKind.DIRECTORY: "OTHER", ArtifactKind.WHEEL: "INSTALL",
                ArtifactKind.LAMBDA_FUNCTION: "APPLICATION", ArtifactKind.LAMBDA_FUNCTION_WITH_LAYERS: "APPLICATION"}
    assert artifact["primaryPackagePurpose"] == expected.get(kind, "ARCHIVE")
    # An OCI layout directory is a directory: no file name (it used to be named "layout", purpose OTHER).
    assert ("packageFileName" in artifact) == (kind not in (ArtifactKind.DIRECTORY, ArtifactKind.OCI_DIR))
