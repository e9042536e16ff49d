"""Read a stored SBOM back into components, for ``depscan rescan``.

CycloneDX (JSON or XML, any 1.x) and SPDX 2.x JSON, from depscan or from other tools (Syft,
Trivy, cdxgen, pip-audit ...): the purl is the key. Only ``pkg:pypi`` components can be matched
against PyPI advisories; components of other ecosystems are counted and reported, never silently
treated as checked. XML is parsed with ``defusedxml`` (an SBOM is untrusted input).

A component's location is the first ``evidence.occurrences`` location depscan wrote (with its
layer), else ``sbom:<bom-ref or SPDXID>`` so every finding still points somewhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packageurl import PackageURL
from packaging.utils import canonicalize_name

from depscan.errors import ArtifactError
from depscan.models import Location, PythonDist

MAX_SBOM_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SbomContents:
    """What a stored SBOM lists."""

    format: str  # "cyclonedx-json", "cyclonedx-xml", "spdx-json"
    spec_version: str
    subject: str | None  # the described artifact, when the SBOM names one
    components: tuple[PythonDist, ...]
    other_ecosystems: dict[str, int]  # purl type -> count of components not matchable here
    without_purl: int
    native: int = 0  # native libraries depscan listed (depscan:native:kind): no PyPI advisory applies


@dataclass(frozen=True, slots=True)
class _Raw:
    purl: str
    ref: str
    location: str | None
    layer: str | None
    native: bool = False


def read_sbom(path: Path) -> SbomContents:
    """Parse ``path`` (format detected from its content)."""
    try:
        size = path.stat().st_size
        if size > MAX_SBOM_BYTES:
            raise ArtifactError(f"{path}: {size} bytes, larger than any SBOM depscan reads")
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise ArtifactError(f"{path}: no such file") from e
    except OSError as e:
        raise ArtifactError(f"{path}: cannot read ({e.strerror or e})") from e
    head = data.lstrip()[:1]
    if head == b"<":
        return _from_raw(path, "cyclonedx-xml", *_cyclonedx_xml(path, data))
    if head != b"{":
        raise ArtifactError(f"{path}: not a CycloneDX (JSON or XML) or SPDX JSON document")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(doc, dict):
        raise ArtifactError(f"{path}: not a CycloneDX or SPDX document")
    if doc.get("bomFormat") == "CycloneDX":
        return _from_raw(path, "cyclonedx-json", *_cyclonedx_json(doc))
    if isinstance(doc.get("spdxVersion"), str):
        return _from_raw(path, "spdx-json", *_spdx_json(doc))
    raise ArtifactError(f"{path}: JSON, but neither CycloneDX (bomFormat) nor SPDX (spdxVersion)")


def _from_raw(path: Path, fmt: str, spec: str, subject: str | None, raws: list[_Raw]) -> SbomContents:
    components: list[PythonDist] = []
    others: dict[str, int] = {}
    without = native = 0
    seen: set[tuple[str, str, str | None]] = set()
    for raw in raws:
        if raw.native:
            native += 1
            continue
        if not raw.purl:
            without += 1
            continue
        try:
            purl = PackageURL.from_string(raw.purl)
        except ValueError:
            without += 1
            continue
        if purl.type != "pypi":
            others[purl.type] = others.get(purl.type, 0) + 1
            continue
        if not purl.version:
            without += 1
            continue
        location = Location(raw.location or f"sbom:{raw.ref}", raw.layer)
        key = (canonicalize_name(purl.name), purl.version, location.path)
        if key in seen:
            continue
        seen.add(key)
        normalized = canonicalize_name(purl.name)
        components.append(
            PythonDist(
                name=purl.name,
                normalized_name=normalized,
                version=purl.version,
                purl=PackageURL(type="pypi", name=normalized, version=purl.version).to_string(),
                found_by="sbom",
                metadata_location=location,
                metadata_sha256=None,
                metadata_dir=location.path,
                site_root="",
            )
        )
    components.sort(key=lambda d: (d.normalized_name, d.version, d.metadata_location.path))
    return SbomContents(fmt, spec, subject, tuple(components), others, without, native)


# -- CycloneDX ------------------------------------------------------------------------------


def _cyclonedx_json(doc: dict[str, Any]) -> tuple[str, str | None, list[_Raw]]:
    spec = str(doc.get("specVersion", "?"))
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    subject = None
    root = metadata.get("component") if isinstance(metadata, dict) else None
    if isinstance(root, dict):
        subject = root.get("name") if isinstance(root.get("name"), str) else None
    raws = list(_walk_json(doc.get("components")))
    return spec, subject, raws


def _items(value: Any) -> list[Any]:
    """``value`` if it is a list, else nothing: a stored SBOM is untrusted input."""
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _walk_json(components: Any) -> Iterator[_Raw]:
    if not isinstance(components, list):
        return
    for component in components:
        if not isinstance(component, dict):
            continue
        purl = _str(component.get("purl")) or ""
        ref = _str(component.get("bom-ref")) or str(component.get("name"))
        location = layer = None
        native = False
        evidence = component.get("evidence")
        occurrences = evidence.get("occurrences") if isinstance(evidence, dict) else None
        if isinstance(occurrences, list) and occurrences and isinstance(occurrences[0], dict):
            location = occurrences[0].get("location") if isinstance(occurrences[0].get("location"), str) else None
        for prop in _items(component.get("properties")):
            if isinstance(prop, dict) and prop.get("name") == "depscan:layer" and isinstance(prop.get("value"), str):
                layer = prop["value"]
            if isinstance(prop, dict) and prop.get("name") == "depscan:native:kind":
                native = True
        yield _Raw(purl, ref, location, layer, native)
        yield from _walk_json(component.get("components"))


def _cyclonedx_xml(path: Path, data: bytes) -> tuple[str, str | None, list[_Raw]]:
    from xml.etree.ElementTree import Element

    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as e:
        raise ArtifactError(f"{path}: not well-formed or unsafe XML ({e})") from e
    if not root.tag.endswith("}bom") and root.tag != "bom":
        raise ArtifactError(f"{path}: XML, but not a CycloneDX <bom>")
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    spec = ns.rstrip("/}").rsplit("/", 1)[-1] if ns else "?"

    def text(element: Element, tag: str) -> str | None:
        child = element.find(f"{ns}{tag}")
        return child.text.strip() if child is not None and child.text else None

    subject = None
    meta_component = root.find(f"{ns}metadata/{ns}component")
    if meta_component is not None:
        subject = text(meta_component, "name")
    raws: list[_Raw] = []

    def walk(parent: Element | None) -> None:
        if parent is None:
            return
        for component in parent.findall(f"{ns}component"):
            location = layer = None
            native = False
            occurrence = component.find(f"{ns}evidence/{ns}occurrences/{ns}occurrence")
            if occurrence is not None:
                location = text(occurrence, "location")
            for prop in component.findall(f"{ns}properties/{ns}property"):
                if prop.get("name") == "depscan:layer" and prop.text:
                    layer = prop.text.strip()
                if prop.get("name") == "depscan:native:kind":
                    native = True
            ref = component.get("bom-ref") or text(component, "name") or "?"
            raws.append(_Raw(text(component, "purl") or "", ref, location, layer, native))
            walk(component.find(f"{ns}components"))

    walk(root.find(f"{ns}components"))
    return spec, subject, raws


# -- SPDX -----------------------------------------------------------------------------------


def _spdx_json(doc: dict[str, Any]) -> tuple[str, str | None, list[_Raw]]:
    spec = str(doc.get("spdxVersion"))
    described = set()
    for rel in _items(doc.get("relationships")):
        if isinstance(rel, dict) and rel.get("relationshipType") == "DESCRIBES":
            described.add(rel.get("relatedSpdxElement"))
    described.update(x for x in _items(doc.get("documentDescribes")) if isinstance(x, str))
    # Archives the described artifact is made of (depscan's Lambda layer zips): inputs, not components.
    parts = {
        rel.get("relatedSpdxElement") for rel in _items(doc.get("relationships"))
        if isinstance(rel, dict) and rel.get("relationshipType") == "CONTAINS" and rel.get("spdxElementId") in described
    }
    subject = None
    raws: list[_Raw] = []
    for package in _items(doc.get("packages")):
        if not isinstance(package, dict):
            continue
        ident = str(package.get("SPDXID", "?"))
        if ident in described and subject is None:
            subject = package.get("name") if isinstance(package.get("name"), str) else None
        purl = ""
        for ref in _items(package.get("externalRefs")):
            locator = ref.get("referenceLocator") if isinstance(ref, dict) else None
            if ref.get("referenceType") == "purl" and isinstance(locator, str):
                purl = locator
                break
        if not purl and ident in described:
            continue  # the artifact itself, not a dependency
        if not purl and ident in parts and package.get("primaryPackagePurpose") == "ARCHIVE":
            continue  # an input archive of the artifact (a layer zip), not a dependency
        raws.append(_Raw(purl, ident, None, None))
    return spec, subject, raws
