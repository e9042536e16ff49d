"""A damaged offline database used by a scan or a rescan is a failed lookup (exit 4) naming its
path, never an internal error (70) and never a clean result.

Each case starts from a real database imported by depscan and damages it one way: cut short,
overwritten, emptied, of another layout, a directory, or broken where only a lookup reads.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from builders import dist, write_zip
from typer.testing import CliRunner, Result

from depscan.advisories.backend import PackageQuery
from depscan.advisories.osv_db import SCHEMA_VERSION, DatabaseError, OfflineDatabase, cached_export_db, import_sources
from depscan.cli import app
from tests.advisories.osv_records import record

PAGE = 4096


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A database of 300 advisories (enough pages that a cut leaves the schema readable), once."""
    source = tmp_path_factory.mktemp("records")
    for n in range(300):
        name = "demo" if n == 0 else f"pkg-{n}"
        rec = record(f"OSV-{n}", name, versions=["1.0"], events=[{"introduced": "0"}, {"fixed": "2.0"}],
                     details="A flaw. " * 20)
        (source / f"OSV-{n}.json").write_text(json.dumps(rec))
    db = source / "osv.sqlite"
    import_sources(db, [source])
    return db.read_bytes()


def truncated(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def garbage(db: Path) -> None:
    db.write_bytes(random.Random(8).randbytes(64 * 1024))


def garbage_after_header(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[:100] + random.Random(8).randbytes(len(data) - 100))


def empty(db: Path) -> None:
    db.write_bytes(b"")


def tables_missing(db: Path) -> None:
    """The right schema version in ``meta`` and nothing else (was: internal error, no such table)."""
    db.unlink()
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    conn.close()


def column_missing(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE advisories RENAME COLUMN canonical TO canonical_forms")
    conn.close()


def older_schema(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    conn.close()


def directory(db: Path) -> None:
    db.unlink()
    db.mkdir()


def index_page_overwritten(db: Path) -> None:
    """Damage only a lookup reads (the by-name index): the database opens, the lookup fails."""
    with sqlite3.connect(db) as conn:
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'packages_by_name'").fetchone()
    conn.close()
    data = bytearray(db.read_bytes())
    data[(root - 1) * PAGE : root * PAGE] = random.Random(8).randbytes(PAGE)
    db.write_bytes(bytes(data))


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (truncated, "database disk image is malformed"),
    "garbage": (garbage, "not a depscan advisory database"),
    "garbage after the header": (garbage_after_header, "malformed"),
    "empty": (empty, "not a depscan advisory database"),
    "tables missing": (tables_missing, "damaged or of another layout (no such table: sources)"),
    "column missing": (column_missing, "damaged or of another layout (no such column: canonical)"),
    "older schema": (older_schema, f"advisory database schema 4, expected {SCHEMA_VERSION}"),
    "directory": (directory, "is a directory, not an advisory database"),
    "index page overwritten": (index_page_overwritten, "unreadable (database disk image is malformed)"),
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pristine: bytes) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DEPSCAN_DB", raising=False)
    monkeypatch.delenv("DEPSCAN_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)
    work = tmp_path / "a dir"
    work.mkdir()
    (work / "osv.sqlite").write_bytes(pristine)
    return work


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def test_the_undamaged_database_finds_the_advisory(workdir: Path) -> None:
    """The baseline each damaged case differs from."""
    db = workdir / "osv.sqlite"
    app_zip = write_zip(workdir / "app.zip", dist("demo", "1.0"))
    result = invoke("scan", app_zip, "--db", db)
    assert result.exit_code == 1 and "OSV-0" in result.stdout


@pytest.mark.parametrize(
    ("command", "case"),
    [("scan", case) for case in DAMAGE]
    + [("rescan", case) for case in ("truncated", "tables missing", "index page overwritten")],
)
def test_a_damaged_database_is_a_failed_lookup_naming_its_path(workdir: Path, case: str, command: str) -> None:
    damage, problem = DAMAGE[case]
    db = workdir / "osv.sqlite"
    app_zip = write_zip(workdir / "app.zip", dist("demo", "1.0"))
    target: Path = app_zip
    if command == "rescan":
        target = workdir / "sbom.cdx.json"
        assert invoke("scan", app_zip, "--source", "skip", "-o", f"cyclonedx-json={target}").exit_code == 0
    damage(db)
    result = invoke(command, target, "--db", db)
    assert result.exit_code == 4, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"depscan: error: {db}: "), line
    assert problem in line


@pytest.mark.parametrize("case", [c for c in DAMAGE if c != "index page overwritten"])
def test_damage_is_found_when_the_database_is_opened(workdir: Path, case: str) -> None:
    damage, problem = DAMAGE[case]
    db = workdir / "osv.sqlite"
    damage(db)
    with pytest.raises(DatabaseError, match=problem.replace("(", r"\(").replace(")", r"\)")) as caught:
        OfflineDatabase(db)
    assert str(caught.value).startswith(f"{db}: ")


def test_damage_only_a_lookup_reads_fails_the_lookup(workdir: Path) -> None:
    db = workdir / "osv.sqlite"
    index_page_overwritten(db)
    database = OfflineDatabase(db)  # opens: the damage is where only lookups read
    try:
        with pytest.raises(DatabaseError, match="advisory database unreadable"):
            database.lookup([PackageQuery("PyPI", "demo", "1.0")])
    finally:
        database.close()


def test_a_damaged_cached_export_index_is_built_again(workdir: Path) -> None:
    export = workdir / "all.zip"
    write_zip(export, {"OSV-0.json": json.dumps(record("OSV-0", "demo", versions=["1.0"])).encode()})
    cache = workdir / "cache"
    first = cached_export_db(export, cache)
    tables_missing(first)  # passes the schema-version check, lacks the tables
    again = cached_export_db(export, cache)
    assert again == first and OfflineDatabase(again).info().records == 1


@pytest.mark.parametrize("case", ["truncated", "garbage after the header", "tables missing", "column missing"])
def test_importing_into_a_damaged_database_is_refused_naming_it(workdir: Path, case: str) -> None:
    """``db import`` adds to the existing database: a damaged one is refused (exit 3) and left as it
    was, never an internal error."""
    damage, _problem = DAMAGE[case]
    db = workdir / "osv.sqlite"
    damage(db)
    before = db.read_bytes()
    source = workdir / "OSV-9.json"
    source.write_text(json.dumps(record("OSV-9", "demo", versions=["1.0"])))
    result = invoke("db", "import", source, "--db", db)
    assert result.exit_code == 3, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"depscan: error: {db}: "), line
    assert db.read_bytes() == before
    assert sorted(p.name for p in workdir.iterdir()) == ["OSV-9.json", "osv.sqlite"]
