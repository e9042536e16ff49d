"""A bundled library's finding that its distribution's advisory already reports (``Finding.covered_by``:
Pillow's GHSA for CVE-2023-4863 and the libwebp record of the same CVE) is shown linked in every report
and counted once in the summaries."""

from __future__ import annotations

import dataclasses
import json

from depscan.facts import counts
from depscan.models import NativeComponent, ScanResult
from depscan.reporters import ReportOptions, cyclonedx, json_, markdown, sarif, table


def _covered(full_result: ScanResult) -> tuple[ScanResult, str]:
    """``full_result`` with its libwebp finding linked to another finding's id."""
    owner_id = next(f.id for f in full_result.findings if not isinstance(f.component, NativeComponent))
    findings = tuple(
        dataclasses.replace(f, covered_by=owner_id) if isinstance(f.component, NativeComponent) else f
        for f in full_result.findings
    )
    assert any(f.covered_by for f in findings)
    return dataclasses.replace(full_result, findings=findings), owner_id


def test_counts_state_a_covered_finding_once(full_result: ScanResult) -> None:
    before = counts(full_result)
    result, _ = _covered(full_result)
    after = counts(result)
    assert before.covered == 0 and after.covered == 1
    assert after.vulnerabilities == (before.vulnerabilities or 0) - 1


def test_every_report_names_the_covering_finding(full_result: ScanResult) -> None:
    result, owner_id = _covered(full_result)
    doc = json_.document(result)
    linked = [v for v in doc["vulnerabilities"] if v["covered_by"] is not None]
    assert [(v["component"]["name"], v["covered_by"]) for v in linked] == [("libwebp", owner_id)]
    assert doc["summary"]["covered"] == 1
    sarif_results = sarif.document(result)["runs"][0]["results"]
    assert [r["properties"]["coveredBy"] for r in sarif_results if "coveredBy" in r.get("properties", {})] == [owner_id]
    assert f"covered by {owner_id}" in markdown.render(result).decode()
    assert "finding(s) in bundled libraries" in markdown.render(result).decode()
    # the table wraps its cells: the note's first words are on one line
    assert "[covered by" in table.render(result).decode()
    # CycloneDX: a property of the vulnerability, naming the copy and the covering finding
    bom = json.loads(cyclonedx.render_json(result, ReportOptions()))
    covered = [(p["value"]) for v in bom["vulnerabilities"] for p in v.get("properties", [])
               if p["name"] == "depscan:covered_by"]
    assert len(covered) == 1 and covered[0].startswith("pkg:generic/libwebp") and covered[0].endswith(f" {owner_id}")
