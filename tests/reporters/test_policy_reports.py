"""Policy findings and not-verifiable components in the reports: never a clean verdict, their own SARIF rules."""

from __future__ import annotations

import dataclasses
import json

from depscan.finish import summary_line
from depscan.models import Level, Location, PolicyFinding, ScanResult
from depscan.reporters import ReportOptions, get_reporter
from depscan.reporters.sarif import NOT_VERIFIABLE_RULE, document


def _clean(full_result: ScanResult) -> ScanResult:
    """The full result without findings of any kind: only the not-verifiable component is left."""
    return dataclasses.replace(full_result, findings=(), policy_findings=(), unknowns=())


def test_not_verifiable_is_never_clean(full_result: ScanResult) -> None:
    result = _clean(full_result)
    table = get_reporter("table")(result, ReportOptions(width=200)).decode()
    assert "No known vulnerabilities (checked" not in table
    assert "No known vulnerabilities in what could be checked" in table
    assert "1 component(s) could not be verified" in table
    assert "NOT VERIFIABLE: pkg:generic/libpq" in table
    markdown = get_reporter("markdown")(result, ReportOptions()).decode()
    assert ":white_check_mark:" not in markdown and "**not verifiable**" in markdown
    assert "1 NOT VERIFIABLE" in summary_line(result, 1.0)
    without = dataclasses.replace(result, not_verifiable=())
    assert "No known vulnerabilities (checked" in get_reporter("table")(without, ReportOptions(width=200)).decode()
    assert ":white_check_mark:" in get_reporter("markdown")(without, ReportOptions()).decode()
    assert "NOT VERIFIABLE" not in summary_line(without, 1.0)
    # advisories not checked: the count is null, not 0
    unchecked = dataclasses.replace(result, advisory_data=None)
    assert json.loads(get_reporter("json")(unchecked, ReportOptions()))["summary"]["not_verifiable"] is None


def test_summary_line_counts_identified_libraries_os_packages_and_policy_findings(full_result: ScanResult) -> None:
    line = summary_line(full_result, 2.0)
    assert "4 identified libraries (2 high, 1 medium, 1 low confidence)" in line
    assert "1 OS package" in line and "2 policy findings" in line and "1 NOT VERIFIABLE" in line


def test_sarif_rules_for_unknown_and_colliding_policy_rules(full_result: ScanResult) -> None:
    odd = (
        PolicyFinding(rule="site-specific-check", level=Level.LOW, location=Location("lib/x.so"),
                      message="lib/x.so is odd"),
        # a rule named like an advisory group of the scan: kept apart under depscan/policy/
        PolicyFinding(rule="PYSEC-2018-28", level=Level.CRITICAL, location=Location("lib/y.so"), message="y"),
    )
    result = dataclasses.replace(full_result, policy_findings=(*full_result.policy_findings, *odd),
                                 not_verifiable=(*full_result.not_verifiable, ("pkg:generic/gone@1", "no data")))
    run = document(result)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    by_id = {rule["id"]: rule for rule in rules}
    assert len(by_id) == len(rules)
    custom = by_id["site-specific-check"]
    assert custom["name"] == "SiteSpecificCheck" and custom["defaultConfiguration"] == {"level": "note"}
    assert custom["fullDescription"]["text"] == "lib/x.so is odd" and custom["help"]["text"]
    assert by_id["depscan/policy/PYSEC-2018-28"]["defaultConfiguration"] == {"level": "error"}
    assert "security" in by_id["PYSEC-2018-28"]["properties"]["tags"]  # the advisory's own rule is untouched
    unowned = by_id["native-unowned"]
    assert "auditwheel" in unowned["help"]["text"] and unowned["defaultConfiguration"] == {"level": "warning"}
    results = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]): r
               for r in run["results"]}
    assert results[("depscan/policy/PYSEC-2018-28", "lib/y.so")]["level"] == "error"
    assert rules[results[("site-specific-check", "lib/x.so")]["ruleIndex"]]["id"] == "site-specific-check"
    # a not-verifiable component the result does not list is still a result (at the artifact root)
    assert (NOT_VERIFIABLE_RULE, ".") in results
    assert (NOT_VERIFIABLE_RULE, "var/task/lib/libpq.so.5") in results  # at the file it was identified in
