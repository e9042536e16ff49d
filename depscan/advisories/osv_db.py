"""The offline advisory store: OSV records imported into an SQLite index.

Sources: OSV export zips (the ``<Ecosystem>/all.zip`` layout osv.dev publishes), directories of
OSV JSON or YAML records, and single record files. An import writes a new database file next
to the target and renames it into place, so a failed or interrupted import leaves the previous
database intact; imports into one database hold a lock (``import_lock``), so concurrent ones run
in turn and none loses the other's records. Sources are regular files or directories; an import
reads at most ``MAX_IMPORT_BYTES`` of records (the zip members' declared sizes), YAML without
aliases, and skips with a note the members it cannot read (Deflate64, encrypted, names that are
not UTF-8). Records of every ecosystem are kept and indexed (OSV ``MAL-`` records of malicious
packages too: a lookup matches them for any version of the package they name) by (ecosystem, normalized package
name), a distribution's with its release (``Debian:12``), and by ("GIT", repository URL) for every
GIT range (``native_match.index_keys``): a lookup is one query per package name, and range
evaluation happens in Python (``ranges.py`` for PyPI, ``native_match.py`` for GIT and distributions).
"""

from __future__ import annotations

import contextlib
import errno
import io
import itertools
import json
import lzma
import os
import sqlite3
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from depscan.advisories.backend import AdvisoryBackend, AdvisoryError, LookupResult, PackageQuery
from depscan.advisories.native_match import evaluate, index_keys
from depscan.advisories.osv_schema import OSVError, is_malicious_id, parse_osv
from depscan.advisories.ranges import Matcher, canonical_versions, is_affected, matcher, parse_version
from depscan.config import DB_ENV
from depscan.errors import ArtifactError
from depscan.hashing import file_sha256
from depscan.models import Advisory, AdvisoryData
from depscan.timestamps import is_newer, latest

SCHEMA_VERSION = 6  # 6: distribution releases and GIT repositories indexed (native_match.index_keys)
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

RECORD_SUFFIXES = (".json", ".yaml", ".yml")
MAX_IMPORT_BYTES = 1024 * 1024 * 1024  # default decompression budget of one import (every source together)
# What Python's zipfile decompresses; anything else (Deflate64 = 9, PPMd, ...) is skipped with a note.
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
                zipfile.ZIP_LZMA: "lzma"}
_ZIP_METHOD_NAMES = {9: "Deflate64", 98: "PPMd", 93: "Zstandard", 95: "xz", 99: "AES"}


class ImportBudget:
    """Bytes an import may read and decompress, over all its sources (``--max-total-bytes``)."""

    def __init__(self, limit: int = MAX_IMPORT_BYTES) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, source: Path, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise ArtifactError(
                f"{source}: the import reads more than {self.limit} bytes of records "
                "(--max-total-bytes); nothing imported"
            )


@dataclass(frozen=True, slots=True)
class _Candidate:
    """One record file of a source: its bytes, or why it is skipped."""

    name: str
    data: bytes | None
    problem: str | None = None


def _decode(data: bytes, name: str) -> Any:
    if name.endswith((".yaml", ".yml")):
        return _yaml_load(data)
    return json.loads(data)


def _yaml_load(data: bytes) -> Any:
    """Safe YAML without aliases: an OSV record never needs ``*alias``, and a "billion laughs"
    document expands (when it is stored as JSON) far beyond the size that was checked. Times are
    kept as written (strings), as the OSV schema has them."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise ValueError("a YAML alias (*name); aliases are not allowed in OSV records")
            return super().compose_node(parent, index)

    # Unquoted times stay text, as in OSV JSON (``modified: 2024-11-18T15:22:27Z`` in YAML records).
    NoAliasLoader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    loader = NoAliasLoader(data)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _records_in(path: Path, budget: ImportBudget) -> Iterator[_Candidate]:
    """Every candidate record in a zip, a directory or a file (regular files only; FIFOs and
    devices are refused before they are opened)."""
    from depscan.regular_files import open_regular, read_regular, stat_input

    st = stat_input(path, ArtifactError, directory_ok=True)
    if stat.S_ISDIR(st.st_mode):
        yield from _directory_records(path, budget)
        return
    fd = open_regular(path, ArtifactError)
    try:
        head = os.read(fd, 4)
    except OSError as e:
        raise ArtifactError(f"{path}: cannot read ({e.strerror or e})") from e
    finally:
        os.close(fd)
    if head.startswith(b"PK"):
        yield from _zip_records(path, budget)
        return
    if path.suffix not in RECORD_SUFFIXES:
        raise ArtifactError(f"{path}: not an OSV export zip, a directory or a .json/.yaml record")
    if st.st_size > MAX_RECORD_BYTES:
        yield _Candidate(path.name, None, f"{st.st_size} bytes, over {MAX_RECORD_BYTES}")
        return
    data = read_regular(path, MAX_RECORD_BYTES, "an OSV record", ArtifactError)
    budget.charge(path, len(data))
    yield _Candidate(path.name, data)


def _directory_records(path: Path, budget: ImportBudget) -> Iterator[_Candidate]:
    from depscan.regular_files import kind_of, read_regular

    for child in sorted(path.rglob("*")):  # rglob does not descend into linked directories
        if child.suffix not in RECORD_SUFFIXES:
            continue
        name = str(child.relative_to(path))
        try:
            st = child.stat()  # links followed: a link to /dev/zero is a device
        except OSError as e:
            yield _Candidate(name, None, f"cannot read ({e.strerror or e})")
            continue
        if stat.S_ISDIR(st.st_mode):
            continue
        if not stat.S_ISREG(st.st_mode):
            yield _Candidate(name, None, f"{kind_of(st.st_mode)}, not a regular file")
            continue
        if st.st_size > MAX_RECORD_BYTES:
            yield _Candidate(name, None, f"{st.st_size} bytes, over {MAX_RECORD_BYTES}")
            continue
        budget.charge(path, st.st_size)
        try:
            data = read_regular(child, MAX_RECORD_BYTES, "an OSV record", ArtifactError)
        except ArtifactError as e:
            yield _Candidate(name, None, str(e).removeprefix(f"{child}: "))
            continue
        yield _Candidate(name, data)


def _zip_records(path: Path, budget: ImportBudget) -> Iterator[_Candidate]:
    try:
        with _open_zip(path) as zf:
            infos = zf.infolist()
            _check_no_overlap(path, infos)
            for info in infos:
                if info.is_dir() or not info.filename.endswith(RECORD_SUFFIXES):
                    continue
                name, problem = _member_problem(info)
                if problem is None:
                    budget.charge(path, info.file_size)  # zipfile never returns more than file_size bytes
                    try:
                        yield _Candidate(name, zf.read(info))
                        continue
                    except (NotImplementedError, RuntimeError) as e:  # a method or flag zipfile refuses
                        problem = f"cannot be read ({e})"
                yield _Candidate(name, None, problem)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, lzma.LZMAError) as e:
        raise ArtifactError(f"{path}: not a readable OSV export zip ({e})") from e


def _member_problem(info: zipfile.ZipInfo) -> tuple[str, str | None]:
    """A member's name as UTF-8 text (escaped when it is not), and why it is skipped, if it is."""
    raw = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437", "surrogateescape")
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace"), "member name is not UTF-8"
    if info.flag_bits & 0x1:
        return name, "encrypted"
    if info.compress_type not in _ZIP_METHODS:
        method = _ZIP_METHOD_NAMES.get(info.compress_type, "unknown")
        return name, f"compression method {info.compress_type} ({method}) is not supported"
    if info.file_size > MAX_RECORD_BYTES:
        return name, f"{info.file_size} bytes, over {MAX_RECORD_BYTES}"
    return name, None


def _check_no_overlap(path: Path, infos: Sequence[zipfile.ZipInfo]) -> None:
    """Refuse members whose stored bytes overlap (the "overlapping files" zip bomb shares one
    compressed stream between many members)."""
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for this, following in itertools.pairwise(ordered):
        encoding = "utf-8" if this.flag_bits & 0x800 else "cp437"
        name_bytes = len(this.orig_filename.encode(encoding, "surrogateescape"))
        if this.header_offset + 30 + name_bytes + this.compress_size > following.header_offset:
            raise ArtifactError(f"{path}: zip members {this.filename!r} and {following.filename!r} overlap "
                                "(a zip bomb); nothing imported")


def _open_zip(path: Path) -> zipfile.ZipFile:
    """The zip at ``path``; names flagged UTF-8 that are not are read as bytes (and skipped later)
    instead of failing the whole zip."""
    try:
        return zipfile.ZipFile(path)
    except UnicodeDecodeError:
        pass
    fh = open(path, "rb")  # noqa: SIM115 -- owned by the ZipFile (closed with it)
    try:
        patches = _bad_utf8_flags(path, fh)
        return _OwningZipFile(_Patched(fh, patches), fh)
    except BaseException:
        fh.close()
        raise


class _OwningZipFile(zipfile.ZipFile):
    """A ZipFile over a wrapper that also closes the underlying file."""

    def __init__(self, wrapper: Any, fh: Any) -> None:
        self._owned = fh
        super().__init__(wrapper)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._owned.close()


class _Patched(io.RawIOBase):
    """A read-only view of a file with a few bytes replaced (the UTF-8 flag of bad names cleared)."""

    def __init__(self, fh: Any, patches: dict[int, bytes]) -> None:
        super().__init__()
        self._fh = fh
        self._patches = patches

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._fh.seek(offset, whence))

    def tell(self) -> int:
        return int(self._fh.tell())

    def readinto(self, buffer: Any) -> int:
        start = self._fh.tell()
        count = int(self._fh.readinto(buffer))
        for at, patch in self._patches.items():
            for i, byte in enumerate(patch):
                if start <= at + i < start + count:
                    buffer[at + i - start] = byte
        return count


def _bad_utf8_flags(path: Path, fh: Any) -> dict[int, bytes]:
    """Patches clearing the UTF-8 flag of central directory entries whose names are not UTF-8."""
    size = fh.seek(0, os.SEEK_END)
    tail_start = max(0, size - (22 + 65535))
    fh.seek(tail_start)
    tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at == -1 or len(tail) < at + 22:
        raise ArtifactError(f"{path}: not a readable OSV export zip (no end of central directory)")
    cd_size, cd_offset = struct.unpack_from("<II", tail, at + 12)
    if cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
        raise ArtifactError(f"{path}: not a readable OSV export zip (a member name is not UTF-8)")
    cd_start = tail_start + at - cd_size
    if cd_start < 0:
        raise ArtifactError(f"{path}: not a readable OSV export zip (bad central directory)")
    fh.seek(cd_start)
    directory = fh.read(cd_size)
    patches: dict[int, bytes] = {}
    pos = 0
    while pos + 46 <= len(directory) and directory[pos : pos + 4] == b"PK\x01\x02":
        flags = struct.unpack_from("<H", directory, pos + 8)[0]
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", directory, pos + 28)
        name = directory[pos + 46 : pos + 46 + name_len]
        if flags & 0x800:
            try:
                name.decode("utf-8")
            except UnicodeDecodeError:
                patches[cd_start + pos + 8] = struct.pack("<H", flags & ~0x800)
        pos += 46 + name_len + extra_len + comment_len
    return patches


# -- building -------------------------------------------------------------------------------


@contextlib.contextmanager
def import_lock(db_path: Path) -> Iterator[None]:
    """Hold the exclusive import lock of ``db_path``: ``fcntl.flock`` on the directory that holds it.

    Two imports into one database run one after the other: the second starts from the first's
    result, so neither's records are lost. Locking the directory leaves no file behind (imports
    into other databases of the same directory wait too; they are rare and short). Where a
    directory cannot be locked (some network file systems), ``<db>.lock`` beside the database is
    locked instead and stays there.
    """
    import fcntl

    directory = db_path.parent
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise ArtifactError(f"{directory}: cannot lock the directory for the import ({e.strerror or e})") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:
            if e.errno not in (errno.EBADF, errno.EINVAL, errno.ENOLCK, errno.EOPNOTSUPP):
                raise ArtifactError(f"{directory}: cannot lock the directory for the import ({e.strerror})") from e
            os.close(fd)
            lock_path = db_path.with_name(db_path.name + ".lock")
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
            except OSError as e2:
                fd = -1
                raise ArtifactError(f"{lock_path}: cannot create the import lock ({e2.strerror or e2})") from e2
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        if fd >= 0:
            os.close(fd)  # releases the lock


def import_sources(
    db_path: Path, sources: Sequence[Path], max_total_bytes: int = MAX_IMPORT_BYTES, *, only_new: bool = False
) -> list[ImportReport]:
    """Add ``sources`` to the database at ``db_path`` (created if missing), atomically.

    Imports into one database are serialized (``import_lock``); at most ``max_total_bytes`` of
    records are read over all sources. ``only_new``: do nothing (return ``[]``) when the database
    exists once the lock is held (another process built it meanwhile: a cache entry).
    """
    if os.path.lexists(db_path):
        with contextlib.suppress(OSError):  # (a dangling link: its target is created)
            mode = os.stat(db_path).st_mode
            if not stat.S_ISREG(mode):  # never opened (a FIFO blocks sqlite), never replaced (a device)
                raise DatabaseError(f"{db_path}: not a regular file, not a database")
        db_path = Path(os.path.realpath(db_path))  # a link to the database stays a link; its target is replaced
    db_path.parent.mkdir(parents=True, exist_ok=True)
    budget = ImportBudget(max_total_bytes)
    with import_lock(db_path):
        if only_new and db_path.exists():
            return []
        fd, tmp_name = tempfile.mkstemp(prefix=f".{db_path.name}.", suffix=".tmp", dir=db_path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            conn = sqlite3.connect(tmp)
            try:
                conn.execute("PRAGMA journal_mode=MEMORY")  # a private file, deleted on failure: no journal file
                if db_path.exists():
                    _copy_existing(db_path, conn)
                else:
                    conn.executescript(_SCHEMA)
                    conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                reports = [_import_one(conn, source, budget) for source in sources]
                conn.commit()
                conn.execute("VACUUM")
            finally:
                conn.close()
            os.replace(tmp, db_path)
        except BaseException:
            for leftover in (tmp, *(Path(f"{tmp}{suffix}") for suffix in ("-journal", "-wal", "-shm"))):
                with contextlib.suppress(OSError):
                    leftover.unlink()
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


def _import_one(conn: sqlite3.Connection, source: Path, budget: ImportBudget) -> ImportReport:
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
    for candidate in _records_in(source, budget):
        name, data = candidate.name, candidate.data
        where = f"{source}: {name}" if source.is_dir() or source.suffix == ".zip" or name != source.name else name
        try:
            if data is None:
                raise OSVError(f"{where}: {candidate.problem}")
            if not data:
                raise OSVError(f"{where}: empty")
            raw = _decode(data, name)
            advisory = parse_osv(raw, where)
            stored = json.dumps(raw, separators=(",", ":"))  # YAML !!binary or !!set is not JSON: TypeError
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
                stored,
                json.dumps([canonical_versions(a) for a in advisory.affected], separators=(",", ":")),
            ),
        )
        keys = index_keys(advisory)
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
    from depscan.regular_files import stat_input

    if not export.exists():
        raise ArtifactError(f"{export}: no such advisory export")
    stat_input(export, ArtifactError)  # a regular file: never a FIFO or a device
    target = cache_dir / f"osv-export-v{SCHEMA_VERSION}-{file_sha256(export)[:24]}.sqlite"
    if target.is_file():
        try:
            OfflineDatabase(target).close()
        except DatabaseError:
            target.unlink()  # a damaged cache entry: it is only a cache, build it again
    if not target.is_file():
        reports = import_sources(target, [export], only_new=True)  # a concurrent scan may have built it
        if reports and reports[0].records == 0:
            target.unlink()
            raise ArtifactError(f"{export}: no OSV records in it")
    return target


# -- reading --------------------------------------------------------------------------------


def affects(advisory: Advisory, query: PackageQuery) -> bool:
    """Whether any ``affected`` entry of the advisory covers the queried package version."""
    if query.ecosystem != "PyPI":
        return evaluate(advisory, query)[0]
    malicious = is_malicious_id(advisory.id)  # a malicious project: every version, listed or not
    return any(
        a.ecosystem == query.ecosystem and a.normalized_name == query.name
        and (malicious or is_affected(query.version, a))
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
            if is_malicious_id(ident) and package in by_package:
                out.append(advisory)  # a malicious project: every version, listed or not
                continue
            for m in by_package.get(package, ()):
                if m.covers(parsed, version) if parsed is not None else m(version):
                    out.append(advisory)
                    break
        return out

    def _evaluate(self, idents: Sequence[str], query: PackageQuery, result: LookupResult) -> None:
        """A GIT or distribution query: affected records, and the records that cannot say."""
        affected = []
        for ident in idents:
            advisory = self._parsed[ident][0]
            hit, why = evaluate(advisory, query)
            if hit:
                affected.append(advisory)
            elif why is not None:
                result.unverifiable.setdefault(query, []).append((ident, why))
        result.affected[query] = affected

    def _uncovered(self, ecosystem: str) -> str | None:
        """Why the database cannot answer for an ecosystem at all, or None when it holds its data.

        A distribution release counts as covered when any record names it; GIT when any record
        names a repository of ``native_repos.UPSTREAMS`` (PyPI records carry GIT ranges on the
        Python projects' own repositories, so GIT keys alone say nothing)."""
        if ecosystem == "GIT":
            from depscan.advisories.native_repos import UPSTREAMS, repos_for

            repos = sorted({r for name in UPSTREAMS for r in repos_for(name)})
            marks = ",".join("?" * len(repos))
            row = self._conn.execute(
                f"SELECT 1 FROM packages WHERE ecosystem = 'GIT' AND name IN ({marks}) LIMIT 1", repos
            ).fetchone()
            return None if row else (
                f"the advisory database {self.path} holds no record for the repository of any native library "
                "depscan identifies (import OSV's records with GIT ranges)"
            )
        row = self._conn.execute("SELECT 1 FROM packages WHERE ecosystem = ? LIMIT 1", (ecosystem,)).fetchone()
        return None if row else (
            f"the advisory database {self.path} holds no {ecosystem} records "
            f"(import the {ecosystem.split(':', 1)[0]} export: depscan db update --ecosystem "
            f"'{ecosystem.split(':', 1)[0]}')"
        )

    def lookup(self, queries: Sequence[PackageQuery]) -> LookupResult:
        result = LookupResult(data=self.info())
        try:
            for ecosystem in sorted({q.ecosystem for q in queries}):
                relevant = [q for q in queries if q.ecosystem == ecosystem]
                if ecosystem != "PyPI" and (why := self._uncovered(ecosystem)) is not None:
                    for query in relevant:
                        result.affected[query] = []
                        result.uncovered[query] = why
                    continue
                candidates = self._candidates(ecosystem, [q.name for q in relevant])
                for query in relevant:
                    idents = candidates.get(query.name, ())
                    if ecosystem == "PyPI":
                        result.affected[query] = self._affecting(idents, query)
                    else:
                        self._evaluate(idents, query, result)
        except (sqlite3.Error, ValueError, KeyError, TypeError, OSVError) as e:
            raise DatabaseError(f"{self.path}: advisory database unreadable ({e})") from e
        return result
