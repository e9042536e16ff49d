"""``depscan.timestamps``: OSV ``modified`` compared as times, not strings (and where that matters)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import responses

from depscan.advisories.backend import PackageQuery
from depscan.advisories.osv_api import OnlineOSV, OSVClient, RecordCache
from depscan.advisories.osv_db import OfflineDatabase, import_sources
from depscan.timestamps import is_newer, latest, parse_timestamp
from tests.advisories.osv_records import record

UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-06-24T19:26:28Z", datetime(2024, 6, 24, 19, 26, 28, tzinfo=UTC)),
        ("2024-06-24T19:26:28.537871Z", datetime(2024, 6, 24, 19, 26, 28, 537871, tzinfo=UTC)),
        ("2024-06-24T19:26:28.123456789Z", datetime(2024, 6, 24, 19, 26, 28, 123456, tzinfo=UTC)),  # nanoseconds
        ("2024-06-24T19:26:28.5z", datetime(2024, 6, 24, 19, 26, 28, 500000, tzinfo=UTC)),
        ("2024-06-24T21:26:28+02:00", datetime(2024, 6, 24, 19, 26, 28, tzinfo=UTC)),
        ("2024-06-24T17:26:28-0200", datetime(2024, 6, 24, 19, 26, 28, tzinfo=UTC)),
        ("2024-06-24T19:26:28", datetime(2024, 6, 24, 19, 26, 28, tzinfo=UTC)),  # no offset: UTC
        ("2024-06-24", datetime(2024, 6, 24, tzinfo=UTC)),
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)),  # leap second
        ("2024-13-01T00:00:00Z", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_timestamp(text: str, expected: datetime | None) -> None:
    assert parse_timestamp(text) == expected


def test_times_not_strings() -> None:
    # as strings, "Z" sorts after "." and "+02:00" after "Z": both orders below are wrong that way
    assert is_newer("2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00Z")
    assert is_newer("2024-01-01T00:00:00Z", "2024-01-01T01:00:00+02:00")
    assert not is_newer("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.000000+00:00")  # the same instant
    assert is_newer("2020-01-01T00:00:00Z", "not a time")  # a time beats text that is not one
    assert latest(["2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5Z", None, "garbage"]) == "2024-01-01T00:00:00.5Z"
    assert latest([None]) is None


def test_import_keeps_the_newer_copy_by_time(tmp_path: Path) -> None:
    newer = record("PYSEC-1", "pkg", events=[{"introduced": "0"}, {"fixed": "2.0"}], modified="2024-01-01T00:00:00.5Z")
    older = record("PYSEC-1", "pkg", events=[{"introduced": "0"}, {"fixed": "1.0"}], modified="2024-01-01T00:00:00Z")
    first, second = tmp_path / "a.json", tmp_path / "b dir"
    other = record("PYSEC-2", "other", versions=["1.0"], modified="2024-01-01T00:00:00Z")  # MAX() as text: newest
    first.write_text(json.dumps(newer))
    second.mkdir()
    (second / "PYSEC-1.json").write_text(json.dumps(older))
    (second / "PYSEC-2.json").write_text(json.dumps(other))
    db = tmp_path / "osv.sqlite"
    import_sources(db, [first])
    import_sources(db, [second])
    database = OfflineDatabase(db)
    try:
        (advisory,) = database.lookup([PackageQuery("PyPI", "pkg", "1.5")]).affected[PackageQuery("PyPI", "pkg", "1.5")]
        assert advisory.modified == "2024-01-01T00:00:00.5Z"  # the copy fixed in 2.0, so 1.5 is affected
        assert database.info().newest_modified == "2024-01-01T00:00:00.5Z"
    finally:
        database.close()


@responses.activate
def test_online_cache_hit_when_the_same_time_is_written_differently(tmp_path: Path) -> None:
    base = "https://osv.test.example"
    rec = record("OSV-1", "demo", versions=["1.0"], modified="2024-01-01T00:00:00Z")
    responses.post(f"{base}/v1/querybatch",
                   json={"results": [{"vulns": [{"id": "OSV-1", "modified": "2024-01-01T00:00:00.000000Z"}]}]})
    cache = RecordCache(tmp_path / "records")
    cache.put("OSV-1", rec)
    client = OSVClient(base_url=base, retries=0, sleep=lambda _s: None)
    result = OnlineOSV(client, cache, malicious_any_version=False).lookup([PackageQuery("PyPI", "demo", "1.0")])
    assert [a.id for a in result.affected[PackageQuery("PyPI", "demo", "1.0")]] == ["OSV-1"]
    assert [c.request.url for c in responses.calls] == [f"{base}/v1/querybatch"]  # nothing fetched again
    assert cache.get("OSV-1", "2023-12-31T23:00:00-01:00") == rec  # the same instant again
    assert cache.get("OSV-1", "2024-01-01T00:00:01Z") is None  # the batch names a newer copy
    assert cache.get("OSV-1", "not a time") is None
