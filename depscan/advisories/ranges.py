"""Does an OSV ``affected`` entry cover a version? (OSV schema, "Evaluation" section.)

- ``versions[]``: the exact string first, then PEP 440 equality (``1.0`` == ``1.0.0``).
- ``ECOSYSTEM`` ranges for PyPI use PEP 440 ordering and the schema's sorted walk: the events are
  sorted by version (they may be written in any order), then ``introduced`` (``"0"`` = from the
  beginning, below pre-releases of 0 too) makes the version affected when it is at or above it,
  ``fixed`` (exclusive) and ``last_affected`` (inclusive) make it unaffected when it is above
  them; ``limit`` bounds the range from above (exclusive). Events at the same version are walked
  ``introduced``, ``last_affected``, ``fixed``.
- One detected exception: a range whose events, as written, are a sequence of intervals
  (``introduced`` then ``fixed``/``last_affected``, again and again) whose spans overlap or touch
  (pyspark, PYSEC-2022-236: ``0..3.1.1, 3.2.0..3.2.2, 3.1.1..3.1.3``; wagtail, PYSEC-2021-114:
  ``2.11..2.11.7, 0..2.11.6``). The sorted walk then loses versions the written intervals, and
  the record's own ``versions`` list, include; such a range covers a version when the walk *or*
  one of its written intervals does. Every other range (out-of-order events, repeated
  ``introduced``, intervals that are apart) is the sorted walk alone.
- ``GIT`` ranges are commit hashes and say nothing about PyPI versions: ignored.
- ``SEMVER`` ranges are evaluated with PEP 440 too when both sides parse.
- A version that does not parse is matched by exact string against ``versions[]`` only; an event
  value that does not parse is skipped and reported as malformed range data
  (``malformed_events``). Nothing here raises on odd data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion, Version

from depscan.models import AffectedPackage, AffectedRange, RangeEvent

_ORDER = {"introduced": 0, "last_affected": 1, "fixed": 2, "limit": 3}
_EVALUATED = ("ECOSYSTEM", "SEMVER")


@lru_cache(maxsize=65536)
def parse_version(text: str) -> Version | None:
    """PEP 440 version, or None when ``text`` does not parse."""
    try:
        return Version(text)
    except InvalidVersion:
        return None


_ZERO = Version("0")

# A written interval: (start, end, end inclusive); a None start is introduced "0", a None end is open.
_Interval = tuple[Version | None, Version | None, bool]


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A range parsed once: limits, the sorted walk's events, and (only for the detected
    overlap exception) the intervals as written."""

    limits: tuple[Version, ...]
    opened_at_start: bool  # introduced "0": below every version, pre-releases of 0 included
    walk: tuple[tuple[Version, int, str], ...]
    overlapping: tuple[_Interval, ...]  # empty unless the written intervals overlap
    malformed: tuple[RangeEvent, ...]  # events whose value is not a PEP 440 version
    fixes: tuple[tuple[Version, str], ...]  # the PEP 440 ``fixed`` values, parsed and as written, in order


def _is_malformed(event: RangeEvent) -> bool:
    if event.kind == "introduced" and event.value == "0":
        return False
    if event.kind == "limit" and event.value == "*":  # the schema's "no limit"
        return False
    return parse_version(event.value) is None


@lru_cache(maxsize=65536)
def _prepare(rng: AffectedRange) -> _Prepared:
    limits = []
    opened_at_start = False
    walk = []
    for event in rng.events:
        if event.kind == "introduced" and event.value == "0":
            opened_at_start = True
            continue
        parsed = parse_version(event.value)
        if parsed is None:
            continue  # skipped; reported through ``malformed``
        if event.kind == "limit":
            limits.append(parsed)
        else:
            walk.append((parsed, _ORDER[event.kind], event.kind))
    walk.sort(key=lambda e: (e[0], e[1]))
    malformed = tuple(e for e in rng.events if _is_malformed(e))
    overlapping = () if malformed else _overlapping_intervals(rng.events)
    fixes = tuple(sorted(
        {(parsed, e.value) for e in rng.events if e.kind == "fixed" and (parsed := parse_version(e.value)) is not None}
    ))
    return _Prepared(tuple(limits), opened_at_start, tuple(walk), overlapping, malformed, fixes)


def _written_intervals(events: tuple[RangeEvent, ...]) -> list[_Interval] | None:
    """The intervals as written (``introduced`` closed by the next ``fixed``/``last_affected``),
    or None when the events are not such a sequence (two ``introduced`` in a row, a close
    without an ``introduced`` before it)."""
    intervals: list[_Interval] = []
    start: Version | None = None
    opened = False
    for event in events:
        if event.kind == "limit":
            continue
        value = None if event.kind == "introduced" and event.value == "0" else parse_version(event.value)
        if event.kind == "introduced":
            if opened:
                return None
            opened, start = True, value
        else:
            if not opened:
                return None
            intervals.append((start, value, event.kind == "last_affected"))
            opened = False
    if opened:
        intervals.append((start, None, False))
    return intervals


def _overlapping_intervals(events: tuple[RangeEvent, ...]) -> tuple[_Interval, ...]:
    """The written intervals when two of them overlap or touch (share a bound), else ``()``.

    Intervals whose spans are apart give the same answer through the sorted walk, so only
    overlapping ones need the exception.
    """
    intervals = _written_intervals(events)
    if intervals is None or len(intervals) < 2:
        return ()
    for i, (start_a, end_a, _) in enumerate(intervals):
        for start_b, end_b, _ in intervals[i + 1 :]:
            a_reaches_b = end_a is None or start_b is None or start_b <= end_a
            b_reaches_a = end_b is None or start_a is None or start_a <= end_b
            if a_reaches_b and b_reaches_a:
                return tuple(intervals)
    return ()


def overlaps_as_written(rng: AffectedRange) -> bool:
    """Whether a range is evaluated with the overlap exception (its written intervals overlap)."""
    return rng.type in _EVALUATED and bool(_prepare(rng).overlapping)


def in_range(version: Version, rng: AffectedRange) -> bool:
    """Whether ``version`` lies inside one ECOSYSTEM/SEMVER range."""
    if rng.type not in _EVALUATED:
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
    # ... or, for a range whose written intervals overlap, any of those intervals.
    for start, end, inclusive in prepared.overlapping:
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

    __slots__ = ("affected", "canonical", "fixes", "malformed", "ranges")

    def __init__(self, affected: AffectedPackage, canonical: frozenset[str]) -> None:
        self.affected = affected
        self.canonical = canonical
        self.ranges = tuple(_prepare(r) for r in affected.ranges if r.type in _EVALUATED)
        if len(self.ranges) == 1:  # the common case: nothing to merge
            (only,) = self.ranges
            fixes, malformed = only.fixes, only.malformed
        else:
            fixes = tuple(sorted({fix for prepared in self.ranges for fix in prepared.fixes}))
            malformed = tuple(e for prepared in self.ranges for e in prepared.malformed)
        # The PEP 440 ``fixed`` values of the ranges, parsed and as written, in order (candidates
        # only: ``match.py`` keeps those no advisory of a finding affects).
        self.fixes: tuple[tuple[Version, str], ...] = fixes
        # The range events whose value is not a PEP 440 version (skipped by the evaluation).
        self.malformed: tuple[RangeEvent, ...] = malformed

    def __call__(self, version: str) -> bool:
        parsed = parse_version(version)
        if parsed is None:
            return version in self.affected.versions  # not PEP 440: as written only
        return self.covers(parsed, version)

    def covers(self, parsed: Version, version: str) -> bool:
        """``self(version)`` for a version already parsed."""
        if _canonical(version) in self.canonical:
            return True
        return any(_contains(parsed, prepared) for prepared in self.ranges)


# id(entry) -> (entry, its Matcher): the entry is kept, so its id cannot be reused while cached.
_MATCHERS: dict[int, tuple[AffectedPackage, Matcher]] = {}
_MAX_MATCHERS = 65536


def matcher(affected: AffectedPackage) -> Matcher:
    """The ``Matcher`` of an entry (one per entry object: the offline database's lookup and
    ``match.py``'s fix check share it), with the canonical versions a store precomputed."""
    known = _MATCHERS.get(id(affected))
    if known is not None and known[0] is affected:
        return known[1]
    canonical = affected.canonical
    made = Matcher(affected, _listed(affected.versions) if canonical is None else canonical)
    if len(_MATCHERS) >= _MAX_MATCHERS:
        _MATCHERS.clear()
    _MATCHERS[id(affected)] = (affected, made)
    return made


def is_affected(version: str, affected: AffectedPackage) -> bool:
    """Whether ``version`` (as written in the distribution's metadata) is covered by ``affected``."""
    return matcher(affected)(version)


def fix_candidates(affected: AffectedPackage) -> tuple[str, ...]:
    """The ``fixed`` event values of the ECOSYSTEM/SEMVER ranges that are PEP 440 versions.

    Only candidates: a ``fixed`` value can lie inside another interval of the same record, or of
    another record of the same finding (``match.py`` keeps those no advisory affects).
    """
    fixes = {fix for r in affected.ranges if r.type in _EVALUATED for fix in _prepare(r).fixes}
    return tuple(text for _parsed, text in sorted(fixes))


def malformed_events(affected: AffectedPackage) -> tuple[RangeEvent, ...]:
    """The ECOSYSTEM/SEMVER range events whose value is not a PEP 440 version."""
    return tuple(e for r in affected.ranges if r.type in _EVALUATED for e in _prepare(r).malformed)


def clear_caches() -> None:
    """Forget every parsed version and range (benchmarks measure cold lookups with this)."""
    for cached in (parse_version, _prepare, _listed, _canonical):
        cached.cache_clear()
    _MATCHERS.clear()
