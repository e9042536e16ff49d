"""The fix advice as ``depscan/fixes.py`` computed it before its fast path (757890e): per copy, the advice of
each (package, version, findings) rebuilt with ``dataclasses.replace``, every round of ``verified`` a whole
``compute`` (copies included), ``pins`` parsing every copy's version. Kept verbatim as the reference of the
differential tests (tests/test_fixes_fast.py); never imported by depscan."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from packaging.version import Version

from depscan.advisories.ranges import parse_version
from depscan.facts import component_key
from depscan.fixes import NOT_CHECKED, Copy, Package, _copy_notes, _IndexSite, above, pick, with_conflicts
from depscan.models import Advisory, Finding, FixAdvice, PythonDist, ScanResult, Status

if TYPE_CHECKING:
    from depscan.advisories.backend import AdvisoryBackend
    from depscan.pypi_index import IndexClient


def vulnerable(result: ScanResult) -> list[Copy]:
    """The distribution copies with active findings, sorted by name, version and path."""
    by_copy: dict[object, list[Finding]] = {}
    dists: dict[object, PythonDist] = {}
    for finding in result.findings:
        c = finding.component
        if finding.suppressed is not None or not isinstance(c, PythonDist):
            continue
        key = (c.purl, c.metadata_location.path, c.metadata_location.layer)
        found = by_copy.get(key)
        if found is None:
            by_copy[key] = [finding]
            dists[key] = c
        else:
            found.append(finding)
    out = [Copy(dists[key], tuple(findings)) for key, findings in by_copy.items()]
    out.sort(key=lambda c: (c.dist.normalized_name, c.dist.version, c.dist.metadata_location.path))
    return out


def compute(result: ScanResult, extra: Mapping[str, Sequence[Advisory]] | None = None,
            index: IndexClient | None = None) -> tuple[FixAdvice, ...]:
    """The fix advice of every vulnerable copy of ``result``: candidates from the advisory data, or with
    ``index`` from the index's releases; ``extra`` advisories (by name) count against candidates too."""
    copies = vulnerable(result)
    if not copies:
        return ()
    packages: dict[str, Package] = {}
    added: set[tuple[str, tuple[str, ...]]] = set()  # copies of one version bring the same advisories
    for c in copies:
        package = packages.get(c.dist.normalized_name)
        if package is None:
            package = packages[c.dist.normalized_name] = Package(c.dist.normalized_name)
            package.add(extra.get(package.name, ()) if extra else ())
        ids = (c.dist.version, *(f.id for f in c.findings))
        if (package.name, ids) not in added:
            added.add((package.name, ids))
            package.add(a for f in c.findings for a in f.advisories)
    offline: dict[str, list[tuple[Version, str]]] = {}
    site = _IndexSite(index, result) if index is not None else None
    found: list[FixAdvice] = []
    requires: dict[str, tuple[str, ...]] = {}
    # the advice of one (package, version, findings[, wheel tags]) is the same for all its copies
    done: dict[tuple[object, ...], tuple[FixAdvice, tuple[str, ...] | None]] = {}
    for c in copies:
        dist = c.dist
        ids = tuple(f.id for f in c.findings)
        key = (dist.normalized_name, dist.version, ids,
               dist.wheel.tags if site is not None and dist.wheel is not None else None)
        known = done.get(key)
        if known is None:
            known = done[key] = _advise(c, ids, packages[dist.normalized_name], offline, site, index)
        base, own = known
        item = FixAdvice(component_key=component_key(dist), name=dist.name, normalized_name=base.normalized_name,
                         purl=dist.purl, path=dist.metadata_location.path, current=dist.version,
                         recommended=base.recommended, newest_in_major=base.newest_in_major,
                         advisories=base.advisories, breaking=base.breaking, checked=base.checked,
                         why_not=base.why_not, notes=(*_copy_notes(dist), *base.notes), status=dist.status,
                         hashes=base.hashes, index_url=base.index_url)
        if own is not None:
            requires[item.component_key] = own
        found.append(item)
    return tuple(with_conflicts(result, found, requires if index is not None else None))


def _advise(c: Copy, ids: tuple[str, ...], package: Package, offline: dict[str, list[tuple[Version, str]]],
            site: _IndexSite | None, index: IndexClient | None) -> tuple[FixAdvice, tuple[str, ...] | None]:
    """The advice for one copy, without what is the copy's own (key, path, status, its notes); with the
    index, the recommended release's Requires-Dist too."""
    dist = c.dist
    blank = FixAdvice(component_key="", name=dist.name, normalized_name=dist.normalized_name, purl=dist.purl,
                      path=dist.metadata_location.path, current=dist.version, recommended=None,
                      checked=index is not None, index_url=None if index is None else index.index_url)
    current = parse_version(dist.version)
    if c.malicious:
        return replace(blank, why_not="known-malicious package: no version is safe; remove it"), None
    if current is None:
        return replace(blank, why_not=f"the installed version {dist.version!r} is not a PEP 440 version: "
                                      "nothing can be said to be above it"), None
    if site is not None:
        return site.advise(c, package, current, ids, blank)
    safe = offline.get(package.name)
    if safe is None:
        safe = offline[package.name] = package.safe(package.candidates())
    recommended, newest, breaking = pick(current, above(current, safe))
    if recommended is None:
        return replace(blank, why_not=f"no version named by the advisory data is outside every advisory of "
                                      f"{dist.name} known to this scan ({NOT_CHECKED})"), None
    return replace(blank, recommended=recommended, newest_in_major=newest, breaking=breaking, advisories=ids), None


def verified(result: ScanResult, backend: AdvisoryBackend, index: IndexClient | None = None,
             rounds: int = 4) -> tuple[FixAdvice, ...]:
    """``compute``, with every recommended (and newest-in-line) version looked up in ``backend`` too: an
    advisory that does not affect the installed version but affects the candidate (a regression, a
    range that reopens in a later release) moves the recommendation on, until the backend names no new
    advisory (at most ``rounds`` lookups; a version still unverified then is said so)."""
    from depscan.advisories.backend import PackageQuery

    extra: dict[str, dict[str, Advisory]] = {}
    asked: set[PackageQuery] = set()
    failed: dict[tuple[str, str], str] = {}
    found = compute(result, extra=None, index=index)
    for _round in range(rounds):
        wanted = {PackageQuery("PyPI", a.normalized_name, version)
                  for a in found for version in (a.recommended, a.newest_in_major) if version is not None}
        wanted -= asked
        if not wanted:
            break
        asked |= wanted
        answer = backend.lookup(sorted(wanted, key=lambda q: (q.name, q.version)))
        new = False
        for query in wanted:
            if query in answer.failed or query not in answer.affected:
                failed[(query.name, query.version)] = answer.failed.get(query, "no answer")
                continue
            for adv in answer.affected[query]:
                known = extra.setdefault(query.name, {})
                if adv.id not in known:
                    known[adv.id] = adv
                    new = True
        if not new:
            break
        found = compute(result, extra={name: list(advs.values()) for name, advs in extra.items()}, index=index)
    out = []
    for item in found:
        unsure = [f"{version}: {failed[(item.normalized_name, version)]}"
                  for version in (item.recommended, item.newest_in_major)
                  if version is not None and (item.normalized_name, version) in failed]
        if not unsure and item.recommended is not None and (
                PackageQuery("PyPI", item.normalized_name, item.recommended) not in asked):
            unsure = [f"{item.recommended}: not looked up (the advisories kept moving the recommendation)"]
        out.append(replace(item, notes=(*item.notes, *(f"advisories of {u} could not be checked" for u in unsure)))
                   if unsure else item)
    return tuple(out)


def pins(advices: Iterable[FixAdvice]) -> list[str]:
    """The ``name==version`` lines to write: one per distribution the runtime imports (used copies; a
    shadowed or vendored copy is not replaced by a pin), the highest recommendation when copies differ."""
    chosen: dict[str, tuple[Version, str, str]] = {}
    for a in advices:
        if a.recommended is None or a.status is not Status.USED:
            continue
        parsed = parse_version(a.recommended)
        if parsed is None:
            continue
        known = chosen.get(a.normalized_name)
        if known is None or parsed > known[0]:
            chosen[a.normalized_name] = (parsed, a.name, a.recommended)
    return [f"{name}=={version}" for _key, (_p, name, version) in sorted(chosen.items())]
