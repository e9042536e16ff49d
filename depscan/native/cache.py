"""What the native cataloger learned about an ELF file, kept on disk by the file's SHA-256.

A CI pipeline scans the same wheels every day: each native library is decompressed, parsed and
identified once, and later scans take the answer from here. The key is the content hash: the RECORD
sha256 of the owning distribution when it is there and the size agrees (then a warm scan does not even
read the file), else the hash computed while reading (a warm scan reads and hashes the file, but does
not parse it again). A zip member under a RECORD hash is not hashed on a cold scan either: its entry is
stored under the RECORD hash with the member's CRC-32 and size (checked against its bytes as they were
inflated), and is taken for a file only while those agree (``usable``; the trust this implies is in
docs/native.md, "The cache"). The value is what the bytes say, whatever the file's path: the ELF header fields,
the ``ElfFacts`` (or why the file could not be parsed), and the identifications per hint (the upstream
name the file name or SONAME suggests: ``identify`` answers depend on it). A file that is not an ELF
file at all is remembered too (the magic check of a file found by content costs a read).

Every row carries the version of the code that produced it (``code_version``: this module's format,
depscan's version, ``identify.IDENT_VERSION`` for the classifier code and table, and the field names
of the models it stores), so a new depscan, a new classifier table or a new ``ElfFacts`` field makes
old rows misses; rows of other versions are deleted when new rows are written.

SQLite, one file in the user cache directory (``platformdirs.user_cache_dir("depscan")``;
``$DEPSCAN_CACHE_DIR`` overrides it; ``depscan scan --no-cache`` bypasses it). Safe under concurrent
scans: WAL journal (readers never wait for a writer), a busy timeout, every write one short transaction
of ``INSERT OR REPLACE``. A cache that cannot be used is never an error: a corrupt file is a warning and
is rebuilt (removed and created again), an unwritable directory is a warning and the scan runs without
a cache.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from depscan.models import ElfFacts, Evidence
from depscan.native import Identification
from depscan.native.identify import IDENT_VERSION

ENV = "DEPSCAN_CACHE_DIR"
FILE_NAME = "native-elf.sqlite"
FORMAT = 2  # bump when what is stored (or how elf.py / the header parser read files) changes
MAX_ROWS = 50_000  # about 1.3 KB each (65 MB); the rows used longest ago go first
TOUCH_AFTER = 86_400  # seconds: a hit on a row last used longer ago marks it used again (at flush)
BUSY_TIMEOUT = 10.0  # seconds a write waits for another scan's write to finish
_CHUNK = 500  # keys per lookup query (SQLite's default variable limit is 999 in old builds)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    code TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    value TEXT NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (code, sha256)
)
"""
# Which content hash a file of an artifact's index had when it was last read (a zip member's CRC-32 and
# size: ``ArtifactView.fingerprint``). Only a scheduling hint: a file whose fingerprint leads to a stored
# entry is not read ahead (a warm scan then finds it by its RECORD hash without reading it); the entry a
# file gets is always chosen by its RECORD hash or by the hash of its bytes, never by its fingerprint.
_MEMBERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS members (
    fingerprint TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    used INTEGER NOT NULL
)
"""


def _fields(cls: Any) -> str:
    return ",".join(field.name for field in dataclasses.fields(cls))


def code_version() -> str:
    """The version of everything a row depends on: a row written under another is a miss."""
    from depscan import __version__

    shapes = f"{_fields(ElfFacts)};{_fields(Evidence)};{','.join(Identification._fields)}"
    return f"{FORMAT}|{__version__}|{IDENT_VERSION}|{shapes}"


def default_directory() -> Path:
    """``$DEPSCAN_CACHE_DIR``, else the user cache directory (``~/.cache/depscan`` on Linux)."""
    override = os.environ.get(ENV)
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("depscan"))


class Header(NamedTuple):
    """The ELF header fields the inventory reports (``catalogers.native.ElfHeader``, as stored)."""

    elf_class: int
    endianness: str
    elf_type: str
    machine: int
    arch: str


@dataclasses.dataclass
class Entry:
    """What the bytes of one file say. ``header`` None: not an ELF file (or ``problem`` says why the
    header is not one). ``facts`` None with a header: ``problem`` says why the structure could not be
    parsed. ``identified``: hint ("" for None) -> identifications, or the reason identification failed.

    ``verified``: the key is the sha256 of the bytes the entry was made from (they were hashed); False:
    the key is the owner's RECORD hash of a zip member, taken without hashing (docs/native.md, "The
    cache"). ``fingerprint``: the zip member's CRC-32 and size (``ArtifactView.fingerprint``, checked
    against the bytes as they were inflated) the entry was made from; None when the file had none."""

    header: Header | None = None
    problem: str | None = None
    facts: ElfFacts | None = None
    identified: dict[str, tuple[Identification, ...] | str] = dataclasses.field(default_factory=dict)
    verified: bool = True
    fingerprint: str | None = None


def usable(entry: Entry, fingerprint: str | None) -> bool:
    """Whether ``entry``, found under a file's RECORD hash, may stand for the file whose index gives
    ``fingerprint``: the CRC-32 and size must agree when both are known (bytes of another CRC-32 or size
    are not the bytes the entry describes, whatever RECORD says); without them only an entry made from
    hashed bytes is taken (RECORD's hash trusted for the lookup, as for any warm scan)."""
    if entry.fingerprint is not None and fingerprint is not None:
        return entry.fingerprint == fingerprint
    return entry.verified


# -- (de)serialization -------------------------------------------------------------------------------------


def _facts_json(facts: ElfFacts) -> dict[str, Any]:
    return {field.name: getattr(facts, field.name) for field in dataclasses.fields(facts)}


def _tuples(value: Any) -> Any:
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value


def _facts_of(raw: Mapping[str, Any]) -> ElfFacts:
    return ElfFacts(**{name: _tuples(value) for name, value in raw.items()})


def _identification_json(answer: Identification) -> list[Any]:
    evidence = [[e.method, e.confidence, e.detail] for e in answer.evidence]
    return [answer.library, answer.version, answer.purl, answer.cpe, evidence, answer.embedded]


def _identification_of(raw: list[Any]) -> Identification:
    library, version, purl, cpe, evidence, embedded = raw
    return Identification(library, version, purl, cpe, tuple(Evidence(*e) for e in evidence), bool(embedded))


def dumps(entry: Entry) -> str:
    identified: dict[str, Any] = {
        hint: answers if isinstance(answers, str) else [_identification_json(a) for a in answers]
        for hint, answers in entry.identified.items()
    }
    return json.dumps(
        {
            "header": list(entry.header) if entry.header is not None else None,
            "problem": entry.problem,
            "facts": _facts_json(entry.facts) if entry.facts is not None else None,
            "identified": identified,
            "verified": entry.verified,
            "fingerprint": entry.fingerprint,
        },
        separators=(",", ":"),
    )


def loads(text: str) -> Entry:
    raw = json.loads(text)
    identified: dict[str, tuple[Identification, ...] | str] = {
        hint: answers if isinstance(answers, str) else tuple(_identification_of(a) for a in answers)
        for hint, answers in raw["identified"].items()
    }
    header = raw["header"]
    return Entry(
        header=Header(*header) if header is not None else None,
        problem=raw["problem"],
        facts=_facts_of(raw["facts"]) if raw["facts"] is not None else None,
        identified=identified,
        verified=bool(raw["verified"]),
        fingerprint=raw["fingerprint"],
    )


# -- the database ------------------------------------------------------------------------------------------


OPEN_ATTEMPTS = 5  # a locked or busy database (another process opening or checkpointing it) is tried again


def _busy(error: BaseException) -> bool:
    """SQLite's "database is locked" / "busy": another connection holds the file for a moment."""
    text = str(error).lower()
    return isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _corrupt(error: BaseException) -> bool:
    """A file that is not a database, or a damaged one: what a rebuild repairs (SQLITE_CORRUPT, SQLITE_NOTADB).

    Nothing else is: removing the file and its ``-wal``/``-shm`` while another process has them mapped (a locked
    database is an ``OperationalError``, a ``DatabaseError`` too) crashed that process with SIGBUS.
    """
    if not isinstance(error, sqlite3.DatabaseError) or isinstance(error, sqlite3.OperationalError):
        return False
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+
    if isinstance(code, int):
        return code & 0xFF in (11, 26)
    text = str(error).lower()
    return "not a database" in text or "malformed" in text


class NativeCache:
    """The cache file, opened lazily. Every failure becomes a line in ``warnings``, never an exception."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else default_directory()
        self.path = self.directory / FILE_NAME
        self.code = code_version()
        self.warnings: list[str] = []
        self._db: sqlite3.Connection | None = None
        self._broken = False  # given up for this scan (unwritable directory, a rebuild that failed)
        self._pending: dict[str, Entry] = {}
        self._hits: set[str] = set()
        self._members: dict[str, str] = {}  # fingerprint -> sha256, written by flush

    # -- lifetime ---------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection | None:
        if self._db is not None or self._broken:
            return self._db
        for attempt in range(OPEN_ATTEMPTS):
            try:
                self._db = self._open()
            except (sqlite3.Error, OSError) as e:
                if _busy(e) and attempt + 1 < OPEN_ATTEMPTS:  # another depscan is writing: wait, then again
                    time.sleep(0.05 * (attempt + 1))
                    continue
                if _corrupt(e) and self.path.exists():
                    self._rebuild(e)
                else:
                    self._give_up(f"cannot be opened ({e})")
            break
        return self._db

    def _open(self) -> sqlite3.Connection:
        self.directory.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
            db.execute(_MEMBERS_SCHEMA)
            db.execute("SELECT count(*) FROM entries WHERE code = ? AND sha256 = ''", (self.code,)).fetchone()
        except BaseException:
            db.close()
            raise
        return db

    def _rebuild(self, error: BaseException) -> None:
        """A corrupt file: removed (with its journal files) and created again, empty."""
        self._close_db()
        self.warnings.append(f"native cache {self.path}: unreadable ({error}); rebuilt")
        try:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{self.path}{suffix}")
            self._db = self._open()
        except (sqlite3.Error, OSError) as e:
            self._give_up(f"cannot be rebuilt ({e})")

    def _give_up(self, why: str) -> None:
        self._close_db()
        self._broken = True
        self.warnings.append(f"native cache {self.path}: {why}; scanning without it")

    def _close_db(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def close(self) -> None:
        self._close_db()

    # -- reads and writes -------------------------------------------------------------------------
    def get_many(self, keys: Iterable[str]) -> dict[str, Entry]:
        """The entries stored for these SHA-256 keys (hex), under the current code version (and those
        ``put`` since the last ``flush``)."""
        found: dict[str, Entry] = {}
        wanted = []
        for key in sorted(set(keys)):
            pending = self._pending.get(key)
            if pending is not None:
                found[key] = pending
            else:
                wanted.append(key)
        stale = int(time.time()) - TOUCH_AFTER
        for attempt in range(2):
            db = self._connect()
            if db is None or not wanted:
                return found
            try:
                for start in range(0, len(wanted), _CHUNK):
                    chunk = wanted[start : start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    rows = db.execute(
                        f"SELECT sha256, value, used FROM entries WHERE code = ? AND sha256 IN ({marks})",
                        (self.code, *chunk),
                    ).fetchall()
                    for sha256, value, used in rows:
                        if used < stale:
                            self._hits.add(sha256)
                        try:
                            found[sha256] = loads(value)
                        except (ValueError, KeyError, TypeError) as e:  # a damaged row: a miss
                            self.warnings.append(f"native cache {self.path}: damaged entry {sha256[:16]} ({e})")
                return found
            except sqlite3.DatabaseError as e:
                found = {key: self._pending[key] for key in found if key in self._pending}
                if attempt:
                    self._give_up(f"unreadable ({e})")
                else:
                    self._rebuild(e)
        return found

    def get(self, key: str) -> Entry | None:
        return self.get_many((key,)).get(key)

    def get_pending(self, key: str) -> Entry | None:
        """The entry ``put`` under ``key`` since the last ``flush`` (the file is not asked)."""
        return self._pending.get(key)

    def put(self, key: str, entry: Entry) -> None:
        """Remember ``entry`` under ``key``; written by ``flush``."""
        self._pending[key] = entry

    def remember_member(self, fingerprint: str, sha256: str) -> None:
        """Remember that the file with this fingerprint had these bytes (a hint for ``known_members``)."""
        self._members[fingerprint] = sha256

    def known_members(self, fingerprints: Iterable[str]) -> set[str]:
        """The fingerprints whose last-seen bytes have an entry under the current code version: files a
        scan need not read ahead (a hint only; see ``_MEMBERS_SCHEMA``). Empty when the cache is unusable."""
        wanted = sorted(set(fingerprints))
        db = self._connect()
        if db is None or not wanted:
            return set()
        known: set[str] = set()
        try:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    "SELECT m.fingerprint FROM members m JOIN entries e ON e.code = ? AND e.sha256 = m.sha256 "
                    f"WHERE m.fingerprint IN ({marks})",
                    (self.code, *chunk),
                ).fetchall()
                known.update(fingerprint for (fingerprint,) in rows)
        except sqlite3.DatabaseError as e:  # a hint: a damaged file is found (and rebuilt) by get_many
            self.warnings.append(f"native cache {self.path}: members not read ({e})")
            return set()
        return known

    def flush(self) -> None:
        """Write what ``put`` collected, in one transaction; drop rows of other code versions and the
        oldest-used rows over ``MAX_ROWS``. A failure is a warning (the next scan recomputes)."""
        pending, self._pending = self._pending, {}
        touched, self._hits = self._hits - pending.keys(), set()
        members, self._members = self._members, {}
        if not pending and not touched and not members:
            return
        db = self._connect()
        if db is None:
            return
        now = int(time.time())
        rows = [(self.code, key, dumps(entry), now) for key, entry in pending.items()]
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO entries (code, sha256, value, used) VALUES (?, ?, ?, ?)", rows)
                db.executemany("UPDATE entries SET used = ? WHERE code = ? AND sha256 = ?",
                               [(now, self.code, key) for key in touched])
                if pending:
                    db.execute("DELETE FROM entries WHERE code != ?", (self.code,))
                (count,) = db.execute("SELECT count(*) FROM entries").fetchone()
                if count > MAX_ROWS:
                    db.execute(
                        "DELETE FROM entries WHERE rowid IN (SELECT rowid FROM entries ORDER BY used LIMIT ?)",
                        (count - MAX_ROWS,),
                    )
                if members:
                    db.executemany("INSERT OR REPLACE INTO members (fingerprint, sha256, used) VALUES (?, ?, ?)",
                                   [(fingerprint, sha256, now) for fingerprint, sha256 in members.items()])
                    (count,) = db.execute("SELECT count(*) FROM members").fetchone()
                    if count > MAX_ROWS:
                        db.execute(
                            "DELETE FROM members WHERE rowid IN (SELECT rowid FROM members ORDER BY used LIMIT ?)",
                            (count - MAX_ROWS,),
                        )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            self.warnings.append(f"native cache {self.path}: not updated ({e})")
