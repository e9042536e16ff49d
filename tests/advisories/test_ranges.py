"""Range semantics, and the correctness check on the real PyPA advisory data."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from depscan.advisories.osv_schema import parse_osv
from depscan.advisories.ranges import fixed_versions, in_range, is_affected, parse_version
from tests.advisories.osv_records import record

SHARED = Path(__file__).resolve().parents[3] / "shared" / "advisories" / "osv-pypi-pysec-2024-10-10.zip"
SUBSET = Path(__file__).resolve().parents[2] / "fixtures" / "advisories" / "pypi-subset.zip"


def affected(**kwargs: object) -> object:
    return parse_osv(record("T-1", "pkg", **kwargs), "t").affected[0]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("version", "expected"),
    [("0.9", True), ("1.0", True), ("1.4.9", True), ("1.5", False), ("2.0", True), ("2.1", True), ("2.2", False),
     ("1.5rc1", True), ("0.0.0b0", True)],
)
def test_introduced_fixed_and_last_affected(version: str, expected: bool) -> None:
    a = affected(events=[{"introduced": "0"}, {"fixed": "1.5"}, {"introduced": "2.0"}, {"last_affected": "2.1"}])
    assert is_affected(version, a) is expected  # type: ignore[arg-type]


def test_limit_bounds_the_range() -> None:
    a = affected(events=[{"introduced": "1.0"}, {"limit": "1.3"}])
    assert is_affected("1.2", a) and not is_affected("1.3", a) and not is_affected("0.9", a)  # type: ignore[arg-type]


def test_versions_list_exact_then_pep440_equality() -> None:
    a = affected(versions=["1.0", "2004d"])
    assert is_affected("1.0.0", a)  # type: ignore[arg-type]
    assert is_affected("2004d", a)  # not PEP 440: exact string match still works  # type: ignore[arg-type]
    assert not is_affected("1.1", a)  # type: ignore[arg-type]


def test_git_ranges_and_unparsable_values_never_crash() -> None:
    raw = record("T-1", "pkg", events=[{"introduced": "0"}, {"fixed": "not-a-version"}])
    raw["affected"][0]["ranges"].append({"type": "GIT", "events": [{"introduced": "abc123"}, {"fixed": "def456"}]})
    a = parse_osv(raw, "t").affected[0]
    assert is_affected("1.0", a)  # the unparsable fixed event is skipped: conservatively still affected
    assert not is_affected("garbage!", a)
    assert fixed_versions(a) == ("not-a-version",)


def test_overlapping_intervals_in_one_range_pyspark() -> None:
    with zipfile.ZipFile(SUBSET) as zf:
        adv = parse_osv(json.loads(zf.read("PYSEC-2022-236.json")), "subset")
    (a,) = [x for x in adv.affected if x.normalized_name == "pyspark"]
    for listed in ("3.1.1", "3.1.2", "3.2.1", "3.0.0"):
        assert is_affected(listed, a)
    assert not is_affected("3.1.3", a) and not is_affected("3.2.2", a)


# Records whose versions list names versions their own ranges exclude (upstream data errors;
# depscan still reports these versions as affected because it checks the versions list first).
KNOWN_DISAGREEMENTS = {
    ("PYSEC-2023-61", "django", v) for v in ("3.2a1", "3.2b1", "3.2rc1", "4.2a1", "4.2b1", "4.2rc1")
} | {("PYSEC-2023-177", "gevent", "23.9.0"), ("PYSEC-2023-177", "gevent", "23.9.0.post1")}


@pytest.mark.skipif(not SHARED.is_file(), reason="../shared/advisories is not beside this checkout")
def test_ranges_agree_with_versions_lists_on_the_real_data() -> None:
    disagreements = set()
    checked = 0
    with zipfile.ZipFile(SHARED) as zf:
        for name in zf.namelist():
            adv = parse_osv(json.loads(zf.read(name)), name)
            for a in adv.affected:
                ranges = [r for r in a.ranges if r.type == "ECOSYSTEM"]
                if not ranges or not a.versions:
                    continue
                for listed in a.versions:
                    parsed = parse_version(listed)
                    if parsed is None:
                        continue  # 108 listed versions are not PEP 440; exact match covers them
                    checked += 1
                    if not any(in_range(parsed, r) for r in ranges):
                        disagreements.add((adv.id, a.normalized_name, listed))
    assert checked > 140_000
    assert disagreements == KNOWN_DISAGREEMENTS
