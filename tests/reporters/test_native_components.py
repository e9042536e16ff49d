"""Upstream libraries identified in ELF files (``NativeComponent``) in CycloneDX and SPDX, and the table's
inventory rows, from a hand-built result (the catalogers are not needed)."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest
from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.validation.xml import XmlValidator

from depscan.models import Evidence, Location, NativeComponent, NativeLib, ScanResult
from depscan.reporters import ReportOptions, get_reporter
from depscan.reporters.cyclonedx import SPEC_VERSIONS, render_with_library

GFORTRAN = "numpy.libs/libgfortran-040039e1.so.5.0.0"
EXTENSION = "numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"
WEBP_SHA = "ab" * 32


@pytest.fixture
def identified_result(native_result: ScanResult) -> ScanResult:
    """``native_result`` plus three identified libraries: libgfortran (file name, owned by numpy), OpenSSL
    linked statically into numpy's extension (banner and accessor, embedded), and a zlib of unknown
    version in the unowned ``lib/libcustom.so.1``."""
    numpy = next(c for c in native_result.components if getattr(c, "normalized_name", "") == "numpy")
    owner_location = numpy.locations[0]
    added = (
        NativeComponent(
            name="libgfortran", version="5.0.0", purl="pkg:generic/libgfortran@5.0.0", cpe=None,
            location=Location(GFORTRAN), evidence=(Evidence("file-name", "low", "numpy.libs/libgfortran-*.so.5.0.0"),),
            owner="pkg:pypi/numpy@1.26.4", owner_location=owner_location),
        NativeComponent(
            name="openssl", version="1.1.1k", purl="pkg:generic/openssl@1.1.1k",
            cpe="cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*", location=Location(EXTENSION),
            evidence=(Evidence("accessor", "high", "OpenSSL_version_num returns 0x101010bf"),
                      Evidence("banner", "medium", 'string "OpenSSL 1.1.1k  25 Mar 2021"')),
            embedded=True, file_sha256=WEBP_SHA, owner="pkg:pypi/numpy@1.26.4", owner_location=owner_location,
            disagreements=("wheel SBOM says openssl 1.1.1j",)),
        NativeComponent(
            name="zlib", version=None, purl="pkg:generic/zlib", cpe=None, location=Location("lib/libcustom.so.1"),
            evidence=(Evidence("soname", "medium", "DT_NEEDED libz.so.1"),)),
    )
    return dataclasses.replace(native_result, components=(*native_result.components, *added))


_VOLATILE = re.compile(rb"urn:uuid:[0-9a-f-]{36}|(?<=<timestamp>)[^<]+|(?<=\"timestamp\": \")[^\"]+")


def _cyclonedx(result: ScanResult, version: str, fmt: str) -> bytes:
    options = ReportOptions(cyclonedx_version=version)
    data = get_reporter("cyclonedx-json" if fmt == "json" else "cyclonedx-xml")(result, options)
    from cyclonedx.schema import OutputFormat

    reference, _ = render_with_library(result, options, OutputFormat.JSON if fmt == "json" else OutputFormat.XML)
    assert _VOLATILE.sub(b"X", data) == _VOLATILE.sub(b"X", reference)  # the direct writer is the library's bytes
    validator = JsonStrictValidator(SPEC_VERSIONS[version]) if fmt == "json" else XmlValidator(SPEC_VERSIONS[version])
    errors = [str(e) for e in validator.validate_str(data.decode(), all_errors=True) or ()]
    assert not errors, "\n".join(errors)
    return data


def _all_components(doc: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """(parent name, component) for every component, nested ones included."""
    out: list[tuple[str | None, dict[str, Any]]] = []
    stack: list[tuple[str | None, dict[str, Any]]] = [(None, c) for c in doc.get("components", [])]
    while stack:
        parent, comp = stack.pop()
        out.append((parent, comp))
        stack.extend((comp["name"], child) for child in comp.get("components", []))
    return out


@pytest.mark.parametrize(("version", "fmt"), [(v, f) for v in ("1.6", "1.5", "1.4") for f in ("json", "xml")])
def test_cyclonedx_is_valid_and_the_writer_matches_the_library(identified_result: ScanResult, version: str,
                                                               fmt: str) -> None:
    _cyclonedx(identified_result, version, fmt)


def test_cyclonedx_describes_identified_libraries(identified_result: ScanResult) -> None:
    doc = json.loads(_cyclonedx(identified_result, "1.6", "json"))
    found = {(parent, c["name"]): c for parent, c in _all_components(doc)
             if any(p["name"] == "depscan:native:embedded" for p in c.get("properties", []))}
    # libcustom: named after its file by the scan that built native_result
    assert set(found) == {("numpy", "libgfortran"), ("numpy", "openssl"), (None, "zlib"), (None, "libcustom")}
    openssl = found[("numpy", "openssl")]
    assert (openssl["type"], openssl["version"], openssl["purl"], openssl["cpe"]) == (
        "library", "1.1.1k", "pkg:generic/openssl@1.1.1k", "cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*")
    assert openssl["evidence"]["occurrences"] == [{"location": EXTENSION}]
    assert openssl["evidence"]["identity"] == [{
        "field": "purl", "confidence": 0.9, "concludedValue": "pkg:generic/openssl@1.1.1k",
        "methods": [{"technique": "binary-analysis", "confidence": 0.6,
                     "value": 'string "OpenSSL 1.1.1k  25 Mar 2021"'},
                    {"technique": "binary-analysis", "confidence": 0.9,
                     "value": "OpenSSL_version_num returns 0x101010bf"}]}]
    props = {(p["name"], p["value"]) for p in openssl["properties"]}
    assert {("depscan:native:embedded", "true"), ("depscan:native:confidence", "high"),
            ("depscan:native:file_sha256", WEBP_SHA),
            ("depscan:native:disagreement", "wheel SBOM says openssl 1.1.1j")} <= props
    gfortran = found[("numpy", "libgfortran")]
    assert gfortran["evidence"]["identity"][0]["methods"] == [
        {"technique": "filename", "confidence": 0.3, "value": "numpy.libs/libgfortran-*.so.5.0.0"}]
    zlib = found[(None, "zlib")]
    assert "version" not in zlib and "cpe" not in zlib
    assert zlib["evidence"]["occurrences"] == [{"location": "lib/libcustom.so.1"}]


def test_cyclonedx_1_4_keeps_the_evidence_as_properties(identified_result: ScanResult) -> None:
    doc = json.loads(_cyclonedx(identified_result, "1.4", "json"))
    openssl = next(c for _, c in _all_components(doc) if c["name"] == "openssl")
    assert "evidence" not in openssl
    values = [p["value"] for p in openssl["properties"] if p["name"] == "depscan:native:evidence"]
    assert values == ["accessor (high): OpenSSL_version_num returns 0x101010bf",
                      'banner (medium): string "OpenSSL 1.1.1k  25 Mar 2021"']


def test_spdx_packages_with_cpe_and_purl_contained_by_the_elf_file(identified_result: ScanResult) -> None:
    from depscan.reporters.spdx import document, native_id
    from tests.reporters.test_spdx import SPDX_ID, _validate

    doc = document(identified_result)
    _validate(doc)
    packages = {p["SPDXID"]: p for p in doc["packages"]}
    assert all(SPDX_ID.match(i) for i in packages)
    found = {p["name"]: p for i, p in packages.items() if i.startswith("SPDXRef-NativeComponent-")}
    assert set(found) == {"libgfortran", "openssl", "zlib", "libcustom"}
    openssl = found["openssl"]
    assert openssl["versionInfo"] == "1.1.1k"
    assert openssl["externalRefs"] == [
        {"referenceCategory": "SECURITY", "referenceType": "cpe23Type",
         "referenceLocator": "cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*"},
        {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
         "referenceLocator": "pkg:generic/openssl@1.1.1k"},
    ]
    assert "accessor (high): OpenSSL_version_num returns 0x101010bf" in openssl["comment"]
    assert "versionInfo" not in found["zlib"] and "not verifiable" in found["zlib"]["comment"]
    comments = {a["comment"] for a in openssl["annotations"]}
    assert {f"depscan:location={EXTENSION}", "depscan:native:confidence=high",
            "depscan:native:embedded=true"} <= comments
    # each is CONTAINed by the package of the ELF file that holds it
    files = {lib.location.path: native_id(lib) for lib in identified_result.components if isinstance(lib, NativeLib)}
    contains = {(r["spdxElementId"], r["relatedSpdxElement"]) for r in doc["relationships"]
                if r["relationshipType"] == "CONTAINS"}
    for name, path in (("openssl", EXTENSION), ("libgfortran", GFORTRAN), ("zlib", "lib/libcustom.so.1")):
        assert (files[path], found[name]["SPDXID"]) in contains, name
    # without the ELF file's package (not cataloged), the owning distribution contains it
    only = dataclasses.replace(identified_result, components=tuple(
        c for c in identified_result.components if not isinstance(c, NativeLib)))
    doc = document(only)
    _validate(doc)
    numpy = next(p["SPDXID"] for p in doc["packages"] if p["name"] == "numpy")
    ids = {p["name"]: p["SPDXID"] for p in doc["packages"] if p["SPDXID"].startswith("SPDXRef-NativeComponent-")}
    contains = {(r["spdxElementId"], r["relatedSpdxElement"]) for r in doc["relationships"]
                if r["relationshipType"] == "CONTAINS"}
    assert {(numpy, ids["openssl"]), (numpy, ids["libgfortran"]), ("SPDXRef-Artifact", ids["zlib"])} <= contains


def test_table_lists_identified_libraries_with_confidence_file_and_owner(identified_result: ScanResult) -> None:
    text = get_reporter("table")(identified_result, ReportOptions(width=200)).decode()
    lines = text.splitlines()
    title = next(i for i, line in enumerate(lines) if line.strip() == "Libraries identified in native files")
    cells = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines[title:] if line.startswith("│")]
    rows = {row[0]: row for row in cells if row and row[0]}
    assert rows["openssl (embedded)"] == ["openssl (embedded)", "1.1.1k", "high", EXTENSION, "numpy 1.26.4", ""]
    assert rows["libgfortran"] == ["libgfortran", "5.0.0", "low", GFORTRAN, "numpy 1.26.4", ""]
    assert rows["zlib"] == ["zlib", "unknown", "medium", "lib/libcustom.so.1", "none", ""]
    without = dataclasses.replace(identified_result, components=tuple(
        c for c in identified_result.components if not isinstance(c, NativeComponent)))
    assert "Libraries identified" not in get_reporter("table")(without, ReportOptions()).decode()


def test_the_direct_writer_writes_them_itself(identified_result: ScanResult) -> None:
    """cpe and evidence identity are written by ``cyclonedx_writer``, not handed to the library."""
    from cyclonedx.schema import SchemaVersion

    from depscan.reporters.cyclonedx import _Builder
    from depscan.reporters.cyclonedx_writer import unsupported

    parts = _Builder(identified_result, SchemaVersion.V1_6, []).parts()
    assert unsupported(parts) is None
    nested = [c for top in parts.components for c in top.get("components") or ()] + parts.components
    assert any(c.get("cpe") for c in nested) and any(c.get("identity") for c in nested)
