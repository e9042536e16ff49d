from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
import yaml

from depscan.advisories import osv_db
from depscan.advisories.backend import PackageQuery
from depscan.advisories.osv_db import DatabaseError, OfflineDatabase, cached_export_db, import_sources
from depscan.errors import ArtifactError
from tests.advisories.osv_records import record

SUBSET = Path(__file__).resolve().parents[2] / "fixtures" / "advisories" / "pypi-subset.zip"


def export_zip(path: Path, records: list[dict[str, object]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for r in records:
            zf.writestr(f"{r['id']}.json", json.dumps(r))
    return path


def test_import_export_zip_and_look_up(tmp_path: Path) -> None:
    db = tmp_path / "osv.sqlite"
    (report,) = import_sources(db, [SUBSET])
    assert report.records == 92 and report.skipped == 0
    database = OfflineDatabase(db)
    info = database.info()
    with zipfile.ZipFile(SUBSET) as zf:
        newest = max(json.loads(zf.read(n))["modified"] for n in zf.namelist())
    assert info.records == 92 and info.newest_modified == newest
    result = database.lookup([PackageQuery("PyPI", "requests", "2.19.1"), PackageQuery("PyPI", "requests", "2.31.0")])
    assert sorted(a.id for a in result.affected[PackageQuery("PyPI", "requests", "2.19.1")]) == [
        "PYSEC-2018-28",
        "PYSEC-2023-74",
    ]
    assert result.affected[PackageQuery("PyPI", "requests", "2.31.0")] == []
    assert not result.failed
    database.close()


def test_directory_yaml_and_single_file_sources(tmp_path: Path) -> None:
    records = tmp_path / "records"
    records.mkdir()
    (records / "A-1.json").write_text(json.dumps(record("A-1", "alpha", versions=["1.0"])))
    (records / "sub").mkdir()
    (records / "sub" / "B-1.yaml").write_text(yaml.safe_dump(record("B-1", "beta", versions=["2.0"])))
    (records / "broken.json").write_text("{not json")
    single = tmp_path / "C-1.json"
    single.write_text(json.dumps(record("C-1", "Gamma_Pkg", events=[{"introduced": "0"}, {"fixed": "3"}])))
    db = tmp_path / "db.sqlite"
    dir_report, file_report = import_sources(db, [records, single])
    assert (dir_report.records, dir_report.skipped) == (2, 1)
    assert "broken.json: not valid JSON/YAML" in dir_report.problems[0]
    assert file_report.records == 1
    database = OfflineDatabase(db)
    found = database.lookup([PackageQuery("PyPI", "beta", "2.0"), PackageQuery("PyPI", "gamma-pkg", "2.9")])
    assert [a.id for a in found.affected[PackageQuery("PyPI", "beta", "2.0")]] == ["B-1"]
    assert [a.id for a in found.affected[PackageQuery("PyPI", "gamma-pkg", "2.9")]] == ["C-1"]
    assert [s.records for s in database.sources()] == [2, 1]


def test_newer_record_wins_and_withdrawn_is_dropped(tmp_path: Path) -> None:
    old = record("A-1", "alpha", versions=["1.0"], modified="2024-01-01T00:00:00Z")
    new = record("A-1", "alpha", versions=["1.1"], modified="2024-06-01T00:00:00Z")
    gone = record("W-1", "alpha", versions=["1.0"], withdrawn="2024-02-02T00:00:00Z")
    db = tmp_path / "db.sqlite"
    import_sources(db, [export_zip(tmp_path / "new.zip", [new, gone])])
    import_sources(db, [export_zip(tmp_path / "old.zip", [old])])  # older copy: ignored
    database = OfflineDatabase(db)
    result = database.lookup([PackageQuery("PyPI", "alpha", "1.0"), PackageQuery("PyPI", "alpha", "1.1")])
    assert result.affected[PackageQuery("PyPI", "alpha", "1.0")] == []
    assert [a.id for a in result.affected[PackageQuery("PyPI", "alpha", "1.1")]] == ["A-1"]


def test_failed_import_leaves_the_previous_database_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "db.sqlite"
    import_sources(db, [SUBSET])
    before = db.read_bytes()
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ArtifactError, match=r"bad\.zip: not a readable OSV export zip"):
        import_sources(db, [bad])
    assert db.read_bytes() == before

    def interrupted(*args: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(osv_db, "_import_one", interrupted)
    with pytest.raises(KeyboardInterrupt):
        import_sources(db, [SUBSET])
    assert db.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["bad.zip", "db.sqlite"]


def test_missing_or_foreign_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="no advisory database; run 'depscan db import"):
        OfflineDatabase(tmp_path / "none.sqlite")
    foreign = tmp_path / "foreign.sqlite"
    foreign.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(DatabaseError, match="not a depscan advisory database"):
        OfflineDatabase(foreign)


def test_export_is_indexed_once_and_cached_by_content(tmp_path: Path) -> None:
    first = cached_export_db(SUBSET, tmp_path)
    stamp = first.stat().st_mtime_ns
    assert cached_export_db(SUBSET, tmp_path) == first and first.stat().st_mtime_ns == stamp
    other = export_zip(tmp_path / "other.zip", [record("A-1", "alpha", versions=["1"])])
    assert cached_export_db(other, tmp_path) != first
    empty = export_zip(tmp_path / "empty.zip", [])
    with pytest.raises(ArtifactError, match="no OSV records"):
        cached_export_db(empty, tmp_path)


def test_damaged_export_cache_is_rebuilt(tmp_path: Path) -> None:
    first = cached_export_db(SUBSET, tmp_path)
    first.write_bytes(b"garbage, not sqlite" * 50)
    again = cached_export_db(SUBSET, tmp_path)
    assert again == first and OfflineDatabase(again).info().records == 92
