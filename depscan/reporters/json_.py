"""The versioned JSON document (``--format json``), specified in ``docs/json-format.md``.

Bump ``FORMAT_VERSION`` on any change that removes or retypes a field; adding fields is compatible.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Iterable, Iterator
from json.encoder import encode_basestring  # the C one when available
from typing import Any

from depscan.facts import Facts, external_links, facts_for
from depscan.fixes import advice
from depscan.gc_pause import paused_gc
from depscan.models import (
    Advisory,
    BaselineDiff,
    Component,
    Finding,
    FixAdvice,
    Location,
    Matchable,
    NativeComponent,
    NativeLib,
    OsPackage,
    PolicyFinding,
    PythonDist,
    ScanResult,
    Status,
    TargetRuntime,
    Unknown,
    assert_never,
    component_location,
)
from depscan.reporters import ReportOptions
from depscan.text import escape_json_surrogates

FORMAT = "depscan.scan"
FORMAT_VERSION = 2  # 2: findings cite advisories by id; each advisory is written once under "advisories"


def _location(loc: Location | None) -> dict[str, Any] | None:
    return None if loc is None else {"path": loc.path, "layer": loc.layer}


def _dist(dist: PythonDist, facts: Facts) -> dict[str, Any]:
    index = facts.dist_index(dist)
    assert index is not None
    license = facts.licenses[index]
    keys = facts.dist_keys
    return {
        "type": "python-distribution",
        "id": keys[index],
        "name": dist.name,
        "normalized_name": dist.normalized_name,
        "version": dist.version,
        "purl": dist.purl,
        "found_by": dist.found_by,
        "status": dist.status.value,
        "shadowed_by": _location(dist.shadowed_by),
        "location": _location(dist.metadata_location),
        "metadata_dir": dist.metadata_dir,
        "site_root": dist.site_root,
        "summary": dist.summary,
        "home_page": dist.home_page,
        "links": [{"kind": link.kind, "url": link.url, "label": link.label} for link in external_links(dist)],
        "license": dist.license,
        "license_expression": dist.license_expression,
        "license_declared": {"expression": license.expression, "source": license.source, "ids": list(license.ids),
                             "texts": list(license.texts)},
        "requires_python": dist.requires_python,
        "requires_dist": list(dist.requires_dist),
        "dependencies": [keys[j] for j in facts.graph.requires[index]],
        "optional_dependencies": [keys[j] for j in facts.graph.optional[index]],
        "installer": dist.installer,
        "wheel": None
        if dist.wheel is None
        else {
            "generator": dist.wheel.generator,
            "root_is_purelib": dist.wheel.root_is_purelib,
            "tags": list(dist.wheel.tags),
        },
        "direct_url": dist.direct_url,
        "record_files": len(dist.record),
        "record_files_outside": dist.record_outside,
        **(_vendored(dist) if dist.status is Status.VENDORED else {}),
        **({"line": dist.declared_line} if dist.declared_line is not None else {}),  # a pin of depscan check --audit
    }


def _vendored(dist: PythonDist) -> dict[str, Any]:
    """A vendored copy's extra fields: the distribution whose tree holds it, and how it was identified."""
    return {
        "vendored_by": _location(dist.vendored_by),
        "evidence": [{"method": e.method, "confidence": e.confidence, "detail": e.detail} for e in dist.evidence],
    }


def _native(lib: NativeLib, key: str, facts: Facts) -> dict[str, Any]:
    elf = lib.elf
    owner = None if lib.owner is None or lib.owner_location is None else facts.index.get(
        (lib.owner, lib.owner_location.path, lib.owner_location.layer))
    return {
        "type": "native-library",
        "id": key,
        "name": lib.name,
        "kind": lib.kind,
        "version": lib.version,
        "purl": lib.purl,
        "found_by": lib.found_by,
        "location": _location(lib.location),
        "size": lib.size,
        "sha256": lib.sha256,
        "bundled_hash": lib.bundled_hash,
        "abi_tag": lib.abi_tag,
        "elf": {
            "arch": lib.arch,
            "class": lib.elf_class,
            "endianness": lib.endianness,
            "type": lib.elf_type,
            # the ELF structure (found_by "elf"); null from the header alone
            "sha256": None if elf is None else elf.sha256,
            "sha256_source": None if elf is None else lib.elf_sha256_source,
            "soname": None if elf is None else elf.soname,
            "needed": None if elf is None else list(elf.needed),
            "rpath": None if elf is None else list(elf.rpath),
            "runpath": None if elf is None else list(elf.runpath),
            "build_id": None if elf is None else elf.build_id,
            "version_definitions": None if elf is None else list(elf.version_definitions),
            "version_needs": None if elf is None else [{"file": file, "versions": list(versions)}
                                                       for file, versions in elf.version_needs],
            "min_glibc": None if elf is None else elf.min_glibc,
            "stripped": None if elf is None else elf.stripped,
            "interpreter": None if elf is None else elf.interpreter,
        },
        "owner": lib.owner,
        "owner_location": _location(lib.owner_location),
        "owner_id": None if owner is None else facts.dist_keys[owner],
        "os_package": lib.os_package,
    }


def _component(component: Component, facts: Facts, native_keys: dict[int, str]) -> dict[str, Any]:
    if isinstance(component, PythonDist):
        return _dist(component, facts)
    if isinstance(component, NativeLib):
        return _native(component, native_keys[id(component)], facts)
    if isinstance(component, NativeComponent):
        return _native_component(component, facts)
    if isinstance(component, OsPackage):
        return _os_package(component, facts)
    assert_never(component)


def _native_component(component: NativeComponent, facts: Facts) -> dict[str, Any]:
    key = facts.key_of(component)
    index = None if key is None else facts.identified_at.get(key)
    owner = None if index is None else facts.identified_owner[index]
    file = None if index is None else facts.identified_file[index]
    package = None if index is None else facts.identified_os[index]
    return {
        "type": "native-component",
        "id": key,
        "name": component.name,
        "version": component.version,
        "purl": component.purl,
        "cpe": component.cpe,
        "location": _location(component.location),
        "file_id": None if file is None else facts.native_keys[file],
        "embedded": component.embedded,
        "confidence": component.confidence,
        "evidence": [{"method": e.method, "confidence": e.confidence, "detail": e.detail} for e in component.evidence],
        "file_sha256": component.file_sha256,
        "file_sha256_source": component.file_sha256_source,
        "owner": component.owner,
        "owner_location": _location(component.owner_location),
        "owner_id": None if owner is None else facts.dist_keys[owner],
        "os_package": component.os_package,
        "os_package_id": None if package is None else facts.os_keys[package],
        "disagreements": list(component.disagreements),
        "status": component.status.value,
    }


def _os_package(package: OsPackage, facts: Facts) -> dict[str, Any]:
    return {
        "type": "os-package",
        "id": facts.key_of(package),
        "name": package.name,
        "version": package.version,
        "purl": package.purl,
        "package_manager": package.package_manager,
        "ecosystem": package.ecosystem,
        "arch": package.arch,
        "source_name": package.source_name,
        "source_version": package.source_version,
        "location": _location(package.location),
        "files": list(package.files),
        "status": package.status.value,
    }


_TYPES = {PythonDist: "python-distribution", NativeComponent: "native-component", OsPackage: "os-package"}


def _finding_component(component: Matchable, facts: Facts) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": _TYPES[type(component)],
        "id": facts.key_of(component),
        "name": component.name,
        "version": component.version,
        "purl": component.purl,
        "location": _location(component_location(component)),
        "status": component.status.value,
    }
    if isinstance(component, PythonDist) and component.declared_line is not None:
        out["line"] = component.declared_line  # a pin of depscan check --audit: the line of its file
    return out


# A finding's fields in document order, in parts: what its advisory group decides (the same for every
# copy the group affects: written once per group by the streaming writer) and what each copy decides.
def _finding_group(finding: Finding) -> dict[str, Any]:
    return {
        "severity": finding.level.value,
        "score": finding.score,
        "vector": finding.vector,
        "summary": finding.summary,
        "fixed_versions": list(finding.fixed_versions),
        "malicious": finding.malicious,  # a known-malicious package (OSV MAL- record): every version
    }


def _finding_ranges(finding: Finding) -> dict[str, Any]:
    return {
        "malformed_ranges": list(finding.malformed_ranges),
        "range_note": finding.range_note,
        "advisories": [a.id for a in finding.advisories],  # keys of the document's "advisories"
    }


def _finding_tail(finding: Finding, baseline: BaselineDiff | None) -> dict[str, Any]:
    return {
        "baseline": None if baseline is None else ("new" if finding.fingerprint in baseline.new else "unchanged"),
        "suppressed": None
        if finding.suppressed is None
        else {
            "id": finding.suppressed.id,
            "reason": finding.suppressed.reason,
            "expires": finding.suppressed.expires,
        },
    }


def _finding(finding: Finding, baseline: BaselineDiff | None, facts: Facts) -> dict[str, Any]:
    return {
        "id": finding.id,
        "ids": list(finding.ids),
        "rule": finding.rule,
        "fingerprint": finding.fingerprint,
        "component": _finding_component(finding.component, facts),
        **_finding_group(finding),
        "fix": finding.fix,
        "covered_by": finding.covered_by,
        **_finding_ranges(finding),
        **_finding_tail(finding, baseline),
    }


def _advisory(advisory: Advisory) -> dict[str, Any]:
    return {
        "id": advisory.id,
        "aliases": list(advisory.aliases),
        "summary": advisory.summary,
        "details": advisory.details,
        "modified": advisory.modified,
        "published": advisory.published,
        "severity": [{"type": s.type, "vector": s.vector, "score": s.score} for s in advisory.severity],
        "source": advisory.source,
        "references": list(advisory.references),
    }


def _advisories(findings: Iterable[Finding]) -> dict[str, dict[str, Any]]:
    """Every advisory the findings cite, once, by id (a record affecting many components is written once)."""
    out: dict[str, dict[str, Any]] = {}
    for finding in findings:
        for advisory in finding.advisories:
            if advisory.id not in out:
                out[advisory.id] = _advisory(advisory)
    return dict(sorted(out.items()))


def _policy_finding(finding: PolicyFinding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rule": finding.rule,
        "severity": finding.level.value,
        "location": _location(finding.location),
        "message": finding.message,
        "component": finding.component,
        "fingerprint": finding.fingerprint,
    }
    if finding.line is not None or finding.text is not None or finding.fix is not None:
        out |= {"line": finding.line, "text": finding.text, "fix": finding.fix}  # a finding in a text file
    return out


def _fix_items(items: tuple[FixAdvice, ...],
               encode: Callable[[tuple[FixAdvice, ...]], Iterable[Any]] | None = None) -> _Items:
    """The fixes list, written element by element (a rescan at scale has one per copy): dicts (``_fix``),
    or what ``encode`` makes of them (``_fix_texts``)."""
    return _Items(len(items), encode(items) if encode else map(_fix, items))


def _fix_texts(items: Iterable[FixAdvice]) -> Iterator[_Encoded]:
    """Each fix as it appears in ``fixes`` (``_text(_fix(item), 2)``, an object at indentation level 2).

    The copies of one (package, version, findings) share their advice: what the advice decides
    (``recommended`` ... ``why_not``) is encoded once per distinct value, and so is each list of strings.
    """
    pad = "\n      "
    lists: dict[tuple[str, ...], str] = {}
    middles: dict[tuple[Any, ...], str] = {}
    enc = encode_basestring

    def strings(values: tuple[str, ...]) -> str:
        text = lists.get(values)
        if text is None:
            text = lists[values] = _text(list(values), 3)
        return text

    for item in items:
        decided = (item.recommended, item.newest_in_major, item.advisories, item.breaking, item.checked,
                   item.index_url, item.why_not)
        middle = middles.get(decided)
        if middle is None:
            middle = middles[decided] = _members({
                "recommended": item.recommended,
                "newest_in_major": item.newest_in_major,
                "advisories_cleared": list(item.advisories),
                "breaking": item.breaking,
                "availability_checked": item.checked,
                "index_url": item.index_url,
                "why_not": item.why_not,
            }, 3)
        yield _Encoded(
            "{" + pad + '"component": ' + enc(item.component_key) + "," + pad + '"name": ' + enc(item.name)
            + "," + pad + '"purl": ' + enc(item.purl) + "," + pad + '"path": ' + enc(item.path) + "," + pad
            + '"status": ' + enc(item.status.value) + "," + pad + '"current": ' + enc(item.current) + ","
            + middle + "," + pad + '"conflicts": ' + strings(item.conflicts) + "," + pad + '"hashes": '
            + strings(item.hashes) + "," + pad + '"notes": ' + strings(item.notes) + "\n    }"
        )


def _fix(item: FixAdvice) -> dict[str, Any]:
    return {
        "component": item.component_key,
        "name": item.name,
        "purl": item.purl,
        "path": item.path,
        "status": item.status.value,
        "current": item.current,
        "recommended": item.recommended,
        "newest_in_major": item.newest_in_major,
        "advisories_cleared": list(item.advisories),
        "breaking": item.breaking,
        "availability_checked": item.checked,
        "index_url": item.index_url,
        "why_not": item.why_not,
        "conflicts": list(item.conflicts),
        "hashes": list(item.hashes),
        "notes": list(item.notes),
    }


def _unknown(unknown: Unknown) -> dict[str, Any]:
    return {"path": unknown.location.path, "layer": unknown.location.layer, "reason": unknown.reason}


class _Items:
    """A list of the document written element by element (never held whole by the streaming writer)."""

    __slots__ = ("count", "items")

    def __init__(self, count: int, items: Iterable[Any]) -> None:
        self.count = count
        self.items = items


def _target(target: TargetRuntime) -> dict[str, Any]:
    return {
        "runtime": target.runtime,
        "python": target.python,
        "machine": target.machine,
        "glibc": target.glibc,
        "libc": target.libc,
        "basis": list(target.basis),
    }


def document(result: ScanResult) -> dict[str, Any]:
    """The JSON document as a dict."""
    return {key: list(value.items) if isinstance(value, _Items) else value for key, value in _document(result).items()}


def _document(result: ScanResult, finding_items: Callable[[ScanResult], Iterable[Any]] | None = None,
              fix_items: Callable[[tuple[FixAdvice, ...]], Iterable[Any]] | None = None) -> dict[str, Any]:
    """The document, its long lists (components, vulnerabilities, fixes) as ``_Items``; the findings and
    the fixes as ``finding_items`` and ``fix_items`` make them (dicts by default)."""
    facts = facts_for(result)
    native_keys = {id(lib): key for lib, key in zip(facts.natives, facts.native_keys, strict=True)}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tool": {"name": "depscan", "version": result.tool_version},
        "source": result.source_kind,
        "artifact": {
            "path": result.artifact.path,
            "sha256": result.artifact.sha256,
            "kind": result.artifact.kind,
            "size": result.artifact.size,
            "layers": list(result.artifact.layers),
            "inputs": [{"path": i.path, "sha256": i.sha256, "size": i.size} for i in result.artifact.inputs],
            "dependencies": [facts.dist_keys[i] for i in facts.graph.top],
            "describes": result.artifact.describes,
        },
        # null, not 0, for the advisory counts when advisories were not checked (--source skip): never "clean"
        "summary": dataclasses.asdict(facts.counts),
        "advisory_data": None
        if result.advisory_data is None
        else {
            "source": result.advisory_data.source,
            "records": result.advisory_data.records,
            "newest_modified": result.advisory_data.newest_modified,
            "inputs": list(result.advisory_data.inputs),
        },
        "components": _Items(len(result.components), (_component(c, facts, native_keys) for c in result.components)),
        "unknowns": [_unknown(u) for u in result.unknowns],
        "warnings": list(result.warnings),
        "vulnerabilities": _Items(
            len(result.findings),
            finding_items(result) if finding_items else (_finding(f, result.baseline, facts) for f in result.findings),
        ),
        "policy_findings": [_policy_finding(f) for f in result.policy_findings],
        "target": None if result.target is None else _target(result.target),
        "advisories": _advisories(result.findings),
        # null when advisories were not checked; else one entry per vulnerable distribution copy
        "fixes": None if result.advisory_data is None else _fix_items(advice(result), fix_items),
        "baseline": None
        if result.baseline is None
        else {
            "path": result.baseline.path,
            "new": len(result.baseline.new),
            "unchanged": len(result.baseline.unchanged),
            "fixed": [
                {
                    "id": p.id,
                    "purl": p.purl,
                    "location": {"path": p.path, "layer": p.layer},
                    "fingerprint": p.fingerprint,
                }
                for p in result.baseline.fixed
            ],
        },
        "unchecked": [{"purl": purl, "reason": why} for purl, why in result.unchecked],
        "not_verifiable": [{"purl": purl, "reason": why} for purl, why in result.not_verifiable],
        "notes": list(result.notes),
        "stats": dict(result.stats),
    }


def render(result: ScanResult, options: ReportOptions | None = None) -> bytes:
    """``--format json``."""
    return "".join(stream(result, options)).encode("utf-8")


def stream(result: ScanResult, options: ReportOptions | None = None) -> Iterator[str]:
    """``--format json`` as text pieces (``_pieces``), undecodable bytes written escaped (``depscan.text``)."""
    return map(escape_json_surrogates, _pieces(result, options))


def _pieces(result: ScanResult, options: ReportOptions | None = None) -> Iterator[str]:
    """``--format json`` as text pieces: exactly ``json.dumps(document(result), indent=2,
    ensure_ascii=False) + "\n"``, written without holding the document or its text whole.

    ``json.dumps`` with ``indent`` runs the pure-Python encoder over the whole document in memory
    (30 s and 1.6 GB for 146,000 findings); here every value is encoded by ``_text`` (the C string
    encoder, no generators), what an advisory group decides for a finding is encoded once per
    group, and what a component decides once per component.
    """
    with paused_gc():
        doc = _document(result, _finding_texts, _fix_texts)
        yield "{"
        first = True
        for key, value in doc.items():
            yield ("\n  " if first else ",\n  ") + encode_basestring(key) + ": "
            first = False
            if not isinstance(value, _Items):
                yield _text(value, 1)
            elif not value.count:
                yield "[]"
            else:
                yield "["
                sep = "\n    "
                for item in value.items:
                    yield sep + (item if isinstance(item, _Encoded) else _text(item, 2))
                    sep = ",\n    "
                yield "\n  ]"
        yield "\n}\n"


class _Encoded(str):
    """Text already encoded as JSON (a finding from ``_finding_texts``)."""

    __slots__ = ()


def _finding_texts(result: ScanResult) -> Iterator[_Encoded]:
    """Each finding as it appears in ``vulnerabilities`` (an object at indentation level 2).

    The caches are keyed by the identity of the findings' immutable fields: every finding stays
    alive (in ``result``) while this runs, so one identity is one value; equal values in distinct
    objects only miss the cache.
    """
    facts = facts_for(result)
    components: dict[int, str] = {}
    groups: dict[tuple[Any, ...], tuple[str, str, str]] = {}
    baseline = result.baseline
    pad = "\n      "
    no_tail = _members({"baseline": None, "suppressed": None}, 3)
    for finding in result.findings:
        component = finding.component
        comp = components.get(id(component))
        if comp is None:
            comp = components[id(component)] = _text(_finding_component(component, facts), 3)
        key = (id(finding.ids), id(finding.advisories), id(finding.fixed_versions), id(finding.malformed_ranges),
               id(finding.summary), id(finding.range_note), id(finding.vector), finding.level, finding.score)
        parts = groups.get(key)
        if parts is None:
            parts = groups[key] = (
                "{" + pad + '"id": ' + encode_basestring(finding.id) + "," + pad + '"ids": '
                + _text(list(finding.ids), 3) + "," + pad + '"rule": ',
                _members(_finding_group(finding), 3) + "," + pad + '"fix": ',
                _members(_finding_ranges(finding), 3) + ",",
            )
        head, group, ranges = parts
        tail = (no_tail if baseline is None and finding.suppressed is None
                else _members(_finding_tail(finding, baseline), 3))
        fix, covered = finding.fix, finding.covered_by
        yield _Encoded(
            head + encode_basestring(finding.rule) + "," + pad + '"fingerprint": "' + finding.fingerprint + '",'
            + pad + '"component": ' + comp + "," + group + ("null" if fix is None else encode_basestring(fix))
            + "," + pad + '"covered_by": ' + ("null" if covered is None else encode_basestring(covered))
            + "," + ranges + tail + "\n    }"
        )


_PADS = ["\n" + "  " * level for level in range(64)]


def _members(obj: dict[str, Any], level: int) -> str:
    """An object's members as ``json.dumps(indent=2)`` writes them inside an object at ``level - 1``
    (each on its own line, ``level`` indents deep, no surrounding braces)."""
    pad = _PADS[level] if level < 64 else "\n" + "  " * level
    out = []
    for key, value in obj.items():  # strings and nulls (most values) without a call to _text
        kind = type(value)
        if kind is str:
            text = encode_basestring(value)
        elif value is None:
            text = "null"
        else:
            text = _text(value, level)
        out.append(pad + encode_basestring(key) + ": " + text)
    return ",".join(out)


def _text(value: Any, level: int) -> str:
    """``value`` as ``json.dumps(value, indent=2, ensure_ascii=False)`` writes it at indentation ``level``."""
    kind = type(value)
    if kind is str:
        return str(encode_basestring(value))
    if value is None:
        return "null"
    if kind is dict:
        if not value:
            return "{}"
        try:
            return "{" + _members(value, level + 1) + (_PADS[level] if level < 64 else "\n" + "  " * level) + "}"
        except TypeError:  # a key that is not a string: json.dumps's own rules, below
            pass
    elif kind is list or kind is tuple:
        if not value:
            return "[]"
        pad = _PADS[level + 1] if level < 63 else "\n" + "  " * (level + 1)
        return "[" + ",".join([pad + _text(item, level + 1) for item in value]) + pad[:-2] + "]"
    elif value is True:
        return "true"
    elif value is False:
        return "false"
    elif kind is int:
        return int.__repr__(value)
    elif kind is float and math.isfinite(value):
        return float.__repr__(value)
    elif isinstance(value, str):  # a str-valued enum: its value, as json.dumps writes it
        return str(encode_basestring(value))
    # Anything else (NaN, int subclasses, non-string keys, ...) exactly as json.dumps writes it.
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + "  " * level)
