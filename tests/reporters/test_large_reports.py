"""Reports of large results: the JSON writer streams (and writes exactly what ``json.dumps`` would), the
table is cut at ``MAX_ROWS`` rows per table with a line saying how many were left out."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from depscan.baseline import compare
from depscan.models import BaselineDiff, Finding, PythonDist, ScanResult, Suppression
from depscan.reporters import ReportOptions, get_reporter, json_, table


def _dumps(result: ScanResult) -> str:
    return json.dumps(json_.document(result), indent=2, ensure_ascii=False) + "\n"


def test_streamed_json_is_exactly_json_dumps_of_the_document(demo_result: ScanResult) -> None:
    assert demo_result.findings and any(f.suppressed for f in demo_result.findings)
    assert "".join(json_.stream(demo_result)) == _dumps(demo_result)
    assert get_reporter("json")(demo_result, ReportOptions()) == _dumps(demo_result).encode()


def test_streamed_json_matches_json_dumps_on_odd_values(demo_result: ScanResult) -> None:
    """Every value the per-group and per-component caches could get wrong: one finding changed at a time,
    a baseline, a suppression, non-ASCII and escapes, empty lists, floats, NaN, stats of other types."""
    first, *rest = demo_result.findings
    odd = [
        replace(first, summary='quote " back\\slash \u00e9\u4e2d \n\t\x01', score=9.75, vector=None),
        replace(first, fixed_versions=(), fix=None, malformed_ranges=("PYSEC-X",), range_note="bad"),
        replace(first, suppressed=Suppression("X", "reason \u2013 why", None), ids=(first.id, "CVE-Z")),
        replace(first, score=float("nan")),
    ]
    findings: tuple[Finding, ...] = (first, *odd, *rest, first)
    result = replace(
        demo_result,
        findings=findings,
        baseline=BaselineDiff("old.json", frozenset({first.fingerprint}), frozenset(), ()),
        stats={**demo_result.stats, "ratio": 0.1, "big": 10**30, "flag": True, "nested": {"a": [], "b": {}},
               "int_keys": {1: "x", 2: [1.5, None]}, "deep": [[{"x": [[]]}]]},
    )
    assert "".join(json_.stream(result)) == _dumps(result)
    empty = replace(demo_result, components=(), findings=(), unknowns=(), warnings=())
    assert "".join(json_.stream(empty)) == _dumps(empty)


def test_streamed_json_writes_each_group_and_component_as_itself(demo_result: ScanResult) -> None:
    """Two findings of one group on two components keep their own component, fingerprint and fix."""
    doc = json.loads(json_.render(demo_result))
    for written, finding in zip(doc["vulnerabilities"], demo_result.findings, strict=True):
        assert written["component"]["purl"] == finding.component.purl
        assert written["fingerprint"] == finding.fingerprint
        assert written["fix"] == finding.fix
        assert written["advisories"] == [a.id for a in finding.advisories]


def test_baseline_marks_survive_streaming(demo_result: ScanResult, tmp_path: Path) -> None:
    previous = tmp_path / "previous.json"
    first = demo_result.findings[0]
    previous.write_bytes(json_.render(replace(demo_result, findings=(first,))))
    from depscan.baseline import load_previous

    diff = compare(demo_result.findings, load_previous(previous), str(previous))
    doc = json.loads(json_.render(replace(demo_result, baseline=diff)))
    marks = {v["fingerprint"]: v["baseline"] for v in doc["vulnerabilities"]}
    assert marks[first.fingerprint] == "unchanged"
    assert set(marks.values()) == {"new", "unchanged"}


def test_table_rows_are_capped_with_a_count_of_the_rest(
    demo_result: ScanResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    findings = demo_result.findings * 3
    dists = [c for c in demo_result.components if isinstance(c, PythonDist)]
    result = replace(demo_result, findings=findings)
    monkeypatch.setattr(table, "MAX_ROWS", 2)
    text = table.render(result, ReportOptions(width=200)).decode()
    assert f"... and {len(findings) - 2} more vulnerabilities not shown (first 2 listed)" in text
    assert f"... and {len(dists) - 2} more distributions not shown (first 2 listed)" in text
    assert "see --format json for all of them" in text
    assert text.count(findings[0].id) + text.count(findings[1].id) >= 2
    monkeypatch.setattr(table, "MAX_ROWS", 1000)
    full = table.render(result, ReportOptions(width=200)).decode()
    assert "more vulnerabilities not shown" not in full and "more distributions not shown" not in full
