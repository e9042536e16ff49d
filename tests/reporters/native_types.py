"""A hand-built extension of a scan result with every type native identification adds: native libraries with
their ELF facts, identified upstream libraries (embedded, with and without version, owned by a distribution, by
an OS package, by nobody), an OS package, vulnerabilities on an identified library and on an OS package, policy
findings and a component that is not verifiable. The catalogers and the matcher are not needed (nor waited for):
every report is tested on what they will hand over."""

from __future__ import annotations

import dataclasses

from depscan.models import (
    Advisory,
    ElfFacts,
    Evidence,
    Finding,
    Level,
    Location,
    NativeComponent,
    NativeLib,
    OsPackage,
    PolicyFinding,
    PythonDist,
    ScanResult,
    Severity,
)

SPEEDUPS = "opt/python/markupsafe/_speedups.cpython-312-x86_64-linux-gnu.so"
WEBP = "opt/python/lib/libwebp.so.7"
LIBSSL = "usr/lib/x86_64-linux-gnu/libssl.so.3"
DPKG_STATUS = "var/lib/dpkg/status"
SSL_PACKAGE = "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"
WEBP_PURL = "pkg:generic/libwebp@1.3.1"
WEBP_CPE = "cpe:2.3:a:webmproject:libwebp:1.3.1:*:*:*:*:*:*:*"
ZLIB_PURL = "pkg:generic/zlib@1.2.11"
ZLIB_CPE = "cpe:2.3:a:zlib:zlib:1.2.11:*:*:*:*:*:*:*"
UNVERIFIABLE = "pkg:generic/libpq"  # the demo's libpq: identified by its file name, no version


def with_native_types(result: ScanResult) -> ScanResult:
    """``result`` (the demo scan, whose layer holds MarkupSafe 1.0) with the native types added."""
    markupsafe = next(c for c in result.components if isinstance(c, PythonDist) and c.normalized_name == "markupsafe")
    speedups_elf = ElfFacts(
        sha256="5e" * 32, needed=("libz.so.1", "libc.so.6"), build_id="a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
        version_needs=(("libc.so.6", ("GLIBC_2.2.5", "GLIBC_2.34")),), min_glibc="2.34", stripped=True)
    webp_elf = ElfFacts(
        sha256="3b" * 32, soname="libwebp.so.7", needed=("libsharpyuv.so.0", "libm.so.6", "libc.so.6"),
        runpath=("$ORIGIN",), build_id="ffeeddccbbaa99887766554433221100ffeeddcc",
        version_definitions=("libwebp.so.7",),
        version_needs=(("libc.so.6", ("GLIBC_2.2.5", "GLIBC_2.14")),), min_glibc="2.14")
    speedups = NativeLib(
        name="_speedups", kind="python-extension", version=None, location=Location(SPEEDUPS, "layer.zip"),
        size=35_000, arch="x86_64", elf_class=64, endianness="little", elf_type="shared-object", purl=None,
        abi_tag="cpython-312-x86_64-linux-gnu", owner=markupsafe.purl, owner_location=markupsafe.metadata_location,
        found_by="elf", elf=speedups_elf)
    webp_file = NativeLib(
        name="libwebp", kind="shared-library", version="7", location=Location(WEBP, "layer.zip"), size=420_000,
        arch="x86_64", elf_class=64, endianness="little", elf_type="shared-object", purl="pkg:generic/libwebp@7",
        found_by="elf", elf=webp_elf)
    webp = NativeComponent(
        name="libwebp", version="1.3.1", purl=WEBP_PURL, cpe=WEBP_CPE, location=Location(WEBP, "layer.zip"),
        evidence=(Evidence("accessor", "high", "WebPGetDecoderVersion returns 0x010301"),
                  Evidence("file-name", "low", "libwebp.so.7")),
        file_sha256=webp_elf.sha256)
    zlib = NativeComponent(
        name="zlib", version="1.2.11", purl=ZLIB_PURL, cpe=ZLIB_CPE, location=Location(SPEEDUPS, "layer.zip"),
        evidence=(Evidence("banner", "medium", 'string "inflate 1.2.11 Copyright 1995-2017 Mark Adler"'),),
        embedded=True, file_sha256=speedups_elf.sha256, owner=markupsafe.purl,
        owner_location=markupsafe.metadata_location, disagreements=("wheel SBOM says zlib 1.2.13",))
    libssl = OsPackage(
        name="libssl3", version="3.0.11-1~deb12u2", purl=SSL_PACKAGE, package_manager="dpkg",
        location=Location(DPKG_STATUS, "function.zip"), ecosystem="Debian:12", arch="amd64", source_name="openssl",
        source_version="3.0.11-1~deb12u2", files=(LIBSSL, "usr/share/doc/libssl3/copyright"))
    openssl = NativeComponent(
        name="openssl", version="3.0.11", purl="pkg:generic/openssl@3.0.11",
        cpe="cpe:2.3:a:openssl:openssl:3.0.11:*:*:*:*:*:*:*", location=Location(LIBSSL, "function.zip"),
        evidence=(Evidence("os-package", "high", f"dpkg: libssl3 3.0.11-1~deb12u2 lists {LIBSSL}"),
                  Evidence("banner", "medium", 'string "OpenSSL 3.0.11 19 Sep 2023"')),
        os_package=SSL_PACKAGE)
    webp_advisory = Advisory(
        id="OSV-2023-924", aliases=("CVE-2023-4863",), summary="Heap buffer overflow in libwebp's lossless decoder",
        details="A heap buffer overflow in libwebp (BuildHuffmanTable) allows a crafted WebP image to write out of "
                "bounds. Exploited in the wild.",
        modified="2024-01-10T00:00:00Z", published="2023-09-12T00:00:00Z", withdrawn=None, affected=(),
        severity=(Severity("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8),),
        references=("https://chromium.googlesource.com/webm/libwebp/+/902bc9190331343b2017211debcec8d2ab87e17a",),
        source="hand-built")
    ssl_advisory = Advisory(
        id="DEBIAN-CVE-2023-5678", aliases=("CVE-2023-5678",),
        summary="Excessive time spent in DH check / generation with large Q parameter value",
        details=None, modified="2024-02-01T00:00:00Z", published="2023-11-06T00:00:00Z", withdrawn=None,
        affected=(), severity=(Severity("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 5.3),),
        references=("https://security-tracker.debian.org/tracker/CVE-2023-5678",), source="hand-built")
    findings = (
        Finding(rule="vulnerability", ids=("OSV-2023-924", "CVE-2023-4863"), component=webp, level=Level.HIGH,
                score=8.8, vector=webp_advisory.severity[0].vector, summary=webp_advisory.summary or "",
                fixed_versions=("1.3.2",), advisories=(webp_advisory,), fix="1.3.2"),
        Finding(rule="vulnerability", ids=("DEBIAN-CVE-2023-5678", "CVE-2023-5678"), component=libssl,
                level=Level.MEDIUM, score=5.3, vector=ssl_advisory.severity[0].vector,
                summary=ssl_advisory.summary or "", fixed_versions=("3.0.13-1~deb12u1",), advisories=(ssl_advisory,),
                fix="3.0.13-1~deb12u1"),
    )
    policy = (
        PolicyFinding(rule="native-unowned", level=Level.MEDIUM, location=Location(WEBP, "layer.zip"),
                      message=f"{WEBP} (libwebp 1.3.1, sha256 {webp_elf.sha256[:12]}...) is in no distribution's "
                              "RECORD and no OS package: nothing will update it; rebuild it or ship it in a wheel",
                      component=WEBP_PURL),
        PolicyFinding(rule="native-glibc-too-new", level=Level.HIGH, location=Location(SPEEDUPS, "layer.zip"),
                      message=f"{SPEEDUPS} needs GLIBC_2.34; the target runtime has glibc 2.26: the import fails",
                      component=markupsafe.purl),
    )
    return dataclasses.replace(
        result,
        components=(*result.components, speedups, webp_file, webp, zlib, libssl, openssl),
        findings=(*result.findings, *findings),
        policy_findings=policy,
        not_verifiable=((UNVERIFIABLE, "no version identified (file name only): not matched against advisories"),),
    )
