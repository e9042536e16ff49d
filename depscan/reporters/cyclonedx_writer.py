"""Serialize the CycloneDX document (``depscan.reporters.cyclonedx.Parts``) to JSON and XML.

The output is byte for byte what cyclonedx-python-lib writes from its model of the same parts
(``cyclonedx.render_with_library``, the reference the tests compare every document against): the same
members and elements, in the same order, with the same escaping and indentation. What it leaves out is
the library's cost: its model keeps every collection in a ``SortedSet`` whose elements compare and hash by
tuples of all their fields (a component's include its nested components), rebuilt on every add and
again at validation, and its serializer dumps each nested object to a JSON string and parses it back
(XML: through ``xml.dom.minidom``'s pretty printer). Sorting here uses the same orders, computed once:

* components (top level and nested): the library orders by type, group, name, version, bom-ref, ...;
  depscan's components are all libraries without a group, and bom-refs are unique, so name, version
  (none last) and bom-ref decide;
* vulnerabilities: id, then bom-ref (unique);
* dependencies: by ref, each ``dependsOn`` by ref, and every top-level component has an entry (in JSON
  every dependency target too: a nested library a distribution ships; the library's XML leaves those out);
* affected targets: by ref, then version (one version each, all ``affected``);
* properties: by name, then value;
* the other small collections (hashes, licenses, occurrences, references, ratings, advisories): the
  library's own comparisons of those (cheap) objects, duplicates dropped, as a set would.

JSON members are in alphabetical order, as the library writes them, except the head (``$schema``,
``bomFormat``, ``specVersion``, ``serialNumber``, ``version``, ``metadata``), which depscan writes first.
XML is laid out as ``minidom.toprettyxml(indent="  ")`` lays out the library's tree: an element with one
text child on one line, ``&``, ``<``, ``>`` and ``"`` escaped, line breaks in text normalized to ``\\n``
(as the XML parser in between does), empty elements as ``<tag/>``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from cyclonedx.model import AttachedText, ExternalReference, HashType, Property
from cyclonedx.model.component_evidence import Identity, Method, Occurrence
from cyclonedx.model.license import DisjunctiveLicense, License, LicenseExpression
from cyclonedx.model.vulnerability import (
    VulnerabilityAdvisory,
    VulnerabilityAnalysis,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilityScoreSource,
    VulnerabilitySource,
)
from cyclonedx.schema import SchemaVersion
from packageurl import PackageURL

Fields = dict[str, Any]  # keyword arguments of a cyclonedx-python-lib model class (Component, Vulnerability)


@dataclass
class Parts:
    """The document as the builder maps it: model keyword arguments, not model objects, whose sorted
    containers cost more than the scan (``cyclonedx_writer`` serializes these directly; ``build_bom``
    makes the library's model of them). A component's ``components`` are its nested components' fields,
    its ``evidence`` the occurrences (``None`` for 1.4); a vulnerability's ``affects`` are (ref, version,
    status) of its ``BomTarget`` s, each with one version."""

    version: SchemaVersion
    tool: Fields
    root: Fields
    properties: list[Property]
    timestamp: datetime
    components: list[Fields]
    dependencies: list[tuple[str, list[str]]]  # (ref, refs it depends on); the root first
    vulnerabilities: list[Fields]

_ROOT_WITHOUT_DEPENDENCIES = (
    "cyclonedx: The Component this BOM is describing None has no defined dependencies which means the Dependency "
    'Graph is incomplete - you should add direct dependencies to this "root" Component to complete the Dependency '
    "Graph data."
)


_SAFE = re.compile(r"[A-Za-z0-9.\-]+")


def purl_text(purl: PackageURL) -> str:
    """``purl.to_string()``: written directly when no part needs quoting (parsing normalized the rest).
    A purl kept as another tool wrote it (a ``PackageURL`` subclass, see ``cyclonedx._PurlAsWritten``)
    writes itself."""
    if type(purl) is not PackageURL:
        return str(purl.to_string())
    name, version = purl.name, purl.version
    if (purl.namespace is None and not purl.qualifiers and purl.subpath is None and _SAFE.fullmatch(purl.type)
            and _SAFE.fullmatch(name) and (version is None or _SAFE.fullmatch(version))):
        return f"pkg:{purl.type}/{name}" if version is None else f"pkg:{purl.type}/{name}@{version}"
    return str(purl.to_string())


def _properties(items: Iterable[Property] | None) -> list[Property]:
    """A ``SortedSet`` of properties, which compare by (name, value), without comparing objects."""
    unique = {(p.name, p.value): p for p in items or ()}
    return [unique[key] for key in sorted(unique)]


def _unique_sorted(items: Iterable[Any] | None) -> list[Any]:
    """What a ``SortedSet`` of ``items`` iterates: no duplicates, in the items' own order."""
    if not items:
        return []
    listed = list(items)
    if len(listed) == 1:  # most of them (one hash, one occurrence, one license): nothing to compare
        return listed
    return sorted(set(listed))


def _component_order(fields: Fields) -> tuple[str, bool, str, str]:
    version = fields.get("version")
    return (fields["name"], version is None, version or "", fields["bom_ref"])


def _date(value: datetime) -> str:
    return value.isoformat()


def _score(value: Decimal) -> float:
    return float(value)


def schema_uri(version: SchemaVersion) -> str:
    return f"http://cyclonedx.org/schema/bom-{version.to_version()}.schema.json"


def namespace(version: SchemaVersion) -> str:
    return f"http://cyclonedx.org/schema/bom/{version.to_version()}"


def warnings_for(parts: Parts) -> list[str]:
    """The warnings the library gives for these parts when it validates them (none for a complete graph)."""
    root_ref = parts.root["bom_ref"]
    if parts.components and not any(ref == root_ref and refs for ref, refs in parts.dependencies):
        return [_ROOT_WITHOUT_DEPENDENCIES]
    return []


# The model arguments this writer writes; anything else the builder maps goes through the library.
COMPONENT_FIELDS = frozenset({"type", "name", "version", "description", "purl", "bom_ref", "hashes", "licenses",
                              "evidence", "properties", "components", "external_references", "cpe", "identity"})
VULNERABILITY_FIELDS = frozenset({"bom_ref", "id", "source", "references", "ratings", "description", "detail",
                                  "recommendation", "advisories", "published", "updated", "analysis", "affects",
                                  "properties"})


def unsupported(parts: Parts) -> str | None:
    """The first model argument with a value that this writer does not write (``None`` when it writes them
    all): such a document is serialized by the library instead, so a field added to the builder is never
    dropped silently."""
    def extra(fields: Fields, known: frozenset[str]) -> str | None:
        return next((key for key, value in fields.items()
                     if key not in known and value is not None and value != [] and value != ()), None)

    stack = [parts.root, parts.tool, *parts.components]
    while stack:
        fields = stack.pop()
        found = extra(fields, COMPONENT_FIELDS)
        if found is not None:
            return f"component {found}"
        stack.extend(fields.get("components") or ())
    for fields in parts.vulnerabilities:
        found = extra(fields, VULNERABILITY_FIELDS)
        if found is not None:
            return f"vulnerability {found}"
    return None


def _dependencies(parts: Parts, *, targets: bool) -> list[tuple[str, list[str]]]:
    merged: dict[str, set[str]] = {}
    for ref, refs in parts.dependencies:
        merged.setdefault(ref, set()).update(refs)
    for component in parts.components:  # the library gives every top-level component an entry
        merged.setdefault(component["bom_ref"], set())
    if targets:  # JSON: and every component a dependency names (a nested one: a library a distribution ships)
        for target in [t for targets_of in merged.values() for t in targets_of]:
            merged.setdefault(target, set())
    return [(ref, sorted(merged[ref])) for ref in sorted(merged)]


def _vulnerability_order(fields: Fields) -> tuple[str, str]:
    return (fields["id"], fields["bom_ref"])


# -- JSON ----------------------------------------------------------------------------------------


def write_json(parts: Parts, version: SchemaVersion) -> str:
    v15 = version >= SchemaVersion.V1_5
    metadata: dict[str, Any] = {"component": _json_component(parts.root, version)}
    if parts.properties:
        metadata["properties"] = [_json_property(p) for p in _properties(parts.properties)]
    metadata["timestamp"] = _date(parts.timestamp)
    if v15:
        metadata["tools"] = {"components": [_json_component(parts.tool, version)]}
    else:
        tool: dict[str, Any] = {"name": parts.tool["name"]}
        if parts.tool.get("version") is not None:
            tool["version"] = parts.tool["version"]
        metadata["tools"] = [tool]
    document: dict[str, Any] = {
        "$schema": schema_uri(version),
        "bomFormat": "CycloneDX",
        "specVersion": version.to_version(),
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": metadata,
    }
    if parts.components:
        document["components"] = [_Raw(_component_text(c, version, "    "))
                                  for c in sorted(parts.components, key=_component_order)]
    dependencies = _dependencies(parts, targets=True)
    if dependencies:
        e = _encode
        document["dependencies"] = [
            _Raw(_obj(['"dependsOn": ' + _arr([e(r) for r in refs], "      "), f'"ref": {e(ref)}'], "    ") if refs
                 else _obj([f'"ref": {e(ref)}'], "    "))
            for ref, refs in dependencies
        ]
    if parts.vulnerabilities:
        document["vulnerabilities"] = [
            _Raw(_vulnerability_text(v, version, "    "))
            for v in sorted(parts.vulnerabilities, key=_vulnerability_order)
        ]
    out: list[str] = []
    _dump(document, "\n", out)
    out.append("\n")
    return "".join(out)


_encode = json.encoder.encode_basestring  # the C implementation where there is one: json.dumps(ensure_ascii=False)


def _dump(value: Any, newline: str, out: list[str]) -> None:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, appended to ``out``: with an indent, ``json``
    uses its pure-Python encoder, half the cost of the whole document. Objects and arrays of strings only
    (most of the document: properties, hashes, references) are joined in one go; ``_Raw`` is JSON already
    written for its place."""
    if type(value) is _Raw:
        out.append(value)
    elif isinstance(value, str):
        out.append(_encode(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        if all(type(item) is str for item in value.values()):
            out.append("{" + inner + ("," + inner).join([f"{_encode(k)}: {_encode(v)}" for k, v in value.items()])
                       + newline + "}")
            return
        separator = "{" + inner
        for key, item in value.items():
            out.append(separator)
            out.append(_encode(key))
            out.append(": ")
            if type(item) is str:
                out.append(_encode(item))
            else:
                _dump(item, inner, out)
            separator = "," + inner
        out.append(newline + "}")
    elif isinstance(value, list):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        if all(type(item) is str for item in value):
            out.append("[" + inner + ("," + inner).join([_encode(item) for item in value]) + newline + "]")
            return
        if all(type(item) is dict and item and all(type(v) is str for v in item.values()) for item in value):
            # an array of objects of strings (properties, hashes, occurrences): no call per object
            member = "," + inner + "  "
            opening, closing = "{" + inner + "  ", inner + "}"
            out.append("[" + inner + ("," + inner).join([
                opening + member.join([f"{_encode(k)}: {_encode(v)}" for k, v in item.items()]) + closing
                for item in value
            ]) + newline + "]")
            return
        separator = "[" + inner
        for item in value:
            out.append(separator)
            _dump(item, inner, out)
            separator = "," + inner
        out.append(newline + "]")
    else:  # numbers, booleans, null: as json writes them
        out.append(json.dumps(value))


class _Raw(str):
    """JSON text, indented for where it goes."""


def _obj(members: list[str], base: str) -> str:
    """An object whose ``members`` (``"key": value`` texts) are indented one step past ``base``."""
    inner = "\n" + base + "  "
    return "{" + inner + ("," + inner).join(members) + "\n" + base + "}"


def _arr(items: list[str], base: str) -> str:
    inner = "\n" + base + "  "
    return "[" + inner + ("," + inner).join(items) + "\n" + base + "]"


def _component_text(fields: Fields, version: SchemaVersion, base: str) -> str:
    """``_json_component`` written out directly (the bulk of a document): members in alphabetical order."""
    e = _encode
    i1 = base + "  "
    i2 = i1 + "  "
    members = [f'"bom-ref": {e(fields["bom_ref"])}']
    nested = fields.get("components")
    if nested:
        members.append('"components": ' + _arr(
            [_component_text(c, version, i2) for c in sorted(nested, key=_component_order)], i1))
    if fields.get("cpe") is not None:
        members.append(f'"cpe": {e(fields["cpe"])}')
    if fields.get("description") is not None:
        members.append(f'"description": {e(fields["description"])}')
    occurrences = fields.get("evidence")
    identities = _identities(fields, version)
    if (occurrences or identities) and version >= SchemaVersion.V1_5:
        i3 = i2 + "  "
        evidence = []
        if identities:
            texts = [_dumps(_json_identity(item, version), i3 if version >= SchemaVersion.V1_6 else i2)
                     for item in identities]
            evidence.append('"identity": ' + (_arr(texts, i2) if version >= SchemaVersion.V1_6 else texts[0]))
        texts = []
        for item in _unique_sorted(occurrences):
            parts = []
            if item.additional_context is not None and version >= SchemaVersion.V1_6:
                parts.append(f'"additionalContext": {e(item.additional_context)}')
            parts.append(f'"location": {e(item.location)}')
            texts.append(_obj(parts, i3))
        if texts:
            evidence.append('"occurrences": ' + _arr(texts, i2))
        members.append('"evidence": ' + _obj(evidence, i1))
    if fields.get("external_references"):
        members.append('"externalReferences": ' + _arr([_dumps(_json_external_reference(r), i2)
                                                        for r in _unique_sorted(fields["external_references"])], i1))
    if fields.get("hashes"):
        members.append('"hashes": ' + _arr([_obj([f'"alg": {e(h.alg.value)}', f'"content": {e(h.content)}'], i2)
                                            for h in _unique_sorted(fields["hashes"])], i1))
    if fields.get("licenses"):
        members.append('"licenses": ' + _arr([_license_text(item, i2) for item in _unique_sorted(fields["licenses"])],
                                             i1))
    members.append(f'"name": {e(fields["name"])}')
    if fields.get("properties"):
        members.append('"properties": ' + _arr([_property_text(p, i2) for p in _properties(fields["properties"])], i1))
    if fields.get("purl") is not None:
        members.append(f'"purl": {e(purl_text(fields["purl"]))}')
    members.append(f'"type": {e(fields["type"].value)}')
    if fields.get("version") is not None:
        members.append(f'"version": {e(fields["version"])}')
    return _obj(members, base)


def _property_text(prop: Property, base: str) -> str:
    if prop.value is None:
        return _obj([f'"name": {_encode(prop.name)}'], base)
    return _obj([f'"name": {_encode(prop.name)}', f'"value": {_encode(prop.value)}'], base)


def _dumps(value: Any, base: str) -> str:
    out: list[str] = []
    _dump(value, "\n" + base, out)
    return "".join(out)


def _vulnerability_text(fields: Fields, version: SchemaVersion, base: str) -> str:
    """``_json_vulnerability`` written out directly: members in alphabetical order."""
    e = _encode
    i1 = base + "  "
    i2 = i1 + "  "
    members = []
    advisories: list[VulnerabilityAdvisory] = _unique_sorted(fields.get("advisories"))
    if advisories:
        members.append('"advisories": ' + _arr([_obj([f'"url": {e(str(a.url))}'], i2) for a in advisories], i1))
    affects = _targets(fields.get("affects"))
    if affects:
        i3 = i2 + "  "
        members.append('"affects": ' + _arr([
            _obj([f'"ref": {e(ref)}', '"versions": ' + _arr(
                [_obj([f'"status": {e(status)}', f'"version": {e(affected)}'], i3 + "  ")], i3)], i2)
            for ref, affected, status in affects
        ], i1))
    if fields.get("analysis") is not None:
        members.append('"analysis": ' + _dumps(_json_analysis(fields["analysis"]), i1))
    members.append(f'"bom-ref": {e(fields["bom_ref"])}')
    for key in ("description", "detail"):
        if fields.get(key) is not None:
            members.append(f'"{key}": {e(fields[key])}')
    members.append(f'"id": {e(fields["id"])}')
    if fields.get("properties"):
        members.append('"properties": ' + _arr([_property_text(p, i2) for p in _properties(fields["properties"])], i1))
    if fields.get("published") is not None:
        members.append(f'"published": {e(_date(fields["published"]))}')
    ratings = _unique_sorted(fields.get("ratings"))
    if ratings:
        members.append('"ratings": ' + _dumps([_json_rating(r, version) for r in ratings], i1))
    if fields.get("recommendation") is not None:
        members.append(f'"recommendation": {e(fields["recommendation"])}')
    references = _unique_sorted(fields.get("references"))
    if references:
        members.append('"references": ' + _dumps([_json_reference(r) for r in references], i1))
    if fields.get("source") is not None:
        members.append('"source": ' + _dumps(_json_source(fields["source"]), i1))
    if fields.get("updated") is not None:
        members.append(f'"updated": {e(_date(fields["updated"]))}')
    return _obj(members, base)


def _license_text(item: License, base: str) -> str:
    out: list[str] = []
    _dump(_json_license(item), "\n" + base, out)
    return "".join(out)


def _json_property(prop: Property) -> dict[str, Any]:
    return {"name": prop.name} if prop.value is None else {"name": prop.name, "value": prop.value}


def _json_hash(item: HashType) -> dict[str, Any]:
    return {"alg": item.alg.value, "content": item.content}


def _json_text(text: AttachedText) -> dict[str, Any]:
    out: dict[str, Any] = {"content": text.content}
    if text.content_type is not None:
        out["contentType"] = text.content_type
    if text.encoding is not None:
        out["encoding"] = text.encoding.value
    return out


def _json_license(item: License) -> dict[str, Any]:
    if isinstance(item, LicenseExpression):
        return {"expression": item.value}
    assert isinstance(item, DisjunctiveLicense)
    inner: dict[str, Any] = {}
    if item.id is not None:
        inner["id"] = item.id
    if item.name is not None:
        inner["name"] = item.name
    if item.text is not None:
        inner["text"] = _json_text(item.text)
    return {"license": inner}


def _json_occurrence(item: Occurrence, version: SchemaVersion) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if item.additional_context is not None and version >= SchemaVersion.V1_6:
        out["additionalContext"] = item.additional_context
    out["location"] = item.location
    return out


def _identities(fields: Fields, version: SchemaVersion) -> list[Identity]:
    """A component's evidence identities as the library writes them: none before 1.5, one in 1.5."""
    if version < SchemaVersion.V1_5 or not fields.get("identity"):
        return []
    identities = _unique_sorted(fields["identity"])
    return identities if version >= SchemaVersion.V1_6 else identities[:1]


def _json_identity(item: Identity, version: SchemaVersion) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if item.concluded_value is not None and version >= SchemaVersion.V1_6:
        out["concludedValue"] = item.concluded_value
    if item.confidence is not None:
        out["confidence"] = _score(item.confidence)
    out["field"] = item.field.value
    if item.methods:
        out["methods"] = [_json_method(m) for m in item.methods]
    return out


def _json_method(method: Method) -> dict[str, Any]:
    out: dict[str, Any] = {"confidence": _score(method.confidence), "technique": method.technique.value}
    if method.value is not None:
        out["value"] = method.value
    return out


def _json_component(fields: Fields, version: SchemaVersion) -> dict[str, Any]:
    out: dict[str, Any] = {"bom-ref": fields["bom_ref"]}
    nested = fields.get("components")
    if nested:
        out["components"] = [_json_component(c, version) for c in sorted(nested, key=_component_order)]
    if fields.get("cpe") is not None:
        out["cpe"] = fields["cpe"]
    if fields.get("description") is not None:
        out["description"] = fields["description"]
    occurrences = fields.get("evidence")
    identities = _identities(fields, version)
    if (occurrences or identities) and version >= SchemaVersion.V1_5:
        evidence: dict[str, Any] = {}
        if identities:
            listed = [_json_identity(item, version) for item in identities]
            evidence["identity"] = listed if version >= SchemaVersion.V1_6 else listed[0]
        if occurrences:
            evidence["occurrences"] = [_json_occurrence(o, version) for o in _unique_sorted(occurrences)]
        out["evidence"] = evidence
    if fields.get("external_references"):
        out["externalReferences"] = [_json_external_reference(r) for r in _unique_sorted(fields["external_references"])]
    if fields.get("hashes"):
        out["hashes"] = [_json_hash(h) for h in _unique_sorted(fields["hashes"])]
    if fields.get("licenses"):
        out["licenses"] = [_json_license(item) for item in _unique_sorted(fields["licenses"])]
    out["name"] = fields["name"]
    if fields.get("properties"):
        out["properties"] = [_json_property(p) for p in _properties(fields["properties"])]
    if fields.get("purl") is not None:
        out["purl"] = purl_text(fields["purl"])
    out["type"] = fields["type"].value
    if fields.get("version") is not None:
        out["version"] = fields["version"]
    return out


def _json_external_reference(reference: ExternalReference) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if reference.comment is not None:
        out["comment"] = reference.comment
    out["type"] = reference.type.value
    out["url"] = str(reference.url)
    return out


def _json_source(source: VulnerabilitySource) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if source.name is not None:
        out["name"] = source.name
    if source.url is not None:
        out["url"] = str(source.url)
    return out


def _method(rating: VulnerabilityRating, version: SchemaVersion) -> str | None:
    if rating.method is None:
        return None
    if version < SchemaVersion.V1_5 and rating.method is VulnerabilityScoreSource.CVSS_V4:
        return VulnerabilityScoreSource.OTHER.value
    return str(rating.method.value)


def _json_rating(rating: VulnerabilityRating, version: SchemaVersion) -> dict[str, Any]:
    out: dict[str, Any] = {}
    method = _method(rating, version)
    if method is not None:
        out["method"] = method
    if rating.score is not None:
        out["score"] = _score(rating.score)
    if rating.severity is not None:
        out["severity"] = rating.severity.value
    if rating.source is not None:
        out["source"] = _json_source(rating.source)
    if rating.vector is not None:
        out["vector"] = rating.vector
    return out


def _json_reference(reference: VulnerabilityReference) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if reference.id is not None:
        out["id"] = reference.id
    if reference.source is not None:
        out["source"] = _json_source(reference.source)
    return out


def _targets(affects: Iterable[tuple[str, str, Any]] | None) -> list[tuple[str, str, str]]:
    """(ref, version, status) of the affected targets, in the library's order of ``BomTarget`` s of one
    version each: by ref, then version (the status is the same for all: ``affected``)."""
    return sorted({(ref, version, status.value) for ref, version, status in affects or ()})


def _json_analysis(analysis: VulnerabilityAnalysis) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if analysis.detail is not None:
        out["detail"] = analysis.detail
    if analysis.state is not None:
        out["state"] = analysis.state.value
    return out


# -- XML -----------------------------------------------------------------------------------------

_NEWLINES = re.compile(r"\r\n?")
_SPECIAL = re.compile(r"[&<>\"\r]")


def _attr(value: str) -> str:
    if not _SPECIAL.search(value):
        return value
    return value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;").replace(">", "&gt;")


def _text(value: str) -> str:
    if not _SPECIAL.search(value):
        return value
    return _attr(_NEWLINES.sub("\n", value))


class _Xml:
    """Writes elements the way ``minidom.toprettyxml(indent="  ")`` lays them out."""

    def __init__(self) -> None:
        self.out: list[str] = []

    def leaf(self, depth: int, tag: str, text: str | None, attrs: str = "") -> None:
        if text:
            self.out.append(f"{'  ' * depth}<{tag}{attrs}>{_text(text)}</{tag}>\n")
        else:
            self.out.append(f"{'  ' * depth}<{tag}{attrs}/>\n")

    def open(self, depth: int, tag: str, attrs: str = "") -> None:
        self.out.append(f"{'  ' * depth}<{tag}{attrs}>\n")

    def close(self, depth: int, tag: str) -> None:
        self.out.append(f"{'  ' * depth}</{tag}>\n")


def write_xml(parts: Parts, version: SchemaVersion) -> str:
    x = _Xml()
    x.out.append('<?xml version="1.0" ?>\n')
    x.open(0, "bom", f' xmlns="{namespace(version)}" serialNumber="urn:uuid:{uuid.uuid4()}" version="1"')
    x.open(1, "metadata")
    x.leaf(2, "timestamp", _date(parts.timestamp))
    x.open(2, "tools")
    if version >= SchemaVersion.V1_5:
        x.open(3, "components")
        _xml_component(x, 4, parts.tool, version)
        x.close(3, "components")
    else:
        x.open(3, "tool")
        x.leaf(4, "name", parts.tool["name"])
        if parts.tool.get("version") is not None:
            x.leaf(4, "version", parts.tool["version"])
        x.close(3, "tool")
    x.close(2, "tools")
    _xml_component(x, 2, parts.root, version)
    _xml_properties(x, 2, parts.properties)
    x.close(1, "metadata")
    if parts.components:
        x.open(1, "components")
        for component in sorted(parts.components, key=_component_order):
            _xml_component(x, 2, component, version)
        x.close(1, "components")
    dependencies = _dependencies(parts, targets=False)
    if dependencies:
        x.open(1, "dependencies")
        for ref, refs in dependencies:
            if refs:
                x.open(2, "dependency", f' ref="{_attr(ref)}"')
                for other in refs:
                    x.leaf(3, "dependency", None, f' ref="{_attr(other)}"')
                x.close(2, "dependency")
            else:
                x.leaf(2, "dependency", None, f' ref="{_attr(ref)}"')
        x.close(1, "dependencies")
    if parts.vulnerabilities:
        x.open(1, "vulnerabilities")
        for vulnerability in sorted(parts.vulnerabilities, key=_vulnerability_order):
            _xml_vulnerability(x, 2, vulnerability, version)
        x.close(1, "vulnerabilities")
    x.close(0, "bom")
    return "".join(x.out)


def _xml_properties(x: _Xml, depth: int, properties: Iterable[Property] | None) -> None:
    items = _properties(properties)
    if not items:
        return
    x.open(depth, "properties")
    for prop in items:
        x.leaf(depth + 1, "property", prop.value, f' name="{_attr(prop.name)}"')
    x.close(depth, "properties")


def _xml_component(x: _Xml, depth: int, fields: Fields, version: SchemaVersion) -> None:
    x.open(depth, "component", f' type="{fields["type"].value}" bom-ref="{_attr(fields["bom_ref"])}"')
    inner = depth + 1
    x.leaf(inner, "name", fields["name"])
    if fields.get("version") is not None:
        x.leaf(inner, "version", fields["version"])
    if fields.get("description") is not None:
        x.leaf(inner, "description", fields["description"])
    if fields.get("hashes"):
        x.open(inner, "hashes")
        for item in _unique_sorted(fields["hashes"]):
            x.leaf(inner + 1, "hash", item.content, f' alg="{_attr(item.alg.value)}"')
        x.close(inner, "hashes")
    if fields.get("licenses"):
        x.open(inner, "licenses")
        for item in _unique_sorted(fields["licenses"]):
            _xml_license(x, inner + 1, item)
        x.close(inner, "licenses")
    if fields.get("cpe") is not None:
        x.leaf(inner, "cpe", fields["cpe"])
    if fields.get("purl") is not None:
        x.leaf(inner, "purl", purl_text(fields["purl"]))
    if fields.get("external_references"):
        x.open(inner, "externalReferences")
        for reference in _unique_sorted(fields["external_references"]):
            x.open(inner + 1, "reference", f' type="{_attr(reference.type.value)}"')
            x.leaf(inner + 2, "url", str(reference.url))
            if reference.comment is not None:
                x.leaf(inner + 2, "comment", reference.comment)
            x.close(inner + 1, "reference")
        x.close(inner, "externalReferences")
    _xml_properties(x, inner, fields.get("properties"))
    nested = fields.get("components")
    if nested:
        x.open(inner, "components")
        for component in sorted(nested, key=_component_order):
            _xml_component(x, inner + 1, component, version)
        x.close(inner, "components")
    occurrences = fields.get("evidence")
    identities = _identities(fields, version)
    if (occurrences or identities) and version >= SchemaVersion.V1_5:
        x.open(inner, "evidence")
        for identity in identities:
            _xml_identity(x, inner + 1, identity, version)
        if occurrences:
            x.open(inner + 1, "occurrences")
            for item in _unique_sorted(occurrences):
                x.open(inner + 2, "occurrence")
                x.leaf(inner + 3, "location", item.location)
                if item.additional_context is not None and version >= SchemaVersion.V1_6:
                    x.leaf(inner + 3, "additionalContext", item.additional_context)
                x.close(inner + 2, "occurrence")
            x.close(inner + 1, "occurrences")
        x.close(inner, "evidence")
    x.close(depth, "component")


def _xml_identity(x: _Xml, depth: int, item: Identity, version: SchemaVersion) -> None:
    x.open(depth, "identity")
    x.leaf(depth + 1, "field", item.field.value)
    if item.confidence is not None:
        x.leaf(depth + 1, "confidence", str(item.confidence))
    if item.concluded_value is not None and version >= SchemaVersion.V1_6:
        x.leaf(depth + 1, "concludedValue", item.concluded_value)
    if item.methods:
        x.open(depth + 1, "methods")
        for method in item.methods:
            x.open(depth + 2, "method")
            x.leaf(depth + 3, "technique", method.technique.value)
            x.leaf(depth + 3, "confidence", str(method.confidence))
            if method.value is not None:
                x.leaf(depth + 3, "value", method.value)
            x.close(depth + 2, "method")
        x.close(depth + 1, "methods")
    x.close(depth, "identity")


def _xml_license(x: _Xml, depth: int, item: License) -> None:
    if isinstance(item, LicenseExpression):
        x.leaf(depth, "expression", item.value)
        return
    assert isinstance(item, DisjunctiveLicense)
    x.open(depth, "license")
    if item.id is not None:
        x.leaf(depth + 1, "id", item.id)
    if item.name is not None:
        x.leaf(depth + 1, "name", item.name)
    if item.text is not None:
        attrs = ""
        if item.text.content_type is not None:
            attrs += f' content-type="{_attr(item.text.content_type)}"'
        if item.text.encoding is not None:
            attrs += f' encoding="{_attr(item.text.encoding.value)}"'
        x.leaf(depth + 1, "text", item.text.content, attrs)
    x.close(depth, "license")


def _xml_source(x: _Xml, depth: int, source: VulnerabilitySource) -> None:
    x.open(depth, "source")
    if source.name is not None:
        x.leaf(depth + 1, "name", source.name)
    if source.url is not None:
        x.leaf(depth + 1, "url", str(source.url))
    x.close(depth, "source")


def _xml_vulnerability(x: _Xml, depth: int, fields: Fields, version: SchemaVersion) -> None:
    x.open(depth, "vulnerability", f' bom-ref="{_attr(fields["bom_ref"])}"')
    inner = depth + 1
    x.leaf(inner, "id", fields["id"])
    if fields.get("source") is not None:
        _xml_source(x, inner, fields["source"])
    references: list[VulnerabilityReference] = _unique_sorted(fields.get("references"))
    if references:
        x.open(inner, "references")
        for reference in references:
            x.open(inner + 1, "reference")
            if reference.id is not None:
                x.leaf(inner + 2, "id", reference.id)
            if reference.source is not None:
                _xml_source(x, inner + 2, reference.source)
            x.close(inner + 1, "reference")
        x.close(inner, "references")
    ratings: list[VulnerabilityRating] = _unique_sorted(fields.get("ratings"))
    if ratings:
        x.open(inner, "ratings")
        for rating in ratings:
            x.open(inner + 1, "rating")
            if rating.source is not None:
                _xml_source(x, inner + 2, rating.source)
            if rating.score is not None:
                x.leaf(inner + 2, "score", str(rating.score))
            if rating.severity is not None:
                x.leaf(inner + 2, "severity", rating.severity.value)
            method = _method(rating, version)
            if method is not None:
                x.leaf(inner + 2, "method", method)
            if rating.vector is not None:
                x.leaf(inner + 2, "vector", rating.vector)
            x.close(inner + 1, "rating")
        x.close(inner, "ratings")
    for key in ("description", "detail", "recommendation"):
        if fields.get(key) is not None:
            x.leaf(inner, key, fields[key])
    advisories: list[VulnerabilityAdvisory] = _unique_sorted(fields.get("advisories"))
    if advisories:
        x.open(inner, "advisories")
        for advisory in advisories:
            x.open(inner + 1, "advisory")
            x.leaf(inner + 2, "url", str(advisory.url))
            x.close(inner + 1, "advisory")
        x.close(inner, "advisories")
    for key in ("published", "updated"):
        if fields.get(key) is not None:
            x.leaf(inner, key, _date(fields[key]))
    analysis: VulnerabilityAnalysis | None = fields.get("analysis")
    if analysis is not None:
        x.open(inner, "analysis")
        if analysis.state is not None:
            x.leaf(inner + 1, "state", analysis.state.value)
        if analysis.detail is not None:
            x.leaf(inner + 1, "detail", analysis.detail)
        x.close(inner, "analysis")
    affects = _targets(fields.get("affects"))
    if affects:
        x.open(inner, "affects")
        for ref, affected, status in affects:
            x.open(inner + 1, "target")
            x.leaf(inner + 2, "ref", ref)
            x.open(inner + 2, "versions")
            x.open(inner + 3, "version")
            x.leaf(inner + 4, "version", affected)
            x.leaf(inner + 4, "status", status)
            x.close(inner + 3, "version")
            x.close(inner + 2, "versions")
            x.close(inner + 1, "target")
        x.close(inner, "affects")
    _xml_properties(x, inner, fields.get("properties"))
    x.close(depth, "vulnerability")


__all__ = ["COMPONENT_FIELDS", "VULNERABILITY_FIELDS", "namespace", "purl_text", "schema_uri", "unsupported",
           "warnings_for", "write_json", "write_xml"]
