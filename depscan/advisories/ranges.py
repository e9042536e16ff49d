"""Does an OSV ``affected`` entry cover a version? (OSV schema, "Evaluation" section.)

- ``versions[]``: the exact string first, then PEP 440 equality (``1.0`` == ``1.0.0``).
- ``ECOSYSTEM`` ranges for PyPI use PEP 440 ordering. Events are evaluated in version order:
  ``introduced`` (``"0"`` = from the beginning) opens, ``fixed`` (exclusive) and
  ``last_affected`` (inclusive) close; ``limit`` bounds the range from above (exclusive).
- ``GIT`` ranges are commit hashes and say nothing about PyPI versions: ignored.
- ``SEMVER`` ranges are evaluated with PEP 440 too when both sides parse.
- Some records pack several overlapping intervals into one events list (pyspark, PYSEC-2022-236:
  ``0..3.1.1, 3.2.0..3.2.2, 3.1.1..3.1.3``); the spec's sorted walk then loses versions the
  record lists. A range is therefore the union of the sorted walk and of its intervals as
  written (each ``introduced`` closed by the next ``fixed``/``last_affected``): overlapping
  intervals never hide an affected version.
- A version that does not parse is matched by exact string against ``versions[]`` only; an event
  value that does not parse is skipped. Nothing here raises on odd data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion, Version

from depscan.models import AffectedPackage, AffectedRange

_ORDER = {"introduced": 0, "last_affected": 1, "fixed": 2, "limit": 3}


@lru_cache(maxsize=65536)
def parse_version(text: str) -> Version | None:
    """PEP 440 version, or None when ``text`` does not parse."""
    try:
        return Version(text)
    except InvalidVersion:
        return None


_ZERO = Version("0")


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A range parsed once: limits, the sorted walk's events, and the intervals as written."""

    limits: tuple[Version, ...]
    opened_at_start: bool  # introduced "0": below every version, pre-releases of 0 included
    walk: tuple[tuple[Version, int, str], ...]
    intervals: tuple[tuple[Version | None, Version | None, bool], ...]  # (start, end, end inclusive)


@lru_cache(maxsize=65536)
def _prepare(rng: AffectedRange) -> _Prepared:
    limits = []
    opened_at_start = False
    walk = []
    intervals: list[tuple[Version | None, Version | None, bool]] = []
    start: Version | None = None
    opened = False
    for event in rng.events:
        zero = event.kind == "introduced" and event.value == "0"
        parsed = None if zero else parse_version(event.value)
        if event.kind == "limit":
            if parsed is not None:
                limits.append(parsed)
            continue
        if zero:
            opened_at_start = True
        elif parsed is not None:
            walk.append((parsed, _ORDER[event.kind], event.kind))
        # Intervals as written: each introduced closed by the next fixed / last_affected.
        if event.kind == "introduced":
            if opened:
                intervals.append((start, None, False))  # the previous interval was never closed
            opened = zero or parsed is not None  # an unparsable bound says nothing
            start = parsed
        elif opened:
            opened = False
            if parsed is not None:
                intervals.append((start, parsed, event.kind == "last_affected"))
    if opened:
        intervals.append((start, None, False))
    walk.sort(key=lambda e: (e[0], e[1]))
    return _Prepared(tuple(limits), opened_at_start, tuple(walk), tuple(intervals))


def in_range(version: Version, rng: AffectedRange) -> bool:
    """Whether ``version`` lies inside one ECOSYSTEM/SEMVER range."""
    if rng.type not in ("ECOSYSTEM", "SEMVER"):
        return False
    return _contains(version, _prepare(rng))


def _contains(version: Version, prepared: _Prepared) -> bool:
    if prepared.limits and not any(version < limit for limit in prepared.limits):
        return False
    # The schema's sorted walk ...
    affected = prepared.opened_at_start
    for value, _order, kind in prepared.walk:
        if kind == "introduced":
            if version >= value:
                affected = True
        elif kind == "fixed":
            if version >= value:
                affected = False
        elif version > value:  # last_affected
            affected = False
    if affected:
        return True
    # ... or any interval as written.
    for start, end, inclusive in prepared.intervals:
        if (start is None or version >= start) and (
            end is None or version < end or (inclusive and version <= end)
        ):
            return True
    return False


@lru_cache(maxsize=16384)
def _listed(versions: tuple[str, ...]) -> frozenset[str]:
    """The PEP 440 canonical forms of a versions list (strings that do not parse are left out).

    ``canonicalize_version`` strips trailing zeros, so equal canonical strings are exactly
    PEP 440 equality (``1.0`` == ``1.0.0``), found by hashing instead of comparing one by one; a
    PEP 440 string listed as written is found this way too.
    """
    return frozenset(c for c in map(_canonical, versions) if c is not None)


@lru_cache(maxsize=65536)
def _canonical(version: str) -> str | None:
    parsed = parse_version(version)
    return None if parsed is None else canonicalize_version(parsed)


def canonical_versions(affected: AffectedPackage) -> list[str]:
    """The PEP 440 canonical forms of the listed versions (precomputed by the offline database)."""
    return sorted(_listed(affected.versions))


class Matcher:
    """``is_affected`` for one ``affected`` entry with everything prepared once: the canonical
    versions (as the offline database stores them) and the parsed ECOSYSTEM/SEMVER ranges."""

    __slots__ = ("affected", "canonical", "ranges")

    def __init__(self, affected: AffectedPackage, canonical: frozenset[str]) -> None:
        self.affected = affected
        self.canonical = canonical
        self.ranges = tuple(_prepare(r) for r in affected.ranges if r.type in ("ECOSYSTEM", "SEMVER"))

    def __call__(self, version: str) -> bool:
        parsed = parse_version(version)
        if parsed is None:
            return version in self.affected.versions  # not PEP 440: as written only
        if _canonical(version) in self.canonical:
            return True
        return any(_contains(parsed, prepared) for prepared in self.ranges)


def is_affected(version: str, affected: AffectedPackage) -> bool:
    """Whether ``version`` (as written in the distribution's metadata) is covered by ``affected``."""
    return Matcher(affected, _listed(affected.versions))(version)


def fixed_versions(affected: AffectedPackage) -> tuple[str, ...]:
    """The ``fixed`` event values of the ECOSYSTEM/SEMVER ranges, in version order."""
    values = {e.value for r in affected.ranges if r.type != "GIT" for e in r.events if e.kind == "fixed"}
    return tuple(sorted(values, key=lambda v: (parse_version(v) is None, parse_version(v) or _ZERO, v)))


def clear_caches() -> None:
    """Forget every parsed version and range (benchmarks measure cold lookups with this)."""
    for cached in (parse_version, _prepare, _listed, _canonical):
        cached.cache_clear()
