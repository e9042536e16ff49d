"""The JSON document: each advisory once, findings citing it by id; baselines of version 1 still read."""

from __future__ import annotations

import json
from pathlib import Path

from depscan.baseline import compare, load_previous
from depscan.models import ScanResult
from depscan.reporters import get_reporter


def test_each_advisory_is_written_once_and_every_citation_resolves(demo_result: ScanResult) -> None:
    doc = json.loads(get_reporter("json")(demo_result, None))
    assert doc["format_version"] == 2
    cited = [a for v in doc["vulnerabilities"] for a in v["advisories"]]
    assert cited and set(cited) == set(doc["advisories"])
    for advisory_id, record in doc["advisories"].items():
        assert record["id"] == advisory_id
        assert isinstance(record["modified"], str) and isinstance(record["references"], list)
    # The finding's text lives once: no finding repeats an advisory record.
    assert all(isinstance(a, str) for v in doc["vulnerabilities"] for a in v["advisories"])
    expected = {a.id for f in demo_result.findings for a in f.advisories}
    assert set(doc["advisories"]) == expected


def test_a_version_1_report_is_still_a_baseline(demo_result: ScanResult, tmp_path: Path) -> None:
    doc = json.loads(get_reporter("json")(demo_result, None))
    doc["format_version"] = 1
    for finding in doc["vulnerabilities"]:  # version 1 wrote the records inside each finding
        finding["advisories"] = [doc["advisories"][a] for a in finding["advisories"]]
    del doc["advisories"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    diff = compare(demo_result.findings, load_previous(path), str(path))
    assert diff.new == frozenset() and diff.fixed == ()
    assert diff.unchanged == {f.fingerprint for f in demo_result.findings}
