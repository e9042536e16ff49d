"""Fix advice: per vulnerable distribution copy, the version to upgrade to (``FixAdvice``), computed once.

A ``Finding`` says what fixes one advisory group (``Finding.fix``). A user upgrades a distribution, not an
advisory: the version to pin must be outside **every** affected range of **every** advisory of all the
copy's findings at once (ranges can reopen, and the fix of one advisory can lie inside another's range).
In a scan the advice is computed once, while the advisory backend is open (``scan.with_advisories`` ->
``verified``), and stored in ``ScanResult.fixes``; ``advice`` derives it for a result built otherwise.

* **Candidates.** Offline: the versions the advisory data itself names for the package (``fixed`` and
  ``limit`` events, ``versions`` lists); never a version made up (the version after a
  ``last_affected`` is not known without the index). With the package index (``--check-index``,
  ``pypi_index.py``): its release list, and only releases that exist, are not yanked (PEP 592) and have
  a file that installs on the target (``pypi_index.installable``).
* **Safe.** A candidate above the installed version that no advisory of the package known to the scan
  covers (``ranges.Matcher.covers``: the lookup's own matching): every advisory of every copy's active
  findings, and, in a scan (``verified``), every advisory the backend reports for a recommended version
  (an advisory that does not affect the installed version can affect the fix: a regression, a range that
  reopens). Pre-releases and development releases are recommended only when the installed version is one.
* **Recommended**: the smallest safe candidate; **newest_in_major**: the newest safe candidate in the
  installed major line (``release[0]``, epoch included; for ``0.x`` the line is ``0.<minor>``, as
  semantic versioning treats a 0.x minor release as breaking). **Breaking**: the recommended version
  leaves that line.
* **Conflicts.** The recommended versions are put in place of the installed copies and the installed
  set's requirements judged again (``requirements_check.check``, the target runtime's markers): a
  requirement that holds today and fails with the recommended version (``botocore`` requiring
  ``urllib3<1.27``) is named in ``FixAdvice.conflicts``. Offline only the other distributions'
  requirements on the upgraded one are known; with the index the recommended release's own
  ``Requires-Dist`` too.

Known-malicious packages get no version (``why_not``: remove it). Suppressed findings are left out.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from packaging.version import Version

from depscan.advisories.ranges import Matcher, matcher, parse_version
from depscan.facts import component_key
from depscan.models import Advisory, Finding, FixAdvice, PythonDist, ScanResult, Status

if TYPE_CHECKING:
    from depscan.advisories.backend import AdvisoryBackend
    from depscan.pypi_index import IndexClient, IndexFile

NOT_CHECKED = "not checked against the package index (offline; --check-index asks it)"


def advice(result: ScanResult) -> tuple[FixAdvice, ...]:
    """The fix advice of ``result``: what the scan stored, else derived from its findings alone (once per
    result: every report of a run shares it)."""
    global _last
    if result.fixes is not None:
        return result.fixes
    if _last is not None and _last[0] is result:
        return _last[1]
    found = compute(result)
    _last = (result, found)
    return found


_last: tuple[ScanResult, tuple[FixAdvice, ...]] | None = None


@dataclass(frozen=True, slots=True)
class Copy:
    """One vulnerable distribution copy and its active findings."""

    dist: PythonDist
    findings: tuple[Finding, ...]

    @property
    def malicious(self) -> bool:
        return any(f.malicious for f in self.findings)


def vulnerable(result: ScanResult) -> list[Copy]:
    """The distribution copies with active findings, sorted by name, version and path (one copy per purl,
    path and layer: two component objects with the same ones are one copy)."""
    by_copy: dict[object, list[Finding]] = {}
    dists: dict[object, PythonDist] = {}
    of: dict[int, list[Finding] | None] = {}  # id(component) -> its copy's findings (None: not a distribution)
    for finding in result.findings:  # every finding stays alive in result: one id is one component
        if finding.suppressed is not None:
            continue
        c = finding.component
        at = id(c)
        if at in of:
            found = of[at]
        else:
            found = None
            if isinstance(c, PythonDist):
                key = (c.purl, c.metadata_location.path, c.metadata_location.layer)
                found = by_copy.get(key)
                if found is None:
                    found = by_copy[key] = []
                    dists[key] = c
            of[at] = found
        if found is not None:
            found.append(finding)
    out = [Copy(dists[key], tuple(findings)) for key, findings in by_copy.items()]
    out.sort(key=lambda c: (c.dist.normalized_name, c.dist.version, c.dist.metadata_location.path))
    return out


class Package:
    """The advisories a scan knows for one package (every copy's findings, and those the backend named for a
    candidate) and the versions outside all of them. A version one of them affects is never recommended, even
    to a copy that advisory does not affect today (it would bring the vulnerability in). Computed once per
    package, whatever the number of copies and versions installed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.matchers: dict[int, Matcher] = {}  # id(entry) -> its matcher
        self._safe: dict[tuple[tuple[Version, str], ...], list[tuple[Version, str]]] = {}

    def add(self, advisories: Iterable[Advisory]) -> None:
        for adv in advisories:
            for entry in adv.affected:
                if entry.ecosystem == "PyPI" and entry.normalized_name == self.name and id(entry) not in self.matchers:
                    self.matchers[id(entry)] = matcher(entry)

    def affected(self, parsed: Version, text: str) -> bool:
        return any(m.covers(parsed, text) for m in self.matchers.values())

    def candidates(self) -> list[tuple[Version, str]]:
        """The versions the advisory data names for the package: ``fixed`` and ``limit`` events and
        ``versions`` lists (PEP 440 only), ascending, each once."""
        found: dict[Version, str] = {}
        for m in self.matchers.values():
            for parsed, text in m.fixes:
                found.setdefault(parsed, text)
            for rng in m.affected.ranges:
                for event in rng.events:
                    if event.kind == "limit" and event.value != "*":
                        limit = parse_version(event.value)
                        if limit is not None:
                            found.setdefault(limit, event.value)
            for text in m.affected.versions:
                listed = parse_version(text)
                if listed is not None:
                    found.setdefault(listed, text)
        return sorted(found.items())

    def safe(self, candidates: Sequence[tuple[Version, str]]) -> list[tuple[Version, str]]:
        """The candidates no known advisory affects, ascending (cached per candidate list)."""
        key = tuple(candidates)
        known = self._safe.get(key)
        if known is None:
            known = self._safe[key] = [(v, t) for v, t in sorted(candidates) if not self.affected(v, t)]
        return known


def line_of(version: Version) -> tuple[int, ...]:
    """The major line of a version: (epoch, release[0]), and for 0.x (epoch, 0, minor)."""
    major = version.release[0]
    if major == 0:
        return (version.epoch, 0, version.release[1] if len(version.release) > 1 else 0)
    return (version.epoch, major)


def above(current: Version, safe: Sequence[tuple[Version, str]]) -> list[tuple[Version, str]]:
    """The safe versions above ``current``, ascending; pre-releases only when ``current`` is one."""
    at = bisect_right(safe, (current, "\uffff"))
    allow_pre = current.is_prerelease
    return [(v, t) for v, t in safe[at:] if v > current and (allow_pre or not v.is_prerelease)]


def pick(current: Version, safe: Sequence[tuple[Version, str]]) -> tuple[str | None, str | None, bool | None]:
    """(recommended, newest in the installed major line, breaking) from the safe versions above ``current``."""
    if not safe:
        return None, None, None
    line = line_of(current)
    recommended = safe[0]
    same_line = [text for parsed, text in safe if line_of(parsed) == line]
    return recommended[1], (same_line[-1] if same_line else None), line_of(recommended[0]) != line


def _copy_notes(dist: PythonDist) -> tuple[str, ...]:
    if dist.status is Status.VENDORED:
        where = f" by the distribution at {dist.vendored_by}" if dist.vendored_by is not None else ""
        return (f"vendored copy at {dist.metadata_location.path}{where}: upgrade what vendors it; a pin of "
                f"{dist.name} does not replace this copy",)
    if dist.status is Status.SHADOWED:
        by = f" the copy at {dist.shadowed_by}" if dist.shadowed_by is not None else " another copy"
        return (f"shadowed: the runtime imports{by}; upgrade or remove this one too",)
    return ()


# The advice of one key (package, version, findings, and with the index the copy's wheel tags), without what
# is each copy's own (key, path, status, its notes); with the index, the recommended release's Requires-Dist.
_Base = tuple[FixAdvice, tuple[str, ...] | None]


@dataclass(frozen=True, slots=True)
class _Plan:
    """The vulnerable copies by key: ``heads`` the first copy of each key (it stands for all of them) and its
    findings' primary ids; ``copies`` every copy with the index of its key in ``heads``."""

    heads: list[tuple[Copy, tuple[str, ...]]]
    copies: list[tuple[Copy, int]]


def compute(result: ScanResult, extra: Mapping[str, Sequence[Advisory]] | None = None,
            index: IndexClient | None = None) -> tuple[FixAdvice, ...]:
    """The fix advice of every vulnerable copy of ``result``: candidates from the advisory data, or with
    ``index`` from the index's releases; ``extra`` advisories (by name) count against candidates too."""
    plan = _plan(vulnerable(result), index is not None)
    if not plan.copies:
        return ()
    return _finish(result, plan, _bases(result, plan, extra, index), {}, index)


def _plan(copies: Sequence[Copy], tags: bool) -> _Plan:
    heads: list[tuple[Copy, tuple[str, ...]]] = []
    slots: dict[tuple[object, ...], int] = {}
    out: list[tuple[Copy, int]] = []
    for c in copies:
        dist = c.dist
        ids = tuple([f.ids[0] for f in c.findings])  # Finding.id
        key = (dist.normalized_name, dist.version, ids, dist.wheel.tags if tags and dist.wheel is not None else None)
        slot = slots.get(key)
        if slot is None:
            slot = slots[key] = len(heads)
            heads.append((c, ids))
        out.append((c, slot))
    return _Plan(heads, out)


def _bases(result: ScanResult, plan: _Plan, extra: Mapping[str, Sequence[Advisory]] | None,
           index: IndexClient | None) -> list[_Base]:
    """The advice of each head of ``plan`` (each key once)."""
    packages: dict[str, Package] = {}
    added: set[tuple[str, tuple[str, ...]]] = set()  # copies of one version bring the same advisories
    for c, ids in plan.heads:  # the first copy of each (version, findings) comes first among its keys' heads
        package = packages.get(c.dist.normalized_name)
        if package is None:
            package = packages[c.dist.normalized_name] = Package(c.dist.normalized_name)
            package.add(extra.get(package.name, ()) if extra else ())
        versioned = (package.name, (c.dist.version, *ids))
        if versioned not in added:
            added.add(versioned)
            package.add(a for f in c.findings for a in f.advisories)
    offline: dict[str, list[tuple[Version, str]]] = {}
    site = _IndexSite(index, result) if index is not None else None
    return [_advise(c, ids, packages[c.dist.normalized_name], offline, site, index) for c, ids in plan.heads]


def _finish(result: ScanResult, plan: _Plan, bases: Sequence[_Base], more: Mapping[int, tuple[str, ...]],
            index: IndexClient | None) -> tuple[FixAdvice, ...]:
    """One ``FixAdvice`` per copy from its key's advice (``more``: notes after the key's own, by head), then
    the conflicts of the upgraded set (``with_conflicts``)."""
    found: list[FixAdvice] = []
    requires: dict[str, tuple[str, ...]] = {}
    for c, slot in plan.copies:
        dist = c.dist
        base, own = bases[slot]
        mine = _copy_notes(dist)
        after = more.get(slot, ())
        item = FixAdvice(component_key=component_key(dist), name=dist.name, normalized_name=base.normalized_name,
                         purl=dist.purl, path=dist.metadata_location.path, current=dist.version,
                         recommended=base.recommended, newest_in_major=base.newest_in_major,
                         advisories=base.advisories, breaking=base.breaking, checked=base.checked,
                         why_not=base.why_not,
                         notes=(*mine, *base.notes, *after) if mine or after else base.notes,
                         status=dist.status, hashes=base.hashes, index_url=base.index_url)
        if own is not None:
            requires[item.component_key] = own
        found.append(item)
    return tuple(with_conflicts(result, found, requires if index is not None else None))


def _advise(c: Copy, ids: tuple[str, ...], package: Package, offline: dict[str, list[tuple[Version, str]]],
            site: _IndexSite | None, index: IndexClient | None) -> _Base:
    """The advice for one copy, without what is the copy's own (key, path, status, its notes); with the
    index, the recommended release's Requires-Dist too."""
    dist = c.dist

    def base(**decided: object) -> FixAdvice:
        return FixAdvice(component_key="", name=dist.name, normalized_name=dist.normalized_name, purl=dist.purl,
                         path=dist.metadata_location.path, current=dist.version, checked=index is not None,
                         index_url=None if index is None else index.index_url, **decided)  # type: ignore[arg-type]

    current = parse_version(dist.version)
    if c.malicious:
        return base(recommended=None, why_not="known-malicious package: no version is safe; remove it"), None
    if current is None:
        return base(recommended=None, why_not=f"the installed version {dist.version!r} is not a PEP 440 version: "
                                              "nothing can be said to be above it"), None
    if site is not None:
        return site.advise(c, package, current, ids, base(recommended=None))
    safe = offline.get(package.name)
    if safe is None:
        safe = offline[package.name] = package.safe(package.candidates())
    recommended, newest, breaking = pick(current, above(current, safe))
    if recommended is None:
        return base(recommended=None, why_not=f"no version named by the advisory data is outside every advisory "
                                              f"of {dist.name} known to this scan ({NOT_CHECKED})"), None
    return base(recommended=recommended, newest_in_major=newest, breaking=breaking, advisories=ids), None


def verified(result: ScanResult, backend: AdvisoryBackend, index: IndexClient | None = None,
             rounds: int = 4) -> tuple[FixAdvice, ...]:
    """``compute``, with every recommended (and newest-in-line) version looked up in ``backend`` too: an
    advisory that does not affect the installed version but affects the candidate (a regression, a
    range that reopens in a later release) moves the recommendation on, until the backend names no new
    advisory (at most ``rounds`` lookups; a version still unverified then is said so). Each round computes
    the advice once per key (package, version, findings), not per copy; the copies are written once, at
    the end."""
    from depscan.advisories.backend import PackageQuery

    plan = _plan(vulnerable(result), index is not None)
    if not plan.copies:
        return ()
    extra: dict[str, dict[str, Advisory]] = {}
    asked: set[PackageQuery] = set()
    failed: dict[tuple[str, str], str] = {}
    bases = _bases(result, plan, None, index)
    for _round in range(rounds):
        wanted = {PackageQuery("PyPI", base.normalized_name, version)
                  for base, _own in bases for version in (base.recommended, base.newest_in_major)
                  if version is not None}
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
        bases = _bases(result, plan, {name: list(advs.values()) for name, advs in extra.items()}, index)
    more: dict[int, tuple[str, ...]] = {}
    for slot, (base, _own) in enumerate(bases):
        unsure = [f"{version}: {failed[(base.normalized_name, version)]}"
                  for version in (base.recommended, base.newest_in_major)
                  if version is not None and (base.normalized_name, version) in failed]
        if not unsure and base.recommended is not None and (
                PackageQuery("PyPI", base.normalized_name, base.recommended) not in asked):
            unsure = [f"{base.recommended}: not looked up (the advisories kept moving the recommendation)"]
        if unsure:
            more[slot] = tuple(f"advisories of {u} could not be checked" for u in unsure)
    return _finish(result, plan, bases, more, index)


class _IndexSite:
    """Fix advice from the index's releases: safe, not yanked, installable on the copy's target (each
    project asked once, each release judged once per target)."""

    def __init__(self, index: IndexClient, result: ScanResult) -> None:
        self.index = index
        self.result = result
        self.judged: dict[tuple[str, str], dict[Version, tuple[list[IndexFile], str | None, str | None]]] = {}

    def advise(self, c: Copy, package: Package, current: Version, ids: tuple[str, ...],
               blank: FixAdvice) -> tuple[FixAdvice, tuple[str, ...] | None]:
        from depscan.pypi_index import IndexUnavailable, ProjectNotFound, installable, target_tags

        dist = c.dist
        try:
            project = self.index.project(dist.normalized_name)
        except ProjectNotFound as e:
            return replace(blank, why_not=str(e)), None
        except IndexUnavailable as e:  # what the advisory data alone says, not checked
            safe = package.safe(package.candidates())
            recommended, newest, breaking = pick(current, above(current, safe))
            return replace(blank, recommended=recommended, newest_in_major=newest, breaking=breaking,
                           advisories=ids if recommended else (), checked=False,
                           why_not=f"the index could not be asked ({e}); the advice is the advisory data's, "
                                   f"{NOT_CHECKED}"), None
        target = target_tags(self.result.target, dist)
        releases = project.releases()
        judged = self.judged.setdefault((project.name, target.describe + (target.caveat or "")), {})
        passing: list[tuple[Version, str]] = []
        refused: list[str] = []
        for parsed, text in above(current, package.safe([(v, str(v)) for v in releases])):
            verdict = judged.get(parsed)
            if verdict is None:
                verdict = judged[parsed] = installable(releases[parsed], target)
            if verdict[1] is not None:
                refused.append(f"{text}: {verdict[1]}")
            else:
                passing.append((parsed, text))
        notes = [*blank.notes, *(n for n in (target.caveat,) if n)]
        recommended, newest, breaking = pick(current, passing)
        if recommended is None:
            newer = any(version > current for version in releases)
            why = (f"no release of {dist.name} above {dist.version} on {self.index.index_url} is outside every "
                   f"advisory of it known to this scan and installs on {target.describe}" if newer else
                   f"no release of {dist.name} above {dist.version} on {self.index.index_url}")
            if refused:
                why += " (" + "; ".join(refused[:5]) + (f"; and {len(refused) - 5} more" if len(refused) > 5
                                                        else "") + ")"
            return replace(blank, why_not=why, notes=tuple(notes)), None
        chosen, _why, how = judged[Version(recommended)]
        if how:
            notes.append(f"{recommended}: {how}")
        skipped = [r for r in refused if Version(r.split(":", 1)[0]) < Version(recommended)]
        if skipped:
            notes.append("skipped: " + "; ".join(skipped[:5]) + (f"; and {len(skipped) - 5} more"
                                                                 if len(skipped) > 5 else ""))
        hashes = tuple(dict.fromkeys(f"sha256:{f.sha256}" for f in chosen if f.sha256))
        own = self.index.requires_dist(project, recommended)
        if own is None:
            notes.append(f"the Requires-Dist of {recommended} could not be read from the index: its own "
                         "requirements are not judged")
        return replace(blank, recommended=recommended, newest_in_major=newest, breaking=breaking, advisories=ids,
                       hashes=hashes, notes=tuple(notes)), own


def with_conflicts(result: ScanResult, found: list[FixAdvice],
                   requires: dict[str, tuple[str, ...]] | None = None) -> list[FixAdvice]:
    """``found`` with the requirements of the installed set each recommended version breaks.

    The recommended versions replace the installed copies (with their own ``Requires-Dist`` when
    ``requires`` gives it, by component key; without it their own requirements are not judged) and the
    set is judged again; a requirement finding that
    the set with the upgrades has and the set without them does not is a conflict of the upgrade it names.
    """
    if result.target is None or not any(a.recommended for a in found):
        return found
    from depscan import requirements_check

    planned = {a.component_key: a for a in found if a.recommended is not None}
    dists = [c for c in result.components if isinstance(c, PythonDist)]
    if not any(d.requires_dist for d in dists):
        return found
    upgraded = []
    upgraded_at: dict[tuple[str, str | None], FixAdvice] = {}
    for c in result.components:
        if isinstance(c, PythonDist):
            plan = planned.get(component_key(c))
            if plan is not None and plan.recommended is not None:
                # offline the release's own requirements are unknown: not judged (the installed ones are not its)
                new_requires = requires.get(plan.component_key, ()) if requires else ()
                c = replace(c, version=plan.recommended, requires_dist=new_requires)
                upgraded_at[(c.metadata_location.path, c.metadata_location.layer)] = plan
        upgraded.append(c)
    before, _ = requirements_check.check(result.components, result.target, result.artifact.kind)
    after, _ = requirements_check.check(upgraded, result.target, result.artifact.kind)
    known = {(f.rule, f.location, f.about) for f in before}
    conflicts: dict[str, list[str]] = {}
    by_name: dict[str, list[FixAdvice]] = {}
    for plan in planned.values():
        by_name.setdefault(plan.normalized_name, []).append(plan)
    for f in after:
        if (f.rule, f.location, f.about) in known:
            continue
        if f.rule == requirements_check.MISSING and f.level is not requirements_check.RULES[f.rule]:
            continue  # on the AWS SDK a Lambda runtime provides (low): not a conflict of the upgrade
        text = f.message.split("; install", 1)[0].split(", but the copy it imports", 1)[0]
        source = upgraded_at.get((f.location.path, f.location.layer))
        if source is not None:  # the upgraded release's own requirement
            conflicts.setdefault(source.component_key, []).append(text)
        for plan in by_name.get(f.about or "", []):  # another distribution's requirement on an upgraded one
            conflicts.setdefault(plan.component_key, []).append(text)
    return [replace(a, conflicts=tuple(dict.fromkeys(conflicts[a.component_key])))
            if a.component_key in conflicts else a for a in found]


def pins(advices: Iterable[FixAdvice]) -> list[str]:
    """The ``name==version`` lines to write: one per distribution the runtime imports (used copies; a
    shadowed or vendored copy is not replaced by a pin), the highest recommendation when copies differ."""
    chosen: dict[str, tuple[Version, str, str]] = {}
    for a in advices:
        if a.recommended is None or a.status is not Status.USED:
            continue
        known = chosen.get(a.normalized_name)
        if known is not None and a.recommended == known[2]:
            continue  # another copy of one version (a rescan at scale has thousands): nothing to compare
        parsed = parse_version(a.recommended)
        if parsed is None:
            continue
        if known is None or parsed > known[0]:
            chosen[a.normalized_name] = (parsed, a.name, a.recommended)
    return [f"{name}=={version}" for _key, (_p, name, version) in sorted(chosen.items())]


def major_label(version: str) -> str:
    """The major line of a version as people write it: ``2.x``, ``0.4.x``."""
    parsed = parse_version(version)
    if parsed is None:
        return version
    line = line_of(parsed)
    epoch = f"{line[0]}!" if line[0] else ""
    return epoch + ".".join(str(part) for part in line[1:]) + ".x"


def describe(item: FixAdvice, lead: bool = True) -> str:
    """One line for people: the upgrade (``lead``; a table with its own column leaves it out), or why
    there is none, and what limits it."""
    if item.recommended is None:
        return f"no fix: {item.why_not}" if item.why_not else "no fix"
    parts = [f"upgrade to {item.recommended}" if lead else ""]
    if item.breaking:
        leaves = f"leaves the {major_label(item.current)} line"
        parts[0] += f" ({leaves})" if lead else leaves
    if item.newest_in_major is not None and item.newest_in_major != item.recommended:
        parts.append(f"newest safe in {major_label(item.current)}: {item.newest_in_major}")
    elif item.breaking and item.newest_in_major is None:
        parts.append(f"no safe version in {major_label(item.current)}")
    if item.conflicts:
        parts.append("CONFLICTS: " + "; ".join(item.conflicts))
    if not item.checked:
        parts.append("availability not checked against the index")
    if item.why_not:
        parts.append(item.why_not)
    return "; ".join(part for part in parts if part)


def by_key(advices: Iterable[FixAdvice]) -> dict[str, FixAdvice]:
    """Advice by component key."""
    return {a.component_key: a for a in advices}
