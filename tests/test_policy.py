"""The exit policy as a pure function: every combination of facts, no subprocess."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date

import pytest

from depscan.advisories.backend import AdvisoryBackend, LookupResult, PackageQuery
from depscan.advisories.osv_schema import parse_osv
from depscan.config import IgnoreRule
from depscan.errors import ExitCode, UsageError
from depscan.match import match
from depscan.models import (
    Advisory,
    AdvisoryData,
    ArtifactInfo,
    BaselineDiff,
    Component,
    Finding,
    Level,
    Location,
    NativeComponent,
    NativeLib,
    ScanResult,
    Suppression,
    Unknown,
)
from depscan.policy import Verdict, verdict
from tests.advisories.osv_records import record
from tests.helpers import make_dist

DATA = AdvisoryData("offline:test", 10, None)
REQUESTS = make_dist("requests", "2.19.1", "site/requests-2.19.1.dist-info/METADATA")
SIX = make_dist("six", "1.16.0", "site/six-1.16.0.dist-info/METADATA")


def finding(ident: str, level: Level = Level.UNKNOWN, *, suppressed: bool = False) -> Finding:
    return Finding(
        rule="vulnerability",
        ids=(ident,),
        component=REQUESTS,
        level=level,
        score=None,
        vector=None,
        summary="",
        fixed_versions=(),
        advisories=(),
        suppressed=Suppression(ident, "accepted", None) if suppressed else None,
    )


def result(
    findings: Sequence[Finding] = (),
    *,
    unchecked: Sequence[str] = (),
    unknowns: int = 0,
    components: Sequence[Component] = (REQUESTS, SIX),
    new: Sequence[Finding] | None = None,
    source_kind: str = "artifact",
    advisory_data: AdvisoryData | None = DATA,
) -> ScanResult:
    baseline = None
    if new is not None:
        fresh = frozenset(f.fingerprint for f in new)
        others = frozenset(f.fingerprint for f in findings) - fresh
        baseline = BaselineDiff("before.json", fresh, others, ())
    return ScanResult(
        artifact=ArtifactInfo("in put.zip", "zip", 1),
        components=tuple(components),
        unknowns=tuple(Unknown(Location(f"x{i}", None), "bad") for i in range(unknowns)),
        findings=tuple(findings),
        advisory_data=advisory_data,
        unchecked=tuple((f"pkg:pypi/{name}@1", "HTTP 503 after 5 attempts") for name in unchecked),
        baseline=baseline,
        source_kind=source_kind,
    )


def test_clean_run_exits_0() -> None:
    assert verdict(result()) == Verdict(ExitCode.OK)
    assert verdict(result(advisory_data=None)) == Verdict(ExitCode.OK)  # --source skip: inventory only


def test_findings_exit_1_and_fail_on_thresholds() -> None:
    findings = [finding("A", Level.UNKNOWN), finding("B", Level.HIGH)]
    assert verdict(result(findings)).code is ExitCode.FINDINGS
    assert verdict(result(findings), "high").code is ExitCode.FINDINGS
    assert verdict(result(findings), "critical").code is ExitCode.OK
    assert verdict(result([finding("A", Level.UNKNOWN)]), "low").code is ExitCode.OK  # unscored: only under any


def test_failed_lookups_exit_4_even_with_findings() -> None:
    judged = verdict(result([finding("A", Level.CRITICAL)], unchecked=["six"]))
    assert judged.code is ExitCode.LOOKUP_FAILED  # 4 over 1: findings present, yet others unchecked
    assert judged.message is not None
    assert "advisories could not be checked for 1 component(s): pkg:pypi/six@1" in judged.message
    assert "NOT known to be free of vulnerabilities" in judged.message
    assert "1 finding(s) at or above --fail-on any were found as well" in judged.message
    assert "\n" not in judged.message
    assert verdict(result(unchecked=["six"])).code is ExitCode.LOOKUP_FAILED
    many = verdict(result(unchecked=[f"p{i}" for i in range(7)]))
    assert many.message is not None and "7 component(s)" in many.message and "and 2 more" in many.message


def test_failed_lookups_exit_4_over_strict_unknowns() -> None:
    assert verdict(result(unchecked=["six"], unknowns=2), strict=True).code is ExitCode.LOOKUP_FAILED


class _Silent(AdvisoryBackend):
    """A backend that answers for no query at all (neither affected nor failed)."""

    name = "silent"

    def lookup(self, queries: Sequence[PackageQuery]) -> LookupResult:
        return LookupResult(data=DATA)


def test_a_backend_that_did_not_answer_is_never_clean() -> None:
    matched = match([REQUESTS, SIX], _Silent())
    assert matched.findings == []
    unchecked = tuple(sorted(matched.unchecked.items()))
    judged = verdict(ScanResult(ArtifactInfo("a.zip", "zip", 1), (REQUESTS, SIX), (), advisory_data=DATA,
                                unchecked=unchecked))
    assert judged.code is ExitCode.LOOKUP_FAILED
    assert judged.message is not None and "the advisory source gave no answer" in judged.message


def test_strict_with_unknowns_exits_5_and_findings_come_first() -> None:
    judged = verdict(result(unknowns=2), strict=True)
    assert judged == Verdict(ExitCode.INCOMPLETE, "2 unknown(s): the scan is incomplete (--strict)")
    assert verdict(result(unknowns=2)).code is ExitCode.OK  # unknowns alone do not fail without --strict
    assert verdict(result([finding("A")], unknowns=2), strict=True).code is ExitCode.FINDINGS
    assert verdict(result(), strict=True).code is ExitCode.OK


def test_ignored_findings_do_not_count() -> None:
    assert verdict(result([finding("A", Level.CRITICAL, suppressed=True)])).code is ExitCode.OK
    mixed = [finding("A", Level.CRITICAL, suppressed=True), finding("B", Level.LOW)]
    assert verdict(result(mixed)).code is ExitCode.FINDINGS
    assert verdict(result(mixed), "medium").code is ExitCode.OK  # the critical one is ignored


class _Fixed(AdvisoryBackend):
    name = "fixed"

    def __init__(self, advisory: Advisory) -> None:
        self.advisory = advisory

    def lookup(self, queries: Sequence[PackageQuery]) -> LookupResult:
        return LookupResult({q: [self.advisory] if q.name == "requests" else [] for q in queries}, data=DATA)


def test_expired_ignores_count_again() -> None:
    advisory = parse_osv(record("PYSEC-1", "requests", versions=["2.19.1"], aliases=["CVE-1"]), "test")
    backend = _Fixed(advisory)
    today = date(2025, 1, 1)
    live = match([REQUESTS, SIX], backend, [IgnoreRule("CVE-1", "fine", date(2026, 1, 1))], today)
    expired = match([REQUESTS, SIX], backend, [IgnoreRule("CVE-1", "fine", date(2024, 1, 1))], today)

    def judged(findings: list[Finding]) -> ExitCode:
        return verdict(result(findings)).code

    assert judged(live.findings) is ExitCode.OK
    assert judged(expired.findings) is ExitCode.FINDINGS
    assert any("expired on 2024-01-01" in note for note in expired.notes)


def test_new_only_counts_new_findings_only() -> None:
    old, fresh = finding("OLD"), finding("NEW")
    assert verdict(result([old, fresh], new=[fresh]), new_only=True).code is ExitCode.FINDINGS
    assert verdict(result([old, fresh], new=[]), new_only=True).code is ExitCode.OK
    assert verdict(result([old, fresh], new=[]), new_only=False).code is ExitCode.FINDINGS
    # New but ignored, or below the threshold: still passes.
    ignored = finding("NEW", suppressed=True)
    assert verdict(result([old, ignored], new=[ignored]), new_only=True).code is ExitCode.OK
    assert verdict(result([old, fresh], new=[fresh]), "high", new_only=True).code is ExitCode.OK
    # Failed lookups still win over --new-only.
    assert verdict(result([old], new=[], unchecked=["six"]), new_only=True).code is ExitCode.LOOKUP_FAILED
    with pytest.raises(UsageError, match="--new-only needs --baseline"):
        verdict(result([old]), new_only=True)


def test_a_rescan_that_checked_nothing_does_not_pass() -> None:
    for components in [(), (make_native(),)]:
        judged = verdict(result(components=components, source_kind="sbom"))
        assert judged.code is ExitCode.LOOKUP_FAILED
        assert judged.message is not None and "nothing was checked" in judged.message
        assert judged.message.startswith("in put.zip: ")
    assert verdict(result(source_kind="sbom")).code is ExitCode.OK
    assert verdict(result(source_kind="sbom", advisory_data=None)).code is ExitCode.LOOKUP_FAILED
    # A scan of an artifact without Python distributions is an inventory: it passes.
    assert verdict(result(components=())).code is ExitCode.OK
    # An identified library with a version was checked (against its repository's records); one that is
    # not verifiable was not.
    webp = NativeComponent("libwebp", "1.3.1", "pkg:generic/libwebp@1.3.1", None, Location("lib/libwebp.so.7", None),
                           ())
    assert verdict(result(components=(webp,), source_kind="sbom")).code is ExitCode.OK
    unknown = result(components=(webp,), source_kind="sbom")
    unknown = dataclasses.replace(unknown, not_verifiable=((webp.purl, "no repository"),))
    assert verdict(unknown).code is ExitCode.LOOKUP_FAILED


def make_native() -> Component:
    return NativeLib("libz", "shared-library", "1", Location("lib/libz.so.1", None), 128, "x86_64", 64,
                     "little", "shared-object", "pkg:generic/libz@1")


def test_unknown_fail_on_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown --fail-on 'bogus'"):
        verdict(result(), "bogus")
