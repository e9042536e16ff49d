"""Read a stored SBOM back into components, for ``depscan rescan``.

CycloneDX (JSON or XML, any 1.x), SPDX 2.x JSON and SPDX 3 JSON-LD, from depscan or from other
tools (Syft, Trivy, cdxgen, pip-audit ...): the purl is the key. Only ``pkg:pypi`` components can
be matched against PyPI advisories; components of other ecosystems are counted and reported, never
silently treated as checked. XML is parsed with ``defusedxml`` (an SBOM is untrusted input).

**Purls are kept as written.** A component's ``purl`` is the SBOM's string, unchanged, so findings
and reports name the package exactly as the SBOM does; the name is normalized (PEP 503) only to
look advisories up.

**Wrong types are skipped, never a crash.** A stored SBOM is untrusted input: an object where a
list belongs (``components: {}``), a string where an object belongs (``externalRefs: ["x"]``), a
number where a string belongs, text where XML elements belong (or elements where text belongs) is
skipped, and ``SbomContents.skipped`` says which slot (``components[2].externalRefs``) and why.

**What depscan wrote, read back** (so ``--baseline`` fingerprints and statuses survive every
format and version depscan writes):

* location (the METADATA path): CycloneDX 1.5+ ``evidence.occurrences[0].location``; CycloneDX 1.4
  the ``depscan:location`` property; SPDX 2.3 the package annotation ``depscan:location=<path>``.
  Without one: ``sbom:<bom-ref or SPDXID>`` so every finding still points somewhere.
* layer, status, shadowing copy: the ``depscan:layer``, ``depscan:status`` and ``depscan:shadowed_by``
  properties (CycloneDX) or annotations (SPDX 2.3).
* the artifact the SBOM describes: CycloneDX ``metadata.component`` (with its layers,
  ``depscan:artifact:layer:<n>``), the SPDX package the document DESCRIBES (with the same
  annotations), the SPDX 3 ``rootElement`` / ``describes`` target.
* native libraries depscan listed (``depscan:native:kind``, the ELF files): counted, not matched (their
  ``pkg:generic`` version is the file name's, not the release's).

**Native components and OS packages** are read back so a rescan checks them as a scan does: a component
with a ``pkg:generic`` purl (a library identified in an ELF file, from depscan's SBOMs or another tool's) is
a ``NativeComponent`` with its CPE (CycloneDX ``cpe``, SPDX 2 ``SECURITY cpe23Type`` reference, SPDX 3
``cpe23`` identifier), ``depscan:native:embedded`` and ``depscan:os_package`` when depscan wrote them; a
``pkg:deb``, ``pkg:apk`` or ``pkg:rpm`` purl is an ``OsPackage`` whose OSV ecosystem is depscan's
``depscan:os_package:ecosystem`` or, from another tool, the purl's ``distro`` qualifier (``debian-12`` ->
``Debian:12``, ``alpine-3.19.1`` -> ``Alpine:v3.19``; Ubuntu's cannot say LTS, so none), its source package the
property or the purl's ``upstream`` qualifier. What ships a native component comes back from where the SBOM
puts it: the CycloneDX component it is nested in, the SPDX package that CONTAINS it (or the ELF file's package
that does): a ``pkg:pypi`` one is its owner, a distro one its OS package. How it was identified is
read back from ``depscan:native:evidence`` (depscan's SBOMs; strongest first), empty from other tools'.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from packageurl import PackageURL
from packaging.utils import NormalizedName, canonicalize_name

from depscan.errors import ArtifactError
from depscan.models import (
    Confidence,
    Evidence,
    EvidenceMethod,
    Location,
    NativeComponent,
    OsPackage,
    PythonDist,
    Status,
)

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

MAX_SBOM_BYTES = 512 * 1024 * 1024
MAX_SKIP_NOTES = 20  # skipped slots listed one by one; the rest are counted
# CycloneDX components nest (a wheel's vendored packages); deeper than this is hostile, not an SBOM
# (slot names grow with depth: 20,000 levels of XML made 9 GB of them).
MAX_NESTING = 32

# SPDX 3 JSON-LD documents name their context: https://spdx.org/rdf/3.0.1/spdx-context.jsonld
_SPDX_CONTEXT = re.compile(r"^https?://spdx\.org/rdf/(\d+)\.(\d+)(?:\.(\d+))?/spdx-context\.jsonld?$")
# The common purl, read without PackageURL.from_string (40% of reading 142,477 components): no
# qualifiers, subpath or percent-escapes, so its parts are exactly what from_string would give.
_PLAIN_PYPI = re.compile(r"pkg:pypi/([A-Za-z0-9._-]+)@([A-Za-z0-9.!+_-]+)")
_LOCATION_TEXT = re.compile(r"^(.*) \[([^\[\]]*)\]$")  # str(Location): "path [layer]"


@dataclass(frozen=True, slots=True)
class SbomContents:
    """What a stored SBOM lists."""

    format: str  # "cyclonedx-json", "cyclonedx-xml", "spdx-json", "spdx3-jsonld"
    spec_version: str
    subject: str | None  # the described artifact, when the SBOM names one
    components: tuple[PythonDist, ...]
    other_ecosystems: dict[str, int]  # purl type -> count of components not matchable here
    without_purl: int
    native: int = 0  # native libraries depscan listed (depscan:native:kind): no PyPI advisory applies
    skipped: tuple[str, ...] = ()  # "<slot>: <what was wrong>; skipped", at most MAX_SKIP_NOTES
    skipped_total: int = 0  # every skipped slot, listed or not
    subject_layers: tuple[str, ...] = ()  # its layers, lowest first (depscan:artifact:layer:<n>)
    entries: int = 0  # component / package entries read (before any was set aside)
    natives: tuple[NativeComponent, ...] = ()  # pkg:generic components (libraries identified in ELF files)
    os_packages: tuple[OsPackage, ...] = ()  # pkg:deb, pkg:apk, pkg:rpm components


@dataclass(slots=True)
class _Raw:
    purl: str
    ref: str
    name: str | None = None
    version: str | None = None  # the component's own version field, for a purl without one
    location: str | None = None
    layer: str | None = None
    native: bool = False
    status: str | None = None
    shadowed_by: str | None = None
    cpe: str | None = None
    embedded: bool = False
    os_package: str | None = None
    ecosystem: str | None = None
    source_name: str | None = None
    source_version: str | None = None
    evidence: list[Evidence] = field(default_factory=list)  # depscan:native:evidence, as depscan wrote it
    parent: _Raw | None = None  # what holds it: the CycloneDX component it is nested in, the SPDX package CONTAINing it


@dataclass(slots=True)
class _Subject:
    name: str | None = None
    layers: dict[int, str] = field(default_factory=dict)


class _Skips:
    """The slots skipped because they hold the wrong type."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.total = 0

    def skip(self, slot: str, problem: str) -> None:
        self.total += 1
        if len(self.notes) < MAX_SKIP_NOTES:
            self.notes.append(f"{slot}: {problem}; skipped")


def read_sbom(path: Path) -> SbomContents:
    """Parse ``path`` (format detected from its content); a regular file of at most ``MAX_SBOM_BYTES``."""
    from depscan.regular_files import read_regular

    if not path.exists():
        raise ArtifactError(f"{path}: no such file")
    return parse_sbom(read_regular(path, MAX_SBOM_BYTES, "an SBOM", ArtifactError), path)


def parse_sbom(data: bytes, path: Path) -> SbomContents:
    """Parse an SBOM's bytes (format detected from the content); ``path`` names it in errors."""
    skips = _Skips()
    head = data.lstrip()[:1]
    if head == b"<":
        spec, subject, raws = _cyclonedx_xml(path, data, skips)
        return _contents("cyclonedx-xml", spec, subject, raws, skips)
    if head != b"{":
        raise ArtifactError(f"{path}: not a CycloneDX (JSON or XML) or SPDX JSON document")
    try:
        doc = json.loads(data)
    except RecursionError as e:
        raise ArtifactError(f"{path}: JSON nested too deeply to be an SBOM") from e
    except (ValueError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(doc, dict):
        raise ArtifactError(f"{path}: not a CycloneDX or SPDX document")
    reader = _Json(skips)
    if doc.get("bomFormat") == "CycloneDX":
        spec, subject, raws = _cyclonedx_json(doc, reader)
        return _contents("cyclonedx-json", spec, subject, raws, skips)
    if "spdxVersion" in doc:
        version = doc["spdxVersion"]
        if not isinstance(version, str) or not version.startswith("SPDX-2."):
            raise ArtifactError(
                f"{path}: SPDX version {version!r} is not supported (depscan reads SPDX 2.x JSON and SPDX 3 JSON-LD)"
            )
        spec, subject, raws = _spdx_json(doc, reader)
        return _contents("spdx-json", spec, subject, raws, skips)
    if "@context" in doc or "@graph" in doc:
        spec = _spdx3_version(path, doc.get("@context"))
        subject, raws = _spdx3_jsonld(doc, reader)
        return _contents("spdx3-jsonld", spec, subject, raws, skips)
    raise ArtifactError(f"{path}: JSON, but neither CycloneDX (bomFormat) nor SPDX (spdxVersion or @context)")


def _contents(fmt: str, spec: str, subject: _Subject, raws: list[_Raw], skips: _Skips) -> SbomContents:
    components: list[PythonDist] = []
    others: dict[str, int] = {}
    without = native = 0
    seen: set[tuple[str, str, str | None]] = set()
    # depscan:shadowed_by holds str(Location) of the copy that wins: find it among the components.
    by_text: dict[str, Location] = {}
    if any(raw.shadowed_by is not None for raw in raws):
        for raw in raws:
            if raw.location is not None:
                loc = Location(raw.location, raw.layer)
                by_text.setdefault(str(loc), loc)
    names: dict[str, NormalizedName] = {}  # name -> PEP 503 name: an SBOM of every release names each often

    def canonical(name: str) -> NormalizedName:
        found = names.get(name)
        if found is None:
            found = names[name] = canonicalize_name(name)
        return found

    natives: dict[tuple[str, Location], NativeComponent] = {}
    packages: dict[tuple[str, Location], OsPackage] = {}
    for raw in raws:
        if raw.native:
            native += 1
            continue
        if not raw.purl:
            without += 1
            continue
        parts = _purl_parts(raw.purl)
        if parts is None:
            without += 1
            continue
        purl_type, purl_name, purl_version = parts
        if purl_type == "generic":
            where = Location(raw.location or f"sbom:{raw.ref}", raw.layer)
            natives.setdefault((raw.purl, where), _native_component(raw, purl_name, purl_version, where))
            continue
        if purl_type in _PACKAGE_MANAGERS:
            where = Location(raw.location or f"sbom:{raw.ref}", raw.layer)
            package = _os_package(raw, purl_type, purl_name, purl_version, where)
            if package is None:
                without += 1
            else:
                packages.setdefault((raw.purl, where), package)
            continue
        if purl_type != "pypi":
            others[purl_type] = others.get(purl_type, 0) + 1
            continue
        version = purl_version or raw.version
        if not version:
            without += 1
            continue
        location = Location(raw.location or f"sbom:{raw.ref}", raw.layer)
        normalized = canonical(purl_name)
        key = (normalized, version, location.path)
        if key in seen:
            continue
        seen.add(key)
        # The name as the SBOM spells it, when it names the same package as the purl.
        name = raw.name if raw.name and canonical(raw.name) == normalized else purl_name
        shadowed = raw.status == Status.SHADOWED.value
        components.append(
            PythonDist(
                name=name,
                normalized_name=normalized,
                version=version,
                purl=raw.purl,  # as written: never rewritten
                found_by="sbom",
                metadata_location=location,
                metadata_sha256=None,
                metadata_dir=location.path,
                site_root="",
                status=Status.SHADOWED if shadowed else (
                    Status.VENDORED if raw.status == Status.VENDORED.value else Status.USED),
                shadowed_by=_shadowing(raw.shadowed_by, by_text) if shadowed else None,
            )
        )
    components.sort(key=lambda d: (d.normalized_name, d.version, d.metadata_location.path))
    layers = tuple(layer for _, layer in sorted(subject.layers.items()))
    return SbomContents(
        format=fmt,
        spec_version=spec,
        subject=subject.name,
        components=tuple(components),
        other_ecosystems=others,
        without_purl=without,
        native=native,
        skipped=tuple(skips.notes),
        skipped_total=skips.total,
        subject_layers=layers,
        entries=len(raws),
        natives=tuple(sorted(natives.values(), key=lambda c: (c.name, c.version or "", c.location.path))),
        os_packages=tuple(sorted(packages.values(), key=lambda p: (p.name, p.version, p.location.path))),
    )


_PACKAGE_MANAGERS: dict[str, Literal["dpkg", "apk", "rpm"]] = {"deb": "dpkg", "apk": "apk", "rpm": "rpm"}


def _native_component(raw: _Raw, name: str, version: str | None, where: Location) -> NativeComponent:
    """A ``pkg:generic`` component: a library identified in an ELF file (depscan's), or a binary another tool
    identified. The purl is kept as written; the name is the SBOM's when it gives one."""
    holder = raw.parent
    if holder is not None and holder.native:  # the ELF file's component (SPDX): what holds the file ships it
        holder = holder.parent
    owner = os_package = None
    if holder is not None and holder.purl:
        parts = _purl_parts(holder.purl)
        if parts is not None and parts[0] == "pypi":
            owner = holder
        elif parts is not None and parts[0] in _PACKAGE_MANAGERS:
            os_package = holder.purl
    return NativeComponent(
        name=raw.name or name,
        version=version or raw.version,
        purl=raw.purl,
        cpe=raw.cpe,
        location=where,
        # strongest first (CycloneDX properties come sorted by value, not by strength)
        evidence=tuple(sorted(raw.evidence, key=lambda e: _RANK[e.confidence])),
        embedded=raw.embedded,
        owner=None if owner is None else owner.purl,
        # as the distribution read back from the same SBOM is located (its evidence, else its ref)
        owner_location=None if owner is None else Location(owner.location or f"sbom:{owner.ref}", owner.layer),
        os_package=raw.os_package or os_package,
        status=Status.SHADOWED if raw.status == Status.SHADOWED.value else Status.USED,
    )


def _os_package(raw: _Raw, purl_type: str, name: str, version: str | None, where: Location) -> OsPackage | None:
    """A ``pkg:deb`` / ``pkg:apk`` / ``pkg:rpm`` component; None without a version."""
    version = version or raw.version
    if not version:
        return None
    qualifiers = _qualifiers(raw.purl)
    upstream = qualifiers.get("upstream")
    return OsPackage(
        name=name,
        version=version,
        purl=raw.purl,
        package_manager=_PACKAGE_MANAGERS[purl_type],
        location=where,
        ecosystem=raw.ecosystem or _ecosystem(qualifiers.get("distro")),
        arch=qualifiers.get("arch"),
        source_name=raw.source_name or (upstream.split("@")[0] if upstream else None),
        source_version=raw.source_version,
    )


_EVIDENCE = re.compile(r"([a-z-]+) \(([a-z]+)\): (.*)", re.S)
_METHODS: dict[str, EvidenceMethod] = {m: m for m in get_args(EvidenceMethod)}
_CONFIDENCES: dict[str, Confidence] = {c: c for c in get_args(Confidence)}
_RANK = {"high": 0, "medium": 1, "low": 2}


def _evidence(text: str) -> Evidence | None:
    """``<method> (<confidence>): <detail>`` as depscan writes a piece of evidence; None for anything else."""
    match = _EVIDENCE.fullmatch(text)
    method = None if match is None else _METHODS.get(match[1])
    confidence = None if match is None else _CONFIDENCES.get(match[2])
    if match is None or method is None or confidence is None:
        return None
    return Evidence(method, confidence, match[3])


def _qualifiers(text: str) -> dict[str, str]:
    try:
        qualifiers = PackageURL.from_string(text).qualifiers
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in qualifiers.items()} if isinstance(qualifiers, dict) else {}


def _ecosystem(distro: str | None) -> str | None:
    """The OSV ecosystem a purl ``distro`` qualifier names (``debian-12``, ``alpine-3.19.1``); None when it does
    not say enough (Ubuntu's does not say LTS, which OSV's Ubuntu ecosystems spell out)."""
    from depscan.ospkg.osrelease import OsRelease

    if not distro or "-" not in distro:
        return None
    distro_id, _, release = distro.partition("-")
    if distro_id.lower() == "ubuntu":
        return None
    return OsRelease(id=distro_id.lower(), version_id=release).ecosystem


def _purl_parts(text: str) -> tuple[str, str, str | None] | None:
    """(type, name, version) of a purl as packageurl-python reads it; None when it does not parse."""
    plain = _PLAIN_PYPI.fullmatch(text)
    if plain is not None:  # from_string's pypi normalization: lowercase, "_" as "-"
        return "pypi", plain[1].lower().replace("_", "-"), plain[2]
    try:
        purl = PackageURL.from_string(text)
    except ValueError:
        return None
    return purl.type, purl.name, purl.version


def _shadowing(text: str | None, by_text: dict[str, Location]) -> Location | None:
    if text is None:
        return None
    if text in by_text:
        return by_text[text]
    match = _LOCATION_TEXT.match(text)
    return Location(match[1], match[2]) if match else Location(text)


def _subject_property(subject: _Subject, name: str, value: str) -> None:
    if name == "depscan:artifact:describes":  # depscan's SBOM of a rescan: the artifact behind that SBOM
        subject.name = value
    elif name.startswith("depscan:artifact:layer:") and name.rsplit(":", 1)[1].isdecimal():  # int() takes these
        subject.layers[int(name.rsplit(":", 1)[1])] = value


def _component_property(raw: _Raw, name: str, value: str) -> None:
    if name == "depscan:layer":
        raw.layer = value
    elif name == "depscan:native:kind":
        raw.native = True
    elif name == "depscan:status":
        raw.status = value
    elif name == "depscan:shadowed_by":
        raw.shadowed_by = value
    elif name == "depscan:location" and raw.location is None:
        raw.location = value
    elif name == "depscan:native:embedded":
        raw.embedded = value == "true"
    elif name == "depscan:native:evidence":
        evidence = _evidence(value)
        if evidence is not None:
            raw.evidence.append(evidence)
    elif name == "depscan:os_package":
        raw.os_package = value
    elif name == "depscan:os_package:ecosystem":
        raw.ecosystem = value
    elif name == "depscan:os_package:source_name":
        raw.source_name = value
    elif name == "depscan:os_package:source_version":
        raw.source_version = value


# -- typed access to untrusted JSON ----------------------------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


_WANTED: dict[type, str] = {str: "a string", list: "a list", dict: "an object"}


def _slot(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


class _Json:
    """Typed reads: a value of the wrong type is reported to ``skips`` and read as absent."""

    def __init__(self, skips: _Skips) -> None:
        self.skips = skips

    def get(self, obj: dict[str, Any], key: str, want: type, slot: str) -> Any:
        value = obj.get(key)
        if value is None:  # absent or null: nothing to read
            return None
        if isinstance(value, want):
            return value
        self.skips.skip(_slot(slot, key), f"{_type_name(value)}, not {_WANTED[want]}")
        return None

    def text(self, obj: dict[str, Any], key: str, slot: str) -> str | None:
        value: str | None = self.get(obj, key, str, slot)
        return value

    def objects(self, obj: dict[str, Any], key: str, slot: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The objects of the list at ``obj[key]`` with their slots; other items are skipped."""
        items = self.get(obj, key, list, slot)
        for number, item in enumerate(items or ()):
            where = f"{_slot(slot, key)}[{number}]"
            if isinstance(item, dict):
                yield where, item
            else:
                self.skips.skip(where, f"{_type_name(item)}, not an object")

    def strings(self, obj: dict[str, Any], key: str, slot: str, *, lone: bool = False) -> list[str]:
        """The strings of the list at ``obj[key]``; with ``lone``, a single string is a list of one
        (JSON-LD compaction writes a one-item set that way)."""
        value = obj.get(key)
        if lone and isinstance(value, str):
            return [value]
        out = []
        for number, item in enumerate(self.get(obj, key, list, slot) or ()):
            if isinstance(item, str):
                out.append(item)
            else:
                self.skips.skip(f"{_slot(slot, key)}[{number}]", f"{_type_name(item)}, not a string")
        return out

    def properties(self, obj: dict[str, Any], slot: str) -> Iterator[tuple[str, str]]:
        """CycloneDX ``properties``: (name, value) pairs whose both are strings."""
        for where, prop in self.objects(obj, "properties", slot):
            name, value = self.text(prop, "name", where), self.text(prop, "value", where)
            if name is not None and value is not None:
                yield name, value


# -- CycloneDX ------------------------------------------------------------------------------


def _cyclonedx_json(doc: dict[str, Any], js: _Json) -> tuple[str, _Subject, list[_Raw]]:
    spec = js.text(doc, "specVersion", "") or "?"
    subject = _Subject()
    metadata = js.get(doc, "metadata", dict, "")
    if metadata is not None:
        root = js.get(metadata, "component", dict, "metadata")
        if root is not None:
            subject.name = js.text(root, "name", "metadata.component")
            for name, value in js.properties(root, "metadata.component"):
                _subject_property(subject, name, value)
    raws: list[_Raw] = []
    # Depth first, in document order, without recursion (nesting depth is the document's choice).
    stack: list[tuple[str, dict[str, Any], int, _Raw | None]] = [
        (where, component, 1, None) for where, component in reversed(list(js.objects(doc, "components", "")))]
    while stack:
        where, component, depth, parent = stack.pop()
        raw = _cyclonedx_component(component, where, js)
        raw.parent = parent
        raws.append(raw)
        if depth == MAX_NESTING and component.get("components"):
            js.skips.skip(f"{where}.components", f"components nested deeper than {MAX_NESTING} levels")
            continue
        stack.extend((slot, child, depth + 1, raw) for slot, child in reversed(list(js.objects(component, "components",
                                                                                              where))))
    return spec, subject, raws


def _cyclonedx_component(component: dict[str, Any], where: str, js: _Json) -> _Raw:
    name = js.text(component, "name", where)
    ref = js.text(component, "bom-ref", where) or name or where
    raw = _Raw(purl=js.text(component, "purl", where) or "", ref=ref, name=name,
               version=js.text(component, "version", where), cpe=js.text(component, "cpe", where))
    evidence = js.get(component, "evidence", dict, where)
    if evidence is not None:
        for slot, occurrence in js.objects(evidence, "occurrences", f"{where}.evidence"):
            raw.location = js.text(occurrence, "location", slot)
            context = js.text(occurrence, "additionalContext", slot)
            if context is not None and context.startswith("layer: "):
                raw.layer = context.removeprefix("layer: ")
            break
    for prop_name, value in js.properties(component, where):
        _component_property(raw, prop_name, value)
    return raw


def _cyclonedx_xml(path: Path, data: bytes, skips: _Skips) -> tuple[str, _Subject, list[_Raw]]:
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException, ValueError, LookupError) as e:  # LookupError: unknown encoding
        raise ArtifactError(f"{path}: not well-formed or unsafe XML ({e})") from e
    if not root.tag.endswith("}bom") and root.tag != "bom":
        raise ArtifactError(f"{path}: XML, but not a CycloneDX <bom>")
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    spec = ns.rstrip("/}").rsplit("/", 1)[-1] if ns else "?"
    xml = _Xml(ns, skips)
    subject = _Subject()
    metadata = xml.container(root, "metadata", "")
    meta_component = None if metadata is None else xml.container(metadata, "component", "metadata")
    if meta_component is not None:
        subject.name = xml.text(meta_component, "name", "metadata/component")
        for prop_name, value in xml.properties(meta_component, "metadata/component"):
            _subject_property(subject, prop_name, value)
    raws: list[_Raw] = []
    top = xml.container(root, "components", "")
    stack: list[tuple[str, Element, int, _Raw | None]] = [] if top is None else [
        (where, c, 1, None) for where, c in reversed(xml.components(top, "components"))]
    while stack:
        where, component, depth, parent = stack.pop()
        name = xml.text(component, "name", where)
        raw = _Raw(purl=xml.text(component, "purl", where) or "", ref=component.get("bom-ref") or name or where,
                   name=name, version=xml.text(component, "version", where), cpe=xml.text(component, "cpe", where),
                   parent=parent)
        evidence = xml.container(component, "evidence", where)
        occurrences = None if evidence is None else xml.container(evidence, "occurrences", f"{where}/evidence")
        first = None if occurrences is None else occurrences.find(f"{ns}occurrence")
        slot = f"{where}/evidence/occurrences/occurrence[0]"
        if first is not None and not len(first) and first.text and first.text.strip():
            skips.skip(slot, "text, not elements")
        elif first is not None:
            raw.location = xml.text(first, "location", slot)
            context = xml.text(first, "additionalContext", slot)
            if context is not None and context.startswith("layer: "):
                raw.layer = context.removeprefix("layer: ")
        for prop_name, value in xml.properties(component, where):
            _component_property(raw, prop_name, value)
        raws.append(raw)
        nested = xml.container(component, "components", where)
        if nested is not None and depth == MAX_NESTING:
            if len(nested):
                skips.skip(f"{where}/components", f"components nested deeper than {MAX_NESTING} levels")
        elif nested is not None:
            stack.extend((slot, c, depth + 1, raw)
                         for slot, c in reversed(xml.components(nested, f"{where}/components")))
    return spec, subject, raws


def _xml_slot(parent: str, tag: str) -> str:
    return f"{parent}/{tag}" if parent else tag


class _Xml:
    """Typed reads of CycloneDX XML: elements where text belongs, or text where elements belong, are skipped."""

    def __init__(self, ns: str, skips: _Skips) -> None:
        self.ns = ns
        self.skips = skips

    def text(self, element: Element, tag: str, slot: str) -> str | None:
        child = element.find(f"{self.ns}{tag}")
        if child is None:
            return None
        if len(child):
            self.skips.skip(_xml_slot(slot, tag), "elements, not text")
            return None
        return child.text.strip() if child.text and child.text.strip() else None

    def container(self, element: Element, tag: str, slot: str) -> Element | None:
        child = element.find(f"{self.ns}{tag}")
        if child is None:
            return None
        if not len(child) and child.text and child.text.strip():
            self.skips.skip(_xml_slot(slot, tag), "text, not elements")
            return None
        return child

    def components(self, parent: Element, slot: str) -> list[tuple[str, Element]]:
        out = []
        for number, component in enumerate(parent.findall(f"{self.ns}component")):
            where = f"{slot}/component[{number}]"
            if not len(component) and component.text and component.text.strip():
                self.skips.skip(where, "text, not elements")
                continue
            out.append((where, component))
        return out

    def properties(self, element: Element, slot: str) -> Iterator[tuple[str, str]]:
        props = self.container(element, "properties", slot)
        if props is None:
            return
        for number, prop in enumerate(props.findall(f"{self.ns}property")):
            if len(prop):
                self.skips.skip(f"{slot}/properties/property[{number}]", "elements, not text")
                continue
            name = prop.get("name")
            if name is not None:
                yield name, (prop.text or "").strip()


# -- SPDX 2 ---------------------------------------------------------------------------------


def _spdx_json(doc: dict[str, Any], js: _Json) -> tuple[str, _Subject, list[_Raw]]:
    spec = str(doc["spdxVersion"])
    described = set(js.strings(doc, "documentDescribes", ""))
    contains: list[tuple[str | None, str]] = []
    for where, rel in js.objects(doc, "relationships", ""):
        kind = js.text(rel, "relationshipType", where)
        related = js.text(rel, "relatedSpdxElement", where)
        if related is not None and kind == "DESCRIBES":
            described.add(related)
        elif related is not None and kind == "CONTAINS":
            contains.append((js.text(rel, "spdxElementId", where), related))
    # Archives the described artifact is made of (depscan's Lambda layer zips): inputs, not components.
    parts = {related for element, related in contains if element in described}
    subject = _Subject()
    raws: list[_Raw] = []
    for where, package in js.objects(doc, "packages", ""):
        ident = js.text(package, "SPDXID", where) or where
        name = js.text(package, "name", where)
        purl = ""
        cpe = None
        for slot, ref in js.objects(package, "externalRefs", where):
            locator = js.text(ref, "referenceLocator", slot)
            ref_type = js.text(ref, "referenceType", slot)
            if ref_type == "purl" and locator is not None and not purl:
                purl = locator
            elif ref_type in ("cpe23Type", "cpe22Type") and locator is not None and cpe is None:
                cpe = locator
        annotations = list(_depscan_annotations(package, where, js))
        if ident in described and subject.name is None:
            subject.name = name
            for key, value in annotations:
                _subject_property(subject, key, value)
            if not purl:
                continue  # the artifact itself, not a dependency
        if not purl and ident in parts and js.text(package, "primaryPackagePurpose", where) == "ARCHIVE":
            continue  # an input archive of the artifact (a layer zip), not a dependency
        raw = _Raw(purl=purl, ref=ident, name=name, version=js.text(package, "versionInfo", where), cpe=cpe)
        for key, value in annotations:
            _component_property(raw, key, value)
        raws.append(raw)
    by_id = {raw.ref: raw for raw in raws}
    for element, related in contains:  # what holds each package (a distribution, an ELF file, an OS package)
        if element in by_id and related in by_id and by_id[related].parent is None:
            by_id[related].parent = by_id[element]
    return spec, subject, raws


def _depscan_annotations(package: dict[str, Any], where: str, js: _Json) -> Iterator[tuple[str, str]]:
    """depscan's ``depscan:<name>=<value>`` package annotations (clause 12), as (name, value)."""
    for slot, annotation in js.objects(package, "annotations", where):
        comment = js.text(annotation, "comment", slot)
        if comment is not None and comment.startswith("depscan:") and "=" in comment:
            name, _, value = comment.partition("=")
            yield name, value


# -- SPDX 3 ---------------------------------------------------------------------------------


def _spdx3_version(path: Path, context: Any) -> str:
    """The SPDX version a JSON-LD ``@context`` names (a string, or a list holding one)."""
    candidates = [context] if isinstance(context, str) else context if isinstance(context, list) else []
    for candidate in candidates:
        match = _SPDX_CONTEXT.match(candidate) if isinstance(candidate, str) else None
        if match is None:
            continue
        version = ".".join(part for part in match.groups() if part is not None)
        if match[1] != "3":
            raise ArtifactError(
                f"{path}: SPDX {version} JSON-LD is not supported (depscan reads SPDX 2.x JSON and SPDX 3 JSON-LD)"
            )
        return version
    raise ArtifactError(f"{path}: JSON-LD, but its @context is not SPDX 3 (https://spdx.org/rdf/3.x/...)")


_SPDX3_ROOTS = frozenset({"SpdxDocument", "software_Sbom", "Bundle", "Bom"})


def _spdx3_jsonld(doc: dict[str, Any], js: _Json) -> tuple[_Subject, list[_Raw]]:
    elements = list(js.objects(doc, "@graph", ""))
    if not elements and isinstance(doc.get("spdxId") or doc.get("@id"), str):
        elements = [("", doc)]  # a single element, not wrapped in a graph

    def kind(element: dict[str, Any], where: str) -> str | None:
        return js.text(element, "type", where) or js.text(element, "@type", where)

    def ident(element: dict[str, Any], where: str) -> str | None:
        return js.text(element, "spdxId", where) or js.text(element, "@id", where)

    roots: list[str] = []
    for where, element in elements:
        element_type = kind(element, where)
        if element_type in _SPDX3_ROOTS:
            roots += js.strings(element, "rootElement", where, lone=True)
        elif element_type == "Relationship" and js.text(element, "relationshipType", where) == "describes":
            roots += js.strings(element, "to", where, lone=True)
    subject = _Subject()
    raws: list[_Raw] = []
    for where, element in elements:
        if kind(element, where) != "software_Package":
            continue
        spdx_id = ident(element, where) or where
        name = js.text(element, "name", where)
        purl = js.text(element, "software_packageUrl", where) or ""
        cpe = None
        for key in ("externalIdentifier", "externalIdentifiers"):  # the spec's name, and a common variant
            for slot, identifier in js.objects(element, key, where):
                id_type = js.text(identifier, "externalIdentifierType", slot)
                value = js.text(identifier, "identifier", slot)
                if not purl and id_type is not None and id_type.lower() == "packageurl" and value is not None:
                    purl = value
                elif cpe is None and id_type is not None and id_type.lower() in ("cpe23", "cpe22") and value:
                    cpe = value
        if spdx_id in roots and subject.name is None:
            subject.name = name
            if not purl:
                continue  # the artifact itself, not a dependency
        raws.append(_Raw(purl=purl, ref=spdx_id, name=name, version=js.text(element, "software_packageVersion", where),
                         cpe=cpe))
    if subject.name is None:  # the root may be a file or a container image rather than a package
        for where, element in elements:
            if ident(element, where) in roots and kind(element, where) not in _SPDX3_ROOTS:
                subject.name = js.text(element, "name", where)
                break
    return subject, raws
