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


def in_range(version: Version, rng: AffectedRange) -> bool:
    """Whether ``version`` lies inside one ECOSYSTEM/SEMVER range."""
    if rng.type not in ("ECOSYSTEM", "SEMVER"):
        return False
    limits = [parse_version(e.value) for e in rng.events if e.kind == "limit"]
    valid_limits = [limit for limit in limits if limit is not None]
    if valid_limits and not any(version < limit for limit in valid_limits):
        return False
    return _sorted_walk(version, rng) or _written_intervals(version, rng)


def _written_intervals(version: Version, rng: AffectedRange) -> bool:
    start: Version | None = None
    opened = False
    for event in rng.events:
        if event.kind == "introduced":
            if opened and (start is None or version >= start):
                return True  # the previous interval was never closed
            opened = True
            start = None if event.value == "0" else parse_version(event.value)
            if start is None and event.value != "0":
                opened = False  # unparsable bound: this interval says nothing
        elif event.kind in ("fixed", "last_affected") and opened:
            end = parse_version(event.value)
            opened = False
            if end is None:
                continue
            above = start is None or version >= start
            below = version < end if event.kind == "fixed" else version <= end
            if above and below:
                return True
    return opened and (start is None or version >= start)


def _sorted_walk(version: Version, rng: AffectedRange) -> bool:
    # ``introduced: "0"`` is below every version, pre-releases of 0 included (0.0.0b0 < Version("0")).
    opened_at_start = False
    events: list[tuple[Version, int, str]] = []
    for event in rng.events:
        if event.kind == "introduced" and event.value == "0":
            opened_at_start = True
            continue
        parsed = parse_version(event.value)
        if parsed is None or event.kind == "limit":
            continue
        events.append((parsed, _ORDER[event.kind], event.kind))
    affected = opened_at_start
    for value, _order, kind in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == "introduced":
            if version >= value:
                affected = True
        elif kind == "fixed":
            if version >= value:
                affected = False
        elif kind == "last_affected" and version > value:
            affected = False
    return affected


@lru_cache(maxsize=16384)
def _listed(versions: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    """A versions list as sets: the strings as written, and their PEP 440 canonical forms.

    ``canonicalize_version`` strips trailing zeros, so equal canonical strings are exactly
    PEP 440 equality (``1.0`` == ``1.0.0``), found by hashing instead of comparing one by one.
    """
    canonical = set()
    for listed in versions:
        if parse_version(listed) is not None:
            canonical.add(canonicalize_version(listed))
    return frozenset(versions), frozenset(canonical)


def is_affected(version: str, affected: AffectedPackage) -> bool:
    """Whether ``version`` (as written in the distribution's metadata) is covered by ``affected``."""
    exact, canonical = _listed(affected.versions)
    if version in exact:
        return True
    parsed = parse_version(version)
    if parsed is None:
        return False
    if canonicalize_version(parsed) in canonical:
        return True
    return any(in_range(parsed, rng) for rng in affected.ranges)


def fixed_versions(affected: AffectedPackage) -> tuple[str, ...]:
    """The ``fixed`` event values of the ECOSYSTEM/SEMVER ranges, in version order."""
    values = {e.value for r in affected.ranges if r.type != "GIT" for e in r.events if e.kind == "fixed"}
    return tuple(sorted(values, key=lambda v: (parse_version(v) is None, parse_version(v) or _ZERO, v)))
