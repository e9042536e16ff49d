"""Range semantics, and the correctness check on the real PyPA advisory data."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from depscan.advisories.osv_schema import parse_osv
from depscan.advisories.ranges import (
    fix_candidates,
    in_range,
    is_affected,
    malformed_events,
    overlaps_as_written,
    parse_version,
)
from depscan.models import RangeEvent
from tests.advisories.osv_records import record

SHARED = Path(__file__).resolve().parents[3] / "shared" / "advisories" / "osv-pypi-pysec-2024-10-10.zip"
SUBSET = Path(__file__).resolve().parents[2] / "fixtures" / "advisories" / "pypi-subset.zip"


def affected(**kwargs: object) -> object:
    return parse_osv(record("T-1", "pkg", **kwargs), "t").affected[0]  # type: ignore[arg-type]


def covered(events: list[dict[str, str]], *versions: str) -> set[str]:
    """Which of ``versions`` one ECOSYSTEM range with ``events`` covers."""
    a = affected(events=events)
    return {v for v in versions if is_affected(v, a)}  # type: ignore[arg-type]


# Each rule of the schema's evaluation on its own, so that breaking any one of them fails a test.


def test_fixed_is_exclusive() -> None:
    assert covered([{"introduced": "1.0"}, {"fixed": "2.0"}], "0.9", "1.0", "1.9.9", "2.0", "2.0.0", "2.1") == {
        "1.0", "1.9.9"
    }


def test_last_affected_is_inclusive() -> None:
    events = [{"introduced": "1.0"}, {"last_affected": "2.0"}]
    assert covered(events, "0.9", "1.0", "2.0", "2.0.0", "2.0.post1", "2.0.1") == {"1.0", "2.0", "2.0.0"}


def test_limit_bounds_the_range_exclusively() -> None:
    assert covered([{"introduced": "1.0"}, {"limit": "1.3"}], "0.9", "1.0", "1.2.9", "1.3", "5.0") == {"1.0", "1.2.9"}
    # a limit below the fix cuts the interval short; "*" is the schema's "no limit"
    assert covered([{"introduced": "0"}, {"fixed": "3.0"}, {"limit": "2.0"}], "1.0", "2.5") == {"1.0"}
    assert covered([{"introduced": "1.0"}, {"limit": "*"}], "0.9", "1.0", "9.0") == {"1.0", "9.0"}


def test_introduced_zero_is_below_pre_releases_of_zero() -> None:
    events = [{"introduced": "0"}, {"fixed": "1.0"}]
    assert covered(events, "0.0.0b0", "0.dev0", "0", "0.9", "1.0") == {"0.0.0b0", "0.dev0", "0", "0.9"}


def test_events_in_any_order_are_sorted_by_version() -> None:
    events = [{"fixed": "2.0"}, {"introduced": "1.0"}]
    assert covered(events, "0.9", "1.0", "1.5", "2.0", "3.0") == {"1.0", "1.5"}


def test_a_repeated_introduced_opens_once() -> None:
    events = [{"introduced": "1.0"}, {"introduced": "1.5"}, {"fixed": "2.0"}]
    assert covered(events, "0.9", "1.0", "1.2", "1.7", "2.0", "3.0") == {"1.0", "1.2", "1.7"}


def test_intervals_written_apart_and_out_of_order_are_the_sorted_walk() -> None:
    events = [{"introduced": "2.0"}, {"fixed": "2.0.8"}, {"introduced": "1.11"}, {"fixed": "1.11.15"}]
    assert covered(events, "1.10", "1.11", "1.11.15", "1.12", "2.0", "2.0.8", "3.0") == {"1.11", "2.0"}


def test_overlapping_written_intervals_keep_what_each_interval_covers() -> None:
    # wagtail PYSEC-2021-114's shape: the walk closes [2.11, 2.11.7) at "fixed 2.11.6".
    events = [{"introduced": "2.11"}, {"fixed": "2.11.7"}, {"introduced": "0"}, {"fixed": "2.11.6"}]
    assert covered(events, "1.0", "2.11.5", "2.11.6", "2.11.7", "3.0") == {"1.0", "2.11.5", "2.11.6"}


def test_touching_written_intervals_keep_what_each_interval_covers() -> None:
    # pyspark PYSEC-2022-236's shape: [0, 3.1.1), [3.2.0, 3.2.2), [3.1.1, 3.1.3)
    events = [{"introduced": "0"}, {"fixed": "3.1.1"}, {"introduced": "3.2.0"}, {"fixed": "3.2.2"},
              {"introduced": "3.1.1"}, {"fixed": "3.1.3"}]
    assert covered(events, "3.0", "3.1.1", "3.1.2", "3.1.3", "3.2.1", "3.2.2") == {"3.0", "3.1.1", "3.1.2", "3.2.1"}


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
    assert fix_candidates(a) == ()  # never offered as a fix
    assert malformed_events(a) == (RangeEvent("fixed", "not-a-version"),)  # said instead


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


# The ranges of the real data whose written intervals overlap or touch: the only ones evaluated
# with the exception (walk or written intervals); every other range is the sorted walk alone.
KNOWN_OVERLAPPING = {
    ("PYSEC-2022-236", "pyspark"), ("PYSEC-2023-72", "pyspark"), ("PYSEC-2021-114", "wagtail"),
    ("PYSEC-2022-42972", "apache-iotdb"),
}


@pytest.mark.skipif(not SHARED.is_file(), reason="../shared/advisories is not beside this checkout")
def test_ranges_agree_with_versions_lists_on_the_real_data() -> None:
    disagreements = set()
    overlapping = set()
    checked = 0
    with zipfile.ZipFile(SHARED) as zf:
        for name in zf.namelist():
            adv = parse_osv(json.loads(zf.read(name)), name)
            for a in adv.affected:
                ranges = [r for r in a.ranges if r.type == "ECOSYSTEM"]
                overlapping.update((adv.id, a.normalized_name) for r in ranges if overlaps_as_written(r))
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
    assert overlapping == KNOWN_OVERLAPPING
