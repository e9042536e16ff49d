"""Components x advisories -> findings: alias grouping, severity, fixes, ignores.

One finding per (component copy, advisory group). A group is the transitive closure of ids and
aliases over the advisories affecting that component, so PYSEC-2018-28 and the GHSA and CVE it
aliases are one finding listing all three ids.

Fixes are computed here, once, for every reporter: a finding's ``fixed_versions`` are the
``fixed`` event values of its advisories that are PEP 440 versions and that no advisory of the
group affects (a ``fixed`` value can lie inside another interval of the same record, or of
another record of the group); its ``fix`` is the smallest of them above the installed version.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from packaging.version import Version

from depscan.advisories.backend import AdvisoryBackend, LookupResult, PackageQuery
from depscan.advisories.distro_versions import order_for
from depscan.advisories.git_tags import development_build
from depscan.advisories.native_match import fixes_above
from depscan.advisories.native_repos import no_repository_reason, repos_for
from depscan.advisories.osv_schema import is_malicious_id
from depscan.advisories.ranges import matcher, parse_version
from depscan.config import IgnoreRule
from depscan.models import (
    Advisory,
    AdvisoryData,
    Component,
    Finding,
    Level,
    NativeComponent,
    OsPackage,
    PythonDist,
    Suppression,
)


@dataclass
class MatchResult:
    """Findings, and the components that could not be checked (never reported as clean)."""

    findings: list[Finding] = field(default_factory=list)
    unchecked: dict[str, str] = field(default_factory=dict)  # purl -> why
    data: AdvisoryData | None = None
    notes: list[str] = field(default_factory=list)  # expired ignores and the like
    # (purl, why) of native components and OS packages advisories cannot vouch for (no version, no
    # advisory source for the library, release unknown, records given by commits only)
    not_verifiable: list[tuple[str, str]] = field(default_factory=list)


def query_for(component: PythonDist) -> PackageQuery:
    """The advisory query for a Python distribution."""
    return PackageQuery("PyPI", component.normalized_name, component.version)


def match(
    components: Sequence[Component],
    backend: AdvisoryBackend,
    ignores: Sequence[IgnoreRule] = (),
    today: date | None = None,
) -> MatchResult:
    """Look every Python distribution, identified native library and OS package up and turn
    what affects it into findings.

    Python distributions are matched against PyPI advisories; native libraries against the
    records of their upstream repository (GIT ranges and tags, ``native_repos.py``); OS packages
    against their distribution release's records. What cannot be matched (a native library
    without a version or without a known repository, a package of an unknown release) goes to
    ``not_verifiable`` with the reason; a failed lookup to ``unchecked``. A native library's
    finding that its owning distribution's finding already reports is linked to it
    (``Finding.covered_by``).
    """
    today = today or date.today()
    dists = [c for c in components if isinstance(c, PythonDist)]
    queries = [query_for(c) for c in dists]
    others: list[tuple[NativeComponent | OsPackage, list[PackageQuery]]] = []
    not_verifiable: list[tuple[str, str]] = []
    for c in components:
        if isinstance(c, NativeComponent) and c.os_package is not None:
            # The OS package that lists the file is matched against its distribution's records;
            # distributions backport fixes without changing the upstream version string, so the
            # upstream tags would report what the package has already fixed.
            continue
        if isinstance(c, NativeComponent | OsPackage):
            wanted, why = other_queries(c)
            if why is not None:
                not_verifiable.append((c.purl, why))
            else:
                others.append((c, wanted))
    every = {*queries, *(q for _c, qs in others for q in qs)}
    lookup = backend.lookup(sorted(every, key=lambda q: (q.ecosystem, q.name, q.version)))
    result = MatchResult(data=lookup.data, not_verifiable=not_verifiable)
    expired_seen: set[str] = set()
    # Versions of one package, and shadowed copies, meet the same advisories again: group them and
    # work out ids, severity, summary and fixes once per (advisories, package), and a fix once per
    # (group, installed version) (an SBOM can list one version in many site roots).
    groups_for: dict[tuple[str, ...], list[list[Advisory]]] = {}
    facts_for: dict[tuple[tuple[str, ...], str, str], _GroupFacts] = {}
    facts_of_query: dict[PackageQuery, list[_GroupFacts]] = {}  # copies of one version: one query
    ranked: list[tuple[int, str, str, str, int, Finding]] = []
    for component, query in zip(dists, queries, strict=True):
        if query in lookup.failed:
            result.unchecked[component.purl] = lookup.failed[query]
            continue
        advisories = lookup.affected.get(query)
        if advisories is None:
            result.unchecked[component.purl] = "the advisory source gave no answer for it"
            continue
        if not advisories:
            continue
        query_facts = facts_of_query.get(query)
        if query_facts is None:
            key = tuple(a.id for a in advisories)
            groups = groups_for.get(key)
            if groups is None:
                groups = groups_for[key] = group_advisories(advisories)
            query_facts = []
            for group in groups:
                facts_key = (tuple(a.id for a in group), query.ecosystem, query.name)
                facts = facts_for.get(facts_key)
                if facts is None:
                    facts = facts_for[facts_key] = _group_facts(query, group)
                query_facts.append(facts)
            facts_of_query[query] = query_facts
        for facts in query_facts:
            finding = facts.finding(component)
            if ignores:
                finding = _ignored(finding, ignores, today, expired_seen, result)
            # Sorted below by severity, name, version, id; the running number keeps ties in input order.
            # Known-malicious packages first, then by severity.
            rank = -facts.level.rank - 10 * facts.malicious
            ranked.append((rank, component.normalized_name, component.version, facts.ids[0], len(ranked), finding))
    for other, wanted in others:
        for finding in _other_findings(other, wanted, lookup, result):
            if ignores:
                finding = _ignored(finding, ignores, today, expired_seen, result)
            ranked.append((-finding.level.rank, other.normalized_name, other.version or "", finding.ids[0],
                           len(ranked), finding))
    ranked.sort()
    result.findings = _link_covered([entry[-1] for entry in ranked]) if others else [entry[-1] for entry in ranked]
    return result


def _ignored(
    finding: Finding, ignores: Sequence[IgnoreRule], today: date, expired_seen: set[str], result: MatchResult
) -> Finding:
    """The finding, suppressed when an ignore rule covers it; an expired rule is noted once."""
    suppression, expired = _suppression(finding, ignores, today)
    for rule in expired:
        if rule.id not in expired_seen:
            expired_seen.add(rule.id)
            result.notes.append(
                f"ignore for {rule.id} expired on {rule.expires}; it no longer suppresses ({rule.reason})"
            )
    return finding if suppression is None else replace(finding, suppressed=suppression)


def other_queries(component: NativeComponent | OsPackage) -> tuple[list[PackageQuery], str | None]:
    """The advisory queries of a native library or an OS package, or why it cannot be matched."""
    if isinstance(component, NativeComponent):
        where = component.location.path
        if component.version is None:
            return [], f"{where}: {component.name} identified, version unknown: no advisory can be matched"
        repos = repos_for(component.name)
        if not repos:
            return [], f"{where}: {component.name} {component.version}: {no_repository_reason(component.name)}"
        if development_build(component.version):
            return [], (
                f"{where}: {component.name} {component.version} is a development build: no release tag names "
                "it and it cannot be placed between releases, so no advisory can be matched"
            )
        return [PackageQuery("GIT", repo, component.version) for repo in repos], None
    if component.ecosystem is None:
        return [], (
            f"{component.location.path}: {component.name} {component.version}: the distribution release is "
            "unknown (no os-release with an OSV ecosystem), so its advisories cannot be chosen"
        )
    if order_for(component.ecosystem) is None:
        return [], (
            f"{component.location.path}: {component.name} {component.version}: depscan has no version order "
            f"for the {component.ecosystem} ecosystem"
        )
    # Debian, Ubuntu and Alpine records name source packages, the rpm distributions binary ones:
    # both are asked, the source with its own version.
    wanted = {PackageQuery(component.ecosystem, component.name, component.version): None}
    if component.source_name:
        wanted[PackageQuery(component.ecosystem, component.source_name,
                            component.source_version or component.version)] = None
    return list(wanted), None


def _other_findings(
    component: NativeComponent | OsPackage, wanted: Sequence[PackageQuery], lookup: LookupResult,
    result: MatchResult,
) -> list[Finding]:
    failed = [lookup.failed[q] for q in wanted if q in lookup.failed]
    if failed:
        result.unchecked[component.purl] = failed[0]
        return []
    if any(q not in lookup.affected for q in wanted):
        result.unchecked[component.purl] = "the advisory source gave no answer for it"
        return []
    uncovered = [lookup.uncovered[q] for q in wanted if q in lookup.uncovered]
    if len(uncovered) == len(wanted):  # nothing to compare with: an empty answer means nothing
        result.not_verifiable.append((component.purl, (
            f"{component.location.path}: {component.name} {component.version}: {uncovered[0]}"
        )))
        return []
    first_query: dict[str, PackageQuery] = {}
    by_id: dict[str, Advisory] = {}
    for q in wanted:
        for adv in lookup.affected[q]:
            by_id.setdefault(adv.id, adv)
            first_query.setdefault(adv.id, q)
    unverifiable = [(ident, why) for q in wanted for ident, why in lookup.unverifiable.get(q, ())
                    if ident not in by_id]
    if unverifiable:
        unsure = sorted({ident for ident, _why in unverifiable})
        shown = ", ".join(unsure[:5]) + (f" and {len(unsure) - 5} more" if len(unsure) > 5 else "")
        result.not_verifiable.append((component.purl, (
            f"{component.location.path}: {component.name} {component.version}: {len(unsure)} advisory record(s) "
            f"cannot say whether this version is affected ({shown}: {unverifiable[0][1]})"
        )))
    findings = []
    for group in group_advisories(list(by_id.values())):
        query = first_query[group[0].id]
        ids, best, summary = _identity(group)
        fixed_versions, fix = fixes_above(query, group)
        findings.append(Finding(
            rule="vulnerability",
            ids=ids,
            component=component,
            level=Level.from_score(best[0] if best else None),
            score=best[0] if best else None,
            vector=best[1] if best else None,
            summary=summary,
            fixed_versions=fixed_versions,
            advisories=tuple(group),
            fix=fix,
        ))
    return findings


def _link_covered(findings: list[Finding]) -> list[Finding]:
    """Link a native library's finding to its owning distribution's finding for the same
    vulnerability (a shared id or alias: Pillow's GHSA for CVE-2023-4863 and the libwebp record of
    CVE-2023-4863), so the vulnerability is one, not two."""
    by_owner: dict[str, list[Finding]] = {}
    for f in findings:
        if isinstance(f.component, PythonDist):
            by_owner.setdefault(f.component.purl, []).append(f)
    if not by_owner:
        return findings
    out = []
    for f in findings:
        c = f.component
        if isinstance(c, NativeComponent) and c.owner in by_owner:
            ids = set(f.ids)
            for owner_finding in by_owner[c.owner]:
                owner = owner_finding.component
                same_copy = (
                    c.owner_location is None
                    or (isinstance(owner, PythonDist) and owner.metadata_location == c.owner_location)
                )
                if same_copy and ids.intersection(owner_finding.ids):
                    f = replace(f, covered_by=owner_finding.id)
                    break
        out.append(f)
    return out


def group_advisories(advisories: Sequence[Advisory]) -> list[list[Advisory]]:
    """Advisories sharing an id or alias, transitively, in one group each."""
    ordered = sorted(advisories, key=_primary_order)
    # Common case first: no two advisories share a name, so each is its own group.
    names = [n for adv in ordered for n in (adv.id, *adv.aliases)]
    if len(set(names)) == len(names):
        return [[adv] for adv in ordered]
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for adv in advisories:
        for alias in adv.aliases:
            a, b = find(adv.id), find(alias)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[str, list[Advisory]] = {}
    for adv in ordered:
        groups.setdefault(find(adv.id), []).append(adv)
    return list(groups.values())


def _primary_order(advisory: Advisory) -> tuple[int, str]:
    """Which record of a group names it: the ecosystem's own database first (PYSEC for PyPI, as
    pip-audit reports), then GitHub's, then any other; by id within each."""
    prefix = advisory.id.split("-", 1)[0]
    return ({"PYSEC": 0, "GHSA": 1}.get(prefix, 2), advisory.id)


@dataclass(frozen=True, slots=True)
class _GroupFacts:
    """What a finding says about an advisory group for one package, whichever copy it affects."""

    ids: tuple[str, ...]
    level: Level
    score: float | None
    vector: str | None
    summary: str
    fixed_versions: tuple[str, ...]
    advisories: tuple[Advisory, ...]
    malformed_ranges: tuple[str, ...]
    range_note: str | None
    fixed_parsed: tuple[Version, ...]  # fixed_versions parsed, same (ascending) order
    fixes: dict[str, str | None] = field(default_factory=dict)  # installed version -> fix_for it, as computed
    malicious: bool = False

    def fix_for(self, installed: Version | None) -> str | None:
        """``smallest_fix_above`` for these (sorted) fixed versions and a parsed installed version."""
        if installed is None or not self.fixed_parsed or self.malicious:
            return None
        at = bisect_right(self.fixed_parsed, installed)
        return self.fixed_versions[at] if at < len(self.fixed_versions) else None

    def finding(self, component: PythonDist) -> Finding:
        version = component.version
        if version in self.fixes:
            fix = self.fixes[version]
        else:
            fix = self.fixes[version] = self.fix_for(parse_version(version))
        return Finding(
            rule="vulnerability",
            ids=self.ids,
            component=component,
            level=self.level,
            score=self.score,
            vector=self.vector,
            summary=self.summary,
            fixed_versions=self.fixed_versions,
            advisories=self.advisories,
            fix=fix,
            malformed_ranges=self.malformed_ranges,
            range_note=self.range_note,
            malicious=self.malicious,
        )


def smallest_fix_above(installed: str, fixed_versions: Sequence[str]) -> str | None:
    """The smallest of ``fixed_versions`` (PEP 440 order) above ``installed``; None when none is,
    or when ``installed`` is not a PEP 440 version (nothing can be said to be above it)."""
    current = parse_version(installed)
    if current is None:
        return None
    above = [(v, text) for text in fixed_versions if (v := parse_version(text)) is not None and v > current]
    return min(above)[1] if above else None


def _identity(group: Sequence[Advisory]) -> tuple[tuple[str, ...], tuple[float, str] | None, str]:
    """A group's ids (primary first, then aliases), its highest scored CVSS vector, its summary."""
    ids: list[str] = [a.id for a in group]
    for adv in group:
        ids.extend(alias for alias in sorted(adv.aliases) if alias not in ids)
    best: tuple[float, str] | None = None
    for adv in group:
        for sev in adv.severity:
            if sev.score is not None and (best is None or sev.score > best[0]):
                best = (sev.score, sev.vector)
    summary = next((a.summary for a in group if a.summary), None)
    if summary is None:
        details = next((a.details for a in group if a.details), "") or ""
        first = details.strip().split("\n", 1)[0]
        summary = first if len(first) <= 200 else first[:197] + "..."
    return tuple(ids), best, summary


def _group_facts(query: PackageQuery, group: list[Advisory]) -> _GroupFacts:
    ids, best, summary = _identity(group)
    entries = [
        (adv.id, affected)
        for adv in group
        for affected in adv.affected
        if affected.ecosystem == query.ecosystem and affected.normalized_name == query.name
    ]
    matchers = [(ident, matcher(affected)) for ident, affected in entries]
    # A fix is a PEP 440 ``fixed`` value no advisory of the group affects (the lookup's matching).
    if len(matchers) == 1:  # the common case: one record, one entry; its fixes are in order
        only = matchers[0][1]
        fixes = [(parsed, text) for parsed, text in only.fixes if not only.covers(parsed, text)]
    else:
        candidates = {text: parsed for _id, m in matchers for parsed, text in m.fixes}
        fixes = sorted(
            (parsed, text)
            for text, parsed in candidates.items()
            if not any(m.covers(parsed, text) for _, m in matchers)
        )
    if any(map(is_malicious_id, ids)):
        return _malicious_facts(ids, summary, group)
    malformed: dict[str, list[str]] = {}
    for ident, m in matchers:
        for event in m.malformed:
            text = f"{event.kind} {event.value!r}"
            if text not in malformed.setdefault(ident, []):
                malformed[ident].append(text)
    return _GroupFacts(
        ids=ids,
        level=Level.from_score(best[0] if best else None),
        score=best[0] if best else None,
        vector=best[1] if best else None,
        summary=summary,
        fixed_versions=tuple(text for _parsed, text in fixes),
        advisories=tuple(group),
        malformed_ranges=tuple(malformed),
        range_note=_range_note(malformed),
        fixed_parsed=tuple(parsed for parsed, _text in fixes),
    )


MALICIOUS_NOTE = (
    "known-malicious package (OSV MAL- record, OpenSSF malicious-packages): the whole project is malicious, "
    "so every version is affected whatever the record's version list says; remove it and treat the "
    "environment it ran in as compromised"
)


def _malicious_facts(ids: tuple[str, ...], summary: str, group: list[Advisory]) -> _GroupFacts:
    """A group holding a ``MAL-`` record: critical, no fix to upgrade to, the note saying why."""
    return _GroupFacts(
        ids=ids,
        level=Level.CRITICAL,
        score=None,
        vector=None,
        summary=summary,
        fixed_versions=(),
        advisories=tuple(group),
        malformed_ranges=(),
        range_note=MALICIOUS_NOTE,
        fixed_parsed=(),
        malicious=True,
    )


def _range_note(malformed: dict[str, list[str]]) -> str | None:
    """Why a finding may cover more versions than it should: range bounds that are not versions."""
    if not malformed:
        return None
    what = "; ".join(f"{ident}: {', '.join(events)}" for ident, events in malformed.items())
    return (
        f"malformed range data ({what}): not a PEP 440 version, so that bound is ignored and "
        "every version it should exclude is reported as affected"
    )


def _suppression(
    finding: Finding, ignores: Sequence[IgnoreRule], today: date
) -> tuple[Suppression | None, list[IgnoreRule]]:
    expired = []
    for rule in ignores:
        if rule.id not in finding.ids:
            continue
        if rule.expires is not None and rule.expires < today:
            expired.append(rule)
            continue
        return Suppression(rule.id, rule.reason, rule.expires.isoformat() if rule.expires else None), expired
    return None, expired
