"""Does an OSV record affect a query outside PyPI: a native library by its upstream repository (``GIT``),
or an OS package of a distribution release (``Debian:12``, ``Alpine:v3.19``, ``AlmaLinux:9``...)?

The offline database evaluates records with ``evaluate``; ``match.py`` computes fixes with
``fixed_candidates`` and ``covers``. The online backend trusts the API's answer instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cmp_to_key

from depscan.advisories.backend import PackageQuery
from depscan.advisories.distro_versions import in_distro_range, order_for
from depscan.advisories.git_tags import entry_fixes, entry_repos, git_verdict, release_key
from depscan.advisories.native_repos import normalize_repo_url
from depscan.models import Advisory, AffectedPackage


def index_keys(advisory: Advisory) -> set[tuple[str, str]]:
    """The (ecosystem, name) keys under which a record is found: PyPI and other package
    ecosystems by (ecosystem, normalized name), distributions by the ecosystem with its release
    (``Debian:12``), repositories by ("GIT", normalized URL) for every GIT range's ``repo`` and for
    packages of the ``GIT`` ecosystem."""
    keys: set[tuple[str, str]] = set()
    for a in advisory.affected:
        if a.ecosystem == "GIT":
            if a.name:
                keys.add(("GIT", normalize_repo_url(a.name)))
        elif a.normalized_name:
            keys.add((a.full_ecosystem, a.normalized_name))
        for r in a.ranges:
            if r.type == "GIT" and r.repo:
                keys.add(("GIT", normalize_repo_url(r.repo)))
    return keys


def entries_for(advisory: Advisory, query: PackageQuery) -> Iterator[AffectedPackage]:
    """The ``affected`` entries of a record that describe the queried package (GIT: repository)."""
    for entry in advisory.affected:
        if query.ecosystem == "GIT":
            if query.name in entry_repos(entry):
                yield entry
        elif entry.full_ecosystem == query.ecosystem and entry.normalized_name == query.name:
            yield entry


def evaluate(advisory: Advisory, query: PackageQuery) -> tuple[bool, str | None]:
    """(affected, why it cannot be said) of a record for a GIT or distribution query."""
    if query.ecosystem == "GIT":
        reason = None
        for entry in entries_for(advisory, query):
            verdict = git_verdict(entry, query.name, query.version)
            if verdict.affected:
                return True, None
            reason = reason or verdict.unverifiable
        return False, reason
    compare = order_for(query.ecosystem)
    for entry in entries_for(advisory, query):
        if query.version in entry.versions:
            return True, None
        if compare is None:
            if entry.ranges:
                return False, f"depscan has no version order for the {query.ecosystem} ecosystem"
            continue
        if any(in_distro_range(query.version, r, compare) for r in entry.ranges):
            return True, None
    return False, None


def fixed_candidates(advisory: Advisory, query: PackageQuery) -> list[str]:
    """The ``fixed`` values of a record's entries for the query, in the library's or the
    distribution's own spelling (GIT: tags normalized, commits left out)."""
    out: list[str] = []
    for entry in entries_for(advisory, query):
        if query.ecosystem == "GIT":
            out.extend(entry_fixes(entry, query.name))
        else:
            out.extend(e.value for r in entry.ranges if r.type == "ECOSYSTEM" for e in r.events if e.kind == "fixed")
    return out


def fixes_above(query: PackageQuery, group: Sequence[Advisory]) -> tuple[tuple[str, ...], str | None]:
    """(fixed versions no advisory of the group affects, in order; the smallest above the queried
    version) for a GIT or distribution query."""
    candidates = {c for adv in group for c in fixed_candidates(adv, query)}
    kept = [
        c for c in candidates
        if not any(evaluate(adv, PackageQuery(query.ecosystem, query.name, c))[0] for adv in group)
    ]
    if query.ecosystem == "GIT":
        plain = sorted((key, c) for c in kept if (key := release_key(c)) is not None)
        ordered = [c for _key, c in plain]
        installed = release_key(query.version.strip().lower())
        above = [c for key, c in plain if installed is not None and key > installed]
        return tuple(ordered), (above[0] if above else None)
    compare = order_for(query.ecosystem)
    if compare is None:
        return (), None
    ordered = sorted(kept, key=cmp_to_key(compare))
    above = [c for c in ordered if compare(c, query.version) > 0]
    return tuple(ordered), (above[0] if above else None)
