"""``depscan rescan`` reads native components (``pkg:generic`` + CPE) and OS packages (distro purls) back from
depscan's own CycloneDX and SPDX documents, and from other tools' SBOMs, so a rescan holds them as a scan does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from depscan.config import AdvisorySettings
from depscan.models import NativeComponent, OsPackage, ScanResult
from depscan.reporters import ReportOptions, get_reporter
from depscan.sbom_reader import parse_sbom
from depscan.scan import rescan

REPO = Path(__file__).resolve().parents[2]
SUBSET = REPO / "fixtures" / "advisories" / "pypi-subset.zip"


def _native_facts(comp: NativeComponent) -> tuple[Any, ...]:
    return (comp.name, comp.version, comp.purl, comp.cpe, comp.location.path, comp.location.layer, comp.embedded,
            comp.os_package, comp.owner, comp.owner_location, comp.evidence)


def _package_facts(package: OsPackage) -> tuple[Any, ...]:
    return (package.name, package.version, package.purl, package.package_manager, package.ecosystem, package.arch,
            package.source_name, package.location.path, package.location.layer)


@pytest.mark.parametrize(("fmt", "version"), [("cyclonedx-json", "1.6"), ("cyclonedx-json", "1.5"),
                                              ("cyclonedx-json", "1.4"), ("cyclonedx-xml", "1.6"),
                                              ("cyclonedx-xml", "1.4"), ("spdx-json", "")])
def test_depscans_own_sboms_give_back_every_native_component_and_os_package(
        full_result: ScanResult, fmt: str, version: str) -> None:
    data = get_reporter(fmt)(full_result, ReportOptions(cyclonedx_version=version or "1.6"))
    contents = parse_sbom(data, Path(f"bom.{fmt}"))
    expected_natives = sorted(_native_facts(c) for c in full_result.components if isinstance(c, NativeComponent))
    assert sorted(_native_facts(c) for c in contents.natives) == expected_natives
    expected_packages = [_package_facts(p) for p in full_result.components if isinstance(p, OsPackage)]
    assert [_package_facts(p) for p in contents.os_packages] == expected_packages
    # the ELF files themselves (their pkg:generic version is the file name's): counted, never matched
    assert contents.native == 3 and contents.other_ecosystems == {}
    # what ships each comes back too (the zlib in MarkupSafe's extension), located as the distribution read back is
    (zlib,) = [c for c in contents.natives if c.name == "zlib"]
    (markupsafe,) = [d for d in contents.components if d.normalized_name == "markupsafe"]
    assert (zlib.owner, zlib.owner_location) == (markupsafe.purl, markupsafe.metadata_location)


def test_another_tools_generic_and_distro_purls(tmp_path: Path) -> None:
    """Syft and Trivy list binaries with ``pkg:generic`` purls and CPEs and OS packages with distro purls (the
    ``distro`` qualifier names the release; Ubuntu's does not say LTS, so no ecosystem is guessed)."""
    bom = {
        "bomFormat": "CycloneDX", "specVersion": "1.5",
        "components": [
            {"bom-ref": "a", "type": "library", "name": "openssl", "version": "1.1.1k",
             "purl": "pkg:generic/openssl@1.1.1k", "cpe": "cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*"},
            {"bom-ref": "b", "type": "library", "name": "musl", "version": "1.2.4-r2",
             "purl": "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1&upstream=musl"},
            {"bom-ref": "c", "type": "library", "name": "libssl3", "version": "3.0.2-0ubuntu1.15",
             "purl": "pkg:deb/ubuntu/libssl3@3.0.2-0ubuntu1.15?arch=amd64&upstream=openssl&distro=ubuntu-22.04"},
            {"bom-ref": "d", "type": "library", "name": "libssl3", "version": "3.0.11-1~deb12u2",
             "purl": "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&upstream=openssl&distro=debian-12"},
            {"bom-ref": "e", "type": "library", "name": "zlib", "purl": "pkg:rpm/amzn/zlib?arch=x86_64"},
        ],
    }
    contents = parse_sbom(json.dumps(bom).encode(), tmp_path / "syft.cdx.json")
    (openssl,) = contents.natives
    assert _native_facts(openssl) == ("openssl", "1.1.1k", "pkg:generic/openssl@1.1.1k",
                                      "cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*", "sbom:a", None, False, None,
                                      None, None, ())  # another tool's: no depscan evidence
    assert [(p.name, p.package_manager, p.ecosystem, p.arch, p.source_name) for p in contents.os_packages] == [
        ("libssl3", "dpkg", "Debian:12", "amd64", "openssl"),
        ("libssl3", "dpkg", None, "amd64", "openssl"),  # Ubuntu: LTS or not is not in the purl
        ("musl", "apk", "Alpine:v3.19", "x86_64", "musl"),
    ]
    assert contents.without_purl == 1  # the rpm without a version cannot be looked up


def test_spdx_cpe_references_are_read(tmp_path: Path) -> None:
    doc = {
        "spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT",
        "packages": [{"SPDXID": "SPDXRef-zlib", "name": "zlib", "versionInfo": "1.2.11", "externalRefs": [
            {"referenceCategory": "SECURITY", "referenceType": "cpe23Type",
             "referenceLocator": "cpe:2.3:a:zlib:zlib:1.2.11:*:*:*:*:*:*:*"},
            {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
             "referenceLocator": "pkg:generic/zlib@1.2.11"},
        ]}],
    }
    (zlib,) = parse_sbom(json.dumps(doc).encode(), tmp_path / "tool.spdx.json").natives
    assert (zlib.purl, zlib.cpe, zlib.version) == (
        "pkg:generic/zlib@1.2.11", "cpe:2.3:a:zlib:zlib:1.2.11:*:*:*:*:*:*:*", "1.2.11")


def test_a_rescan_lists_them_beside_the_distributions(full_result: ScanResult, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    sbom = tmp_path / "bom.cdx.json"
    sbom.write_bytes(get_reporter("cyclonedx-json")(full_result, ReportOptions()))
    result = rescan(str(sbom), AdvisorySettings(mode="offline", export=SUBSET, max_age_days=100_000))
    assert sorted(c.purl for c in result.components if isinstance(c, NativeComponent)) == sorted(
        c.purl for c in full_result.components if isinstance(c, NativeComponent))
    assert [c.purl for c in result.components if isinstance(c, OsPackage)] == [
        c.purl for c in full_result.components if isinstance(c, OsPackage)]
    assert result.stats["sbom_native_components"] == 4 and result.stats["sbom_os_packages"] == 1
    doc = json.loads(get_reporter("json")(result, ReportOptions()))
    assert doc["summary"]["native_components"] == 4 and doc["summary"]["os_packages"] == 1
    # the evidence came back with them: the same confidence counts as the scan's
    assert (doc["summary"]["native_components_high"], doc["summary"]["native_components_medium"],
            doc["summary"]["native_components_low"]) == (2, 1, 1)
    ids = {(c["type"], c["name"]): c for c in doc["components"]}
    # the rescan's reports say again who ships what
    assert ids[("native-component", "zlib")]["owner_id"] == ids[("python-distribution", "MarkupSafe")]["id"]
    assert ids[("native-component", "openssl")]["os_package_id"] == ids[("os-package", "libssl3")]["id"]
