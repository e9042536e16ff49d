"""SPDX 2.3 JSON (``--format spdx-json``): the scanned artifact and every distribution copy in it.

Written as plain JSON (no ``spdx-tools``: it pulls rdflib, ply, beartype, click and more into the
runtime for one output format); the tests validate the output against the SPDX 2.3 JSON schema.
Section numbers below are those of the SPDX 2.3 specification (https://spdx.github.io/spdx-spec/v2.3/).

Choices:

- One package for the artifact (DESCRIBED by the document, clause 11) that CONTAINS one package per
  distribution *copy*: a Lambda function with a layer may hold two urllib3 copies, and both are listed.
- Package SPDX ids (clause 7.2) are ``SPDXRef-Package-python-<name>-<version>-<key>``: name and
  version reduced to the characters SPDX ids allow (letters, digits, ``.`` and ``-``), and
  ``depscan.facts.component_key`` (purl and path, not the layer), the identity every report uses.
- ``licenseDeclared`` (7.15) is the SPDX expression ``depscan.facts.license_facts`` finds (PEP 639
  ``License-Expression``, a ``License`` field that is an SPDX expression, or classifiers naming one
  licence), the same fact CycloneDX states. Without one, or when it uses ``LicenseRef-`` ids whose
  text depscan never collects (SPDX 2.3 wants it in ``hasExtractedLicensingInfos``), NOASSERTION, and
  what the metadata says goes into the package ``comment`` (7.20) as written.
- ``checksums`` (7.10) is the SHA-256 of the archive the distribution was installed from when
  ``direct_url.json`` records it (``depscan.facts.archive_sha256``), and absent otherwise: the
  METADATA file's digest matches no published file, so it is stated in the package comment under
  its own name, never as the package checksum.
- Native libraries (ELF ``.so`` files, ``NativeLib``) are one package each, ``SPDXRef-Native-<name>-<hash>``
  (8 hex digits of the SHA-256 of the file's path), CONTAINed by the package of the distribution whose
  RECORD lists the file, or by the artifact package when none does. ``versionInfo`` only when the file
  name carries a version, the SHA-256 from the owner's RECORD as the checksum (the file itself is not
  hashed), the ``pkg:generic`` purl when there is one (extension modules have none), and the ELF header
  (machine, class, byte order, type) in the package comment.
- Upstream libraries identified in ELF files (``NativeComponent``: libwebp in Pillow's grafted file,
  OpenSSL linked into an extension) are one package each, ``SPDXRef-NativeComponent-<name>-<key>``,
  CONTAINed by the package of the ELF file that holds them (the native library package), else by the
  owning distribution's package, else by the OS package's that lists the file, else by the artifact's.
  ``externalRefs`` (7.21): ``SECURITY cpe23Type`` with the CPE and ``PACKAGE-MANAGER purl`` with the purl;
  how it was identified (method, confidence, what was seen) in the package comment; ``depscan:location``,
  ``depscan:native:confidence``, ``depscan:native:embedded`` and one ``depscan:native:evidence``
  (``<method> (<confidence>): <detail>``, read back by ``rescan``) annotation per piece of evidence.
- A native library parsed whole (``NativeLib.elf``) has its file's own SHA-256 as checksum, and SONAME, NEEDED,
  RPATH/RUNPATH, build-id, the glibc it needs and whether it is stripped in the comment (``depscan:elf:soname``,
  ``:build_id``, ``:min_glibc`` annotations).
- OS packages (dpkg, apk, rpm databases) are packages ``SPDXRef-OsPackage-<name>-<version>-<key>`` CONTAINed by
  the artifact, with the distro purl (``PACKAGE-MANAGER purl``), the database as ``sourceInfo``, and
  ``depscan:os_package:manager``, ``:ecosystem``, ``:source_name``, ``:source_version`` annotations.
- A component advisories cannot vouch for (``ScanResult.not_verifiable``) has a
  ``depscan:advisories:not_verifiable=<why>`` annotation; policy findings and the not-verifiable list are in
  the document comment (SPDX 2.3 has no element for findings). A known-malicious distribution (an OSV ``MAL-``
  record) has a ``depscan:malicious=<id>`` annotation, and the document comment names it first.
- Package annotations (clause 12, ``annotationType`` OTHER, one ``depscan:<name>=<value>`` comment
  each, the names of the CycloneDX properties) carry what ``depscan rescan`` needs and no SPDX 2.3
  field holds: a distribution's ``depscan:location`` (METADATA path: part of finding fingerprints),
  ``depscan:layer``, ``depscan:status`` and ``depscan:shadowed_by``; a native library's
  ``depscan:native:kind``; the artifact's ``depscan:artifact:kind``, ``depscan:artifact:layer:<n>`` and,
  for a rescan, ``depscan:artifact:describes``.
- DEPENDS_ON (11.1) is ``depscan.facts.dependency_graph``: a distribution depends on the copy it
  imports of each ``Requires-Dist`` whose marker holds for the artifact's interpreter; the artifact
  package depends on the distributions nothing requires. A requirement that only an extra nobody
  asked for switches on gives OPTIONAL_DEPENDENCY_OF (target -> dependent) instead.
"""
from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any

from packageurl import PackageURL

from depscan.artifacts.kinds import ArtifactKind
from depscan.facts import (
    LicenseFacts,
    archive_sha256,
    artifact_kind,
    component_key,
    external_links,
    facts_for,
    file_name,
)
from depscan.models import NativeComponent, NativeLib, OsPackage, PythonDist, ScanResult, Status
from depscan.reporters import ReportOptions
from depscan.text import encode_json

SPDX_VERSION = "SPDX-2.3"
DOCUMENT_ID = "SPDXRef-DOCUMENT"
ARTIFACT_ID = "SPDXRef-Artifact"
NOASSERTION = "NOASSERTION"

# Clause 7.24 (primary package purpose) for the scanned artifact, by ``ArtifactInfo.kind``.
_PURPOSE = {
    ArtifactKind.LAMBDA_FUNCTION: "APPLICATION",
    ArtifactKind.LAMBDA_FUNCTION_WITH_LAYERS: "APPLICATION",
    ArtifactKind.LAMBDA_LAYER: "ARCHIVE",
    ArtifactKind.ZIP: "ARCHIVE",
    ArtifactKind.TAR: "ARCHIVE",
    ArtifactKind.WHEEL: "INSTALL",
    ArtifactKind.DOCKER_ARCHIVE: "CONTAINER",
    ArtifactKind.OCI_ARCHIVE: "CONTAINER",
    ArtifactKind.OCI_DIR: "CONTAINER",
    ArtifactKind.DIRECTORY: "OTHER",
}

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_EXTRA_VALUE = re.compile(r'\bextra\s*==\s*"([^"]*)"')


def _id_part(text: str) -> str:
    """``text`` reduced to the characters an SPDX id allows (clause 7.2: letters, digits, ``.``, ``-``)."""
    return _ID_UNSAFE.sub("-", text).strip("-") or "x"


def package_id(dist: PythonDist, key: str | None = None) -> str:
    """The SPDX id of a distribution copy: name, version and its ``depscan.facts.component_key``."""
    key = key or component_key(dist)
    return f"SPDXRef-Package-python-{_id_part(dist.normalized_name)}-{_id_part(dist.version)}-{key}"


def native_id(lib: NativeLib, key: str | None = None) -> str:
    """The SPDX id of a native library: its name and its ``depscan.facts.component_key``."""
    key = key or component_key(lib)
    return f"SPDXRef-Native-{_id_part(lib.name)}-{key}"


def identified_id(comp: NativeComponent, key: str | None = None) -> str:
    """The SPDX id of an upstream library identified in an ELF file: its name and its component key."""
    key = key or component_key(comp)
    return f"SPDXRef-NativeComponent-{_id_part(comp.name)}-{key}"


def os_package_id(package: OsPackage, key: str | None = None) -> str:
    """The SPDX id of an OS package: its name, version and its ``depscan.facts.component_key``."""
    key = key or component_key(package)
    return f"SPDXRef-OsPackage-{_id_part(package.name)}-{_id_part(package.version)}-{key}"


def declared_license(facts: LicenseFacts) -> tuple[str, str | None]:
    """``licenseDeclared`` (clause 7.15) and, when the metadata says more than that, a comment line."""
    if facts.expression is not None:
        if "LicenseRef-" in facts.expression:
            return NOASSERTION, (f"{facts.source}: {facts.expression} (uses license references whose text was not "
                                 "collected)")
        return facts.expression, None
    said = [f"SPDX ids named by classifiers (relation not stated): {', '.join(facts.ids)}"] if facts.ids else []
    said += [f"License statement (not an SPDX expression): {text}" for text in facts.texts]
    return NOASSERTION, ("; ".join(said) + ".") if said else None


def _valid_purl(purl: str) -> bool:
    """Annex F (external repository identifiers): a purl must parse; a malformed one is left out."""
    try:
        PackageURL.from_string(purl)
    except ValueError:
        return False
    return True


def _where(dist: PythonDist) -> str:
    loc = dist.metadata_location
    layer = f" in layer {loc.layer}" if loc.layer is not None else ""
    if dist.found_by == "sbom":
        return f"listed in a stored SBOM as {loc.path}{layer}"
    root = dist.site_root or "the artifact root"
    return f"installed distribution, metadata at {loc.path}{layer} (sys.path entry: {root})"


def _dist_package(dist: PythonDist, spdx_id: str, license: LicenseFacts) -> dict[str, Any]:
    licensed, license_note = declared_license(license)
    archive = archive_sha256(dist)
    comment = ["Checksum: SHA-256 of the archive it was installed from (direct_url.json)."] if archive else []
    if dist.metadata_sha256 is not None and _SHA256.fullmatch(dist.metadata_sha256):
        comment.append(f"SHA-256 of {dist.metadata_location.path} as read: {dist.metadata_sha256}.")
    if dist.status is Status.SHADOWED:
        shadow = f" by {dist.shadowed_by}" if dist.shadowed_by is not None else ""
        comment.append(f"Shadowed{shadow}: the runtime imports another copy.")
    if license_note:
        comment.append(license_note)
    package: dict[str, Any] = {
        "SPDXID": spdx_id,
        "name": dist.name,
        "versionInfo": dist.version,
        "supplier": NOASSERTION,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
    }
    if archive:
        package["checksums"] = [{"algorithm": "SHA256", "checksumValue": archive}]
    package |= {"licenseConcluded": NOASSERTION, "licenseDeclared": licensed, "copyrightText": NOASSERTION}
    if _valid_purl(dist.purl):
        package["externalRefs"] = [
            {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": dist.purl}
        ]
    else:
        comment.append(f"purl {dist.purl!r} does not parse.")
    website = next((link.url for link in external_links(dist) if link.kind == "website"), None)
    if website is not None:
        package["homepage"] = website  # clause 7.11
    package |= {"primaryPackagePurpose": "LIBRARY", "sourceInfo": _where(dist)}
    if comment:
        package["comment"] = " ".join(comment)
    if dist.summary:
        package["summary"] = dist.summary
    return package


def _native_package(lib: NativeLib, spdx_id: str) -> dict[str, Any]:
    loc = lib.location
    layer = f" in layer {loc.layer}" if loc.layer is not None else ""
    comment = [
        f"ELF header: {lib.arch}, ELFCLASS{lib.elf_class}, {lib.endianness}-endian, {lib.elf_type}.",
        "Python extension module." if lib.kind == "python-extension" else "Shared library.",
    ]
    if lib.bundled_hash is not None:
        comment.append(f"Grafted into a wheel by auditwheel (file name hash {lib.bundled_hash}).")
    elf = lib.elf
    if elf is not None:
        said = [f"SONAME {elf.soname}"] if elf.soname else []
        said += [f"NEEDED {', '.join(elf.needed)}"] if elf.needed else []
        said += [f"RPATH {':'.join(elf.rpath)}"] if elf.rpath else []
        said += [f"RUNPATH {':'.join(elf.runpath)}"] if elf.runpath else []
        said += [f"build-id {elf.build_id}"] if elf.build_id else []
        said += [f"needs glibc {elf.min_glibc} or newer"] if elf.min_glibc else []
        said += ["stripped" if elf.stripped else "not stripped"]
        said += [f"interpreter {elf.interpreter}"] if elf.interpreter else []
        comment.append(f"ELF structure: {'; '.join(said)}.")
    if lib.os_package is not None:
        comment.append(f"Listed by the OS package {lib.os_package}.")
    if lib.owner is None and lib.os_package is None:
        comment.append("No distribution's RECORD and no OS package lists this file.")
    elif lib.owner is None:
        comment.append("No distribution's RECORD lists this file.")
    if elf is not None and _SHA256.fullmatch(elf.sha256) and lib.elf_sha256_source == "record":
        comment.append("Checksum: SHA-256 from the owning distribution's RECORD (not recomputed; the zip member's "
                       "CRC-32 and size agree with the bytes read).")
    elif elf is not None and _SHA256.fullmatch(elf.sha256):
        comment.append("Checksum: SHA-256 of the file as read.")
    elif lib.owner is not None and lib.sha256 is not None:
        comment.append("Checksum: SHA-256 from the owning distribution's RECORD.")
    package: dict[str, Any] = {"SPDXID": spdx_id, "name": lib.name}
    if lib.version is not None:
        package["versionInfo"] = lib.version
    package |= {"supplier": NOASSERTION, "downloadLocation": NOASSERTION, "filesAnalyzed": False}
    digest = lib.elf.sha256 if lib.elf is not None and _SHA256.fullmatch(lib.elf.sha256) else lib.sha256
    if digest is not None and _SHA256.fullmatch(digest):
        package["checksums"] = [{"algorithm": "SHA256", "checksumValue": digest}]
    package |= {"licenseConcluded": NOASSERTION, "licenseDeclared": NOASSERTION, "copyrightText": NOASSERTION}
    if lib.purl is not None and _valid_purl(lib.purl):
        package["externalRefs"] = [
            {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": lib.purl}
        ]
    package |= {
        "primaryPackagePurpose": "LIBRARY",
        "sourceInfo": f"ELF file at {loc.path}{layer}, {lib.size} bytes",
        "comment": " ".join(comment),
    }
    return package


def _identified_package(comp: NativeComponent, spdx_id: str) -> dict[str, Any]:
    loc = comp.location
    layer = f" in layer {loc.layer}" if loc.layer is not None else ""
    how = "; ".join(f"{e.method} ({e.confidence}): {e.detail}" for e in comp.evidence)
    comment = [f"Identified in {'a library linked into ' if comp.embedded else ''}the ELF file {loc.path}{layer}"
               + (f" by {how}." if how else ".")]
    if comp.version is None:
        comment.append("Version unknown: not verifiable against advisories.")
    comment += [f"Disagreement: {d}." for d in comp.disagreements]
    package: dict[str, Any] = {"SPDXID": spdx_id, "name": comp.name}
    if comp.version is not None:
        package["versionInfo"] = comp.version
    package |= {"supplier": NOASSERTION, "downloadLocation": NOASSERTION, "filesAnalyzed": False,
                "licenseConcluded": NOASSERTION, "licenseDeclared": NOASSERTION, "copyrightText": NOASSERTION}
    refs = []
    if comp.cpe is not None:
        refs.append({"referenceCategory": "SECURITY", "referenceType": "cpe23Type", "referenceLocator": comp.cpe})
    if _valid_purl(comp.purl):
        refs.append({"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": comp.purl})
    if refs:
        package["externalRefs"] = refs
    package |= {"primaryPackagePurpose": "LIBRARY", "sourceInfo": f"ELF file at {loc.path}{layer}",
                "comment": " ".join(comment)}
    return package


def _os_package(package: OsPackage, spdx_id: str) -> dict[str, Any]:
    loc = package.location
    layer = f" in layer {loc.layer}" if loc.layer is not None else ""
    comment = [f"Installed as a {package.package_manager} package"
               + (f" of {package.ecosystem}" if package.ecosystem else " (distribution release unknown)") + "."]
    if package.source_name is not None:
        comment.append(f"Source package: {package.source_name}"
                       + (f" {package.source_version}" if package.source_version else "") + ".")
    comment.append(f"Lists {len(package.files)} file(s).")
    out: dict[str, Any] = {"SPDXID": spdx_id, "name": package.name, "versionInfo": package.version,
                           "supplier": NOASSERTION, "downloadLocation": NOASSERTION, "filesAnalyzed": False,
                           "licenseConcluded": NOASSERTION, "licenseDeclared": NOASSERTION,
                           "copyrightText": NOASSERTION}
    if _valid_purl(package.purl):
        out["externalRefs"] = [
            {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": package.purl}]
    else:
        comment.append(f"purl {package.purl!r} does not parse.")
    out |= {"primaryPackagePurpose": "LIBRARY",
            "sourceInfo": f"listed in the {package.package_manager} database {loc.path}{layer}",
            "comment": " ".join(comment)}
    return out


def _os_facts(package: OsPackage, not_verifiable: dict[str, str]) -> list[tuple[str, str]]:
    facts = [("depscan:location", package.location.path)]
    if package.location.layer is not None:
        facts.append(("depscan:layer", package.location.layer))
    facts.append(("depscan:os_package:manager", package.package_manager))
    for name, value in (("ecosystem", package.ecosystem), ("source_name", package.source_name),
                        ("source_version", package.source_version)):
        if value is not None:
            facts.append((f"depscan:os_package:{name}", value))
    facts.append(("depscan:status", package.status.value))
    if package.purl in not_verifiable:
        facts.append(("depscan:advisories:not_verifiable", not_verifiable[package.purl]))
    return facts


def _identified_facts(comp: NativeComponent, not_verifiable: dict[str, str]) -> list[tuple[str, str]]:
    facts = [("depscan:location", comp.location.path)]
    if comp.location.layer is not None:
        facts.append(("depscan:layer", comp.location.layer))
    if comp.confidence is not None:
        facts.append(("depscan:native:confidence", comp.confidence))
    facts.append(("depscan:native:embedded", "true" if comp.embedded else "false"))
    if comp.os_package is not None:
        facts.append(("depscan:os_package", comp.os_package))
    facts += [("depscan:native:evidence", f"{e.method} ({e.confidence}): {e.detail}") for e in comp.evidence]
    if comp.purl in not_verifiable:
        facts.append(("depscan:advisories:not_verifiable", not_verifiable[comp.purl]))
    return facts


def _native_facts(lib: NativeLib) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = [("depscan:native:kind", lib.kind)]
    elf = lib.elf
    if elf is not None:
        if elf.soname is not None:
            facts.append(("depscan:elf:soname", elf.soname))
        if elf.build_id is not None:
            facts.append(("depscan:elf:build_id", elf.build_id))
        if elf.min_glibc is not None:
            facts.append(("depscan:elf:min_glibc", elf.min_glibc))
    if lib.os_package is not None:
        facts.append(("depscan:os_package", lib.os_package))
    return facts


def _artifact_name(result: ScanResult) -> str:
    return file_name(result.artifact.path) or "artifact"


def _file_package(spdx_id: str, name: str, purpose: str, comment: str, sha256: str | None,
                  file_name: bool) -> dict[str, Any]:
    """A package for a file depscan was given (the artifact, a layer zip): nothing asserted but its
    name, purpose, checksum and what depscan made of it."""
    package: dict[str, Any] = {
        "SPDXID": spdx_id,
        "name": name,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
        "primaryPackagePurpose": purpose,
        "comment": comment,
    }
    if sha256 is not None and _SHA256.fullmatch(sha256):
        package["checksums"] = [{"algorithm": "SHA256", "checksumValue": sha256}]
    if file_name:
        package["packageFileName"] = name
    return package


def _artifact_package(result: ScanResult) -> dict[str, Any]:
    artifact = result.artifact
    kind = artifact_kind(artifact)
    comment = f"Scanned by depscan as {artifact.kind}."
    if artifact.layers:
        comment += " Layers, in the order applied: " + ", ".join(artifact.layers) + "."
    # A file was scanned (or an SBOM of one read), not a directory: it has a file name.
    is_file = kind not in (ArtifactKind.DIRECTORY, ArtifactKind.OCI_DIR)
    purpose = "OTHER" if kind is None else _PURPOSE[kind]
    return _file_package(ARTIFACT_ID, _artifact_name(result), purpose, comment, artifact.sha256, is_file)


def _input_packages(result: ScanResult) -> list[dict[str, Any]]:
    """The other files the scanned view was made of (Lambda layer zips), each with its checksum."""
    return [
        _file_package(f"SPDXRef-Input-{number}", file_name(item.path), "ARCHIVE",
                      f"Input {number} of the scan: a Lambda layer applied to {_artifact_name(result)}.",
                      item.sha256, True)
        for number, item in enumerate(result.artifact.inputs, start=1)
    ]


def _relationship(element: str, kind: str, related: str) -> dict[str, str]:
    return {"spdxElementId": element, "relationshipType": kind, "relatedSpdxElement": related}


def document(result: ScanResult, *, namespace: str | None = None, created: datetime | None = None) -> dict[str, Any]:
    """The SPDX document as a dict. ``namespace`` and ``created`` default to a fresh uuid4 URN and now."""
    facts = facts_for(result)
    ids = [package_id(d, key) for d, key in zip(facts.dists, facts.dist_keys, strict=True)]
    native_ids = [native_id(lib, key) for lib, key in zip(facts.natives, facts.native_keys, strict=True)]
    version = result.tool_version or _own_version()
    when = (created or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    relationships = [_relationship(DOCUMENT_ID, "DESCRIBES", ARTIFACT_ID)]
    relationships += [_relationship(ARTIFACT_ID, "CONTAINS", spdx_id) for spdx_id in ids]
    inputs = _input_packages(result)
    relationships += [_relationship(ARTIFACT_ID, "CONTAINS", package["SPDXID"]) for package in inputs]
    # The artifact depends on what nothing in it requires (its top level), as CycloneDX's root does.
    relationships += [_relationship(ARTIFACT_ID, "DEPENDS_ON", ids[top]) for top in facts.graph.top]
    for source, targets in enumerate(facts.graph.requires):
        relationships += [_relationship(ids[source], "DEPENDS_ON", ids[target]) for target in targets]
    for source, targets in enumerate(facts.graph.optional):  # clause 11.1: the optional target is the element
        relationships += [_relationship(ids[target], "OPTIONAL_DEPENDENCY_OF", ids[source]) for target in targets]
    for native, owner in zip(native_ids, facts.native_owner, strict=True):
        relationships.append(_relationship(ARTIFACT_ID if owner is None else ids[owner], "CONTAINS", native))
    # OS packages: in the artifact.
    os_ids = [os_package_id(p, key) for p, key in zip(facts.os_packages, facts.os_keys, strict=True)]
    relationships += [_relationship(ARTIFACT_ID, "CONTAINS", spdx_id) for spdx_id in os_ids]
    # Identified upstream libraries: in the ELF file's package, else the owning distribution's, else the OS
    # package's that lists the file, else the artifact's.
    identified_ids = [identified_id(c, key) for c, key in zip(facts.identified, facts.identified_keys, strict=True)]
    for i, spdx_id in enumerate(identified_ids):
        file, owner, package = facts.identified_file[i], facts.identified_owner[i], facts.identified_os[i]
        holder = (native_ids[file] if file is not None else ids[owner] if owner is not None
                  else os_ids[package] if package is not None else ARTIFACT_ID)
        relationships.append(_relationship(holder, "CONTAINS", spdx_id))
    not_verifiable = dict(result.not_verifiable)
    annotate = _Annotator(f"Tool: depscan-{version}", when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    packages = [annotate(_artifact_package(result), _artifact_facts(result)), *inputs]
    # A known-malicious distribution says so on its package (SPDX 2.3 has no vulnerability element).
    evil: dict[int, list[tuple[str, str]]] = {}
    for finding in result.findings:
        if finding.malicious and isinstance(finding.component, PythonDist):
            index = facts.dist_index(finding.component)
            if index is not None and ("depscan:malicious", finding.id) not in evil.setdefault(index, []):
                evil[index].append(("depscan:malicious", finding.id))
    packages += [annotate(_dist_package(d, i, lic), _dist_facts(d) + evil.get(n, []))
                 for n, (d, i, lic) in enumerate(zip(facts.dists, ids, facts.licenses, strict=True))]
    packages += [
        annotate(_native_package(lib, i), _native_facts(lib))
        for lib, i in zip(facts.natives, native_ids, strict=True)
    ]
    packages += [annotate(_identified_package(c, i), _identified_facts(c, not_verifiable))
                 for c, i in zip(facts.identified, identified_ids, strict=True)]
    packages += [annotate(_os_package(p, i), _os_facts(p, not_verifiable))
                 for p, i in zip(facts.os_packages, os_ids, strict=True)]
    doc: dict[str, Any] = {
        "spdxVersion": SPDX_VERSION,
        "dataLicense": "CC0-1.0",
        "SPDXID": DOCUMENT_ID,
        "name": _artifact_name(result),
        # Clause 6.5: a unique absolute URI per document, never dereferenced; a uuid4 URN needs no domain.
        "documentNamespace": namespace or f"urn:uuid:{uuid.uuid4()}",
        "creationInfo": {
            "created": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "creators": [f"Tool: depscan-{version}"],
        },
        "packages": packages,
        "relationships": relationships,
    }
    comment = _document_comment(result)
    if comment:
        doc["comment"] = comment
    return doc


class _Annotator:
    """Adds ``depscan:<name>=<value>`` annotations (clause 12) to a package."""

    def __init__(self, annotator: str, date: str) -> None:
        self.annotator = annotator
        self.date = date

    def __call__(self, package: dict[str, Any], facts: list[tuple[str, str]]) -> dict[str, Any]:
        if facts:
            package["annotations"] = [
                {"annotationDate": self.date, "annotationType": "OTHER", "annotator": self.annotator,
                 "comment": f"{name}={value}"}
                for name, value in facts
            ]
        return package


def _dist_facts(dist: PythonDist) -> list[tuple[str, str]]:
    loc = dist.metadata_location
    facts = [("depscan:location", loc.path)]
    if loc.layer is not None:
        facts.append(("depscan:layer", loc.layer))
    facts.append(("depscan:status", dist.status.value))
    if dist.shadowed_by is not None:
        facts.append(("depscan:shadowed_by", str(dist.shadowed_by)))
    if dist.vendored_by is not None:
        facts.append(("depscan:vendored_by", str(dist.vendored_by)))
    return facts


def _artifact_facts(result: ScanResult) -> list[tuple[str, str]]:
    facts = [("depscan:artifact:kind", result.artifact.kind)]
    facts += [(f"depscan:artifact:layer:{n}", layer) for n, layer in enumerate(result.artifact.layers, start=1)]
    if result.artifact.describes is not None:
        facts.append(("depscan:artifact:describes", result.artifact.describes))
    return facts


def _document_comment(result: ScanResult) -> str | None:
    """Clause 6.11 (document comment): say when the inventory is incomplete (unreadable metadata, warnings)."""
    parts = []
    evil = [f for f in result.findings if f.malicious and f.suppressed is None]
    if evil:
        listed = "; ".join(f"{f.component.name} {f.component.version} ({f.id})" for f in evil)
        parts.append(f"KNOWN-MALICIOUS PACKAGES: {len(evil)} ({listed}): the whole project is malicious; "
                     "remove it and treat the environment it ran in as compromised.")
    if result.unknowns:
        listed = "; ".join(f"{u.location}: {u.reason}" for u in result.unknowns)
        parts.append(f"Incomplete: {len(result.unknowns)} item(s) could not be read ({listed}).")
    if result.warnings:
        parts.append(f"{len(result.warnings)} scan warning(s): " + "; ".join(result.warnings) + ".")
    if result.policy_findings:
        listed = "; ".join(f"{f.rule} ({f.level.value}) {f.location}: {f.message}" for f in result.policy_findings)
        parts.append(f"{len(result.policy_findings)} policy finding(s): {listed}.")
    if result.not_verifiable:
        listed = "; ".join(f"{purl}: {why}" for purl, why in result.not_verifiable)
        parts.append(f"Not verifiable against advisories: {listed}.")
    return " ".join(parts) or None


def _own_version() -> str:
    from depscan import __version__

    return __version__


def render(result: ScanResult, options: ReportOptions | None = None) -> bytes:
    """``--format spdx-json``: an SPDX 2.3 JSON document (clause 6 document, 7 packages, 11 relationships)."""
    text = json.dumps(document(result), indent=2, ensure_ascii=False) + "\n"
    return encode_json(text)  # undecodable bytes (non-UTF-8 names, hostile metadata) written escaped
