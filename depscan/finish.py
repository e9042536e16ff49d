"""The end of a run, after the scan: baseline, reports, the summary line and the verdict.

Every report is rendered first and only then written (regular files atomically; a device, a
FIFO or ``/dev/stdout`` written through), so a failing reporter writes nothing.
The caller (the CLI) prints the returned lines to stderr and exits with the
verdict's code; nothing here prints or exits (reports to stdout go through ``output``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from depscan.facts import counts as summary_counts
from depscan.models import ScanResult
from depscan.output import Staged, regular_target
from depscan.policy import Verdict, verdict

STDOUT = "-"


@dataclass(frozen=True, slots=True)
class Finished:
    """What is left to say: notes and the summary line (stderr), and how the run exits."""

    lines: tuple[str, ...]
    verdict: Verdict


def finish(
    result: ScanResult,
    outputs: Sequence[tuple[str, str]],
    *,
    seconds: float,
    cyclonedx_version: str = "1.6",
    baseline: str | None = None,
    fail_on: str = "any",
    strict: bool = False,
    new_only: bool = False,
    stdout_width: int | None = None,
    command: Sequence[str] | None = None,
) -> Finished:
    """Compare with ``baseline``, render and write every ``(format, file)`` report, and judge the run.

    ``stdout_width`` is the terminal's width when stdout is a terminal (colour on), else None.
    ``seconds`` is how long the run took so far, for the summary line. ``command`` is the run's command line
    as the user gave it (``depscan scan ARTIFACT ...``), for the lock-and-rescan plan (``fix_plan``).
    """
    if baseline is not None:
        result = with_baseline(result, baseline)
    judged = verdict(result, fail_on, strict=strict, new_only=new_only)  # usage errors before any write
    write_reports(render_reports(result, outputs, cyclonedx_version, stdout_width))
    lines = [f"depscan: note: {note}" for note in result.notes]
    left_out = pip_audit_left_out(result) if any(fmt == "pip-audit-json" for fmt, _ in outputs) else None
    if left_out:
        lines.append(f"depscan: note: {left_out}")
    lines.append(summary_line(result, seconds))
    lines.extend(fix_plan(result, outputs, command))
    return Finished(tuple(lines), judged)


# The options of `depscan scan` a rescan of its SBOM keeps: where advisories come from and what fails the run.
RESCAN_OPTIONS = frozenset({"--advisories", "--db", "--source", "--osv-url", "--osv-retries", "--osv-timeout",
                            "--ignore-file", "--fail-on", "--only-fixed", "--max-db-age", "--check-index",
                            "--index-url", "--index-timeout"})
PLAN_LINES = 20  # conflicts and "no fix" lines the plan prints on stderr; the reports have all
SBOM_FORMATS = {"cyclonedx-json": "sbom.cdx.json", "cyclonedx-xml": "sbom.cdx.xml", "spdx-json": "sbom.spdx.json"}


def fix_plan(result: ScanResult, outputs: Sequence[tuple[str, str]], command: Sequence[str] | None) -> list[str]:
    """The lock-and-rescan plan after a run with active findings: the pins to write (``fixes.pins``: one
    ``name==version`` line per distribution the runtime imports), rebuild, the exact scan command to run on
    the rebuilt artifact before it is deployed (this run's own options, an SBOM output added when it had
    none), and the ``depscan rescan`` of that SBOM to run on a schedule. Empty without findings."""
    import shlex

    from depscan.fixes import advice, pins

    if result.advisory_data is None or not any(f.suppressed is None for f in result.findings):
        return []
    items = advice(result)
    lines = ["depscan: fix plan (lock, rebuild, rescan):"]
    pinned = pins(items)
    if pinned:
        checked = all(a.checked for a in items if a.recommended is not None)
        lines.append("  1. pin these versions where the artifact's dependencies are declared (requirements, "
                     "constraints or lock file)" + ("" if checked else "; availability not checked against the "
                                                   "package index (--check-index)") + ":")
        lines += [f"       {pin}" for pin in pinned]
    else:
        lines.append("  1. no version to pin: no vulnerable distribution the runtime imports has a known fix")
    said: dict[str, None] = {}  # each (distribution, version) once; at most PLAN_LINES of them
    for item in items:
        if item.conflicts:
            said.setdefault(f"     conflict: {item.name}=={item.recommended}: {'; '.join(item.conflicts)}")
        elif item.recommended is None and item.status.value == "used":
            said.setdefault(f"     no fix for {item.name} {item.current}: {item.why_not or 'none known'}")
    lines += list(said)[:PLAN_LINES]
    if len(said) > PLAN_LINES:
        lines.append(f"     ... and {len(said) - PLAN_LINES} more conflicts or distributions without a fix (the "
                     "reports' fixes section has every one)")
    from depscan.models import PythonDist

    others = sum(1 for f in result.findings if f.suppressed is None and not isinstance(f.component, PythonDist))
    if others:
        lines.append(f"     (and {others} finding(s) in native libraries or OS packages: upgrade what ships them)")
    sbom = next((file for fmt, file in outputs if fmt in SBOM_FORMATS and file != STDOUT), None)
    if result.source_kind == "sbom" or not command:
        lines.append("  2. rebuild the artifact with them, 3. scan the new artifact before deploying it "
                     "(depscan scan ARTIFACT), keep its SBOM and rescan that on a schedule (depscan rescan SBOM)")
        return lines
    scan = list(command)
    if sbom is None:
        sbom = "sbom.cdx.json"
        scan += ["-o", f"cyclonedx-json={sbom}"]
    lines.append("  2. rebuild the artifact with them")
    lines.append(f"  3. scan the rebuilt artifact before deploying it: {shlex.join(scan)}")
    rescan = ["depscan", "rescan", sbom, *_kept_options(command)]
    lines.append(f"  4. keep {sbom} with the deployment and rescan it on a schedule (new advisories, no rebuild): "
                 f"{shlex.join(rescan)}")
    return lines


def _kept_options(command: Sequence[str]) -> list[str]:
    """The options of a scan command line that a rescan takes too (``RESCAN_OPTIONS``), as given."""
    kept: list[str] = []
    args = list(command)
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        if name in RESCAN_OPTIONS:
            if "=" in arg or name in ("--check-index", "--only-fixed") or i + 1 >= len(args):
                kept.append(arg)
            else:
                kept += [arg, args[i + 1]]
                i += 1
        i += 1
    return kept


def with_baseline(result: ScanResult, baseline: str) -> ScanResult:
    """``result`` with its findings compared to a previous depscan JSON report."""
    from depscan.baseline import compare, load_previous

    previous = load_previous(Path(baseline))
    return replace(result, baseline=compare(result.findings, previous, baseline))


def render_reports(
    result: ScanResult, outputs: Sequence[tuple[str, str]], cyclonedx_version: str, stdout_width: int | None
) -> list[tuple[str, bytes | Staged]]:
    """Every report's bytes, with the file it goes to; nothing is written where a reader sees it.

    A format with a streamer (JSON) going to a file is written piece by piece to a temporary file
    beside its target (``Staged``) instead of being held in memory; it is renamed into place by
    ``write_reports``, or removed if a later report fails.
    """
    from depscan.reporters import ReportOptions, get_reporter, get_streamer

    rendered: list[tuple[str, bytes | Staged]] = []
    try:
        for fmt, file in outputs:
            to_terminal = file == STDOUT and stdout_width is not None
            options = ReportOptions(
                color=to_terminal,
                width=stdout_width if to_terminal and stdout_width is not None else 160,
                cyclonedx_version=cyclonedx_version,
            )
            streamer = get_streamer(fmt) if file != STDOUT else None
            target = regular_target(file) if streamer is not None else None
            if streamer is not None and target is not None:  # a regular file: written piece by piece
                rendered.append((file, Staged(target, streamer(result, options))))
            else:
                rendered.append((file, get_reporter(fmt)(result, options)))
    except BaseException:
        _discard(rendered)
        raise
    return rendered


def write_reports(rendered: Sequence[tuple[str, bytes | Staged]]) -> None:
    """Write rendered reports: regular files atomically (a staged one renamed into place); ``-``,
    devices, FIFOs and ``/dev/stdout`` written through, never replaced (``output.write_output``)."""
    from depscan.output import write_output

    done = 0
    try:
        for file, data in rendered:
            done += 1
            if isinstance(data, Staged):
                data.commit()
            else:
                write_output(file, data)
    except BaseException:
        _discard(rendered[done:])  # a failed commit removed its own file
        raise


def _discard(rendered: Sequence[tuple[str, bytes | Staged]]) -> None:
    for _file, data in rendered:
        if isinstance(data, Staged):
            data.discard()


def pip_audit_left_out(result: ScanResult) -> str | None:
    """What the pip-audit JSON report cannot state (its shape is PyPI only), in words; None when nothing."""
    from depscan.models import PythonDist

    others = sum(1 for c in result.components if not isinstance(c, PythonDist))
    findings = sum(1 for f in result.findings if not isinstance(f.component, PythonDist))
    if not others and not findings and not result.policy_findings:
        return None
    return (f"the pip-audit-json report lists Python distributions only: {others} native or OS component(s), "
            f"{findings} finding(s) on them and {len(result.policy_findings)} policy finding(s) are in the other "
            "formats only")


def summary_line(result: ScanResult, seconds: float) -> str:
    """The one-line summary printed to stderr at the end of a run."""
    counts = summary_counts(result)
    parts = [f"{counts.python_distributions} Python distributions"]
    if counts.shadowed:
        parts.append(f"{counts.shadowed} shadowed")
    if counts.vendored:
        parts.append(f"{counts.vendored} vendored")
    natives, unowned = counts.native_libraries, counts.native_libraries_unowned
    if natives:
        parts.append(f"{natives} native librar{'y' if natives == 1 else 'ies'}" + (f" ({unowned} unowned)" if unowned
                                                                                 else ""))
    identified = counts.native_components
    if identified:
        levels = counts.confidence_levels
        parts.append(f"{identified} identified librar{'y' if identified == 1 else 'ies'}"
                     + (f" ({', '.join(levels)} confidence)" if levels else ""))
    if counts.os_packages:
        parts.append(f"{counts.os_packages} OS package{'' if counts.os_packages == 1 else 's'}")
    parts.append(f"{counts.unknowns} unknowns")
    if counts.vulnerabilities is not None:
        extra = [f"{counts.suppressed} ignored"] if counts.suppressed else []
        if counts.malicious:
            extra.insert(0, f"{counts.malicious} KNOWN-MALICIOUS")
        if counts.covered:
            extra.append(f"+{counts.covered} in bundled libraries, covered by their distribution's")
        parts.append(f"{counts.vulnerabilities} vulnerabilities" + (f" ({'; '.join(extra)})" if extra else ""))
        if counts.unchecked:
            parts.append(f"{counts.unchecked} NOT CHECKED")
        if counts.not_verifiable:
            parts.append(f"{counts.not_verifiable} NOT VERIFIABLE")
    if counts.policy_findings:
        parts.append(f"{counts.policy_findings} policy finding{'' if counts.policy_findings == 1 else 's'}")
    if counts.warnings:
        parts.append(f"{counts.warnings} warnings")
    return f"depscan: {result.artifact.label} ({result.artifact.kind}): {', '.join(parts)} in {seconds:.2f}s"
