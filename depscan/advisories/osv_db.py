"""The offline advisory store: OSV records imported into an SQLite index.

Sources: OSV export zips (the ``<Ecosystem>/all.zip`` layout osv.dev publishes), directories of
OSV JSON or YAML records, and single record files. An import writes a new database file next
to the target and renames it into place, so a failed or interrupted import leaves the previous
database intact. Records are indexed by (ecosystem, normalized package name): a lookup is one
query per package name, and range evaluation happens in Python with ``ranges.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from depscan.advisories.backend import AdvisoryBackend, AdvisoryError, LookupResult, PackageQuery
from depscan.advisories.osv_schema import OSVError, parse_osv
from depscan.advisories.ranges import Matcher, canonical_versions, is_affected, matcher, parse_version
from depscan.config import DB_ENV
from depscan.errors import ArtifactError
from depscan.hashing import file_sha256
from depscan.models import Advisory, AdvisoryData
from depscan.timestamps import is_newer, latest

SCHEMA_VERSION = 5
MAX_RECORD_BYTES = 8 * 1024 * 1024  # an OSV record is a few KB; a huge one is not a record

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sources(
    id INTEGER PRIMARY KEY,
    location TEXT NOT NULL,
    sha256 TEXT,
    imported_at TEXT NOT NULL,
    records INTEGER NOT NULL,
    skipped INTEGER NOT NULL,
    newest_modified TEXT
);
CREATE TABLE advisories(
    id TEXT PRIMARY KEY,
    modified TEXT NOT NULL,
    withdrawn TEXT,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    record TEXT NOT NULL,  -- the OSV JSON as imported (compact separators)
    -- per affected[] entry, the PEP 440 canonical forms of its versions list (computed once, at
    -- import: a lookup then matches a version by hashing instead of parsing every listed version)
    canonical TEXT NOT NULL
);
CREATE TABLE packages(ecosystem TEXT NOT NULL, name TEXT NOT NULL, advisory_id TEXT NOT NULL);
CREATE INDEX packages_by_name ON packages(ecosystem, name);
CREATE INDEX packages_by_advisory ON packages(advisory_id);
"""


class DatabaseError(AdvisoryError):
    """The offline database is missing, unreadable or of another version."""


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did."""

    location: str
    records: int
    skipped: int
    problems: tuple[str, ...]  # the first few skipped records, with why


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One imported source, for ``depscan db status``."""

    location: str
    sha256: str | None
    imported_at: str
    records: int
    skipped: int
    newest_modified: str | None


def default_db_path() -> Path:
    """``$DEPSCAN_DB``, else ``osv.sqlite`` in the user cache directory."""
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("depscan")) / "osv.sqlite"


# -- reading sources ------------------------------------------------------------------------


def _decode(data: bytes, name: str) -> Any:
    if name.endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(data)
    return json.loads(data)


def _records_in(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, raw bytes) of every candidate record in a zip, a directory or a file."""
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and child.suffix in (".json", ".yaml", ".yml"):
                if child.stat().st_size > MAX_RECORD_BYTES:
                    yield str(child), b""
                else:
                    yield str(child.relative_to(path)), child.read_bytes()
        return
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as e:
        raise ArtifactError(f"{path}: cannot read ({e.strerror or e})") from e
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if info.is_dir() or not info.filename.endswith((".json", ".yaml", ".yml")):
                        continue
                    if info.file_size > MAX_RECORD_BYTES:
                        yield info.filename, b""
                        continue
                    yield info.filename, zf.read(info)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            raise ArtifactError(f"{path}: not a readable OSV export zip ({e})") from e
        return
    if path.suffix not in (".json", ".yaml", ".yml"):
        raise ArtifactError(f"{path}: not an OSV export zip, a directory or a .json/.yaml record")
    yield path.name, path.read_bytes()


# -- building -------------------------------------------------------------------------------


def import_sources(db_path: Path, sources: Sequence[Path]) -> list[ImportReport]:
    """Add ``sources`` to the database at ``db_path`` (created if missing), atomically."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{db_path.name}.", suffix=".tmp", dir=db_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        conn = sqlite3.connect(tmp)
        try:
            if db_path.exists():
                _copy_existing(db_path, conn)
            else:
                conn.executescript(_SCHEMA)
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            reports = [_import_one(conn, source) for source in sources]
            conn.commit()
            conn.execute("VACUUM")
        finally:
            conn.close()
        os.replace(tmp, db_path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return reports


def _copy_existing(db_path: Path, conn: sqlite3.Connection) -> None:
    """Copy the database an import adds to into ``conn``: a damaged one is a ``DatabaseError``."""
    _check_version(db_path)
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as old:
            old.backup(conn)
        _check_tables(conn)
    except sqlite3.Error as e:
        raise DatabaseError(
            f"{db_path}: advisory database damaged or of another layout ({e}); "
            "delete it and run 'depscan db import' again"
        ) from e


def _import_one(conn: sqlite3.Connection, source: Path) -> ImportReport:
    location = str(source)
    sha = file_sha256(source) if source.is_file() else None
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    cursor = conn.execute(
        "INSERT INTO sources(location, sha256, imported_at, records, skipped) VALUES (?, ?, ?, 0, 0)",
        (location, sha, now),
    )
    source_id = cursor.lastrowid
    records = skipped = 0
    problems: list[str] = []
    newest: str | None = None
    for name, data in _records_in(source):
        where = f"{source}: {name}" if source.is_dir() or source.suffix == ".zip" or name != source.name else name
        try:
            if not data:
                raise OSVError(f"{where}: empty or over {MAX_RECORD_BYTES} bytes")
            raw = _decode(data, name)
            advisory = parse_osv(raw, where)
        except (OSVError, ValueError, UnicodeDecodeError) as e:
            skipped += 1
            if len(problems) < 10:
                problems.append(str(e) if isinstance(e, OSVError) else f"{where}: not valid JSON/YAML ({e})")
            continue
        except Exception as e:  # yaml.YAMLError and friends
            skipped += 1
            if len(problems) < 10:
                problems.append(f"{where}: unreadable ({type(e).__name__}: {e})")
            continue
        existing = conn.execute("SELECT modified FROM advisories WHERE id = ?", (advisory.id,)).fetchone()
        if existing is not None and is_newer(existing[0], advisory.modified):
            records += 1
            continue  # a newer copy of this record is already in (compared as times)
        conn.execute("DELETE FROM packages WHERE advisory_id = ?", (advisory.id,))
        conn.execute(
            "INSERT OR REPLACE INTO advisories(id, modified, withdrawn, source_id, record, canonical) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                advisory.id,
                advisory.modified,
                advisory.withdrawn,
                source_id,
                json.dumps(raw, separators=(",", ":")),
                json.dumps([canonical_versions(a) for a in advisory.affected], separators=(",", ":")),
            ),
        )
        keys = {(a.ecosystem, a.normalized_name) for a in advisory.affected if a.normalized_name}
        conn.executemany("INSERT INTO packages VALUES (?, ?, ?)", [(e, n, advisory.id) for e, n in keys])
        records += 1
        if newest is None or is_newer(advisory.modified, newest):
            newest = advisory.modified
    conn.execute(
        "UPDATE sources SET records = ?, skipped = ?, newest_modified = ? WHERE id = ?",
        (records, skipped, newest, source_id),
    )
    return ImportReport(location, records, skipped, tuple(problems))


def _check_version(db_path: Path) -> None:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error as e:
        raise DatabaseError(f"{db_path}: not a depscan advisory database ({e})") from e
    if row is None or row[0] != str(SCHEMA_VERSION):
        raise DatabaseError(
            f"{db_path}: advisory database schema {row[0] if row else '?'}, expected {SCHEMA_VERSION}; "
            "delete it and run 'depscan db import' again"
        )


# Every table and column a lookup reads: a database missing one is not one depscan can use.
_COLUMNS = {
    "meta": ("key", "value"),
    "sources": ("id", "location", "sha256", "imported_at", "records", "skipped", "newest_modified"),
    "advisories": ("id", "modified", "withdrawn", "source_id", "record", "canonical"),
    "packages": ("ecosystem", "name", "advisory_id"),
}


def _check_tables(conn: sqlite3.Connection) -> None:
    """Raise ``sqlite3.Error`` naming the first table or column the database lacks."""
    for table, columns in _COLUMNS.items():
        conn.execute(f"SELECT {', '.join(columns)} FROM {table} LIMIT 0").fetchall()


def cached_export_db(export: Path, cache_dir: Path) -> Path:
    """A database built from one export zip, kept in ``cache_dir`` under the zip's content hash.

    ``depscan scan --advisories all.zip`` indexes the zip once; later scans reuse the index
    until the zip's content changes.
    """
    if not export.is_file():
        raise ArtifactError(f"{export}: no such advisory export")
    target = cache_dir / f"osv-export-v{SCHEMA_VERSION}-{file_sha256(export)[:24]}.sqlite"
    if target.is_file():
        try:
            OfflineDatabase(target).close()
        except DatabaseError:
            target.unlink()  # a damaged cache entry: it is only a cache, build it again
    if not target.is_file():
        reports = import_sources(target, [export])
        if reports and reports[0].records == 0:
            target.unlink()
            raise ArtifactError(f"{export}: no OSV records in it")
    return target


# -- reading --------------------------------------------------------------------------------


def affects(advisory: Advisory, query: PackageQuery) -> bool:
    """Whether any ``affected`` entry of the advisory covers the queried package version."""
    return any(
        a.ecosystem == query.ecosystem and a.normalized_name == query.name and is_affected(query.version, a)
        for a in advisory.affected
    )


class OfflineDatabase(AdvisoryBackend):
    """Advisories from the SQLite index (read-only)."""

    name = "offline"

    def __init__(self, db_path: Path, label: str | None = None) -> None:
        """Open and validate the database: a missing, unreadable, damaged or foreign file (or a
        directory) is a ``DatabaseError`` naming it (exit 4 in a scan), never an internal error."""
        self.path = db_path
        self.label = label or f"offline:{db_path}"  # what reports name as the advisory source
        if db_path.is_dir():
            raise DatabaseError(f"{db_path}: is a directory, not an advisory database")
        if not db_path.is_file():
            raise DatabaseError(
                f"{db_path}: no advisory database; run 'depscan db import EXPORT.zip' or 'depscan db update'"
            )
        _check_version(db_path)
        try:
            self._conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        except sqlite3.Error as e:
            raise DatabaseError(f"{db_path}: advisory database unreadable ({e})") from e
        try:
            _check_tables(self._conn)
            # Computed once, here: it reads every table, so damage anywhere in them shows now.
            self._info = self._read_info()
        except (sqlite3.Error, ValueError) as e:
            self._conn.close()
            raise DatabaseError(
                f"{db_path}: advisory database damaged or of another layout ({e}); "
                "delete it and run 'depscan db import' again"
            ) from e
        # id -> (the record, its matchers by (ecosystem, normalized name))
        self._parsed: dict[str, tuple[Advisory, dict[tuple[str, str], list[Matcher]]]] = {}

    def close(self) -> None:
        self._conn.close()

    def sources(self) -> list[SourceStatus]:
        """Every source imported, oldest first."""
        rows = self._conn.execute(
            "SELECT location, sha256, imported_at, records, skipped, newest_modified FROM sources ORDER BY id"
        ).fetchall()
        return [SourceStatus(*row) for row in rows]

    def info(self) -> AdvisoryData:
        """Record count and newest ``modified`` over the whole database (read when it was opened)."""
        return self._info

    def _read_info(self) -> AdvisoryData:
        """The newest is the latest of the sources' (each computed as times at import): a record is
        only ever replaced by a newer copy, so that is the newest record stored; SQL's ``MAX``
        would compare the strings.
        """
        (count,) = self._conn.execute("SELECT COUNT(*) FROM advisories").fetchone()
        sources = self.sources()
        inputs = tuple(f"{s.location} sha256:{s.sha256 or '-'}" for s in sources)
        return AdvisoryData(self.label, int(count), latest(s.newest_modified for s in sources), inputs)

    def advisory(self, ident: str) -> Advisory:
        """One full record, parsed once per database connection."""
        if ident not in self._parsed:
            row = self._conn.execute("SELECT record, canonical FROM advisories WHERE id = ?", (ident,)).fetchone()
            if row is None:
                raise DatabaseError(f"{self.path}: advisory {ident} is not in the database")
            self._remember(ident, *row)
        return self._parsed[ident][0]

    def _remember(self, ident: str, record: str, canonical: str) -> None:
        sets = json.loads(canonical)
        raw = json.loads(record)
        if not isinstance(sets, list) or not isinstance(raw, dict) or len(sets) != len(raw.get("affected") or []):
            raise DatabaseError(f"{self.path}: advisory {ident}: index does not match the record")
        # The stored canonical forms travel with the record (no versions list is parsed again).
        advisory = parse_osv(raw, self.label, sets)
        matchers: dict[tuple[str, str], list[Matcher]] = {}
        for a in advisory.affected:
            matchers.setdefault((a.ecosystem, a.normalized_name), []).append(matcher(a))
        self._parsed[ident] = (advisory, matchers)

    def _candidates(self, ecosystem: str, names: Sequence[str]) -> dict[str, list[str]]:
        """The ids of the non-withdrawn advisories naming each of ``names``; parses each record once."""
        out: dict[str, list[str]] = {}
        unique = sorted(set(names))
        for start in range(0, len(unique), 500):
            batch = unique[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = self._conn.execute(
                "SELECT p.name, a.id, a.record, a.canonical FROM packages p JOIN advisories a ON a.id = p.advisory_id "
                f"WHERE p.ecosystem = ? AND p.name IN ({marks}) AND a.withdrawn IS NULL ORDER BY a.id",
                (ecosystem, *batch),
            )
            for name, ident, record, canonical in rows:
                if ident not in self._parsed:
                    self._remember(ident, record, canonical)
                out.setdefault(name, []).append(ident)
        return out

    def _affecting(self, idents: Sequence[str], query: PackageQuery) -> list[Advisory]:
        """The records among ``idents`` that affect the queried version (parsed once per query)."""
        package = (query.ecosystem, query.name)
        version = query.version
        parsed = parse_version(version)
        out = []
        for ident in idents:
            advisory, by_package = self._parsed[ident]
            for m in by_package.get(package, ()):
                if m.covers(parsed, version) if parsed is not None else m(version):
                    out.append(advisory)
                    break
        return out

    def lookup(self, queries: Sequence[PackageQuery]) -> LookupResult:
        result = LookupResult(data=self.info())
        try:
            for ecosystem in sorted({q.ecosystem for q in queries}):
                relevant = [q for q in queries if q.ecosystem == ecosystem]
                candidates = self._candidates(ecosystem, [q.name for q in relevant])
                for query in relevant:
                    result.affected[query] = self._affecting(candidates.get(query.name, ()), query)
        except (sqlite3.Error, ValueError, KeyError, TypeError, OSVError) as e:
            raise DatabaseError(f"{self.path}: advisory database unreadable ({e})") from e
        return result
