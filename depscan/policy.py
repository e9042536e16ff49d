"""The exit policy: which findings fail the run (``--fail-on``), and the run's exit code.

``verdict`` is a pure function of a finished ``ScanResult`` and the options that judge it
(``--fail-on``, ``--strict``, ``--new-only``); the CLI only prints its message and exits with
its code. Most serious first:

4  advisories could not be checked for some component (a lookup failed, or the advisory source
   gave no answer), or a rescan checked nothing at all: the run is NOT known to be free of
   vulnerabilities, whatever else it found;
1  a known-malicious package (a finding of an OSV ``MAL-`` record), whatever ``--fail-on`` and
   ``--new-only`` say (only an ignore rule naming its id suppresses it);
1  findings at or above ``--fail-on`` (ignored ones do not count; with ``--new-only``, new ones only),
   vulnerabilities and policy findings alike (``failing_policy``: a policy finding's level is its
   rule's, README "Policy rules"; ``any`` counts them all; ``--new-only`` does not filter them, because
   a baseline report records vulnerabilities only);
5  ``--strict`` and something could not be read (unknowns);
0  otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from depscan.errors import ExitCode, UsageError
from depscan.models import Finding, Level, NativeComponent, OsPackage, PolicyFinding, PythonDist, ScanResult

FAIL_ON = ("any", "low", "medium", "high", "critical")

_THRESHOLDS = {
    "low": Level.LOW,
    "medium": Level.MEDIUM,
    "high": Level.HIGH,
    "critical": Level.CRITICAL,
}


def failing(findings: Sequence[Finding], fail_on: str) -> list[Finding]:
    """Unsuppressed findings at or above ``fail_on``.

    ``any`` counts every finding, those without a severity score included. A threshold counts only
    findings whose score reaches it: an advisory with no CVSS vector cannot be ranked, so it fails
    the run only under ``any`` (the default). Most PyPI advisories carry no vector.
    """
    active = [f for f in findings if f.suppressed is None]
    if fail_on == "any":
        return active
    threshold = _THRESHOLDS[fail_on]
    return [f for f in active if f.level.rank >= threshold.rank]


def malicious(findings: Sequence[Finding]) -> list[Finding]:
    """Unsuppressed findings of known-malicious packages: they fail the run at any ``--fail-on``."""
    return [f for f in findings if f.malicious and f.suppressed is None]


def failing_policy(findings: Sequence[PolicyFinding], fail_on: str) -> list[PolicyFinding]:
    """Policy findings at or above ``fail_on`` (``any``: all of them). Each has its rule's level."""
    if fail_on == "any":
        return list(findings)
    threshold = _THRESHOLDS[fail_on]
    return [f for f in findings if f.level.rank >= threshold.rank]


def nothing_checked(result: ScanResult) -> bool:
    """A rescan whose SBOM lists nothing an advisory could be matched against (no PyPI component, and
    no identified native library or OS package that was verifiable): the run must not look clean. (A
    scan of an artifact without Python distributions is an inventory, and passes.)"""
    if result.source_kind != "sbom":
        return False
    if result.advisory_data is None:
        return True
    unverifiable = {purl for purl, _reason in result.not_verifiable}
    return not any(
        isinstance(c, PythonDist) or (isinstance(c, NativeComponent | OsPackage) and c.purl not in unverifiable)
        for c in result.components
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a run ends: its exit code and, when there is something to say, one line for stderr."""

    code: ExitCode
    message: str | None = None


def verdict(result: ScanResult, fail_on: str = "any", *, strict: bool = False, new_only: bool = False) -> Verdict:
    """The exit code of a finished run, and why (see the module docstring for the order)."""
    if fail_on not in FAIL_ON:
        raise UsageError(f"unknown --fail-on {fail_on!r}; one of: {', '.join(FAIL_ON)}")
    findings: Sequence[Finding] = result.findings
    if new_only:
        if result.baseline is None:
            raise UsageError("--new-only needs --baseline")
        findings = [f for f in findings if f.fingerprint in result.baseline.new]
    bad = failing(findings, fail_on)
    bad_policy = failing_policy(result.policy_findings, fail_on)
    evil = malicious(result.findings)
    failed = len(bad) + len(bad_policy)
    also = f"; {failed} finding(s) at or above --fail-on {fail_on} were found as well" if failed else ""
    if evil:
        also += f"; {_malicious_line(evil)}"
    if result.unchecked:
        names = ", ".join(purl for purl, _why in result.unchecked[:5])
        more = f" and {len(result.unchecked) - 5} more" if len(result.unchecked) > 5 else ""
        first_reason = result.unchecked[0][1]
        return Verdict(
            ExitCode.LOOKUP_FAILED,
            f"advisories could not be checked for {len(result.unchecked)} component(s): {names}{more} "
            f"({first_reason}); they are NOT known to be free of vulnerabilities{also}",
        )
    if nothing_checked(result):
        return Verdict(
            ExitCode.LOOKUP_FAILED,
            f"{result.artifact.path}: nothing was checked: the SBOM lists no PyPI component to match against "
            "advisories; it is NOT known to be free of vulnerabilities",
        )
    if evil:
        return Verdict(ExitCode.FINDINGS, _malicious_line(evil) + " (fails the run at any --fail-on)")
    if bad:
        return Verdict(ExitCode.FINDINGS)
    if bad_policy:
        rules = ", ".join(sorted({f.rule for f in bad_policy}))
        return Verdict(ExitCode.FINDINGS, f"{len(bad_policy)} policy finding(s) at or above --fail-on {fail_on} "
                       f"({rules})")
    if strict and result.unknowns:
        return Verdict(ExitCode.INCOMPLETE, f"{len(result.unknowns)} unknown(s): the scan is incomplete (--strict)")
    return Verdict(ExitCode.OK)


def _malicious_line(evil: Sequence[Finding]) -> str:
    """One sentence naming the known-malicious packages found."""
    names = sorted({f"{f.component.name} {f.component.version or ''}".strip() + f" ({f.id})" for f in evil})
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"{len(names)} known-malicious package(s) installed: {shown}"
