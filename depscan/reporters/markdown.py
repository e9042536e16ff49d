"""``--format markdown``: a summary for a pull-request comment (GitHub-flavoured Markdown).

Short on purpose: known-malicious packages first (their own line and table), then the verdict, then one
table row per vulnerability, the fixes (one row per vulnerable copy, and the pins to write), then what
could not be checked or read. Everything a reviewer needs to
decide; the rest lives in the JSON/SARIF reports.
"""

from __future__ import annotations

from depscan.facts import counts as summary_counts
from depscan.fixes import advice, describe, pins
from depscan.models import Finding, NativeComponent, OsPackage, ScanResult, Status, component_location
from depscan.policy import nothing_checked
from depscan.reporters import ReportOptions
from depscan.text import encode_text

MAX_ROWS = 100  # a PR comment has a size limit; the JSON report has everything


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _fix(finding: Finding) -> str:
    if finding.fix is not None:
        return finding.fix
    if finding.fixed_versions:
        return f"none above {finding.component.version} ({', '.join(finding.fixed_versions)})"
    return "no fix yet"


def render(result: ScanResult, options: ReportOptions | None = None) -> bytes:
    """The Markdown summary."""
    counts = summary_counts(result)
    evil = [f for f in result.findings if f.suppressed is None and f.malicious]
    active = [f for f in result.findings if f.suppressed is None and not f.malicious]
    name = result.artifact.path.rsplit("/", 1)[-1]
    if result.artifact.describes is not None:  # a rescan: the artifact, and the SBOM describing it
        name = result.artifact.label
    lines = [f"## depscan: `{_cell(name)}`", ""]
    if evil:  # the first line: nothing else matters as much
        packages = sorted({f"`{_cell(f.component.name)} {_cell(f.component.version or '')}`".replace(" `", "`")
                           for f in evil})
        lines += [f":skull: **{len(packages)} known-malicious package{'' if len(packages) == 1 else 's'}**: "
                  f"{', '.join(packages)}. The whole project is malicious (every version): remove it and treat "
                  "the environment it ran in as compromised.", ""]
    if result.advisory_data is None:
        verdict = "Advisories were **not checked** (`--source skip`)."
    elif nothing_checked(result):
        verdict = ":warning: **Nothing was checked**: the SBOM lists no PyPI component to match against advisories."
    elif result.unchecked:
        verdict = (f":warning: **{len(result.unchecked)} component(s) could not be checked**: they are not known "
                   "to be free of vulnerabilities.")
    elif active:
        distinct = len(active) - sum(1 for f in active if f.covered_by is not None)
        verdict = f":x: **{distinct} known vulnerabilit{'y' if distinct == 1 else 'ies'}**"
        if distinct != len(active):
            verdict += (f" (and {len(active) - distinct} finding(s) in bundled libraries that their "
                        "distribution's advisory already covers)")
    elif evil:
        verdict = "No other known vulnerabilities."
    elif result.not_verifiable:
        verdict = (f":warning: **No known vulnerabilities in what could be checked**, but {len(result.not_verifiable)} "
                   "component(s) are **not verifiable**: they are not known to be free of vulnerabilities.")
    else:
        verdict = ":white_check_mark: **No known vulnerabilities**"
    lines.append(verdict)
    lines.append("")
    shadowed, natives, unowned = counts.shadowed, counts.native_libraries, counts.native_libraries_unowned
    statuses = [f"{n} {status}" for n, status in ((shadowed, "shadowed"), (counts.vendored, "vendored")) if n]
    facts = [f"{counts.python_distributions} Python distributions" + (f" ({', '.join(statuses)})" if statuses else "")]
    if natives:
        facts.append(
            f"{natives} native librar{'y' if natives == 1 else 'ies'}"
            + (f" ({unowned} not owned by any distribution)" if unowned else "")
        )
    if counts.native_components:
        levels = counts.confidence_levels
        facts.append(f"{counts.native_components} librar{'y' if counts.native_components == 1 else 'ies'} identified "
                     f"in native files" + (f" (confidence: {', '.join(levels)})" if levels else ""))
    if counts.os_packages:
        facts.append(f"{counts.os_packages} OS package{'' if counts.os_packages == 1 else 's'}")
    if counts.not_verifiable:
        facts.append(f"{counts.not_verifiable} component(s) not verifiable against advisories")
    if counts.policy_findings:
        facts.append(f"{counts.policy_findings} policy finding(s)")
    if counts.suppressed:
        facts.append(f"{counts.suppressed} finding(s) ignored by policy")
    if counts.unknowns:
        facts.append(f"{counts.unknowns} file(s) could not be read")
    if result.advisory_data is not None:
        data = result.advisory_data
        facts.append(f"advisories: {data.source}, {data.records} records, newest {data.newest_modified or '?'}")
    if result.baseline is not None:
        facts.append(
            f"since baseline: {len(result.baseline.new)} new, {len(result.baseline.fixed)} fixed, "
            f"{len(result.baseline.unchanged)} unchanged"
        )
    lines.extend(f"- {fact}" for fact in facts)
    if evil:
        lines += ["", "### Malicious packages", "", "| Package | Version | Advisory | Location |", "|---|---|---|---|"]
        for finding in evil[:MAX_ROWS]:
            component = finding.component
            ident = f"[{finding.id}](https://osv.dev/vulnerability/{finding.id})"
            aliases = f" ({', '.join(finding.ids[1:])})" if len(finding.ids) > 1 else ""
            lines.append(f"| {_cell(component.name)} | {_cell(component.version or '-')} | {ident} {_cell(aliases)} "
                         f"| `{_cell(component_location(component).path)}` |")
        if len(evil) > MAX_ROWS:
            lines.append(f"\n… and {len(evil) - MAX_ROWS} more (see the JSON report).")
    if active:
        lines += ["", "| Package | Version | Advisory | Severity | Fixed in |", "|---|---|---|---|---|"]
        for finding in active[:MAX_ROWS]:
            component = finding.component
            new = result.baseline is not None and finding.fingerprint in result.baseline.new
            ident = f"[{finding.id}](https://osv.dev/vulnerability/{finding.id})"
            aliases = f" ({', '.join(finding.ids[1:])})" if len(finding.ids) > 1 else ""
            severity = finding.level.value + (f" {finding.score:.1f}" if finding.score is not None else "")
            where = " (shadowed copy)" if component.status is Status.SHADOWED else ""
            if component.status is Status.VENDORED:
                where = f" (vendored copy at `{_cell(component_location(component).path)}`)"
            if isinstance(component, NativeComponent):
                where = f" in `{_cell(component.location.path)}`" + where
                if finding.covered_by is not None:
                    where += f", covered by {_cell(finding.covered_by)}"
            elif isinstance(component, OsPackage):
                where = f" ({component.package_manager} package)" + where
            lines.append(
                f"| {_cell(component.name)}{where} | {_cell(component.version or '-')} | {'**new** ' if new else ''}"
                f"{ident} {_cell(aliases)} | {severity} | {_cell(_fix(finding))} |"
            )
        if len(active) > MAX_ROWS:
            lines.append(f"\n… and {len(active) - MAX_ROWS} more (see the JSON report).")
    fix_items = advice(result) if result.advisory_data is not None else ()
    if fix_items:
        lines += ["", "### Fixes", "", "| Package | Installed | Upgrade to | Breaking | Clears | Advice |",
                  "|---|---|---|---|---|---|"]
        for item in fix_items[:MAX_ROWS]:
            mark = {Status.SHADOWED: " (shadowed copy)", Status.VENDORED: " (vendored copy)"}.get(item.status, "")
            breaking = "-" if item.breaking is None else ("**yes**" if item.breaking else "no")
            lines.append(f"| {_cell(item.name)}{mark} | {_cell(item.current)} | {_cell(item.recommended or '-')} | "
                         f"{breaking} | {_cell(', '.join(item.advisories) or '-')} | "
                         f"{_cell('; '.join(p for p in (describe(item, lead=False), *item.notes) if p) or '-')} |")
        if len(fix_items) > MAX_ROWS:
            lines.append(f"\n… and {len(fix_items) - MAX_ROWS} more (see the JSON report).")
        pinned = pins(fix_items)
        if pinned:
            lines += ["", "Pin these versions, rebuild, and scan the new artifact before deploying it:", "", "```text",
                      *pinned, "```"]
    if result.policy_findings:
        ranked = sorted(result.policy_findings, key=lambda f: -f.level.rank)
        lines += ["", "| Policy rule | Severity | Location | Message |", "|---|---|---|---|"]
        for f in ranked[:MAX_ROWS]:
            place = f.location.path if f.line is None else f"{f.location.path}:{f.line}"
            fix = f" Fix: {_cell(f.fix)}" if f.fix else ""
            lines.append(f"| `{_cell(f.rule)}` | {f.level.value} | `{_cell(place)}` | {_cell(f.message)}{fix} |")
        if len(ranked) > MAX_ROWS:
            lines.append(f"\n… and {len(ranked) - MAX_ROWS} more (see the JSON report).")
    if result.not_verifiable:
        lines += ["", "<details><summary>Not verifiable</summary>", ""]
        lines += [f"- `{purl}`: {_cell(why)}" for purl, why in result.not_verifiable[:MAX_ROWS]]
        lines += ["", "</details>"]
    if result.unchecked:
        lines += ["", "<details><summary>Not checked</summary>", ""]
        lines += [f"- `{purl}`: {_cell(why)}" for purl, why in result.unchecked]
        lines += ["", "</details>"]
    if result.unknowns:
        lines += ["", "<details><summary>Could not be read</summary>", ""]
        lines += [f"- `{u.location.path}`: {_cell(u.reason)}" for u in result.unknowns[:MAX_ROWS]]
        lines += ["", "</details>"]
    return encode_text("\n".join(lines) + "\n")
