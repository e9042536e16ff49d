"""CycloneDX SBOMs (``--format cyclonedx-json`` / ``cyclonedx-xml``), spec 1.6 by default, 1.5 and 1.4 on request.

Mapped onto cyclonedx-python-lib's model (``build_bom``), whose serialization of each spec version (it
drops what a version lacks) defines the document. The document is written by
``depscan.reporters.cyclonedx_writer`` from the same mapping (``Parts``), byte for byte what the library
writes (every CycloneDX test compares the two): the library's sorted model and serializer cost two to four
times the scan itself (``bench/bench_reports.py``). What goes where:

* ``metadata``: depscan as the tool, the scan time, the scanned artifact as the root component
  (``application``; ``container`` for images and layers, ``library`` for a wheel; SHA-256 of the input
  file when computed; properties ``depscan:artifact:kind``, ``depscan:artifact:size`` and
  ``depscan:artifact:layer:<n>``, ``n`` from 1, lowest layer first, and for a rescan
  ``depscan:artifact:describes``, the artifact the SBOM read describes); properties saying which advisory
  data the scan was matched against (``depscan:advisories:checked``, ``:source``, ``:records``,
  ``:newest_modified``), which marker environment the dependency graph was evaluated for
  (``depscan:environment:*``, see ``depscan.environment``), and the scan's unknowns, warnings and notes,
  so a reader knows what the inventory may be missing.
* ``components``: one ``library`` per copy of a Python distribution. A distribution present twice
  (a layer's urllib3 shadowed by the function's) is two components.
* ``dependencies``: ``Requires-Dist`` edges whose markers hold for the artifact's interpreter, to
  components present in the artifact (the used copy when there are several). The root depends on the
  used distributions nothing else requires; shadowed copies are never imported, so nothing links them.
* ``vulnerabilities``: one per advisory group (OSV id and aliases), ``affects`` listing every copy it
  was found in (a group is split only when its copies differ in being ignored).

**bom-refs** are the component's purl with a ``package-id`` qualifier: ``depscan.facts.component_key``,
the identity every report uses (16 hex digits of the SHA-256 of purl and path; not the layer, whose
digest changes with every rebuild) (``pkg:pypi/urllib3@1.26.5?package-id=...``). They are stable
from scan to scan of the same artifact (no random part), unique per copy even when two copies share
name and version, still read as the package they name, and are the convention other scanners use,
so tools that key on it keep working. A path suffix was the alternative: readable, but for images it
carries a 71-character layer digest and makes refs unwieldy. The root is ``artifact:<file name>``,
vulnerabilities ``vulnerability:<id>`` (``...:ignored`` for the ignored part of a split group).

**Known-malicious packages** (OSV ``MAL-`` records, ``Finding.malicious``) are vulnerabilities like any
finding, with a ``critical`` rating (method ``other``: no CVSS vector), the recommendation to remove the
package, and the property ``depscan:malicious=true``.

**Bundled libraries whose vulnerability their distribution's own advisory reports** (``Finding.covered_by``:
the libwebp in Pillow.libs and Pillow's GHSA) keep their affects entry and get a ``depscan:covered_by``
property, ``"<the library copy's purl> <the covering finding's id>"``: one vulnerability, counted once.

**Ignored findings** (``.depscan.toml``) get ``analysis.state = not_affected``, ``analysis.detail`` the
rule's reason, id and expiry verbatim, and ``depscan:ignored:*`` properties. ``not_affected`` is what
depscan itself does with them (an ignored finding never fails a run) and what VEX consumers act on
(they hide it). ``in_triage`` would say the finding is still being investigated, i.e. open, which
contradicts the user's decision. No ``justification``: an ignore rule has free text, and picking one
of CycloneDX's justification codes for it would put words in the user's mouth.

**Repairs.** Everything in a scan comes from the artifact, so any text may be hostile to a schema:
characters XML cannot carry are replaced by U+FFFD, line breaks in one-line fields by spaces, over-long
versions cut, unparseable dates, URLs, hashes and purls dropped. Each repair is reported as a warning:
``render_json_with_warnings`` / ``render_xml_with_warnings`` return them; ``render_json`` /
``render_xml`` (the reporter entry points) log them on the ``depscan.reporters.cyclonedx`` logger, which
prints to stderr without any logging setup. One distribution that cannot be described costs its details
(it stays as name and version, with a warning), never the document.

Licenses are ``depscan.facts.license_facts``: the SPDX expression the metadata states (one id as
``license.id``, anything else as an ``expression``), else the ids several classifiers name and the
statements that are no SPDX expression (``Apache 2.0``, ``BSD``, a pasted license file), each kept as
a named license (its first line as the name, the whole text attached when longer): never dropped.

**Native libraries** (ELF ``.so`` files, ``NativeLib``) are ``library`` components too. One that a
distribution's RECORD lists is nested in that distribution's component (``component.components``: the
wheel ships it, as auditwheel's grafted ``numpy.libs/libgfortran-040039e1.so.5.0.0`` or an extension
module); one no distribution owns sits at the top level, where a reader looking for unowned code finds
it. Version and purl (``pkg:generic/...``) when the file name gives them, SHA-256 from the owner's
RECORD, the file's path as evidence, and the ELF header as properties: ``depscan:native:kind``
(``shared-library`` / ``python-extension``), ``depscan:elf:arch``, ``depscan:elf:class``,
``depscan:elf:endianness``, ``depscan:elf:type``, and ``depscan:native:bundled_hash`` /
``depscan:native:abi_tag`` when present. They take no part in ``dependencies`` (which libraries a
library loads needs its dynamic section, not read by default); cyclonedx-python-lib still writes an
empty entry for each top-level one. bom-refs follow the distributions' rule (purl plus ``package-id``
from the file's path and layer); an extension module, which has no purl, gets
``native:<name>?package-id=...``.

**Identified upstream libraries** (``NativeComponent``: OpenSSL linked into an extension, libwebp in
Pillow's grafted file) are ``library`` components with their purl (``pkg:generic/openssl@1.1.1k``) and
``cpe``, nested in the distribution whose RECORD lists the file, else in the OS package that lists it, on top
otherwise; the distribution (or OS package) also ``dependsOn`` them, so the dependency graph says that Pillow
ships libwebp (the library writes a JSON ``dependencies`` entry for each such nested target, none in XML).
``evidence.occurrences`` is the ELF file; ``evidence.identity`` (1.5+) is one ``purl`` identity whose
``confidence`` is the strongest evidence's (high 0.9, medium 0.6, low 0.3) and whose ``methods`` are every
piece of evidence: ``binary-analysis`` for version accessors, banners and SONAMEs, ``filename`` for file
names, ``manifest-analysis`` for OS package databases and wheel SBOMs, the detail as ``value``; 1.6 adds
``concludedValue`` (the purl). 1.4 has no identity. In every version each piece is also a
``depscan:native:evidence`` property, ``<method> (<confidence>): <detail>``, which ``rescan`` reads back.
Properties: ``depscan:native:embedded``, ``depscan:native:confidence``, ``depscan:native:file_sha256`` (the
file's digest, not the library's) and ``depscan:native:file_sha256_source`` (``bytes``: hashed by the scan;
``record``: the owner's RECORD hash, not recomputed), ``depscan:os_package``, ``depscan:native:disagreement``, and
``depscan:advisories:not_verifiable`` (why advisories cannot vouch for it). Their bom-refs are the purl with
a ``package-id`` of their own (the ELF file's component may have the same purl and path).
``cyclonedx_writer`` writes ``cpe`` and identity itself, byte for byte as the library does.

A native library parsed whole (``NativeLib.elf``) adds ``depscan:elf:soname``, ``:needed``, ``:rpath``,
``:runpath`` (one property per entry), ``:build_id``, ``:min_glibc``, ``:version_need``
(``libc.so.6: GLIBC_2.2.5 GLIBC_2.14``), ``:stripped``, ``:interpreter`` and ``:sha256_source``, and its hash
is the file's own SHA-256: as read (``sha256_source`` ``bytes``) or its owner's RECORD hash, not recomputed
(``record``: a zip member whose CRC-32 and size agree with the bytes read or cached under it).

**OS packages** (``OsPackage``: dpkg, apk, rpm databases) are top-level ``library`` components with their
distro purl (``pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12``), the database file as
occurrence, an identity (1.5+) of confidence 1 by ``manifest-analysis`` of that database, and properties
``depscan:found_by`` (the package manager), ``depscan:os_package:ecosystem`` (the OSV ecosystem),
``:arch``, ``:source_name``, ``:source_version`` and ``:files`` (how many files it lists). Their bom-ref adds
``package-id`` to the purl's own qualifiers. Vulnerabilities affect identified libraries and OS packages as
they affect distributions.

**Policy findings** (a native library no package owns, a module built for a newer glibc than the runtime's)
have no CycloneDX element of their own: each is a ``depscan:policy`` metadata property,
``<rule> (<severity>) <location>: <message>`` (SARIF and the JSON report carry them as results).
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from functools import cached_property
from urllib.parse import quote

from cyclonedx.exception.model import InvalidUriException
from cyclonedx.model import (
    AttachedText,
    ExternalReference,
    ExternalReferenceType,
    HashAlgorithm,
    HashType,
    Property,
    XsUri,
)
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.bom_ref import BomRef
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.component_evidence import (
    AnalysisTechnique,
    ComponentEvidence,
    Identity,
    IdentityField,
    Method,
    Occurrence,
)
from cyclonedx.model.dependency import Dependency
from cyclonedx.model.impact_analysis import ImpactAnalysisAffectedStatus, ImpactAnalysisState
from cyclonedx.model.license import DisjunctiveLicense, License, LicenseExpression
from cyclonedx.model.tool import ToolRepository
from cyclonedx.model.vulnerability import (
    BomTarget,
    BomTargetVersionRange,
    Vulnerability,
    VulnerabilityAdvisory,
    VulnerabilityAnalysis,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from cyclonedx.spdx import fixup_id, is_supported_id
from packageurl import PackageURL

from depscan.artifacts.kinds import CONTAINER_IMAGE_KINDS, ArtifactKind
from depscan.facts import (
    Facts,
    LicenseFacts,
    archive_sha256,
    artifact_kind,
    external_links,
    facts_for,
    file_name,
)
from depscan.models import (
    Advisory,
    Evidence,
    Finding,
    Level,
    Location,
    NativeComponent,
    NativeLib,
    OsPackage,
    PythonDist,
    ScanResult,
    Suppression,
)
from depscan.reporters import ReportOptions
from depscan.reporters.cyclonedx_writer import Fields, Parts
from depscan.text import escape_surrogates
from depscan.timestamps import parse_timestamp

logger = logging.getLogger(__name__)

_Warn = Callable[[str], None]

SPEC_VERSIONS: dict[str, SchemaVersion] = {
    "1.6": SchemaVersion.V1_6,
    "1.5": SchemaVersion.V1_5,
    "1.4": SchemaVersion.V1_4,
}


_JSON_HEAD = ("$schema", "bomFormat", "specVersion", "serialNumber", "version", "metadata")

MAX_VERSION = 1024  # the CycloneDX 1.6 schema's limit for a version string
_NAME_LIMIT = 120  # a license text longer than this (or multi-line) is named by its first line, text attached

# Characters XML 1.0 cannot carry at all (and lone surrogates, which UTF-8 cannot encode).
_UNREPRESENTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = re.compile(r"[\t\r\n]+")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")

# Where an alias id is published: (prefix, source name, URL template).
_ALIAS_SOURCES = (
    ("CVE-", "NVD", "https://nvd.nist.gov/vuln/detail/{}"),
    ("GHSA-", "GitHub", "https://github.com/advisories/{}"),
    ("SNYK-", "Snyk", "https://security.snyk.io/vuln/{}"),
)
_OSV_URL = "https://osv.dev/vulnerability/{}"

_REFERENCE_TYPES = {
    "website": ExternalReferenceType.WEBSITE,
    "vcs": ExternalReferenceType.VCS,
    "issue-tracker": ExternalReferenceType.ISSUE_TRACKER,
    "documentation": ExternalReferenceType.DOCUMENTATION,
    "release-notes": ExternalReferenceType.RELEASE_NOTES,
    "distribution": ExternalReferenceType.DISTRIBUTION,
    "other": ExternalReferenceType.OTHER,
}

_SEVERITY = {
    Level.LOW: VulnerabilitySeverity.LOW,
    Level.MEDIUM: VulnerabilitySeverity.MEDIUM,
    Level.HIGH: VulnerabilitySeverity.HIGH,
    Level.CRITICAL: VulnerabilitySeverity.CRITICAL,
}


# -- entry points --------------------------------------------------------------------------------


def render_json(result: ScanResult, options: ReportOptions | None = None) -> bytes:
    """``--format cyclonedx-json``; repairs are logged as warnings."""
    data, repairs = render_json_with_warnings(result, options)
    _log(repairs)
    return data


def render_xml(result: ScanResult, options: ReportOptions | None = None) -> bytes:
    """``--format cyclonedx-xml``; repairs are logged as warnings."""
    data, repairs = render_xml_with_warnings(result, options)
    _log(repairs)
    return data


def render_json_with_warnings(result: ScanResult, options: ReportOptions | None = None) -> tuple[bytes, list[str]]:
    """The JSON document and the repairs made to fit the schema (empty for a clean scan)."""
    return _render(result, options or ReportOptions(), OutputFormat.JSON)


def render_xml_with_warnings(result: ScanResult, options: ReportOptions | None = None) -> tuple[bytes, list[str]]:
    """The XML document and the repairs made to fit the schema (empty for a clean scan)."""
    return _render(result, options or ReportOptions(), OutputFormat.XML)


def schema_version(options: ReportOptions) -> SchemaVersion:
    """The CycloneDX version asked for (``ValueError`` for one not supported)."""
    try:
        return SPEC_VERSIONS[options.cyclonedx_version]
    except KeyError:
        supported = ", ".join(SPEC_VERSIONS)
        raise ValueError(f"unsupported CycloneDX version {options.cyclonedx_version!r}; one of: {supported}") from None


def build_bom(result: ScanResult, version: SchemaVersion, repairs: list[str]) -> Bom:
    """The BOM model for ``result`` as written for spec ``version``; repairs are appended to ``repairs``."""
    return _bom_from(_Builder(result, version, repairs).parts())


def _render(result: ScanResult, options: ReportOptions, output_format: OutputFormat) -> tuple[bytes, list[str]]:
    """The document, written by ``depscan.reporters.cyclonedx_writer`` from the parts the builder maps."""
    from depscan.reporters import cyclonedx_writer

    version = schema_version(options)
    repairs: list[str] = []
    parts = _Builder(result, version, repairs).parts()
    missing = cyclonedx_writer.unsupported(parts)
    if missing is not None:  # a field the writer does not know yet: the library writes it, slowly but whole
        logger.debug("CycloneDX writer does not write %s; serializing with cyclonedx-python-lib", missing)
        return render_with_library(result, options, output_format)
    if output_format is OutputFormat.JSON:
        text = cyclonedx_writer.write_json(parts, version)
    else:
        text = cyclonedx_writer.write_xml(parts, version)
    repairs.extend(cyclonedx_writer.warnings_for(parts))
    return text.encode("utf-8"), repairs


def render_with_library(result: ScanResult, options: ReportOptions, output_format: OutputFormat
                        ) -> tuple[bytes, list[str]]:
    """The same document serialized by cyclonedx-python-lib from its model (``build_bom``): the reference
    the writer is tested against, byte for byte (about 3x slower than the scan it describes, hence not used)."""
    version = schema_version(options)
    repairs: list[str] = []
    bom = build_bom(result, version, repairs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = make_outputter(bom, output_format, version).output_as_string(indent=2)
    repairs.extend(f"cyclonedx: {w.message}" for w in caught)
    if output_format is OutputFormat.JSON:
        # The library writes "$schema", "bomFormat" and "specVersion" last; readers expect them first.
        document = json.loads(text)
        head = {key: document.pop(key) for key in _JSON_HEAD if key in document}
        text = json.dumps(head | document, indent=2, ensure_ascii=False)
    if not text.endswith("\n"):
        text += "\n"
    return text.encode("utf-8"), repairs


def _log(repairs: Iterable[str]) -> None:
    for message in repairs:
        logger.warning("%s", message)


# -- the builder ---------------------------------------------------------------------------------



def _component_from(fields: Fields) -> Component:
    kwargs = dict(fields)
    if "components" in kwargs:
        kwargs["components"] = [_component_from(nested) for nested in kwargs["components"]]
    identity = kwargs.pop("identity", None)
    if kwargs.get("evidence") is not None or identity:
        kwargs["evidence"] = ComponentEvidence(occurrences=kwargs.get("evidence") or [], identity=identity or [])
    return Component(**kwargs)


def _bom_from(parts: Parts) -> Bom:
    bom = Bom(
        metadata=BomMetaData(
            tools=ToolRepository(components=[_component_from(parts.tool)]),
            component=_component_from(parts.root),
            properties=parts.properties,
            timestamp=parts.timestamp,
        ),
        components=[_component_from(c) for c in parts.components],
    )
    bom.dependencies = [Dependency(ref=BomRef(ref), dependencies=[Dependency(ref=BomRef(r)) for r in refs])
                        for ref, refs in parts.dependencies]
    bom.vulnerabilities = [
        Vulnerability(**{**v, "affects": [BomTarget(ref=ref, versions=[BomTargetVersionRange(version=version,
                                                                                            status=status)])
                                          for ref, version, status in v["affects"]]})
        for v in parts.vulnerabilities
    ]
    return bom


@dataclass
class _Builder:
    result: ScanResult
    version: SchemaVersion
    repairs: list[str]
    facts: Facts = field(init=False)
    refs: list[str] = field(init=False)
    native_refs: list[str] = field(init=False)
    identified_refs: list[str] = field(init=False)
    os_refs: list[str] = field(init=False)
    other_refs: dict[str, str] = field(init=False)  # component key -> bom-ref, for every non-distribution

    def __post_init__(self) -> None:
        self.facts = facts_for(self.result)
        facts = self.facts
        self.refs = [_bom_ref(d, key) for d, key in zip(facts.dists, facts.dist_keys, strict=True)]
        self.native_refs = [_native_ref(lib, key) for lib, key in zip(facts.natives, facts.native_keys, strict=True)]
        self.identified_refs = [self.text(_identified_ref(c, key), "a bom-ref", one_line=True)
                                for c, key in zip(facts.identified, facts.identified_keys, strict=True)]
        self.os_refs = [self.text(_os_ref(p, key), "a bom-ref", one_line=True)
                        for p, key in zip(facts.os_packages, facts.os_keys, strict=True)]
        self.other_refs = dict(zip(facts.native_keys, self.native_refs, strict=True))
        self.other_refs |= dict(zip(facts.identified_keys, self.identified_refs, strict=True))
        self.other_refs |= dict(zip(facts.os_keys, self.os_refs, strict=True))

    @property
    def dists(self) -> tuple[PythonDist, ...]:
        return self.facts.dists

    # text hygiene

    def warn(self, message: str) -> None:
        self.repairs.append(self.text(message, "a warning", report=False))

    def text(self, value: str, where: str, *, one_line: bool = False, limit: int | None = None,
             report: bool = True) -> str:
        """``value`` made safe for JSON and XML; each change is reported as a repair."""
        escaped = escape_surrogates(value)  # undecodable bytes written as \xNN (depscan.text)
        cleaned = _UNREPRESENTABLE.sub("\ufffd", escaped)
        changes = []
        if escaped != value:
            changes.append("escaped undecodable bytes")
        if cleaned != escaped:
            changes.append("replaced characters XML cannot carry")
        if one_line:
            flat = _LINE_BREAKS.sub(" ", cleaned)
            if flat != cleaned:
                changes.append("joined lines")
            cleaned = flat
        if limit is not None and len(cleaned) > limit:
            cleaned = cleaned[:limit]
            changes.append(f"cut to {limit} characters")
        if changes and report:
            self.repairs.append(f"{_UNREPRESENTABLE.sub('?', where)}: {', '.join(changes)}")
        return cleaned

    # the document

    def parts(self) -> Parts:
        root = self.root()
        components = [self.component(i) for i in range(len(self.dists))]
        # Native libraries nest in the distribution whose RECORD lists them; unowned ones stay on top.
        unowned: list[Fields] = []
        for lib, ref, owner in zip(self.facts.natives, self.native_refs, self.facts.native_owner, strict=True):
            described = self.native_component(lib, ref)
            if owner is None:
                unowned.append(described)
            else:
                components[owner].setdefault("components", []).append(described)
        # OS packages on top; upstream libraries identified in ELF files nested in the distribution that ships the
        # file, else in the OS package that lists it, else on top.
        packages = [self.os_package(p, ref) for p, ref in zip(self.facts.os_packages, self.os_refs, strict=True)]
        for i, comp in enumerate(self.facts.identified):
            described = self.identified_component(comp, self.identified_refs[i])
            owner, package = self.facts.identified_owner[i], self.facts.identified_os[i]
            if owner is not None:
                components[owner].setdefault("components", []).append(described)
            elif package is not None:
                packages[package].setdefault("components", []).append(described)
            else:
                unowned.append(described)
        return Parts(
            version=self.version,
            tool=self.tool(),
            root=root,
            properties=self.metadata_properties(),
            timestamp=datetime.now(timezone.utc).replace(microsecond=0),
            components=[*components, *packages, *unowned],
            dependencies=self.dependencies(root["bom_ref"], [c["bom_ref"] for c in components]),
            vulnerabilities=self.vulnerabilities(),
        )

    def tool(self) -> Fields:
        from depscan import __version__

        version = self.result.tool_version or __version__
        return dict(type=ComponentType.APPLICATION, name="depscan", version=self.text(version, "tool version"),
                    bom_ref="depscan")

    def root(self) -> Fields:
        artifact = self.result.artifact
        name = self.text(file_name(artifact.path) or "artifact", "artifact name", one_line=True)
        properties = [Property(name="depscan:artifact:kind", value=self.text(artifact.kind, "artifact kind"))]
        if artifact.size is not None:
            properties.append(Property(name="depscan:artifact:size", value=str(artifact.size)))
        properties += [
            Property(name=f"depscan:artifact:layer:{n}", value=self.text(layer, "artifact layer"))
            for n, layer in enumerate(artifact.layers, start=1)
        ]
        # Every other input file (Lambda layer zips) is a file component of the root, with its own hash.
        inputs: list[Fields] = [
            dict(
                type=ComponentType.FILE,
                name=self.text(file_name(item.path), "input name", one_line=True),
                bom_ref=self.text(f"artifact-input:{n}:{file_name(item.path)}", "input ref", one_line=True),
                hashes=self.sha256(item.sha256, "input sha256"),
                properties=[Property(name="depscan:artifact:input:size", value=str(item.size))]
                if item.size is not None else [],
            )
            for n, item in enumerate(artifact.inputs, start=1)
        ]
        if artifact.describes is not None:  # a rescan: the SBOM read is the root; this is what it describes
            properties.append(Property(name="depscan:artifact:describes",
                                       value=self.text(artifact.describes, "described artifact")))
        return dict(
            type=_root_type(artifact_kind(artifact)),
            name=name,
            bom_ref=f"artifact:{name}",
            hashes=self.sha256(artifact.sha256, "artifact sha256"),
            properties=properties,
            components=inputs,
        )

    def metadata_properties(self) -> list[Property]:
        result = self.result
        data = result.advisory_data
        props = [Property(name="depscan:advisories:checked", value="false" if data is None else "true")]
        if data is not None:
            props.append(Property(name="depscan:advisories:source", value=self.text(data.source, "advisory source")))
            props.append(Property(name="depscan:advisories:records", value=str(data.records)))
            if data.newest_modified is not None:
                newest = self.text(data.newest_modified, "advisory date")
                props.append(Property(name="depscan:advisories:newest_modified", value=newest))
        env = self.facts.environment
        for key in ("python_version", "sys_platform", "platform_machine"):
            props.append(Property(name=f"depscan:environment:{key}", value=env[key]))
        for unknown in result.unknowns:
            value = self.text(f"{unknown.location}: {unknown.reason}", "an unknown")
            props.append(Property(name="depscan:unknown", value=value))
        props += [Property(name="depscan:warning", value=self.text(w, "a scan warning")) for w in result.warnings]
        props += [Property(name="depscan:policy", value=self.text(f"{f.rule} ({f.level.value}) {f.location}: "
                                                                  f"{f.message}", "a policy finding"))
                  for f in result.policy_findings]
        props += [Property(name="depscan:note", value=self.text(n, "a scan note")) for n in result.notes]
        return props

    def sha256(self, digest: str | None, where: str) -> list[HashType]:
        if digest is None:
            return []
        if not _SHA256.match(digest):
            self.warn(f"{where}: {digest!r} is not a SHA-256 digest; dropped")
            return []
        return [HashType(alg=HashAlgorithm.SHA_256, content=digest.lower())]

    # components

    def component(self, index: int) -> Fields:
        dist, ref = self.dists[index], self.refs[index]
        where = f"{_short(dist.name)} {_short(dist.version)} ({_short(str(dist.metadata_location))})"
        try:
            return self.full_component(index, ref, self.text(where, "a location", report=False))
        except Exception as e:  # one odd distribution must not cost the SBOM
            self.warn(f"{where}: described by name and version only ({type(e).__name__}: {e})")
            return dict(
                type=ComponentType.LIBRARY,
                name=self.text(dist.name, where, one_line=True, report=False),
                version=self.text(dist.version, where, one_line=True, limit=MAX_VERSION, report=False),
                bom_ref=ref,
            )

    def full_component(self, index: int, ref: str, where: str) -> Fields:
        dist = self.dists[index]
        location = dist.metadata_location
        properties = [
            Property(name="depscan:found_by", value=dist.found_by),
            Property(name="depscan:status", value=dist.status.value),
            # "" (the artifact root) would read back as "no value" from XML: written "."
            Property(name="depscan:site_root", value=self.text(dist.site_root, f"{where}: site root") or "."),
        ]
        if location.layer is not None:
            properties.append(Property(name="depscan:layer", value=self.text(location.layer, f"{where}: layer")))
        # Evidence of what was read, not the package's hash.
        properties += [Property(name="depscan:metadata:sha256", value=str(digest.content))
                       for digest in self.sha256(dist.metadata_sha256, f"{where}: METADATA sha256")]
        if dist.shadowed_by is not None:
            value = self.text(str(dist.shadowed_by), f"{where}: shadowed_by")
            properties.append(Property(name="depscan:shadowed_by", value=value))
        if dist.vendored_by is not None:
            value = self.text(str(dist.vendored_by), f"{where}: vendored_by")
            properties.append(Property(name="depscan:vendored_by", value=value))
        for purl, why in self.result.unchecked:
            if purl == dist.purl:
                value = self.text(why, f"{where}: unchecked reason")
                properties.append(Property(name="depscan:advisories:unchecked", value=value))
        evidence = self.evidence(dist.locations, properties, where)
        return dict(
            type=ComponentType.LIBRARY,
            name=self.text(dist.name, f"{where}: name", one_line=True),
            version=self.text(dist.version, f"{where}: version", one_line=True, limit=MAX_VERSION),
            description=None if dist.summary is None else self.text(dist.summary, f"{where}: summary"),
            purl=self.purl(dist.purl, where),
            bom_ref=ref,
            hashes=self.sha256(archive_sha256(dist), f"{where}: archive sha256"),
            external_references=self.external_references(dist, where),
            licenses=self.licenses(self.facts.licenses[index], where),
            evidence=evidence,
            properties=properties,
        )

    def external_references(self, dist: PythonDist, where: str) -> list[ExternalReference]:
        references = []
        for link in external_links(dist):
            try:
                url = XsUri(self.text(link.url, f"{where}: {link.label} URL", one_line=True))
            except (ValueError, InvalidUriException):
                self.warn(f"{where}: {link.label} URL {link.url!r} is not a URL; dropped")
                continue
            comment = None if link.kind != "other" else self.text(link.label, f"{where}: URL label", one_line=True)
            references.append(ExternalReference(type=_REFERENCE_TYPES[link.kind], url=url, comment=comment))
        return references

    def native_component(self, lib: NativeLib, ref: str) -> Fields:
        return self._or_by_name(lib.name, lib.location, ref, lambda where: self.full_native_component(lib, ref, where))

    def _or_by_name(self, name: str, location: Location, ref: str, full: Callable[[str], Fields]) -> Fields:
        """``full(where)``; a library component with only its name when that fails: one odd library
        must not cost the SBOM (the failure is a warning)."""
        where = self.text(f"{_short(name)} ({_short(str(location))})", "a location", report=False)
        try:
            return full(where)
        except Exception as e:
            self.warn(f"{where}: described by name only ({type(e).__name__}: {e})")
            return dict(type=ComponentType.LIBRARY, bom_ref=ref,
                        name=self.text(name, where, one_line=True, report=False))

    def full_native_component(self, lib: NativeLib, ref: str, where: str) -> Fields:
        location = lib.location
        properties = [
            Property(name="depscan:found_by", value=lib.found_by),
            Property(name="depscan:native:kind", value=lib.kind),
            Property(name="depscan:elf:arch", value=lib.arch),
            Property(name="depscan:elf:class", value=str(lib.elf_class)),
            Property(name="depscan:elf:endianness", value=lib.endianness),
            Property(name="depscan:elf:type", value=lib.elf_type),
            Property(name="depscan:native:size", value=str(lib.size)),
        ]
        if lib.bundled_hash is not None:
            properties.append(Property(name="depscan:native:bundled_hash", value=lib.bundled_hash))
        if lib.abi_tag is not None:
            properties.append(Property(name="depscan:native:abi_tag",
                                       value=self.text(lib.abi_tag, f"{where}: ABI tag", one_line=True)))
        if location.layer is not None:
            properties.append(Property(name="depscan:layer", value=self.text(location.layer, f"{where}: layer")))
        if lib.os_package is not None:
            properties.append(Property(name="depscan:os_package",
                                       value=self.text(lib.os_package, f"{where}: OS package", one_line=True)))
        if lib.elf is not None:
            properties += self.elf_properties(lib, where)
        evidence = self.evidence(lib.locations, properties, where)
        return dict(
            type=ComponentType.LIBRARY,
            name=self.text(lib.name, f"{where}: name", one_line=True),
            version=None if lib.version is None else self.text(lib.version, f"{where}: version", one_line=True,
                                                               limit=MAX_VERSION),
            purl=None if lib.purl is None else self.purl(lib.purl, where),
            bom_ref=ref,
            # the file's own digest when it was read whole, else its owner's RECORD
            hashes=self.sha256(lib.elf.sha256 if lib.elf is not None else lib.sha256, f"{where}: sha256"),
            evidence=evidence,
            properties=properties,
        )

    def elf_properties(self, lib: NativeLib, where: str) -> list[Property]:
        """What the ELF structure says (``ElfFacts``), one ``depscan:elf:*`` property per fact and per list entry
        (CycloneDX properties are a set, sorted by name and value: DT_NEEDED order is in the JSON report)."""
        elf = lib.elf
        assert elf is not None
        facts: list[tuple[str, str]] = []
        if elf.soname is not None:
            facts.append(("soname", elf.soname))
        facts += [("needed", needed) for needed in elf.needed]
        facts += [("rpath", entry) for entry in elf.rpath]
        facts += [("runpath", entry) for entry in elf.runpath]
        if elf.build_id is not None:
            facts.append(("build_id", elf.build_id))
        if elf.min_glibc is not None:
            facts.append(("min_glibc", elf.min_glibc))
        facts += [("version_need", f"{file}: {' '.join(versions)}") for file, versions in elf.version_needs]
        facts.append(("stripped", "true" if elf.stripped else "false"))
        if elf.interpreter is not None:
            facts.append(("interpreter", elf.interpreter))
        if lib.elf_sha256_source is not None:  # the hash's origin: this scan's, or the owner's RECORD
            facts.append(("sha256_source", lib.elf_sha256_source))
        return [Property(name=f"depscan:elf:{name}", value=self.text(value, f"{where}: ELF {name}", one_line=True))
                for name, value in facts]

    def os_package(self, package: OsPackage, ref: str) -> Fields:
        where = self.text(f"{_short(package.name)} ({_short(str(package.location))})", "a location", report=False)
        try:
            return self.full_os_package(package, ref, where)
        except Exception as e:  # one odd package must not cost the SBOM
            self.warn(f"{where}: described by name and version only ({type(e).__name__}: {e})")
            return dict(type=ComponentType.LIBRARY, bom_ref=ref,
                        name=self.text(package.name, where, one_line=True, report=False),
                        version=self.text(package.version, where, one_line=True, limit=MAX_VERSION, report=False))

    def full_os_package(self, package: OsPackage, ref: str, where: str) -> Fields:
        """A package an OS package database lists: its distro purl, the database as occurrence, the database as
        ``evidence.identity`` (1.5+, ``manifest-analysis``), and what the database says as properties."""
        properties = [
            Property(name="depscan:found_by", value=package.package_manager),
            Property(name="depscan:status", value=package.status.value),
            Property(name="depscan:os_package:files", value=str(len(package.files))),
        ]
        for name, value in (("ecosystem", package.ecosystem), ("arch", package.arch),
                            ("source_name", package.source_name), ("source_version", package.source_version)):
            if value is not None:
                properties.append(Property(name=f"depscan:os_package:{name}",
                                           value=self.text(value, f"{where}: {name}", one_line=True)))
        if package.location.layer is not None:
            properties.append(Property(name="depscan:layer",
                                       value=self.text(package.location.layer, f"{where}: layer")))
        properties += self.advisory_gaps(package.purl, where)
        identity: list[Identity] = []
        if self.version >= SchemaVersion.V1_5:
            database = self.text(f"{package.package_manager} database {package.location.path}",
                                 f"{where}: database", one_line=True)
            identity.append(Identity(
                field=IdentityField.PURL, confidence=Decimal(1),
                concluded_value=self.text(package.purl, f"{where}: purl", one_line=True),
                methods=[Method(technique=AnalysisTechnique.MANIFEST_ANALYSIS, confidence=Decimal(1), value=database)],
            ))
        return dict(
            type=ComponentType.LIBRARY,
            name=self.text(package.name, f"{where}: name", one_line=True),
            version=self.text(package.version, f"{where}: version", one_line=True, limit=MAX_VERSION),
            purl=self.purl(package.purl, where),
            bom_ref=ref,
            evidence=self.evidence(package.locations, properties, where),
            identity=identity,
            properties=properties,
        )

    def advisory_gaps(self, purl: str, where: str) -> list[Property]:
        """Why advisories could not be checked for a component (``depscan:advisories:unchecked``) or cannot
        vouch for it (``depscan:advisories:not_verifiable``): by purl, from lists indexed once."""
        gaps = self.gaps.get(purl, ())
        return [Property(name=f"depscan:advisories:{name}", value=self.text(why, f"{where}: {name} reason"))
                for name, why in gaps]

    @cached_property
    def gaps(self) -> dict[str, list[tuple[str, str]]]:
        found: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for name, items in (("unchecked", self.result.unchecked), ("not_verifiable", self.result.not_verifiable)):
            for purl, why in items:
                found[purl].append((name, why))
        return found

    def identified_component(self, comp: NativeComponent, ref: str) -> Fields:
        return self._or_by_name(comp.name, comp.location, ref,
                                lambda where: self.full_identified_component(comp, ref, where))

    def full_identified_component(self, comp: NativeComponent, ref: str, where: str) -> Fields:
        """An upstream library identified in an ELF file: purl and CPE, how it was identified as
        ``evidence.identity`` (1.5+) and ``depscan:native:evidence`` properties, and the file as occurrence."""
        properties = [
            Property(name="depscan:found_by", value="elf"),
            Property(name="depscan:native:embedded", value="true" if comp.embedded else "false"),
            Property(name="depscan:status", value=comp.status.value),
        ]
        if comp.confidence is not None:
            properties.append(Property(name="depscan:native:confidence", value=comp.confidence))
        if comp.file_sha256 is not None:  # the file's digest, not the library's: a property, not a hash
            properties += [Property(name="depscan:native:file_sha256", value=str(h.content))
                           for h in self.sha256(comp.file_sha256, f"{where}: file sha256")]
            if comp.file_sha256_source is not None:
                properties.append(Property(name="depscan:native:file_sha256_source", value=comp.file_sha256_source))
        if comp.os_package is not None:
            properties.append(Property(name="depscan:os_package",
                                       value=self.text(comp.os_package, f"{where}: OS package", one_line=True)))
        properties += [Property(name="depscan:native:disagreement", value=self.text(d, f"{where}: disagreement"))
                       for d in comp.disagreements]
        if comp.location.layer is not None:
            properties.append(Property(name="depscan:layer", value=self.text(comp.location.layer, f"{where}: layer")))
        properties += self.advisory_gaps(comp.purl, where)
        identity: list[Identity] = []
        if self.version >= SchemaVersion.V1_5 and comp.evidence:
            purl_value = self.text(comp.purl, f"{where}: purl", one_line=True)
            identity.append(Identity(
                field=IdentityField.PURL,
                confidence=_CONFIDENCE[comp.evidence[0].confidence],
                concluded_value=purl_value,
                methods=[self.method(e, where) for e in comp.evidence],
            ))
        # Every version: each piece as depscan names it, so a rescan reads the evidence back (identity's
        # techniques do not tell an accessor from a banner).
        properties += [Property(name="depscan:native:evidence",
                                value=self.text(f"{e.method} ({e.confidence}): {e.detail}", f"{where}: evidence"))
                       for e in comp.evidence]
        return dict(
            type=ComponentType.LIBRARY,
            name=self.text(comp.name, f"{where}: name", one_line=True),
            version=None if comp.version is None else self.text(comp.version, f"{where}: version", one_line=True,
                                                                limit=MAX_VERSION),
            purl=self.purl(comp.purl, where),
            cpe=None if comp.cpe is None else self.text(comp.cpe, f"{where}: cpe", one_line=True),
            bom_ref=ref,
            evidence=self.evidence(comp.locations, properties, where),
            identity=identity,
            properties=properties,
        )

    def method(self, evidence: Evidence, where: str) -> Method:
        return Method(technique=_TECHNIQUES[evidence.method], confidence=_CONFIDENCE[evidence.confidence],
                      value=self.text(evidence.detail, f"{where}: evidence"))

    def evidence(
        self, locations: Sequence[Location], properties: list[Property], where: str
    ) -> list[Occurrence] | None:
        """Where a component was seen: evidence occurrences (1.5+), else ``depscan:location``
        properties appended to ``properties`` (1.4 has no occurrences)."""
        if self.version >= SchemaVersion.V1_5:
            return [self.occurrence(loc.path, loc.layer, where) for loc in locations]
        properties += [
            Property(name="depscan:location", value=self.text(loc.path, f"{where}: path")) for loc in locations
        ]
        return None

    def occurrence(self, path: str, layer: str | None, where: str) -> Occurrence:
        context = None if layer is None else self.text(f"layer: {layer}", f"{where}: layer")
        return Occurrence(location=self.text(path, f"{where}: path"), additional_context=context)

    def purl(self, purl: str, where: str) -> PackageURL | None:
        if _PLAIN_PURL.fullmatch(purl):  # already as PackageURL would normalize it: its parts, without parsing
            name, _, version = purl[len("pkg:pypi/"):].partition("@")
            return PackageURL._make(("pypi", None, name, version, {}, None))
        try:
            parsed = PackageURL.from_string(purl)
        except ValueError as e:
            self.warn(f"{where}: purl {purl!r} does not parse ({e}); dropped")
            return None
        if parsed.to_string() != purl:  # read from another tool's SBOM (rescan): written back unchanged
            return _PurlAsWritten.of(parsed, purl)
        return parsed

    # licenses

    def licenses(self, facts: LicenseFacts, where: str) -> list[License]:
        if facts.note is not None:
            self.warn(f"{where}: {facts.note}; kept as a license name")
        if facts.expression is not None:
            single = fixup_id(facts.expression)
            if single is not None and is_supported_id(single):
                return [DisjunctiveLicense(id=single)]
            return [LicenseExpression(facts.expression)]
        found: list[License] = [
            DisjunctiveLicense(id=spdx) if is_supported_id(spdx) else self.named_license(spdx, where)
            for spdx in facts.ids
        ]
        return found + [self.named_license(text, where) for text in facts.texts]

    def named_license(self, text: str, where: str) -> DisjunctiveLicense:
        text = self.text(text.strip(), f"{where}: license")
        first = next((line.strip() for line in text.splitlines() if line.strip()), text)
        if first == text and len(text) <= _NAME_LIMIT:
            return DisjunctiveLicense(name=text)
        name = first if len(first) <= _NAME_LIMIT else first[: _NAME_LIMIT - 1] + "\u2026"
        return DisjunctiveLicense(name=name, text=AttachedText(content=text))

    # dependencies

    def dependencies(self, root: str, components: Sequence[str]) -> list[tuple[str, list[str]]]:
        graph = self.facts.graph
        for warning in graph.warnings:
            self.warn(warning)
        dependencies = [(root, [components[i] for i in graph.top])]
        # A distribution depends on what it requires and on the libraries it ships (in files its RECORD lists);
        # an OS package on the libraries identified in the files it lists.
        dependencies += [(components[i], [components[j] for j in graph.requires[i]]
                          + [self.identified_refs[k] for k in self.facts.ships(i)])
                         for i in range(len(components))]
        by_package: dict[int, list[str]] = defaultdict(list)
        for k, package in enumerate(self.facts.identified_os):
            if package is not None and self.facts.identified_owner[k] is None:
                by_package[package].append(self.identified_refs[k])
        dependencies += [(self.os_refs[package], refs) for package, refs in sorted(by_package.items())]
        return dependencies

    # vulnerabilities

    def vulnerabilities(self) -> list[Fields]:
        groups: dict[tuple[str, Suppression | None], list[Finding]] = defaultdict(list)
        for finding in self.result.findings:
            groups[(finding.id, finding.suppressed)].append(finding)
        split: dict[str, int] = defaultdict(int)
        for vuln_id, _suppressed in groups:
            split[vuln_id] += 1
        out = []
        taken: set[str] = set()
        for (vuln_id, suppressed), findings in groups.items():
            ref = f"vulnerability:{vuln_id}" + (":ignored" if suppressed is not None and split[vuln_id] > 1 else "")
            while ref in taken:  # ignored under two different rules
                ref += "+"
            taken.add(ref)
            where = self.text(f"vulnerability {vuln_id}", "a vulnerability id", one_line=True)
            try:
                out.append(self.vulnerability(self.text(ref, where, one_line=True), findings, where))
            except Exception as e:  # one odd advisory must not cost the SBOM
                self.warn(f"{where}: left out ({type(e).__name__}: {e})")
        return out

    def vulnerability(self, ref: str, findings: list[Finding], where: str) -> Fields:
        first = findings[0]
        advisories = _unique_advisories(findings)
        primary = next((a for a in advisories if a.id == first.id), advisories[0] if advisories else None)
        # description: the record's summary; detail: its details. A record without a summary (most PYSEC
        # ones) is described by its details, whole (Finding.summary is a shortened copy of them).
        summary = next((a.summary.strip() for a in advisories if a.summary and a.summary.strip()), None)
        details = primary.details.strip() if primary is not None and primary.details else None
        if summary is None:
            summary, details = details or first.summary, None
        targets = []
        for finding in findings:
            component = finding.component
            if isinstance(component, PythonDist):
                index = self.facts.dist_index(component)
                target = None if index is None else self.refs[index]
            else:  # a library identified in an ELF file, an OS package
                key = self.facts.key_of(component)
                target = None if key is None else self.other_refs.get(key)
            if target is None:  # a finding on a component not in the result: cannot point at it
                self.warn(f"{where}: affects {finding.component.name} {finding.component.version}, not a component "
                          "of this scan; not linked")
                continue
            status = ImpactAnalysisAffectedStatus.AFFECTED
            version = self.text(finding.component.version or "", f"{where}: version", one_line=True, limit=MAX_VERSION)
            targets.append((target, version, status))
        published = [d for a in advisories if a.published for d in [self.date(a.published, where)] if d]
        modified = [d for a in advisories for d in [self.date(a.modified, where)] if d]
        return dict(
            bom_ref=ref,
            id=self.text(first.id, where, one_line=True),
            source=_osv_source(first.id),
            references=self.references(first.ids[1:], where),
            ratings=self.ratings(findings, advisories, where),
            description=self.text(summary, f"{where}: summary") if summary else None,
            detail=self.text(details, f"{where}: details") if details else None,
            recommendation=self.text(_recommendation(findings), f"{where}: recommendation"),
            advisories=self.advisory_links(advisories, where),
            published=min(published) if published else None,
            updated=max(modified) if modified else None,
            analysis=None if first.suppressed is None else self.analysis(first.suppressed, where),
            affects=targets,
            properties=self.ignore_properties(first.suppressed, where)
            + ([Property(name="depscan:malicious", value="true")] if first.malicious else [])
            + self.covered_properties(findings, where),
        )

    def covered_properties(self, findings: list[Finding], where: str) -> list[Property]:
        """``depscan:covered_by``, one per affected copy whose finding the distribution that ships it already
        reports (``Finding.covered_by``): "<the copy's purl> <the covering finding's id>"."""
        return [
            Property(name="depscan:covered_by",
                     value=self.text(f"{f.component.purl} {f.covered_by}", f"{where}: covered_by", one_line=True))
            for f in findings if f.covered_by is not None
        ]

    def references(self, aliases: Iterable[str], where: str) -> list[VulnerabilityReference]:
        out = []
        for alias in dict.fromkeys(aliases):
            name, template = next(((n, t) for p, n, t in _ALIAS_SOURCES if alias.startswith(p)), ("OSV", _OSV_URL))
            out.append(VulnerabilityReference(
                id=self.text(alias, where, one_line=True),
                source=VulnerabilitySource(name=name, url=XsUri(template.format(quote(alias, safe="")))),
            ))
        return out

    def ratings(self, findings: list[Finding], advisories: list[Advisory], where: str) -> list[VulnerabilityRating]:
        seen: set[str] = set()
        ratings = []
        vectors: list[tuple[Advisory | None, str, str, float | None]] = [
            (a, s.type, s.vector, s.score) for a in advisories for s in a.severity
        ]
        if not vectors and findings[0].vector is not None:
            vectors = [(None, "", findings[0].vector, findings[0].score)]
        if findings[0].malicious:  # critical without a CVSS vector: the record's judgement, not a score
            ratings.append(VulnerabilityRating(source=_osv_source(findings[0].id), severity=_SEVERITY[Level.CRITICAL],
                                               method=VulnerabilityScoreSource.OTHER))
        for advisory, kind, vector, score in vectors:
            method = _method(kind, vector)
            if method is None or vector in seen:
                continue
            seen.add(vector)
            severity = None
            if score is not None:
                level = Level.from_score(score)
                if method is VulnerabilityScoreSource.CVSS_V2 and level is Level.CRITICAL:
                    level = Level.HIGH  # CVSS v2 has no "critical"
                severity = _SEVERITY.get(level)
            rating = VulnerabilityRating(
                source=None if advisory is None else _osv_source(advisory.id),
                score=None if score is None else Decimal(str(score)),
                severity=severity,
                method=method,
            )
            # Set after construction: the library would strip the "CVSS:3.1/" prefix, which the CVSS v3 and v4
            # specifications make part of a vector string, and which is all that says "CVSS 4" in a 1.4
            # document (whose rating methods stop at CVSSv31, so the method is written "other").
            rating.vector = self.text(vector, f"{where}: CVSS vector", one_line=True)
            ratings.append(rating)
        return ratings

    def advisory_links(self, advisories: list[Advisory], where: str) -> list[VulnerabilityAdvisory]:
        links = []
        for url in dict.fromkeys(u for a in advisories for u in a.references):
            safe = quote(self.text(url.strip(), f"{where}: reference", one_line=True), safe=":/?#[]@!$&'()*+,;=%~")
            try:
                links.append(VulnerabilityAdvisory(url=XsUri(safe)))
            except (ValueError, InvalidUriException):
                self.warn(f"{where}: reference {url!r} is not a URL; dropped")
        return links

    def analysis(self, suppressed: Suppression, where: str) -> VulnerabilityAnalysis:
        detail = f"Ignored in depscan configuration (rule {suppressed.id}): {suppressed.reason}"
        if suppressed.expires:
            detail += f" (until {suppressed.expires})"
        return VulnerabilityAnalysis(state=ImpactAnalysisState.NOT_AFFECTED,
                                     detail=self.text(detail, f"{where}: ignore reason"))

    def ignore_properties(self, suppressed: Suppression | None, where: str) -> list[Property]:
        if suppressed is None:
            return []
        props = [
            Property(name="depscan:ignored:rule", value=self.text(suppressed.id, f"{where}: ignore rule")),
            Property(name="depscan:ignored:reason", value=self.text(suppressed.reason, f"{where}: ignore reason")),
        ]
        if suppressed.expires:
            props.append(Property(name="depscan:ignored:expires",
                                  value=self.text(suppressed.expires, f"{where}: ignore expiry")))
        return props

    def date(self, value: str, where: str) -> datetime | None:
        """An OSV timestamp (RFC 3339) as an aware datetime; ``None`` and a warning when it does not parse."""
        parsed = parse_timestamp(value)
        if parsed is None:
            self.warn(f"{where}: date {value!r} does not parse; dropped")
        return parsed


# -- helpers -------------------------------------------------------------------------------------


class _PurlAsWritten(PackageURL):
    """A valid purl that serializes as the text it was read from: ``rescan`` never rewrites a purl
    (cyclonedx-python-lib writes ``to_string()``, which would re-normalize it)."""

    text: str

    @classmethod
    def of(cls, parsed: PackageURL, text: str) -> _PurlAsWritten:
        made = cls(*parsed)
        made.text = text
        return made

    def to_string(self, encode: bool | None = True) -> str:
        return self.text


def _root_type(kind: ArtifactKind | None) -> ComponentType:
    """``container`` for container images, ``library`` for a wheel, ``application`` otherwise (and for a rescan)."""
    if kind in CONTAINER_IMAGE_KINDS:
        return ComponentType.CONTAINER
    return ComponentType.LIBRARY if kind is ArtifactKind.WHEEL else ComponentType.APPLICATION


def _short(text: str, limit: int = 80) -> str:
    """``text`` for a message: cut with an ellipsis past ``limit`` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# A purl that PackageURL reads and writes back unchanged, with nothing to quote and no qualifiers.
_PLAIN_PURL = re.compile(r"pkg:pypi/[a-z0-9.\-]+@[A-Za-z0-9.\-]+")


def _bom_ref(dist: PythonDist, key: str) -> str:
    """The purl with a ``package-id`` qualifier naming this copy (``depscan.facts.component_key``)."""
    if _PLAIN_PURL.fullmatch(dist.purl):  # the common case, without parsing (a fifth of the document's cost)
        return f"{dist.purl}?package-id={key}"
    return _with_package_id(dist.purl, key, f"python-dist:{quote(dist.normalized_name, safe='')}")


def _with_package_id(purl_text: str, key: str, fallback: str) -> str:
    """``purl_text`` with a ``package-id`` qualifier added to its own; ``fallback?package-id=...`` when it
    is not a valid purl."""
    try:
        purl = PackageURL.from_string(purl_text)
    except ValueError:
        return f"{fallback}?package-id={key}"
    qualifiers = dict(purl.qualifiers) if isinstance(purl.qualifiers, dict) else {}
    qualifiers["package-id"] = key
    return str(PackageURL(type=purl.type, namespace=purl.namespace, name=purl.name, version=purl.version,
                          qualifiers=qualifiers, subpath=purl.subpath).to_string())


# How each way of identifying a native library maps to CycloneDX's analysis techniques and confidence 0..1.
_TECHNIQUES = {
    "accessor": AnalysisTechnique.BINARY_ANALYSIS,  # a version function's answer, read from the code
    "banner": AnalysisTechnique.BINARY_ANALYSIS,  # a version string in the data
    "soname": AnalysisTechnique.BINARY_ANALYSIS,  # DT_SONAME of the dynamic section
    "file-name": AnalysisTechnique.FILENAME,
    "wheel-sbom": AnalysisTechnique.MANIFEST_ANALYSIS,
    "os-package": AnalysisTechnique.MANIFEST_ANALYSIS,
}
_CONFIDENCE = {"high": Decimal("0.9"), "medium": Decimal("0.6"), "low": Decimal("0.3")}


def _identified_ref(comp: NativeComponent, key: str) -> str:
    """An identified library's bom-ref: its purl with a ``package-id`` naming this copy in this file."""
    return _with_package_id(comp.purl, key, f"native-component:{quote(comp.name, safe='')}")


def _os_ref(package: OsPackage, key: str) -> str:
    """An OS package's bom-ref: its distro purl with a ``package-id`` qualifier added to its own."""
    return _with_package_id(package.purl, key, f"os-package:{quote(package.name, safe='')}")


def _native_ref(lib: NativeLib, key: str) -> str:
    """A native library's bom-ref: its purl (or ``native:<name>``) with a ``package-id`` naming this file."""
    if lib.purl is not None:
        try:
            purl = PackageURL.from_string(lib.purl)
        except ValueError:
            pass
        else:
            return str(PackageURL(type=purl.type, namespace=purl.namespace, name=purl.name, version=purl.version,
                                  qualifiers={"package-id": key}).to_string())
    return f"native:{quote(lib.name, safe='')}?package-id={key}"


def _unique_advisories(findings: Iterable[Finding]) -> list[Advisory]:
    seen: dict[str, Advisory] = {}
    for finding in findings:
        for advisory in finding.advisories:
            seen.setdefault(advisory.id, advisory)
    return list(seen.values())


def _osv_source(vuln_id: str) -> VulnerabilitySource:
    return VulnerabilitySource(name="OSV", url=XsUri(_OSV_URL.format(quote(vuln_id, safe=""))))


def _method(kind: str, vector: str) -> VulnerabilityScoreSource | None:
    """The CycloneDX rating method for an OSV severity entry; ``None`` for scales CycloneDX cannot name."""
    if vector.startswith("CVSS:4."):
        return VulnerabilityScoreSource.CVSS_V4
    if vector.startswith("CVSS:3.1/"):
        return VulnerabilityScoreSource.CVSS_V3_1
    if vector.startswith("CVSS:3."):
        return VulnerabilityScoreSource.CVSS_V3
    if kind == "CVSS_V2" or vector.startswith("AV:"):
        return VulnerabilityScoreSource.CVSS_V2
    return None


def _recommendation(findings: Sequence[Finding]) -> str:
    """``Upgrade <name> to <smallest fixed version above the installed one>``, per distinct installed copy."""
    if findings[0].malicious:
        return f"Remove {findings[0].component.name}: a known-malicious package (every version)"
    advice = {}
    for finding in findings:
        component = finding.component
        key = (component.name, component.version)
        if key not in advice:
            advice[key] = _advice(component.name, component.version or "", finding.fixed_versions, finding.fix)
    texts = list(dict.fromkeys(advice.values()))
    if len(texts) == 1:
        return texts[0]
    return "; ".join(f"{name} {version}: {text}" for (name, version), text in advice.items())


def _advice(name: str, installed: str, fixed: Sequence[str], fix: str | None) -> str:
    """From the core's ``Finding.fix`` (the smallest version above ``installed`` that no advisory
    of the finding affects) and ``Finding.fixed_versions``."""
    if fix is not None:
        return f"Upgrade {name} to {fix}"
    if not fixed:
        return f"No fixed version of {name} is known."
    return f"Fixed in {', '.join(fixed)}; none is above the installed {installed}"


__all__ = [
    "SPEC_VERSIONS",
    "build_bom",
    "render_json",
    "render_json_with_warnings",
    "render_xml",
    "render_xml_with_warnings",
    "schema_version",
]
