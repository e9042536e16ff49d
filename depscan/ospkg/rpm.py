"""rpm's database of installed packages in its sqlite format: ``var/lib/rpm/rpmdb.sqlite``.

rpm 4.16 and later (Fedora 33+, RHEL/AlmaLinux/Rocky 9, Amazon Linux 2023 -- the AWS Lambda base
images) keep one row per installed package in the ``Packages`` table (``hnum INTEGER PRIMARY KEY,
blob BLOB``); the other tables are indexes of what the headers say and are not read. Fedora 36+
and openSUSE keep the database under ``usr/lib/sysimage/rpm/`` (``var/lib/rpm`` is a link there).

The database is opened from memory (``sqlite3.Connection.deserialize``; Python 3.10, which lacks
it, gets a private temporary copy opened read-only). rpm leaves its database in WAL mode (file
format bytes 18-19 = 2); SQLite cannot open an in-memory WAL database, so those two bytes of the
copy are set to 1 (rollback journal). Transactions still in a ``-wal`` file beside the database
are not read.

A blob is an rpm header without the 8-byte magic/reserved prefix of a package file (rpm's
``doc/manual/format.md``, "Header"; ``lib/header.c``, ``hdrblobInit``): big-endian ``il`` (index
entries) and ``dl`` (data bytes), ``il`` 16-byte entries (tag, type, offset, count), then the data
store. Only the tags listed below are decoded; a later entry for a tag replaces an earlier one
(rpm's "dribble" entries written after install). No library is used: the rpm Python bindings
are not installable from PyPI, and ``rpmfile`` reads package files (lead, signature, magic
headers), without bounds checks on offsets, rather than database blobs.

The BerkeleyDB ``Packages`` file (Amazon Linux 2, RHEL/CentOS 7-8) and the ``Packages.db`` ndb
file (openSUSE) are recognised but not read: the cataloger reports them as Unknowns.
"""

from __future__ import annotations

import sqlite3
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from depscan.ospkg import DatabaseError

RPMDB_SQLITE = ("var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite")
# Formats recognised but not read, with the reason the Unknown gives.
UNREAD = {
    "var/lib/rpm/Packages": "BerkeleyDB rpm database (Amazon Linux 2, RHEL/CentOS 7-8): format not read",
    "usr/lib/sysimage/rpm/Packages.db": "ndb rpm database (openSUSE/SLES): format not read",
    "var/lib/rpm/Packages.db": "ndb rpm database (openSUSE/SLES): format not read",
}

# Tags (rpm's include/rpm/rpmtag.h).
NAME, VERSION, RELEASE, EPOCH, ARCH = 1000, 1001, 1002, 1003, 1022
OLDFILENAMES, SOURCERPM = 1027, 1044
DIRINDEXES, BASENAMES, DIRNAMES = 1116, 1117, 1118
_WANTED = frozenset({NAME, VERSION, RELEASE, EPOCH, ARCH, OLDFILENAMES, SOURCERPM, DIRINDEXES, BASENAMES, DIRNAMES})

# Types (rpmTagType): the ones the wanted tags use.
_INT32, _STRING, _STRING_ARRAY, _I18NSTRING = 4, 6, 8, 9
_STRING_TYPES = frozenset({_STRING, _STRING_ARRAY, _I18NSTRING})

# rpm's own bounds (lib/header_internal.h): HEADER_TAGS_MAX index entries, HEADER_DATA_MAX data bytes.
_MAX_ENTRIES = 0xFFFF
_MAX_DATA = 0x0FFFFFFF

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PREAMBLE = struct.Struct(">II")
_ENTRY = struct.Struct(">iiII")  # tag, type, offset, count

# Python 3.11+: the database is opened from memory; 3.10 writes a private temporary copy.
DESERIALIZE = hasattr(sqlite3.Connection, "deserialize")

# Pseudo-packages rpm keeps for imported signing keys: not software.
_NOT_PACKAGES = frozenset({"gpg-pubkey", "gpg-pubkey-release"})


@dataclass(frozen=True, slots=True)
class RpmPackage:
    name: str
    version: str  # VERSION
    release: str  # RELEASE
    epoch: int | None
    arch: str | None
    source_rpm: str | None  # "openssl-3.0.8-1.amzn2023.0.14.src.rpm"
    files: tuple[str, ...]  # relative to the root, no leading slash

    @property
    def evr(self) -> str:
        """``[epoch:]version-release``, as ``rpm -q --qf '%{EVR}'`` prints it."""
        vr = f"{self.version}-{self.release}"
        return f"{self.epoch}:{vr}" if self.epoch is not None else vr

    @property
    def source(self) -> tuple[str, str]:
        """(source package name, its ``[epoch:]version-release``) from SOURCERPM
        (``name-version-release.src.rpm``; the epoch is the spec's, shared with the binary);
        the binary's own name and EVR without a SOURCERPM."""
        if self.source_rpm:
            stem = self.source_rpm.removesuffix(".rpm").removesuffix(".src").removesuffix(".nosrc")
            parts = stem.rsplit("-", 2)
            if len(parts) == 3 and all(parts):
                vr = f"{parts[1]}-{parts[2]}"
                return parts[0], f"{self.epoch}:{vr}" if self.epoch is not None else vr
        return self.name, self.evr


Value = list[str] | list[int]


def parse_header(blob: bytes) -> dict[int, Value]:
    """The wanted tags of one header blob: strings as ``list[str]``, INT32 as ``list[int]``.
    DatabaseError (one line) for a blob whose index or data store is inconsistent."""
    if len(blob) < _PREAMBLE.size:
        raise DatabaseError(f"header of {len(blob)} bytes, shorter than its 8-byte preamble")
    il, dl = _PREAMBLE.unpack_from(blob)
    if il == 0 or il > _MAX_ENTRIES or dl > _MAX_DATA:
        raise DatabaseError(f"header with {il} index entries and {dl} data bytes: outside rpm's limits")
    start = _PREAMBLE.size + il * _ENTRY.size
    if start + dl > len(blob):
        raise DatabaseError(f"header truncated: {len(blob)} bytes, its index says {start + dl}")
    store = blob[start : start + dl]
    values: dict[int, Value] = {}
    for tag, kind, offset, count in _ENTRY.iter_unpack(blob[_PREAMBLE.size : start]):
        if tag not in _WANTED:
            continue
        if offset < 0 or offset >= dl or count == 0:
            raise DatabaseError(f"tag {tag}: offset {offset} / count {count} outside the {dl}-byte data store")
        if kind == _INT32:
            end = offset + 4 * count
            if end > dl or offset % 4:
                raise DatabaseError(f"tag {tag}: {count} INT32 values at offset {offset} do not fit the data store")
            values[tag] = list(struct.unpack_from(f">{count}i", store, offset))
        elif kind in _STRING_TYPES:
            if kind == _STRING and count != 1:
                raise DatabaseError(f"tag {tag}: STRING with count {count}")
            strings: list[str] = []
            pos = offset
            for _ in range(count):
                end = store.find(b"\x00", pos)
                if end < 0:
                    raise DatabaseError(f"tag {tag}: string at offset {pos} runs past the data store")
                strings.append(store[pos:end].decode("utf-8", errors="replace"))
                pos = end + 1
            values[tag] = strings
        else:
            raise DatabaseError(f"tag {tag}: unexpected type {kind}")
    return values


def _string(values: dict[int, Value], tag: int) -> str | None:
    value = values.get(tag)
    return value[0] if value and isinstance(value[0], str) else None


def _files(values: dict[int, Value], name: str) -> tuple[str, ...]:
    basenames, dirnames, indexes = values.get(BASENAMES), values.get(DIRNAMES), values.get(DIRINDEXES)
    if basenames is None:
        old = values.get(OLDFILENAMES, [])
        return tuple(str(path).lstrip("/") for path in old)
    if dirnames is None or indexes is None or len(indexes) != len(basenames):
        raise DatabaseError(f"package {name}: BASENAMES without matching DIRNAMES/DIRINDEXES")
    files: list[str] = []
    for base, index in zip(basenames, indexes, strict=True):
        if not isinstance(index, int) or not 0 <= index < len(dirnames):
            raise DatabaseError(f"package {name}: DIRINDEXES entry {index} outside its {len(dirnames)} DIRNAMES")
        files.append(f"{str(dirnames[index]).lstrip('/')}{base}")
    return tuple(files)


def package(blob: bytes) -> RpmPackage | None:
    """The package one header blob describes (None for a signing-key pseudo-package)."""
    values = parse_header(blob)
    name, version, release = _string(values, NAME), _string(values, VERSION), _string(values, RELEASE)
    if not name or not version or release is None:
        raise DatabaseError("header without NAME, VERSION or RELEASE")
    if name in _NOT_PACKAGES:
        return None
    epochs = values.get(EPOCH)
    epoch = epochs[0] if epochs and isinstance(epochs[0], int) else None
    return RpmPackage(
        name=name,
        version=version,
        release=release,
        epoch=epoch,
        arch=_string(values, ARCH),
        source_rpm=_string(values, SOURCERPM),
        files=_files(values, name),
    )


def _query(connection: sqlite3.Connection) -> list[tuple[int, bytes]]:
    connection.execute("PRAGMA trusted_schema = OFF")  # the schema is the file's: no functions from it
    kind = connection.execute("SELECT type FROM sqlite_master WHERE name = 'Packages'").fetchone()
    if kind is None or kind[0] != "table":
        raise DatabaseError("SQLite database without a Packages table: not an rpm database")
    blobs: list[tuple[int, bytes]] = []
    for hnum, blob in connection.execute("SELECT hnum, blob FROM Packages ORDER BY hnum"):
        if not isinstance(blob, bytes):  # a column's type is the file's choice: text, a number
            raise DatabaseError(f"Packages row {hnum}: blob is {type(blob).__name__}, not a header")
        blobs.append((hnum, blob))
    return blobs


def read_blobs(data: bytes) -> list[tuple[int, bytes]]:
    """(hnum, header blob) of every row of the ``Packages`` table of an ``rpmdb.sqlite``."""
    if not data.startswith(_SQLITE_MAGIC) or len(data) < 100:
        raise DatabaseError("not an SQLite database (no 'SQLite format 3' header)")
    image = bytearray(data)
    if image[18] == 2 or image[19] == 2:  # WAL mode: not openable in memory (see the module docstring)
        image[18] = image[19] = 1
    try:
        if DESERIALIZE:
            connection = sqlite3.connect(":memory:")
            try:
                connection.deserialize(image)
                return _query(connection)
            finally:
                connection.close()
        with tempfile.TemporaryDirectory(prefix="depscan-rpmdb-") as tmp:
            path = Path(tmp) / "rpmdb.sqlite"
            path.write_bytes(image)
            connection = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)
            try:
                return _query(connection)
            finally:
                connection.close()
    except sqlite3.Error as e:
        raise DatabaseError(f"SQLite: {e}") from None


def parse_rpmdb(data: bytes) -> list[RpmPackage]:
    """The packages an ``rpmdb.sqlite`` lists, in install order. A bad header is a DatabaseError
    naming its row."""
    packages: list[RpmPackage] = []
    for hnum, blob in read_blobs(data):
        try:
            found = package(blob)
        except DatabaseError as e:
            raise DatabaseError(f"Packages row {hnum}: {e}") from None
        if found is not None:
            packages.append(found)
    return packages
