"""SPDX 2.3 JSON (``--format spdx-json``): the scanned artifact and every distribution copy in it.

Written as plain JSON (no ``spdx-tools``: it pulls rdflib, ply, beartype, click and more into the
runtime for one output format); the tests validate the output against the SPDX 2.3 JSON schema.
Section numbers below are those of the SPDX 2.3 specification (https://spdx.github.io/spdx-spec/v2.3/).

Choices:

- One package for the artifact (DESCRIBED by the document, clause 11) that CONTAINS one package per
  distribution *copy*: a Lambda function with a layer may hold two urllib3 copies, and both are listed.
- Package SPDX ids (clause 7.2) are ``SPDXRef-Package-python-<name>-<version>-<hash>``: name and
  version reduced to the characters SPDX ids allow (letters, digits, ``.`` and ``-``), and the first
  8 hex digits of the SHA-256 of the METADATA path, so the id is stable across runs and differs
  between copies. Not the layer (as ``Finding.fingerprint``): layer digests and layer zip names change
  with every rebuild, and in the merged view the path alone tells copies apart.
- ``licenseDeclared`` (7.15) is the PEP 639 ``License-Expression`` when it is a valid SPDX expression
  of listed licenses (checked and canonicalised by ``packaging.licenses``). Anything else (a free-text
  ``License`` field, an expression with ``LicenseRef-`` ids whose text depscan never collects) is
  NOASSERTION, and the text as written goes into the package ``comment`` (7.20). It is not turned into
  a ``hasExtractedLicensingInfos`` entry (10.1): that field carries a license's *text*, and
  "BSD-like" is a label, not a text.
- ``checksums`` (7.10) is the SHA-256 of the distribution's METADATA file (an installed distribution
  has no archive to hash); the package comment says which file it is. Components read back from an
  SBOM (``depscan rescan``) have no METADATA, so no checksum.
- Native libraries (ELF ``.so`` files, ``NativeLib``) are one package each, ``SPDXRef-Native-<name>-<hash>``
  (8 hex digits of the SHA-256 of the file's path), CONTAINed by the package of the distribution whose
  RECORD lists the file, or by the artifact package when none does. ``versionInfo`` only when the file
  name carries a version, the SHA-256 from the owner's RECORD as the checksum (the file itself is not
  hashed), the ``pkg:generic`` purl when there is one (extension modules have none), and the ELF header
  (machine, class, byte order, type) in the package comment.
- Package annotations (clause 12, ``annotationType`` OTHER, one ``depscan:<name>=<value>`` comment
  each, the names of the CycloneDX properties) carry what ``depscan rescan`` needs and no SPDX 2.3
  field holds: a distribution's ``depscan:location`` (METADATA path: part of finding fingerprints),
  ``depscan:layer``, ``depscan:status`` and ``depscan:shadowed_by``; a native library's
  ``depscan:native:kind``; the artifact's ``depscan:artifact:kind``, ``depscan:artifact:layer:<n>`` and,
  for a rescan, ``depscan:artifact:describes``.
- DEPENDS_ON (11.1) links a distribution to the copies of its ``Requires-Dist`` names present in the
  artifact (the copy the runtime imports when one is; every copy otherwise), with environment markers
  evaluated for the artifact's interpreter; a requirement that only an extra nobody asked for switches
  on gives OPTIONAL_DEPENDENCY_OF (target -> dependent) instead (see ``_dependencies``).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from packageurl import PackageURL
from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression
from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from depscan.environment import marker_environment
from depscan.models import NativeLib, PythonDist, ScanResult, Status
from depscan.reporters import ReportOptions

SPDX_VERSION = "SPDX-2.3"
DOCUMENT_ID = "SPDXRef-DOCUMENT"
ARTIFACT_ID = "SPDXRef-Artifact"
NOASSERTION = "NOASSERTION"

# Clause 7.24 (primary package purpose) for the scanned artifact, by ``ArtifactInfo.kind``.
_PURPOSE = {
    "lambda-function": "APPLICATION",
    "lambda-function+layers": "APPLICATION",
    "lambda-layer": "ARCHIVE",
    "zip": "ARCHIVE",
    "tar": "ARCHIVE",
    "wheel": "INSTALL",
    "layer-tar": "CONTAINER",
    "docker-archive": "CONTAINER",
    "oci-archive": "CONTAINER",
    "oci-dir": "CONTAINER",
}

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_EXTRA_VALUE = re.compile(r'\bextra\s*==\s*"([^"]*)"')


def _id_part(text: str) -> str:
    """``text`` reduced to the characters an SPDX id allows (clause 7.2: letters, digits, ``.``, ``-``)."""
    return _ID_UNSAFE.sub("-", text).strip("-") or "x"


def package_id(dist: PythonDist) -> str:
    """The SPDX id of a distribution copy: name, version and a short hash of its METADATA path."""
    digest = hashlib.sha256(dist.metadata_location.path.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"SPDXRef-Package-python-{_id_part(dist.normalized_name)}-{_id_part(dist.version)}-{digest}"


def native_id(lib: NativeLib) -> str:
    """The SPDX id of a native library: its name and a short hash of its path."""
    digest = hashlib.sha256(lib.location.path.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"SPDXRef-Native-{_id_part(lib.name)}-{digest}"


def declared_license(dist: PythonDist) -> tuple[str, str | None]:
    """``licenseDeclared`` (clause 7.15) and, when the metadata says more than that, a comment line."""
    expression = dist.license_expression
    if expression:
        try:
            canonical = canonicalize_license_expression(expression)
        except InvalidLicenseExpression:
            return NOASSERTION, f"License-Expression (not a valid SPDX expression): {expression}"
        if "LicenseRef-" in canonical:
            return (
                NOASSERTION,
                f"License-Expression (uses license references whose text was not collected): {expression}",
            )
        return canonical, None
    if dist.license:
        return NOASSERTION, f"License (METADATA free text, not an SPDX expression): {dist.license}"
    return NOASSERTION, None


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


def _dist_package(dist: PythonDist, spdx_id: str) -> dict[str, Any]:
    licensed, license_note = declared_license(dist)
    # Read back from an SBOM (rescan): no METADATA was read, so there is no hash.
    hashed = dist.metadata_sha256 is not None and _SHA256.fullmatch(dist.metadata_sha256) is not None
    comment = [f"Checksum: SHA-256 of {dist.metadata_location.path}."] if hashed else []
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
    if hashed:
        package["checksums"] = [{"algorithm": "SHA256", "checksumValue": dist.metadata_sha256}]
    package |= {"licenseConcluded": NOASSERTION, "licenseDeclared": licensed, "copyrightText": NOASSERTION}
    if _valid_purl(dist.purl):
        package["externalRefs"] = [
            {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": dist.purl}
        ]
    else:
        comment.append(f"purl {dist.purl!r} does not parse.")
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
    if lib.owner is None:
        comment.append("No distribution's RECORD lists this file.")
    elif lib.sha256 is not None:
        comment.append("Checksum: SHA-256 from the owning distribution's RECORD.")
    package: dict[str, Any] = {"SPDXID": spdx_id, "name": lib.name}
    if lib.version is not None:
        package["versionInfo"] = lib.version
    package |= {"supplier": NOASSERTION, "downloadLocation": NOASSERTION, "filesAnalyzed": False}
    if lib.sha256 is not None and _SHA256.fullmatch(lib.sha256):
        package["checksums"] = [{"algorithm": "SHA256", "checksumValue": lib.sha256}]
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


def _artifact_name(result: ScanResult) -> str:
    path = result.artifact.path.rstrip("/\\")
    return re.split(r"[/\\]", path)[-1] or path or "artifact"


def _artifact_package(result: ScanResult) -> dict[str, Any]:
    artifact = result.artifact
    name = _artifact_name(result)
    comment = f"Scanned by depscan as {artifact.kind}."
    if artifact.layers:
        comment += " Layers, in the order applied: " + ", ".join(artifact.layers) + "."
    package: dict[str, Any] = {
        "SPDXID": ARTIFACT_ID,
        "name": name,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
        "primaryPackagePurpose": _PURPOSE.get(artifact.kind, "OTHER"),
        "comment": comment,
    }
    if artifact.sha256 is not None and _SHA256.fullmatch(artifact.sha256):
        package["checksums"] = [{"algorithm": "SHA256", "checksumValue": artifact.sha256}]
    if artifact.kind not in ("directory", "oci-dir"):
        package["packageFileName"] = name
    return package


def _relationship(element: str, kind: str, related: str) -> dict[str, str]:
    return {"spdxElementId": element, "relationshipType": kind, "relatedSpdxElement": related}


def _requirements(dist: PythonDist) -> list[Requirement]:
    parsed = []
    for line in dist.requires_dist:
        try:
            parsed.append(Requirement(line))
        except InvalidRequirement:
            continue  # an unparsable Requires-Dist names nothing reliably
    return parsed


def _applies(requirement: Requirement, env: dict[str, str], extras: Iterable[str]) -> bool:
    """Whether the requirement holds in the artifact's environment with no extra or one of ``extras``."""
    if requirement.marker is None:
        return True
    try:
        return any(requirement.marker.evaluate(env | {"extra": extra}) for extra in ("", *extras))
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return True  # cannot tell; the target is installed, so the dependency is the likelier reading


def _dependencies(result: ScanResult, dists: list[PythonDist], ids: list[str]) -> list[dict[str, str]]:
    """DEPENDS_ON / OPTIONAL_DEPENDENCY_OF edges from ``Requires-Dist`` (clause 11.1); ``ids[i]`` is ``dists[i]``'s.

    Markers are evaluated for the artifact's interpreter (``depscan.environment.marker_environment``).
    Extras asked for by another distribution in the artifact (``requests[socks]``) are active; a
    requirement that holds only under an extra nobody asked for is OPTIONAL_DEPENDENCY_OF (target ->
    dependent); one whose marker is false for the artifact (``pywin32 ; sys_platform == "win32"``) gives
    no edge. The target is the copy the runtime imports when there is one, every copy otherwise.
    """
    env = marker_environment(result)
    by_name: dict[str, list[int]] = {}
    for number, dist in enumerate(dists):
        by_name.setdefault(dist.normalized_name, []).append(number)
    requirements = [_requirements(dist) for dist in dists]
    requested: dict[str, set[str]] = {}  # extras asked for, by normalized distribution name (PEP 685)
    changed = True
    while changed:  # asked-for extras can switch on requirements that ask for more extras
        changed = False
        for dist, reqs in zip(dists, requirements, strict=True):
            for requirement in reqs:
                if requirement.extras and _applies(requirement, env, requested.get(dist.normalized_name, ())):
                    extras = requested.setdefault(canonicalize_name(requirement.name), set())
                    new = {canonicalize_name(e) for e in requirement.extras} - extras
                    if new:
                        extras |= new
                        changed = True
    edges: list[dict[str, str]] = []
    seen: set[tuple[str, str, str]] = set()
    for number, (dist, reqs) in enumerate(zip(dists, requirements, strict=True)):
        for requirement in reqs:
            target_name = canonicalize_name(requirement.name)
            copies = by_name.get(target_name, [])
            if not copies or target_name == dist.normalized_name:
                continue  # not installed, or "pkg[extra]" naming its own distribution
            if _applies(requirement, env, sorted(requested.get(dist.normalized_name, ()))):
                kind = "DEPENDS_ON"
            elif requirement.marker is not None and _applies(
                requirement, env, _EXTRA_VALUE.findall(str(requirement.marker))
            ):
                kind = "OPTIONAL_DEPENDENCY_OF"
            else:
                continue
            used = [c for c in copies if dists[c].status is Status.USED] or copies
            for target in used:
                key = (ids[number], kind, ids[target])
                if kind == "OPTIONAL_DEPENDENCY_OF":
                    key = (ids[target], kind, ids[number])
                if key not in seen:
                    seen.add(key)
                    edges.append(_relationship(*key))
    return edges


def _unique_ids(components: list[PythonDist] | list[NativeLib], taken: set[str]) -> list[str]:
    ids: list[str] = []
    for component in components:
        candidate = base = package_id(component) if isinstance(component, PythonDist) else native_id(component)
        number = 1
        while candidate in taken:  # the same file reported twice: keep ids unique anyway
            number += 1
            candidate = f"{base}-{number}"
        taken.add(candidate)
        ids.append(candidate)
    return ids


def document(result: ScanResult, *, namespace: str | None = None, created: datetime | None = None) -> dict[str, Any]:
    """The SPDX document as a dict. ``namespace`` and ``created`` default to a fresh uuid4 URN and now."""
    dists = [c for c in result.components if isinstance(c, PythonDist)]
    taken = {DOCUMENT_ID, ARTIFACT_ID}
    ids = _unique_ids(dists, taken)
    natives = [c for c in result.components if isinstance(c, NativeLib)]
    native_ids = _unique_ids(natives, taken)
    id_of = {(d.purl, d.metadata_location): i for d, i in zip(dists, ids, strict=True)}
    version = result.tool_version or _own_version()
    when = (created or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    relationships = [_relationship(DOCUMENT_ID, "DESCRIBES", ARTIFACT_ID)]
    relationships += [_relationship(ARTIFACT_ID, "CONTAINS", spdx_id) for spdx_id in ids]
    relationships += _dependencies(result, dists, ids)
    for lib, native in zip(natives, native_ids, strict=True):
        owner = None
        if lib.owner is not None and lib.owner_location is not None:
            owner = id_of.get((lib.owner, lib.owner_location))
        relationships.append(_relationship(owner or ARTIFACT_ID, "CONTAINS", native))
    annotate = _Annotator(f"Tool: depscan-{version}", when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    packages = [annotate(_artifact_package(result), _artifact_facts(result))]
    packages += [annotate(_dist_package(d, i), _dist_facts(d)) for d, i in zip(dists, ids, strict=True)]
    packages += [
        annotate(_native_package(lib, i), [("depscan:native:kind", lib.kind)])
        for lib, i in zip(natives, native_ids, strict=True)
    ]
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
    if result.unknowns:
        listed = "; ".join(f"{u.location}: {u.reason}" for u in result.unknowns)
        parts.append(f"Incomplete: {len(result.unknowns)} item(s) could not be read ({listed}).")
    if result.warnings:
        parts.append(f"{len(result.warnings)} scan warning(s): " + "; ".join(result.warnings) + ".")
    return " ".join(parts) or None


def _own_version() -> str:
    from depscan import __version__

    return __version__


def render(result: ScanResult, options: ReportOptions | None = None) -> bytes:
    """``--format spdx-json``: an SPDX 2.3 JSON document (clause 6 document, 7 packages, 11 relationships)."""
    text = json.dumps(document(result), indent=2, ensure_ascii=False) + "\n"
    return _SURROGATE.sub("\ufffd", text).encode("utf-8")  # lone surrogates (hostile metadata) cannot be UTF-8
