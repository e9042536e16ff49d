"""SARIF 2.1.0: schema-valid, inside GitHub code scanning's documented subset, levels, suppressions,
stable fingerprints, policy results, golden."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Callable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from packaging.utils import canonicalize_name

import depscan
from depscan.config import AdvisorySettings, IgnoreRule, ScanConfig
from depscan.models import (
    Advisory,
    ArtifactInfo,
    BaselineDiff,
    Finding,
    Level,
    Location,
    PythonDist,
    ScanResult,
    Unknown,
)
from depscan.reporters import ReportOptions
from depscan.reporters.sarif import (
    FINGERPRINT_KEY,
    NOT_VERIFIABLE_RULE,
    UNCHECKED_RULE,
    UNREADABLE_RULE,
    _rule_id,
    document,
    relative_uri,
    render,
    sarif_level,
    smallest_fix,
)
from depscan.scan import run
from tests.redact import redact

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "fixtures" / "schemas" / "sarif-schema-2.1.0.json"


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)  # draft-07, as the schema declares
    cls.check_schema(schema)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


def _validate(log: dict[str, Any]) -> None:
    errors = sorted(_validator().iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def _run(log: dict[str, Any]) -> dict[str, Any]:
    assert len(log["runs"]) == 1
    run_: dict[str, Any] = log["runs"][0]
    return run_


def test_demo_log_is_valid_sarif(demo_result: ScanResult) -> None:
    log = json.loads(render(demo_result, ReportOptions()))
    _validate(log)
    assert log["version"] == "2.1.0"
    driver = _run(log)["tool"]["driver"]
    assert driver["name"] == "depscan"
    assert driver["version"] == depscan.__version__
    assert driver["informationUri"] == "https://pypi.org/project/pydepscan/"


def test_golden(full_result: ScanResult, tmp_path: Path, golden: Callable[[str, bytes], None]) -> None:
    _validate(json.loads(render(full_result, ReportOptions())))
    text = render(full_result, ReportOptions()).decode()
    repo = str(Path(__file__).resolve().parents[2])
    text = redact(text, extra=[(str(tmp_path), "TMP"), (repo, "REPO"),
                               (f'"version": "{depscan.__version__}"', '"version": "VERSION"')])
    golden("scan.sarif", text.encode())


@pytest.mark.parametrize("fixture", ["demo_result", "full_result"])
def test_within_github_code_scanning_subset(fixture: str, request: pytest.FixtureRequest) -> None:
    """The limits and required properties of GitHub's "SARIF support for code scanning" page (also for native and
    OS findings, policy findings and not-verifiable components)."""
    log = document(request.getfixturevalue(fixture))
    assert log["$schema"].startswith("https://")
    run_ = _run(log)
    rules = run_["tool"]["driver"]["rules"]
    assert len(rules) <= 25_000 and len(run_["results"]) <= 25_000
    for rule in rules:
        assert 0 < len(rule["id"]) <= 255
        for key in ("shortDescription", "fullDescription", "help"):
            assert 0 < len(rule[key]["text"]) <= (1024 if key != "help" else 100_000), (rule["id"], key)
        assert len(rule["properties"]["tags"]) <= 10
        if "security-severity" in rule["properties"]:
            assert 0.0 < float(rule["properties"]["security-severity"]) <= 10.0
            assert "security" in rule["properties"]["tags"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    for result in run_["results"]:
        assert result["message"]["text"].strip()
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert len(result["locations"]) == 1
        physical = result["locations"][0]["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        assert not uri.startswith("/") and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", uri), uri  # relative
        assert physical["artifactLocation"]["uriBaseId"] in run_["originalUriBaseIds"]
        assert physical["region"] == {"startLine": 1}
        assert result["partialFingerprints"]["primaryLocationLineHash"]


def _other_rules(result: ScanResult) -> set[str]:
    """The rules of what is not a vulnerability finding nor an unknown: policy findings, not verifiable."""
    return {f.rule for f in result.policy_findings} | ({NOT_VERIFIABLE_RULE} if result.not_verifiable else set())


def _other_results(result: ScanResult) -> int:
    """Results that are not vulnerability findings: unknowns, policy findings, not-verifiable components."""
    return len(result.unknowns) + len(result.policy_findings) + len(result.not_verifiable)


def test_one_rule_per_advisory_group_with_fix_and_severity(demo_result: ScanResult) -> None:
    rules = {r["id"]: r for r in _run(document(demo_result))["tool"]["driver"]["rules"]}
    groups = {f.id for f in demo_result.findings}
    assert set(rules) == groups | {UNREADABLE_RULE} | _other_rules(demo_result)
    cookie = rules["PYSEC-2023-192"]  # urllib3, both copies
    assert cookie["helpUri"] == "https://osv.dev/vulnerability/PYSEC-2023-192"
    assert cookie["properties"]["security-severity"] == "8.1"
    assert cookie["properties"]["tags"] == ["security", "vulnerability"]
    assert cookie["properties"]["precision"] == "high"
    assert cookie["defaultConfiguration"] == {"level": "error"}
    assert "urllib3 1.23: Upgrade urllib3 to 1.26.17." in cookie["help"]["text"]
    assert "urllib3 1.26.5: Upgrade urllib3 to 1.26.17." in cookie["help"]["text"]
    assert "CVE-2023-43804" in cookie["help"]["text"]
    unscored = rules["PYSEC-2018-28"]  # requests: no CVSS vector in the record
    assert "security-severity" not in unscored["properties"]
    assert unscored["defaultConfiguration"] == {"level": "note"}


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (Level.CRITICAL, "error"),
        (Level.HIGH, "error"),
        (Level.MEDIUM, "warning"),
        (Level.LOW, "note"),
        (Level.UNKNOWN, "note"),
    ],
)
def test_levels(level: Level, expected: str) -> None:
    assert sarif_level(level) == expected


def test_result_levels_and_messages_follow_findings(demo_result: ScanResult) -> None:
    results = _run(document(demo_result))["results"]
    vulnerabilities = results[: len(demo_result.findings)]
    for finding, result in zip(demo_result.findings, vulnerabilities, strict=True):
        assert result["ruleId"] == finding.id
        assert result["level"] == sarif_level(finding.level)
        text = result["message"]["text"]
        component = finding.component
        assert text.startswith(f"{component.name} {component.version} is affected by {finding.id}")
        assert all(i in text for i in finding.ids)
        assert component.metadata_location.path in text
        assert result["locations"][0]["properties"] == {"layer": component.metadata_location.layer}
    shadowed = next(r for r in vulnerabilities if r["properties"]["component"]["status"] == "shadowed")
    assert "shadowed" in shadowed["message"]["text"]
    assert {r["level"] for r in vulnerabilities} == {"error", "warning", "note"}


def test_suppressed_finding_is_kept_with_external_suppression(demo_result: ScanResult) -> None:
    results = _run(document(demo_result))["results"]
    suppressed = [r for r in results if "suppressions" in r]
    assert [r["ruleId"] for r in suppressed] == ["PYSEC-2019-217"]
    assert suppressed[0]["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "sandbox not used",
            "properties": {"ignoreId": "CVE-2019-10906", "expires": "2099-01-01"},
        }
    ]
    assert len(results) == len(demo_result.findings) + _other_results(demo_result)


def test_unknown_is_a_policy_result(demo_result: ScanResult) -> None:
    run_ = _run(document(demo_result))
    unreadable = [r for r in run_["results"] if r["ruleId"] == UNREADABLE_RULE]
    assert len(unreadable) == 1
    result = unreadable[0]
    assert result["level"] == "warning"
    assert "METADATA has no Version field" in result["message"]["text"]
    location = result["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "opt/python/bad-1.0.dist-info/METADATA"
    assert location["properties"] == {"layer": "layer.zip"}
    rule = run_["tool"]["driver"]["rules"][result["ruleIndex"]]
    assert rule["id"] == UNREADABLE_RULE and "security-severity" not in rule["properties"]


def _scan_copy(source: Path, target: Path) -> ScanResult:
    """Scan the demo artifacts again from another directory (another absolute path, another cache)."""
    target.mkdir()
    for name in ("function.zip", "layer.zip"):
        shutil.copy2(source / name, target / name)
    settings = AdvisorySettings(
        mode="offline",
        export=REPO / "fixtures" / "advisories" / "pypi-subset.zip",
        ignores=(IgnoreRule("CVE-2019-10906", "sandbox not used", date(2099, 1, 1)),),
        max_age_days=100_000,
    )
    config = ScanConfig(str(target / "function.zip"), (str(target / "layer.zip"),), advisories=settings)
    return run(config)


def test_fingerprints_are_stable_across_runs(
    demo_result: ScanResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache2"))
    again = _scan_copy(tmp_path / "demo", tmp_path / "elsewhere")
    assert again.artifact.path != demo_result.artifact.path

    def fingerprints(result: ScanResult) -> list[tuple[str, str, str]]:
        return [
            (
                r["ruleId"],
                r["partialFingerprints"][FINGERPRINT_KEY],
                r["partialFingerprints"]["primaryLocationLineHash"],
            )
            for r in _run(document(result))["results"]
        ]

    first, second = fingerprints(demo_result), fingerprints(again)
    assert first == second
    vulnerability_prints = [f for _, f, _ in first[: len(demo_result.findings)]]
    assert vulnerability_prints == [f.fingerprint for f in demo_result.findings]
    assert len({f for _, f, _ in first}) == len(first)  # the two urllib3 copies differ
    assert render(demo_result) == render(demo_result)


def test_not_checked_and_unchecked_are_visible(demo_result: ScanResult) -> None:
    requests = next(c for c in demo_result.components if c.normalized_name == "requests")
    result = dataclasses.replace(
        demo_result,
        findings=(),
        advisory_data=None,
        unknowns=(),
        policy_findings=(),
        not_verifiable=(),
        unchecked=((requests.purl, "OSV API: connection reset"),),
        warnings=("bin/python: symlink points outside the artifact; not followed",),
        notes=("advisory data is 400 days old",),
    )
    log = document(result)
    _validate(log)
    run_ = _run(log)
    assert [r["id"] for r in run_["tool"]["driver"]["rules"]] == [UNCHECKED_RULE]
    [unchecked] = run_["results"]
    assert unchecked["ruleId"] == UNCHECKED_RULE and unchecked["level"] == "warning"
    assert "requests 2.19.1" in unchecked["message"]["text"] and "connection reset" in unchecked["message"]["text"]
    notifications = run_["invocations"][0]["toolExecutionNotifications"]
    texts = [n["message"]["text"] for n in notifications]
    assert texts[0].startswith("Advisories were not checked")
    assert "bin/python: symlink points outside the artifact; not followed" in texts
    assert "advisory data is 400 days old" in texts
    assert run_["properties"]["advisoryData"] is None


@pytest.mark.parametrize(
    ("installed", "fixed", "expected"),
    [
        ("1.23", ("1.26.17", "2.0.6"), "1.26.17"),
        ("2.0.0", ("1.26.17", "2.0.6"), "2.0.6"),
        ("1.26.5", ("2.0.6", "1.26.17"), "1.26.17"),
        ("3.0", ("1.26.17", "2.0.6"), None),
        ("not-a-version", ("2.0", "1.5"), None),  # nothing can be said to be above it
        ("1.0", ("garbage",), None),
        ("1.0", (), None),
    ],
)
def test_smallest_fix(installed: str, fixed: tuple[str, ...], expected: str | None) -> None:
    assert smallest_fix(installed, fixed) == expected


def test_relative_uri_encoding() -> None:
    assert relative_uri("var/task/urllib3-1.23.dist-info/METADATA") == "var/task/urllib3-1.23.dist-info/METADATA"
    assert relative_uri("opt/my lib/x#1?.dist-info/METADATA") == "opt/my%20lib/x%231%3F.dist-info/METADATA"
    assert relative_uri("sha256:abc/é.dist-info/METADATA") == "sha256%3Aabc/%C3%A9.dist-info/METADATA"
    assert (
        relative_uri("outer.zip!/inner.whl!/a-1.dist-info/METADATA") == "outer.zip!/inner.whl!/a-1.dist-info/METADATA"
    )


def test_overlong_rule_ids_are_shortened_stably() -> None:
    long_id = "X-" + "a" * 300
    assert len(_rule_id(long_id)) == 255
    assert _rule_id(long_id) == _rule_id(long_id) != _rule_id(long_id + "b")
    assert _rule_id("PYSEC-2023-192") == "PYSEC-2023-192"


def test_hostile_metadata_renders() -> None:
    weird = PythonDist(
        name="weird\x01pkg",
        normalized_name=canonicalize_name("weird-pkg"),
        version="1.0\x00-custom build\nfor\tus",
        purl="not a purl",
        found_by="python-dist-info",
        metadata_location=Location("we ird/#x/METADATA", "sha256:abc"),
        metadata_sha256="nope",
        metadata_dir="we ird",
        site_root="",
    )
    advisory = Advisory(
        id="PYSEC-0",
        aliases=(),
        summary=None,
        details=None,
        modified="yesterday",
        published=None,
        withdrawn=None,
        affected=(),
        severity=(),
        references=("https://x.example/%zz",),
        source="test",
    )
    finding = Finding("vulnerability", ("PYSEC-0",), weird, Level.HIGH, 11.0, None, "", ("garbage",), (advisory,))
    result = ScanResult(
        artifact=ArtifactInfo(path="app.zip", kind="zip", size=None),
        components=(weird,),
        unknowns=(Unknown(Location("bad\udc80name/METADATA"), "undecodable \udc80"),),
        findings=(finding,),
        warnings=("bad\x00warning \udcff",),
    )
    log = json.loads(render(result).decode("utf-8"))
    _validate(log)
    run_ = _run(log)
    rule, _ = run_["tool"]["driver"]["rules"]
    assert rule["shortDescription"]["text"] == "PYSEC-0"  # no summary anywhere: the id stands in
    assert "security-severity" not in rule["properties"]  # 11.0 is no CVSS score
    result_, unknown = run_["results"]
    assert result_["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "we%20ird/%23x/METADATA"
    assert unknown["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "bad%80name/METADATA"
    assert unknown["message"]["text"] == "Could not read bad\\x80name/METADATA: undecodable \\x80. Not inventoried."
    assert "Fixed in garbage; none is above the installed" in result_["message"]["text"]
    assert run_["invocations"][0]["toolExecutionNotifications"][-1]["message"]["text"] == "bad\x00warning \\xff"


def test_baseline_state(demo_result: ScanResult) -> None:
    first, *rest = demo_result.findings
    baseline = BaselineDiff("old.json", frozenset({first.fingerprint}), frozenset(f.fingerprint for f in rest), ())
    log = document(dataclasses.replace(demo_result, baseline=baseline))
    _validate(log)
    states = [r.get("baselineState") for r in _run(log)["results"]]
    assert states == ["new"] + ["unchanged"] * len(rest) + [None] * _other_results(demo_result)
    assert all("baselineState" not in r for r in _run(document(demo_result))["results"])


def test_every_policy_rule_has_its_own_sarif_text() -> None:
    """Each rule the policy step can raise is described by its own text, not the generic fallback."""
    from depscan.native.policy import RULES
    from depscan.reporters.sarif import POLICY_RULE_TEXT

    assert set(RULES) <= set(POLICY_RULE_TEXT)
