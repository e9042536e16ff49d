"""The one OSV parser: OSV JSON (schema 1.x) -> ``Advisory``. Both backends use it.

Follows https://ossf.github.io/osv-schema/: ``affected[].package`` (ecosystem, name),
``ranges[]`` of type ECOSYSTEM / SEMVER / GIT with ``introduced`` / ``fixed`` /
``last_affected`` / ``limit`` events, ``versions[]``, ``severity[]`` CVSS vectors, ``aliases``,
``withdrawn``. Unknown fields are ignored; a record missing ``id`` or ``modified``, or with fields
of the wrong type, is rejected with ``OSVError`` naming the record.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import repeat
from typing import Any

from packaging.utils import canonicalize_name

from depscan.errors import DepscanError
from depscan.models import Advisory, AffectedPackage, AffectedRange, RangeEvent, Severity

_EVENT_KINDS = frozenset({"introduced", "fixed", "last_affected", "limit"})
# OSV's id prefix for the OpenSSF malicious-packages data (``MAL-2024-1234``), published in the
# ecosystem exports and served by the API like any advisory.
MALICIOUS_PREFIX = "MAL-"


def is_malicious_id(ident: str) -> bool:
    """Whether an OSV id (or alias) names a known-malicious package record."""
    return ident.startswith(MALICIOUS_PREFIX)


class OSVError(DepscanError):
    """A record that is not valid OSV."""


def normalize_package_name(ecosystem: str, name: str) -> str:
    """The name used as an index key: PEP 503 for PyPI, as written for other ecosystems."""
    return canonicalize_name(name) if ecosystem == "PyPI" else name


def _strings(value: Any, where: str, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    # map() keeps the per-item check in C: versions lists run to thousands of strings.
    if not isinstance(value, list) or not all(map(isinstance, value, repeat(str))):
        raise OSVError(f"{where}: {field} must be a list of strings")
    return tuple(value)


def _text(value: Any, where: str, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise OSVError(f"{where}: {field} must be a string")
    return value


@lru_cache(maxsize=4096)
def cvss_score(kind: str, vector: str) -> float | None:
    """The CVSS base score of a vector (computed by the ``cvss`` library), or None."""
    from cvss import CVSS2, CVSS3, CVSS4
    from cvss.exceptions import CVSSError

    with contextlib.suppress(CVSSError, ValueError, KeyError, IndexError, TypeError):
        if kind == "CVSS_V3":
            return float(CVSS3(vector).base_score)
        if kind == "CVSS_V4":
            return float(CVSS4(vector).base_score)
        if kind == "CVSS_V2":
            return float(CVSS2(vector).base_score)
    return None


def parse_osv(record: Any, source: str, canonical: Sequence[Iterable[str]] | None = None) -> Advisory:
    """Parse one OSV record (already decoded from JSON or YAML).

    ``canonical``: per ``affected[]`` entry, the PEP 440 canonical forms of its versions list when
    a store precomputed them (the offline database); kept on ``AffectedPackage.canonical``.
    """
    if not isinstance(record, dict):
        raise OSVError(f"{source}: an OSV record must be a JSON object")
    ident = record.get("id")
    if not isinstance(ident, str) or not ident:
        raise OSVError(f"{source}: record without an id")
    where = f"{source}: {ident}"
    modified = record.get("modified")
    if not isinstance(modified, str):
        raise OSVError(f"{where}: record without a modified timestamp")
    affected_raw = record.get("affected") or []
    if not isinstance(affected_raw, list):
        raise OSVError(f"{where}: affected must be a list")
    if canonical is not None and len(canonical) != len(affected_raw):
        raise OSVError(f"{where}: {len(canonical)} precomputed version sets for {len(affected_raw)} affected entries")
    affected = tuple(
        parse_affected(a, where, None if canonical is None else frozenset(canonical[i]))
        for i, a in enumerate(affected_raw)
    )
    severity_raw = record.get("severity") or []
    if not isinstance(severity_raw, list):
        raise OSVError(f"{where}: severity must be a list")
    severity = []
    for item in severity_raw:
        if not (isinstance(item, dict) and isinstance(item.get("type"), str) and isinstance(item.get("score"), str)):
            raise OSVError(f"{where}: severity entries need a type and a score")
        severity.append(Severity(item["type"], item["score"], cvss_score(item["type"], item["score"])))
    references = []
    references_raw = record.get("references") or []
    if not isinstance(references_raw, list):
        raise OSVError(f"{where}: references must be a list")
    for ref in references_raw:
        if isinstance(ref, dict) and isinstance(ref.get("url"), str):
            references.append(ref["url"])
    return Advisory(
        id=ident,
        aliases=_strings(record.get("aliases"), where, "aliases"),
        summary=_text(record.get("summary"), where, "summary"),
        details=_text(record.get("details"), where, "details"),
        modified=modified,
        published=_text(record.get("published"), where, "published"),
        withdrawn=_text(record.get("withdrawn"), where, "withdrawn"),
        affected=affected,
        severity=tuple(severity),
        references=tuple(references),
        source=source,
    )


def parse_affected(raw: Any, where: str, canonical: frozenset[str] | None = None) -> AffectedPackage:
    """One ``affected[]`` entry."""
    if not isinstance(raw, dict):
        raise OSVError(f"{where}: affected entries must be objects")
    package = raw.get("package") or {}
    if not isinstance(package, dict):
        raise OSVError(f"{where}: affected[].package must be an object")
    ecosystem = package.get("ecosystem") or ""
    name = package.get("name") or ""
    if not isinstance(ecosystem, str) or not isinstance(name, str):
        raise OSVError(f"{where}: affected[].package needs a string ecosystem and name")
    ranges = []
    ranges_raw = raw.get("ranges") or []
    if not isinstance(ranges_raw, list):
        raise OSVError(f"{where}: ranges must be a list")
    for r in ranges_raw:
        if not isinstance(r, dict) or not isinstance(r.get("type"), str) or not isinstance(r.get("events"), list):
            raise OSVError(f"{where}: ranges need a type and a list of events")
        events = []
        for event in r["events"]:
            if not isinstance(event, dict):
                raise OSVError(f"{where}: range events must be objects")
            for kind, value in event.items():  # one key per event in practice
                if kind in _EVENT_KINDS and isinstance(value, str):
                    events.append(RangeEvent(kind, value))
        repo = r.get("repo")
        ranges.append(AffectedRange(r["type"], tuple(events), repo if isinstance(repo, str) and repo else None))
    # Ecosystem strings may carry a suffix ("Debian:11"); the base names the package type.
    base, _, release = ecosystem.partition(":")
    return AffectedPackage(
        ecosystem=base,
        name=name,
        normalized_name=normalize_package_name(base, name) if name else "",
        ranges=tuple(ranges),
        versions=_strings(raw.get("versions"), where, "affected[].versions"),
        canonical=canonical,
        release=release or None,
    )
