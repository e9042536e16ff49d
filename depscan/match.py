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

from depscan.advisories.backend import AdvisoryBackend, PackageQuery
from depscan.advisories.ranges import matcher, parse_version
from depscan.config import IgnoreRule
from depscan.models import Advisory, AdvisoryData, Component, Finding, Level, PythonDist, Suppression


@dataclass
class MatchResult:
    """Findings, and the components that could not be checked (never reported as clean)."""

    findings: list[Finding] = field(default_factory=list)
    unchecked: dict[str, str] = field(default_factory=dict)  # purl -> why
    data: AdvisoryData | None = None
    notes: list[str] = field(default_factory=list)  # expired ignores and the like


def query_for(component: PythonDist) -> PackageQuery:
    """The advisory query for a Python distribution."""
    return PackageQuery("PyPI", component.normalized_name, component.version)


def match(
    components: Sequence[Component],
    backend: AdvisoryBackend,
    ignores: Sequence[IgnoreRule] = (),
    today: date | None = None,
) -> MatchResult:
    """Look every Python distribution up and turn what affects it into findings.

    Only ``PythonDist`` components are queried: advisories are PyPI advisories. Native libraries
    have no advisory source yet (their purls are ``pkg:generic``) and are neither findings nor
    "unchecked".
    """
    today = today or date.today()
    dists = [c for c in components if isinstance(c, PythonDist)]
    queries = [query_for(c) for c in dists]
    lookup = backend.lookup(sorted(set(queries), key=lambda q: (q.ecosystem, q.name, q.version)))
    result = MatchResult(data=lookup.data)
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
                suppression, expired = _suppression(finding, ignores, today)
                for rule in expired:
                    if rule.id not in expired_seen:
                        expired_seen.add(rule.id)
                        result.notes.append(
                            f"ignore for {rule.id} expired on {rule.expires}; it no longer suppresses ({rule.reason})"
                        )
                if suppression is not None:
                    finding = replace(finding, suppressed=suppression)
            # Sorted below by severity, name, version, id; the running number keeps ties in input order.
            ranked.append((-facts.level.rank, component.normalized_name, component.version, facts.ids[0], len(ranked),
                           finding))
    ranked.sort()
    result.findings = [entry[-1] for entry in ranked]
    return result


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

    def fix_for(self, installed: Version | None) -> str | None:
        """``smallest_fix_above`` for these (sorted) fixed versions and a parsed installed version."""
        if installed is None or not self.fixed_parsed:
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
        )


def smallest_fix_above(installed: str, fixed_versions: Sequence[str]) -> str | None:
    """The smallest of ``fixed_versions`` (PEP 440 order) above ``installed``; None when none is,
    or when ``installed`` is not a PEP 440 version (nothing can be said to be above it)."""
    current = parse_version(installed)
    if current is None:
        return None
    above = [(v, text) for text in fixed_versions if (v := parse_version(text)) is not None and v > current]
    return min(above)[1] if above else None


def _group_facts(query: PackageQuery, group: list[Advisory]) -> _GroupFacts:
    ids: list[str] = [a.id for a in group]
    for adv in group:
        ids.extend(alias for alias in sorted(adv.aliases) if alias not in ids)
    best: tuple[float, str] | None = None
    for adv in group:
        for sev in adv.severity:
            if sev.score is not None and (best is None or sev.score > best[0]):
                best = (sev.score, sev.vector)
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
    malformed: dict[str, list[str]] = {}
    for ident, m in matchers:
        for event in m.malformed:
            text = f"{event.kind} {event.value!r}"
            if text not in malformed.setdefault(ident, []):
                malformed[ident].append(text)
    summary = next((a.summary for a in group if a.summary), None)
    if summary is None:
        details = next((a.details for a in group if a.details), "") or ""
        first = details.strip().split("\n", 1)[0]
        summary = first if len(first) <= 200 else first[:197] + "..."
    return _GroupFacts(
        ids=tuple(ids),
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
