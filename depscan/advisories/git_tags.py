"""GIT ranges and tags: does an OSV record cover a native library version named by its upstream tags?

A record's ``affected[]`` entry covers a repository when one of its ``GIT`` ranges has that
``repo`` (or its package is the ``GIT`` ecosystem's, named by the repository URL); URLs are
compared normalized (``native_repos.normalize_repo_url``). The identified version (``1.1.1k``)
is compared with the entry's ``versions`` tags through a conservative normalizer:

* a known project prefix is stripped, case-insensitively (``v``, ``OpenSSL_``, ``openssl-``,
  ``curl-``, ``libwebp-``, ``version-``, ``R_``, ``VER-``, ``lcms`` (``lcms2.15``), ``krb5-``, ...);
  after ``krb5-`` the release suffix ``-final`` too (``krb5-1.21.3-final``; ``-beta1`` is kept);
* ``_`` between two digits becomes ``.`` (``1_1_1k`` -> ``1.1.1k``); ``-`` too, but only when the
  rest is nothing but digits and ``-`` (freetype's ``VER-2-12-0``);
* letters are lower-cased and kept: ``1.1.1k`` never equals ``1.1.1w``; the result must start
  with a digit, else the tag names no release (``OpenSSL-fips-2_0_16`` strips to text, not kept).

Equality is exact after normalizing (``1.2`` is not ``1.2.0``). A component version that is a
development build (OpenBLAS ``0.3.23.dev``, curl ``8.4.0-DEV``) is never compared: it is neither the
release before nor the one after, so ``match.py`` reports it not verifiable (``development_build``).
Range events that are tags (not 40-hex commit hashes) are evaluated as a range with a release order
that only accepts ``digits(.digits)*`` plus an optional lower-case letter run (OpenSSL's
``1.0.2za``); anything else is not ordered; a ``SEMVER`` range on such an entry (curl's own records
put one beside the GIT range) is evaluated the same way. A range whose events are commits, on an
entry without a ``versions`` list, says nothing about a version: the record is "not verifiable" for
that component (depscan has no clone of the repository to resolve commits to tags).
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
            "libjpeg-turbo-", "lcms", "krb5-", "v",
        ),
        key=len,
        reverse=True,
    )
)
# What a project writes after the release in its tags, stripped only after that project's prefix:
# MIT krb5 tags a release "krb5-1.21.3-final" (and a beta "krb5-1.20-beta1", kept: not the release).
_SUFFIXES = {"krb5-": "-final"}
# A development build between releases: OpenBLAS "0.3.23.dev" (numpy's bundled libopenblas), curl
# "8.4.0-DEV". No release tag names it, and it is neither the release before nor the one after.
_DEVELOPMENT = re.compile(r"[.\-_]dev\d*$", re.IGNORECASE)
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
            suffix = _SUFFIXES.get(prefix)
            if suffix is not None and text.endswith(suffix):
                text = text[: -len(suffix)]
            break
    if not text[:1].isdigit():
        return None
    text = _DIGIT_UNDERSCORE.sub(".", text)
    if _ONLY_DIGITS_HYPHENS.match(text):
        text = text.replace("-", ".")
    return text


def development_build(version: str) -> bool:
    """Whether a component's version names a development build (``0.3.23.dev``, ``8.4.0-DEV``), which
    no release tag names and no release order places: it is matched against nothing."""
    return bool(_DEVELOPMENT.search(version.strip()))


def normalize_version(version: str) -> str:
    """A component's version in the normalizer's spelling (lower case, surrounding blanks gone)."""
    return version.strip().lower()


@lru_cache(maxsize=65536)
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
    known = _REPOS.get(id(entry))
    if known is not None and known[0] is entry:
        return known[1]
    repos = {normalize_repo_url(r.repo) for r in entry.ranges if r.type == "GIT" and r.repo}
    if entry.ecosystem == "GIT" and entry.name:
        repos.add(normalize_repo_url(entry.name))
    made = frozenset(repos)
    if len(_REPOS) >= _MAX_PREPARED:
        _REPOS.clear()
    _REPOS[id(entry)] = (entry, made)
    return made


# id(entry) -> (entry, its repositories); the entry is kept so its id is not reused while cached.
_REPOS: dict[int, tuple[AffectedPackage, frozenset[str]]] = {}


@lru_cache(maxsize=16384)
def _tags(versions: tuple[str, ...]) -> frozenset[str]:
    return frozenset(t for t in map(normalize_tag, versions) if t is not None)


_Key = tuple[tuple[int, ...], str]
# A range prepared for the walk: (opened by introduced "0", sorted (key, rank, kind) events), or
# None when one of its tags has no release order (the range is then not evaluated).
_Walk = tuple[bool, tuple[tuple[_Key, int, str], ...]] | None
_RANK = {"introduced": 0, "last_affected": 1, "fixed": 2, "limit": 3}


@dataclass(frozen=True, slots=True)
class _Prepared:
    """One entry's view of one repository, computed once."""

    tags: frozenset[str]  # the normalized ``versions`` tags
    walks: tuple[_Walk, ...]  # GIT ranges of the repository given by tags, and SEMVER ranges
    commit_only: bool  # a GIT range of the repository is given by commits
    fixes: tuple[str, ...]  # normalized ``fixed`` tags, in release order


def _walk(events: tuple[RangeEvent, ...]) -> _Walk:
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
            return None
        walk.append((tag_key, _RANK[kind], kind))
    walk.sort()
    return opened, tuple(walk)


def _prepare(entry: AffectedPackage, repo: str) -> _Prepared:
    ranges = [r for r in entry.ranges if r.type == "GIT" and (r.repo is None or normalize_repo_url(r.repo) == repo)]
    semver = [r for r in entry.ranges if r.type == "SEMVER"]
    commit_only = False
    walks: list[_Walk] = []
    for rng in ranges:
        if any(is_commit(e.value) for e in rng.events
               if not (e.kind == "introduced" and e.value == "0") and not (e.kind == "limit" and e.value == "*")):
            commit_only = True
        else:
            walks.append(_walk(rng.events))
    walks.extend(_walk(r.events) for r in semver)
    fixes = sorted(
        {t for r in (*ranges, *semver) for e in r.events
         if e.kind == "fixed" and not is_commit(e.value) and (t := normalize_tag(e.value)) is not None},
        key=lambda t: release_key(t) or ((), t),
    )
    return _Prepared(_tags(entry.versions), tuple(walks), commit_only, tuple(fixes))


# (id(entry), repo) -> (entry, prepared): the entry is kept, so its id cannot be reused while cached.
_PREPARED: dict[tuple[int, str], tuple[AffectedPackage, _Prepared]] = {}
_MAX_PREPARED = 65536


def _prepared(entry: AffectedPackage, repo: str) -> _Prepared:
    known = _PREPARED.get((id(entry), repo))
    if known is not None and known[0] is entry:
        return known[1]
    made = _prepare(entry, repo)
    if len(_PREPARED) >= _MAX_PREPARED:
        _PREPARED.clear()
    _PREPARED[(id(entry), repo)] = (entry, made)
    return made


def git_verdict(entry: AffectedPackage, repo: str, version: str) -> GitVerdict:
    """Whether ``entry`` covers ``version`` (the library's spelling) of the repository ``repo`` (normalized)."""
    prepared = _prepared(entry, repo)
    wanted = normalize_version(version)
    if wanted in prepared.tags:
        return GitVerdict(True, fixes=prepared.fixes)
    key = release_key(wanted)
    if key is not None and any(walk is not None and _walked(key, *walk) for walk in prepared.walks):
        return GitVerdict(True, fixes=prepared.fixes)
    if prepared.commit_only and not entry.versions:
        return GitVerdict(
            False,
            unverifiable="its GIT range is given by commits only and it lists no affected tags",
            fixes=prepared.fixes,
        )
    return GitVerdict(False, fixes=prepared.fixes)


def entry_fixes(entry: AffectedPackage, repo: str) -> tuple[str, ...]:
    """The normalized ``fixed`` tags of an entry's ranges for a repository (commits left out)."""
    return _prepared(entry, repo).fixes


def _walked(key: _Key, opened: bool, walk: tuple[tuple[_Key, int, str], ...]) -> bool:
    """The OSV sorted walk over a range prepared by ``_walk``."""
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


def clear_caches() -> None:
    """Forget prepared entries and normalized tags (benchmarks measure cold matching)."""
    _PREPARED.clear()
    _REPOS.clear()
    for cached in (normalize_tag, release_key, _tags, is_commit):
        cached.cache_clear()
