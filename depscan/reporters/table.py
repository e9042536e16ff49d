"""The terminal table (``--format table``), rendered with rich."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from depscan.fixes import advice, describe
from depscan.models import (
    NativeComponent,
    NativeLib,
    OsPackage,
    PolicyFinding,
    PythonDist,
    ScanResult,
    Status,
    component_location,
)
from depscan.policy import nothing_checked
from depscan.reporters import ReportOptions
from depscan.text import encode_text

if TYPE_CHECKING:
    from rich.console import Console

_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow"}
# Rows per table: a terminal table of 488,000 findings takes minutes to render and nobody reads it.
# The rest is counted under the table; the JSON report (and every other format) has everything.
MAX_ROWS = 1000


# How a finding's row marks a copy the runtime does not import as installed (shadowed) or that no
# installer put there (vendored: upgrading it means upgrading what vendors it).
_STATUS_MARK = {Status.SHADOWED: " (shadowed)", Status.VENDORED: " (vendored)"}


def _more(console: Console, shown: int, total: int, what: str) -> None:
    """The line under a table cut at ``shown`` rows."""
    if total > shown:
        console.print(f"... and {total - shown} more {what} not shown (first {shown} listed); "
                      "see --format json for all of them")


def finding_place(finding: PolicyFinding) -> str:
    """Where a policy finding is: its path, and ``:line`` for a line of a text file (a requirements file)."""
    return finding.location.path if finding.line is None else f"{finding.location.path}:{finding.line}"


def short_layer(layer: str | None) -> str:
    """Layer digests shortened the way ``docker history`` does; zip names as they are."""
    if layer is None:
        return ""
    if layer.startswith("sha256:"):
        return layer[7:19]
    return layer


def owner_label(purl: str | None) -> str:
    """``numpy 1.26.4`` for ``pkg:pypi/numpy@1.26.4``; ``none`` for a library no distribution owns."""
    if purl is None:
        return "none"
    from packageurl import PackageURL

    try:
        parsed = PackageURL.from_string(purl)
    except ValueError:
        return purl
    return f"{parsed.name} {parsed.version}" if parsed.version else str(parsed.name)


def render(result: ScanResult, options: ReportOptions | None = None) -> bytes:
    """The inventory as a table, then vulnerabilities, unknowns and warnings."""
    options = options or ReportOptions()
    color, width = options.color, options.width
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    def row(table: Table, *cells: str, style: str | None = None) -> None:
        # Text, never markup: names, paths and reasons come from the artifact, and rich would read
        # "[...]" in them as style tags (and drop it).
        table.add_row(*(Text(cell) for cell in cells), style=style)

    out = io.StringIO()
    console = Console(file=out, force_terminal=color, no_color=not color, width=width, highlight=False)
    evil = [f for f in result.findings if f.malicious]
    if evil:  # first: a known-malicious package is the one thing nobody may miss
        mal = Table(title="Malicious packages (known-malicious: the whole project is malicious, every version)",
                    title_justify="left")
        mal.add_column("Package", no_wrap=True)
        mal.add_column("Version", no_wrap=True)
        mal.add_column("ID (aliases)", overflow="fold")
        mal.add_column("Location", overflow="fold")
        mal.add_column("Summary", overflow="fold")
        for finding in evil[:MAX_ROWS]:
            component = finding.component
            summary = finding.summary
            if finding.suppressed is not None:
                summary = f"[ignored: {finding.suppressed.reason}] {summary}"
            row(
                mal,
                component.name + (" (shadowed)" if component.status is Status.SHADOWED else ""),
                component.version or "-",
                finding.id + (f" ({', '.join(finding.ids[1:])})" if len(finding.ids) > 1 else ""),
                component_location(component).path,
                summary,
                style="dim" if finding.suppressed is not None else _STYLE["critical"],
            )
        console.print(mal)
        _more(console, MAX_ROWS, len(evil), "malicious packages")
    dists = [c for c in result.components if isinstance(c, PythonDist)]
    table = Table(title=Text(f"{result.artifact.label} ({result.artifact.kind})"), title_justify="left")
    table.add_column("Name", no_wrap=True)
    table.add_column("Version", no_wrap=True)
    table.add_column("Location", overflow="fold")
    table.add_column("Layer", overflow="fold")
    table.add_column("Found by", no_wrap=True)
    for dist in dists[:MAX_ROWS]:
        name = dist.name
        if dist.status is Status.SHADOWED:
            name += " (shadowed)"
        elif dist.status is Status.VENDORED:
            name += " (vendored)"
        row(
            table,
            name,
            dist.version,
            f"{dist.metadata_location.path}:{dist.declared_line}" if dist.declared_line else dist.metadata_dir,
            short_layer(dist.metadata_location.layer),
            dist.found_by,
            style="dim" if dist.status is Status.SHADOWED else None,
        )
    if dists or result.artifact.kind != "repository":  # a repository check has declared files, no inventory
        console.print(table)
        _more(console, MAX_ROWS, len(dists), "distributions")
    elif not result.policy_findings:
        console.print(Text(f"{result.artifact.label}: no findings in the declared dependency files."))
    natives = [c for c in result.components if isinstance(c, NativeLib)]
    if natives:
        libs = Table(title="Native libraries", title_justify="left")
        libs.add_column("Name", no_wrap=True)
        libs.add_column("Version", no_wrap=True)
        libs.add_column("Arch", no_wrap=True)
        libs.add_column("Owner", overflow="fold")
        libs.add_column("Path", overflow="fold")
        libs.add_column("Layer", overflow="fold")
        for lib in natives[:MAX_ROWS]:
            row(
                libs,
                lib.name,
                lib.version or "-",
                lib.arch,
                owner_label(lib.owner or lib.os_package),
                lib.location.path,
                short_layer(lib.location.layer),
            )
        console.print(libs)
        _more(console, MAX_ROWS, len(natives), "native libraries")
    identified = sorted((c for c in result.components if isinstance(c, NativeComponent)),
                        key=lambda c: (c.location.path, c.location.layer or "", c.name))
    if identified:
        found = Table(title="Libraries identified in native files", title_justify="left")
        found.add_column("Library", no_wrap=True)
        found.add_column("Version", no_wrap=True)
        found.add_column("Confidence", no_wrap=True)
        found.add_column("File", overflow="fold")
        found.add_column("Owner", overflow="fold")
        found.add_column("Layer", overflow="fold")
        for comp in identified[:MAX_ROWS]:
            row(
                found,
                comp.name + (" (embedded)" if comp.embedded else ""),
                comp.version or "unknown",
                comp.confidence or "-",
                comp.location.path,
                owner_label(comp.owner or comp.os_package),
                short_layer(comp.location.layer),
                style="dim" if comp.status is Status.SHADOWED else None,
            )
        console.print(found)
        _more(console, MAX_ROWS, len(identified), "identified libraries")
    packages = sorted((c for c in result.components if isinstance(c, OsPackage)),
                      key=lambda p: (p.location.path, p.location.layer or "", p.name))
    if packages:
        listed = Table(title="OS packages", title_justify="left")
        listed.add_column("Name", no_wrap=True)
        listed.add_column("Version", no_wrap=True)
        listed.add_column("Source", overflow="fold")
        listed.add_column("Ecosystem", no_wrap=True)
        listed.add_column("Database", overflow="fold")
        listed.add_column("Layer", overflow="fold")
        for package in packages[:MAX_ROWS]:
            source = package.source_name or ""
            if package.source_name and package.source_version and package.source_version != package.version:
                source += f" {package.source_version}"
            row(
                listed,
                package.name,
                package.version,
                source or "-",
                package.ecosystem or "unknown release",
                package.location.path,
                short_layer(package.location.layer),
            )
        console.print(listed)
        _more(console, MAX_ROWS, len(packages), "OS packages")
    if result.unknowns:
        unknowns = Table(title="Unknowns (could not be read)", title_justify="left")
        unknowns.add_column("Path", overflow="fold")
        unknowns.add_column("Layer", overflow="fold")
        unknowns.add_column("Reason", overflow="fold")
        for unknown in result.unknowns[:MAX_ROWS]:
            row(unknowns, unknown.location.path, short_layer(unknown.location.layer), unknown.reason)
        console.print(unknowns)
        _more(console, MAX_ROWS, len(result.unknowns), "unknowns")
    others = [f for f in result.findings if not f.malicious] if evil else result.findings
    if others:
        vulns = Table(title="Vulnerabilities", title_justify="left")
        vulns.add_column("Package", no_wrap=True)
        vulns.add_column("Version", no_wrap=True)
        vulns.add_column("ID (aliases)", overflow="fold")
        vulns.add_column("Severity", no_wrap=True)
        vulns.add_column("Fixed in", overflow="fold")
        vulns.add_column("Summary", overflow="fold")
        for finding in others[:MAX_ROWS]:
            component = finding.component
            severity = finding.level.value + (f" {finding.score:.1f}" if finding.score is not None else "")
            summary = finding.summary
            if finding.range_note is not None:
                summary = f"[{finding.range_note}] {summary}"
            if finding.covered_by is not None:
                summary = f"[covered by {finding.covered_by} of its distribution] {summary}"
            if finding.suppressed is not None:
                summary = f"[ignored: {finding.suppressed.reason}] {summary}"
            where = ""
            if isinstance(component, NativeComponent):
                where = " (embedded)" if component.embedded else " (native)"
            elif isinstance(component, OsPackage):
                where = f" ({component.package_manager})"
            row(
                vulns,
                component.name + where + _STATUS_MARK.get(component.status, ""),
                component.version or "-",
                finding.id + (f" ({', '.join(finding.ids[1:])})" if len(finding.ids) > 1 else ""),
                severity,
                ", ".join(finding.fixed_versions) or "-",
                summary,
                style="dim" if finding.suppressed is not None else _STYLE.get(finding.level.value),
            )
        console.print(vulns)
        _more(console, MAX_ROWS, len(others), "vulnerabilities")
    elif evil:
        console.print("No other known vulnerabilities.")
    elif nothing_checked(result):
        console.print("Nothing was checked: the SBOM lists no PyPI component to match against advisories.")
    elif result.advisory_data is not None and not result.unchecked and not result.not_verifiable:
        console.print(Text(f"No known vulnerabilities (checked against {result.advisory_data.source})."))
    elif result.advisory_data is not None and not result.unchecked:
        console.print(Text(f"No known vulnerabilities in what could be checked (against {result.advisory_data.source}"
                           f"); {len(result.not_verifiable)} component(s) could not be verified."))
    fix_items = advice(result) if result.advisory_data is not None else ()
    if fix_items:
        fixes = Table(title="Fixes (per vulnerable copy: the smallest version outside every advisory of it)",
                      title_justify="left")
        fixes.add_column("Package", no_wrap=True)
        fixes.add_column("Installed", no_wrap=True)
        fixes.add_column("Upgrade to", no_wrap=True)
        fixes.add_column("Breaking", no_wrap=True)
        fixes.add_column("Clears", overflow="fold")
        fixes.add_column("Advice", overflow="fold")
        for fix in fix_items[:MAX_ROWS]:
            row(fixes, fix.name + _STATUS_MARK.get(fix.status, ""), fix.current, fix.recommended or "-",
                "-" if fix.breaking is None else ("yes" if fix.breaking else "no"),
                ", ".join(fix.advisories) or "-",
                "; ".join(part for part in (describe(fix, lead=False), *fix.notes) if part) or "-",
                style="bold red" if fix.conflicts else None)
        console.print(fixes)
        _more(console, MAX_ROWS, len(fix_items), "fixes")
    if result.policy_findings:
        policy = Table(title="Policy findings", title_justify="left")
        policy.add_column("Rule", no_wrap=True)
        policy.add_column("Severity", no_wrap=True)
        policy.add_column("Location", overflow="fold")
        policy.add_column("Layer", overflow="fold")
        policy.add_column("Message", overflow="fold")
        ranked = sorted(result.policy_findings, key=lambda f: -f.level.rank)
        for item in ranked[:MAX_ROWS]:
            row(policy, item.rule, item.level.value, finding_place(item), short_layer(item.location.layer),
                item.message + (f"\nFix: {item.fix}" if item.fix else ""), style=_STYLE.get(item.level.value))
        console.print(policy)
        _more(console, MAX_ROWS, len(ranked), "policy findings")
    for purl, why in result.unchecked:
        console.print(Text(f"NOT CHECKED: {purl}: {why}"))
    for purl, why in result.not_verifiable[:MAX_ROWS]:
        console.print(Text(f"NOT VERIFIABLE: {purl}: {why}"))
    if len(result.not_verifiable) > MAX_ROWS:
        console.print(f"... and {len(result.not_verifiable) - MAX_ROWS} more not verifiable; see --format json")
    for warning in result.warnings:
        console.print(Text(f"warning: {warning}"))
    return encode_text(out.getvalue())
