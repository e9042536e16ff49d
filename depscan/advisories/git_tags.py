"""GIT ranges and tags: does an OSV record cover a native library version named by its upstream tags?

A record's ``affected[]`` entry covers a repository when one of its ``GIT`` ranges has that
``repo`` (or its package is the ``GIT`` ecosystem's, named by the repository URL); URLs are
compared normalized (``native_repos.normalize_repo_url``). The identified version (``1.1.1k``)
is compared with the entry's ``versions`` tags through a conservative normalizer:

* a known project prefix is stripped, case-insensitively (``v``, ``OpenSSL_``, ``openssl-``,
  ``curl-``, ``libwebp-``, ``version-``, ``R_``, ``VER-``, ...);
* ``_`` between two digits becomes ``.`` (``1_1_1k`` -> ``1.1.1k``); ``-`` too, but only when the
  rest is nothing but digits and ``-`` (freetype's ``VER-2-12-0``);
* letters are lower-cased and kept: ``1.1.1k`` never equals ``1.1.1w``; the result must start
  with a digit, else the tag names no release (``OpenSSL-fips-2_0_16`` strips to text, not kept).

Equality is exact after normalizing (``1.2`` is not ``1.2.0``). Range events that are tags (not
40-hex commit hashes) are evaluated as a range with a release order that only accepts
``digits(.digits)*`` plus an optional lower-case letter run (OpenSSL's ``1.0.2za``); anything else
is not ordered; a ``SEMVER`` range on such an entry (curl's own records put one beside the GIT
range) is evaluated the same way. A range whose events are commits, on an entry without a ``versions`` list, says
nothing about a version: the record is "not verifiable" for that component (depscan has no clone
of the repository to resolve commits to tags).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from depscan.advisories.native_repos import normalize_repo_url
from depscan.models import AffectedPackage, RangeEvent

# Longest first, so "openssl-" is tried before "open..." prefixes and "v" comes last.
_PREFIXES = tuple(
    sorted(
        (
            "openssl_", "openssl-", "curl-", "libwebp-", "version-", "release-", "sqlite-", "zlib-",
            "libpng-", "expat-", "r_", "ver-", "tiff-", "libtiff-", "libxml2-", "freetype-", "zstd-", "xz-",
            "libjpeg-turbo-", "v",
        ),
        key=len,
        reverse=True,
    )
)
_DIGIT_UNDERSCORE = re.compile(r"(?<=\d)_(?=\d)")
_ONLY_DIGITS_HYPHENS = re.compile(r"^\d+(?:-\d+)+$")
_COMMIT = re.compile(r"^[0-9a-f]{7,64}$")
_PLAIN = re.compile(r"^(\d+(?:\.\d+)*)([a-z]{0,3})$")


@lru_cache(maxsize=65536)
def normalize_tag(tag: str) -> str | None:
    """The release a tag names, as the library spells its version (``OpenSSL_1_1_1k`` -> ``1.1.1k``),
    or None when the tag names no release."""
    text = tag.strip().lower()
    if text.startswith("refs/tags/"):
        text = text[len("refs/tags/") :]
    for prefix in _PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix) and text[len(prefix)].isdigit():
            text = text[len(prefix) :]
            break
    if not text[:1].isdigit():
        return None
    text = _DIGIT_UNDERSCORE.sub(".", text)
    if _ONLY_DIGITS_HYPHENS.match(text):
        text = text.replace("-", ".")
    return text


def normalize_version(version: str) -> str:
    """A component's version in the normalizer's spelling (lower case, surrounding blanks gone)."""
    return version.strip().lower()


def is_commit(value: str) -> bool:
    """Whether a range event is a commit hash (hex, 7 to 64 digits) rather than a tag."""
    return bool(_COMMIT.match(value.lower())) and not value.isdigit()


@lru_cache(maxsize=65536)
def release_key(version: str) -> tuple[tuple[int, ...], str] | None:
    """An order for plain release numbers (``1.1.1k`` < ``1.1.1l`` < ``1.1.2``), None for anything else."""
    m = _PLAIN.match(version)
    if m is None:
        return None
    return tuple(int(p) for p in m.group(1).split(".")), m.group(2)


@dataclass(frozen=True, slots=True)
class GitVerdict:
    """What one ``affected`` entry says about a version of a repository's library."""

    affected: bool
    unverifiable: str | None = None  # why nothing can be said (commit-only ranges), when so
    fixes: tuple[str, ...] = ()  # normalized ``fixed`` tags of the entry's GIT ranges


def entry_repos(entry: AffectedPackage) -> frozenset[str]:
    """The normalized repositories an entry describes: its GIT ranges' ``repo``, and the package
    name when the package is of the ``GIT`` ecosystem."""
    repos = {normalize_repo_url(r.repo) for r in entry.ranges if r.type == "GIT" and r.repo}
    if entry.ecosystem == "GIT" and entry.name:
        repos.add(normalize_repo_url(entry.name))
    return frozenset(repos)


@lru_cache(maxsize=16384)
def _tags(versions: tuple[str, ...]) -> frozenset[str]:
    return frozenset(t for t in map(normalize_tag, versions) if t is not None)


def git_verdict(entry: AffectedPackage, repo: str, version: str) -> GitVerdict:
    """Whether ``entry`` covers ``version`` (the library's spelling) of the repository ``repo`` (normalized)."""
    wanted = normalize_version(version)
    ranges = [r for r in entry.ranges if r.type == "GIT" and (r.repo is None or normalize_repo_url(r.repo) == repo)]
    fixes = tuple(
        sorted(
            {t for r in (*ranges, *(r for r in entry.ranges if r.type == "SEMVER")) for e in r.events
             if e.kind == "fixed" and not is_commit(e.value) and (t := normalize_tag(e.value)) is not None},
            key=lambda t: release_key(t) or ((), t),
        )
    )
    if wanted in _tags(entry.versions):
        return GitVerdict(True, fixes=fixes)
    key = release_key(wanted)
    commit_only = False
    for rng in ranges:
        values = [e for e in rng.events if not (e.kind == "introduced" and e.value == "0")
                  and not (e.kind == "limit" and e.value == "*")]
        if any(is_commit(e.value) for e in values):
            commit_only = True
            continue
        if key is None:
            continue
        if _in_tag_range(key, rng.events):
            return GitVerdict(True, fixes=fixes)
    if key is not None and any(_in_tag_range(key, r.events) for r in entry.ranges if r.type == "SEMVER"):
        return GitVerdict(True, fixes=fixes)  # curl's own records: a SEMVER range beside the GIT one
    if commit_only and not entry.versions:
        return GitVerdict(
            False,
            unverifiable="its GIT range is given by commits only and it lists no affected tags",
            fixes=fixes,
        )
    return GitVerdict(False, fixes=fixes)


def _in_tag_range(key: tuple[tuple[int, ...], str], events: tuple[RangeEvent, ...]) -> bool:
    """The OSV sorted walk over a GIT range whose events are all tags with plain release numbers
    (a range with any other tag is not evaluated: False)."""
    walk = []
    opened = False
    for event in events:
        kind, value = event.kind, event.value
        if kind == "introduced" and value == "0":
            opened = True
            continue
        if kind == "limit" and value == "*":
            continue
        tag = normalize_tag(value)
        tag_key = release_key(tag) if tag is not None else None
        if tag_key is None:
            return False
        walk.append((tag_key, {"introduced": 0, "last_affected": 1, "fixed": 2, "limit": 3}[kind], kind))
    walk.sort()
    affected = opened
    for tag_key, _rank, kind in walk:
        if kind == "limit":
            if key >= tag_key:
                return False
        elif kind == "introduced":
            if key >= tag_key:
                affected = True
        elif kind == "fixed":
            if key >= tag_key:
                affected = False
        elif key > tag_key:
            affected = False
    return affected
