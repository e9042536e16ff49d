"""Fix advice (``depscan/fixes.py``): per vulnerable copy, the smallest version outside every advisory of it."""

from __future__ import annotations

import json
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from depscan import fixes
from depscan.advisories.osv_db import OfflineDatabase, import_sources
from depscan.advisories.ranges import is_affected, parse_version
from depscan.config import IgnoreRule
from depscan.match import match
from depscan.models import (
    ArtifactInfo,
    FixAdvice,
    Location,
    PythonDist,
    ScanResult,
    Status,
    TargetRuntime,
)
from tests.advisories.osv_records import record
from tests.test_match import Fake

REPO = Path(__file__).resolve().parents[1]
SUBSET = REPO / "fixtures" / "advisories" / "pypi-subset.zip"


def _dist(name: str, version: str, *, requires: tuple[str, ...] = (), path: str | None = None,
          status: Status = Status.USED) -> PythonDist:
    where = path or f"site/{name}-{version}.dist-info/METADATA"
    return PythonDist(name=name, normalized_name=canonicalize_name(name), version=version,
                      purl=f"pkg:pypi/{canonicalize_name(name)}@{version}", found_by="python-dist-info",
                      metadata_location=Location(where), metadata_sha256=None, metadata_dir=where.rsplit("/", 1)[0],
                      site_root="site", requires_dist=requires, status=status)


def _result(components: list[PythonDist], records: list[dict[str, Any]], *, target: TargetRuntime | None = None,
            ignores: tuple[IgnoreRule, ...] = ()) -> ScanResult:
    matched = match(components, Fake(records), ignores)
    return ScanResult(artifact=ArtifactInfo("a.zip", "zip", 1), components=tuple(components), unknowns=(),
                      findings=tuple(matched.findings), advisory_data=matched.data, target=target)


def _one(result: ScanResult) -> FixAdvice:
    (only,) = fixes.advice(result)
    return only


def test_a_fix_of_one_advisory_inside_another_is_not_recommended() -> None:
    # A is fixed in 1.5, but B covers 1.5 (and 1.6); B is fixed in 1.7, which C's reopened range covers;
    # 1.8 is outside all three.
    records = [
        record("A", "p", events=[{"introduced": "0"}, {"fixed": "1.5"}]),
        record("B", "p", events=[{"introduced": "1.4"}, {"fixed": "1.7"}]),
        record("C", "p", events=[{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "1.4"}, {"fixed": "1.5"},
                                 {"introduced": "1.7"}, {"fixed": "1.8"}]),
    ]
    result = _result([_dist("p", "1.4.1")], records)
    assert {f.fix for f in result.findings} == {"1.5", "1.7"}  # each finding alone: its own fix
    advice = _one(result)
    assert advice.recommended == "1.8"
    assert advice.newest_in_major == "1.8" and advice.breaking is False
    assert set(advice.advisories) == {"A", "B", "C"}  # what 1.4.1 is affected by
    assert advice.checked is False and advice.why_not is None
    assert "availability not checked" in fixes.describe(advice)


def test_an_advisory_that_affects_only_the_candidate_moves_the_recommendation_on() -> None:
    # D does not affect the installed 1.0, so no finding carries it; it affects 1.1, A's fix. The backend
    # is asked about every recommended version, and D moves the advice to 1.2.
    records = [record("A", "u", events=[{"introduced": "0"}, {"fixed": "1.1"}], versions=["1.0", "1.2"]),
               record("D", "u", events=[{"introduced": "1.1"}, {"fixed": "1.1.5"}])]
    result = _result([_dist("u", "1.0")], records)
    assert [f.id for f in result.findings] == ["A"]
    assert _one(result).recommended == "1.1"  # the findings alone
    (advice,) = fixes.verified(result, Fake(records))
    assert advice.recommended == "1.1.5" and advice.advisories == ("A",)
    (advice,) = fixes.verified(result, Fake(records, fail=["u"]))  # the lookup fails: said so
    assert advice.recommended == "1.1" and any("could not be checked" in n for n in advice.notes)


def test_versions_lists_and_limits_are_candidates_and_nothing_is_invented() -> None:
    # last_affected 2.3: the next release is not known offline; the versions list of another record names 2.4
    records = [
        record("A", "q", events=[{"introduced": "2.0"}, {"last_affected": "2.3"}]),
        record("B", "q", versions=["2.0", "2.4"]),
        record("C", "q", events=[{"introduced": "0"}, {"fixed": "2.0.1"}]),
    ]
    advice = _one(_result([_dist("q", "2.0")], records))
    assert advice.recommended is None  # 2.0.1 is affected by A, 2.4 by B, nothing else is named
    assert "not checked against the package index" in (advice.why_not or "")
    records.append(record("D", "q", events=[{"introduced": "1.0"}, {"limit": "3.0"}], versions=["1.0"]))
    advice = _one(_result([_dist("q", "2.0")], records))
    assert advice.recommended == "3.0" and advice.breaking is True and advice.newest_in_major is None


def test_major_lines_and_zero_versions() -> None:
    records = [record("A", "r", events=[{"introduced": "0"}, {"fixed": "0.4.2"}, {"introduced": "0.5.0"},
                                         {"fixed": "0.5.3"}, {"introduced": "0.6"}, {"fixed": "1.0.1"}])]
    advice = _one(_result([_dist("r", "0.4.1")], records))
    assert (advice.recommended, advice.breaking, advice.newest_in_major) == ("0.4.2", False, "0.4.2")
    advice = _one(_result([_dist("r", "0.5.0")], records))  # 0.x: the minor release is the line
    assert (advice.recommended, advice.breaking) == ("0.5.3", False)
    advice = _one(_result([_dist("r", "0.6.1")], records))
    assert (advice.recommended, advice.breaking, advice.newest_in_major) == ("1.0.1", True, None)
    assert "leaves the 0.6.x line" in fixes.describe(advice)


def test_pre_releases_are_not_recommended_to_a_final_release() -> None:
    records = [record("A", "s", events=[{"introduced": "0"}, {"fixed": "2.0rc1"}]),
               record("B", "s", versions=["1.0", "2.0"], events=[{"introduced": "2.0.1"}, {"fixed": "2.1"}])]
    advice = _one(_result([_dist("s", "1.0")], records))
    assert advice.recommended == "2.1"  # 2.0rc1 is a pre-release, 2.0 is listed by B
    advice = _one(_result([_dist("s", "2.0b1")], records))  # installed as a pre-release: pre-releases allowed
    assert advice.recommended == "2.0rc1"


def test_malicious_and_not_pep440_get_no_version_and_say_why() -> None:
    records = [record("MAL-2024-1", "evil", versions=["1.0"]), record("A", "odd", versions=["x-1"])]
    result = _result([_dist("evil", "1.0"), _dist("odd", "x-1")], records)
    by_name = {a.name: a for a in fixes.advice(result)}
    assert by_name["evil"].recommended is None and "malicious" in (by_name["evil"].why_not or "")
    assert by_name["odd"].recommended is None and "not a PEP 440 version" in (by_name["odd"].why_not or "")


def test_suppressed_findings_are_left_out_and_copies_are_per_key() -> None:
    records = [record("A", "t", events=[{"introduced": "0"}, {"fixed": "1.1"}]),
               record("B", "t", events=[{"introduced": "0"}, {"fixed": "1.2"}])]
    used = _dist("t", "1.0")
    shadowed = _dist("t", "1.0", path="layer/t-1.0.dist-info/METADATA", status=Status.SHADOWED)
    from datetime import date

    result = _result([used, shadowed], records, ignores=(IgnoreRule("B", "reviewed", date(2099, 1, 1)),))
    advices = fixes.advice(result)
    assert [a.recommended for a in advices] == ["1.1", "1.1"]
    assert len({a.component_key for a in advices}) == 2
    assert any("shadowed" in note for a in advices for note in a.notes)
    assert fixes.pins(advices) == ["t==1.1"]  # the shadowed copy is not what a pin replaces


def test_an_upgrade_another_distribution_forbids_is_a_conflict() -> None:
    records = [record("A", "urllib3", events=[{"introduced": "0"}, {"fixed": "2.0.7"}])]
    botocore = _dist("botocore", "1.29.0", requires=("urllib3<1.27,>=1.25.4",))
    urllib3 = _dist("urllib3", "1.26.0")
    target = TargetRuntime(python="3.11", machine="x86_64")
    advice = _one(_result([botocore, urllib3], records, target=target))
    assert advice.recommended == "2.0.7" and advice.breaking is True
    (conflict,) = advice.conflicts
    assert conflict.startswith("botocore 1.29.0 requires urllib3<1.27,>=1.25.4")
    assert "CONFLICTS: botocore" in fixes.describe(advice)
    # the installed version already outside the requirement: not a conflict of the upgrade
    botocore = _dist("botocore", "1.29.0", requires=("urllib3<1.26",))
    assert _one(_result([botocore, urllib3], records, target=target)).conflicts == ()


def test_advice_is_computed_once_per_result_and_a_stored_one_wins() -> None:
    result = _result([_dist("t", "1.0")], [record("A", "t", events=[{"introduced": "0"}, {"fixed": "1.1"}])])
    assert fixes.advice(result) is fixes.advice(result)
    stored = (replace(fixes.advice(result)[0], recommended="9.9", checked=True),)
    assert fixes.advice(replace(result, fixes=stored)) is stored


def _listed_pairs(path: Path) -> set[tuple[str, str]]:
    pairs = set()
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            for affected in json.loads(zf.read(name)).get("affected", []):
                package = canonicalize_name(affected["package"]["name"])
                pairs.update((package, version) for version in affected.get("versions") or [])
    return pairs


def test_real_pypa_records_every_recommendation_is_outside_every_advisory_and_the_smallest(tmp_path: Path) -> None:
    db = tmp_path / "osv.sqlite"
    import_sources(db, [SUBSET])
    backend = OfflineDatabase(db)
    try:
        dists = [_dist(n, v) for n, v in sorted(_listed_pairs(SUBSET))]
        matched = match(dists, backend)
    finally:
        backend.close()
    result = ScanResult(artifact=ArtifactInfo("sbom", "sbom", None), components=tuple(dists), unknowns=(),
                        findings=tuple(matched.findings), advisory_data=matched.data)
    advices = fixes.advice(result)
    assert len(advices) > 500
    findings_of: dict[str, list[Any]] = {}
    for f in result.findings:
        findings_of.setdefault(f.component.purl, []).append(f)
    package_entries: dict[str, list[Any]] = {}
    for f in result.findings:
        package_entries.setdefault(f.component.normalized_name, []).extend(
            a for adv in f.advisories for a in adv.affected if a.normalized_name == f.component.normalized_name)
    recommended = 0
    for advice in advices:
        found = findings_of[advice.purl]
        entries = [a for f in found for adv in f.advisories for a in adv.affected
                   if a.normalized_name == advice.normalized_name]
        known = package_entries[advice.normalized_name]
        current = parse_version(advice.current)
        assert current is not None
        if advice.recommended is None:
            continue
        recommended += 1
        rec = parse_version(advice.recommended)
        assert rec is not None and rec > current
        # outside every advisory of the package the scan knows (those of this copy's findings included)
        assert not any(is_affected(advice.recommended, a) for a in known), advice
        assert not any(is_affected(advice.recommended, a) for a in entries), advice
        # every fix a finding alone suggests is at or above it, or affected by a known advisory of the package
        for f in found:
            if f.fix is not None and parse_version(f.fix) < rec:  # type: ignore[operator]
                assert any(is_affected(f.fix, a) for a in known), (advice, f.fix)
        assert advice.breaking == (fixes.line_of(rec) != fixes.line_of(current))
    assert recommended > 400


def test_a_new_requirement_the_lambda_runtime_provides_is_not_a_conflict() -> None:
    from depscan.models import ArtifactInfo as Info

    records = [record("A", "lib", events=[{"introduced": "0"}, {"fixed": "2.0"}])]
    user = _dist("user", "1.0", requires=("lib<2",))
    lib = _dist("lib", "1.0")
    target = TargetRuntime(runtime="python3.12", python="3.12", machine="x86_64")
    result = replace(_result([user, lib], records, target=target), artifact=Info("f.zip", "lambda-function", 1))
    (advice,) = fixes.advice(result)
    assert advice.conflicts == ("user 1.0 requires lib<2 ('Requires-Dist: lib<2')",)
    # the upgraded release's own requirement on boto3 (which the runtime ships) is not a conflict
    stored = fixes.with_conflicts(result, [replace(advice, conflicts=())], {advice.component_key: ("boto3>=1",)})
    assert stored[0].conflicts == ("user 1.0 requires lib<2 ('Requires-Dist: lib<2')",)
    other = fixes.with_conflicts(result, [replace(advice, conflicts=())], {advice.component_key: ("missing>=1",)})
    assert "lib 2.0 requires missing" in " ".join(other[0].conflicts)
