"""rpm's database of installed packages in its sqlite format: ``var/lib/rpm/rpmdb.sqlite``.

rpm 4.16 and later (Fedora 33+, RHEL/AlmaLinux/Rocky 9, Amazon Linux 2023 -- the AWS Lambda base
images) keep one row per installed package in the ``Packages`` table (``hnum INTEGER PRIMARY KEY,
blob BLOB``); the other tables are indexes of what the headers say and are not read. Fedora 36+
and openSUSE keep the database under ``usr/lib/sysimage/rpm/`` (``var/lib/rpm`` is a link there).

The database is opened from memory (``sqlite3.Connection.deserialize``; Python 3.10, which lacks
it, gets a private temporary copy opened read-only). rpm leaves its database in WAL mode (file
format bytes 18-19 = 2); SQLite cannot open an in-memory WAL database, so those two bytes of the
copy are set to 1 (rollback journal). SQLite folds the write-ahead log into the database when the
last connection closes; a non-empty ``rpmdb.sqlite-wal`` beside it (a layer saved while rpm had the
database open) holds transactions the main file lacks, so then both are copied into a private
temporary directory and opened there, and SQLite reads the log.

A blob is an rpm header without the 8-byte magic/reserved prefix of a package file (rpm's
``doc/manual/format.md``, "Header"; ``lib/header.c``, ``hdrblobInit``): big-endian ``il`` (index
entries) and ``dl`` (data bytes), ``il`` 16-byte entries (tag, type, offset, count), then the data
store. Only the tags listed below are decoded; a later entry for a tag replaces an earlier one
(rpm's "dribble" entries written after install). No library is used: the rpm Python bindings
are not installable from PyPI, and ``rpmfile`` reads package files (lead, signature, magic
headers), without bounds checks on offsets, rather than database blobs.

Older rpm (Amazon Linux 2 -- the AWS Lambda base images of python3.8 to python3.11 --, RHEL/CentOS
7-8) keeps ``var/lib/rpm/Packages``, a Berkeley DB hash database (Berkeley DB's ``dbinc/db_page.h``
layout): a metadata page (magic 0x061561, its byte order the database's), hash pages whose items
pair a 4-byte key (the header number; 0 is rpm's own counter) with the header blob, stored on a
chain of overflow pages (``H_OFFPAGE``) or inline (``H_KEYDATA``). The other pages and the index
files beside it are not needed. The ``Packages.db`` ndb file (openSUSE) is recognised but not read:
the cataloger reports it as an Unknown.
"""

from __future__ import annotations

import sqlite3
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from depscan.ospkg import DatabaseError

RPMDB_SQLITE = ("var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite")
RPMDB_BDB = "var/lib/rpm/Packages"
# Formats recognised but not read, with the reason the Unknown gives.
UNREAD = {
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


def _open_copy(directory: str, image: bytes, wal: bytes, uri_options: str) -> list[tuple[int, bytes]]:
    path = Path(directory) / "rpmdb.sqlite"
    path.write_bytes(image)
    if wal:
        Path(f"{path}-wal").write_bytes(wal)
    connection = sqlite3.connect(f"{path.as_uri()}{uri_options}", uri=True)
    try:
        return _query(connection)
    finally:
        connection.close()


def read_blobs(data: bytes, wal: bytes = b"") -> list[tuple[int, bytes]]:
    """(hnum, header blob) of every row of the ``Packages`` table of an ``rpmdb.sqlite`` (with the
    transactions of its ``-wal`` file, when given)."""
    if not data.startswith(_SQLITE_MAGIC) or len(data) < 100:
        raise DatabaseError("not an SQLite database (no 'SQLite format 3' header)")
    try:
        if wal:  # the log applies to the file as it is (WAL mode): a private copy SQLite may write beside
            with tempfile.TemporaryDirectory(prefix="depscan-rpmdb-") as tmp:
                return _open_copy(tmp, data, wal, "")
        image = bytearray(data)
        if image[18] == 2 or image[19] == 2:  # WAL mode: not openable in memory (see the module docstring)
            image[18] = image[19] = 1
        if DESERIALIZE:
            connection = sqlite3.connect(":memory:")
            try:
                connection.deserialize(image)
                return _query(connection)
            finally:
                connection.close()
        with tempfile.TemporaryDirectory(prefix="depscan-rpmdb-") as tmp:
            return _open_copy(tmp, bytes(image), b"", "?mode=ro&immutable=1")
    except sqlite3.Error as e:
        raise DatabaseError(f"SQLite: {e}") from None


# Berkeley DB (dbinc/db_page.h): metadata and page header fields, page and item types.
_BDB_MAGIC = 0x00061561
_P_HASH_UNSORTED, _P_OVERFLOW, _P_HASHMETA, _P_HASH = 2, 7, 8, 13
_H_KEYDATA, _H_OFFPAGE = 1, 3
_PAGE_HEADER = 26  # lsn 8, pgno 4, prev_pgno 4, next_pgno 4, entries 2, hf_offset 2, level 1, type 1


def _hash_items(page: bytes, number: int, order: str) -> list[bytes]:
    """The items of a hash page: an index of offsets after the header, items stored from the end
    of the page down (item i ends where item i-1 starts; item 0 at the page's end)."""
    entries = struct.unpack_from(f"{order}H", page, 20)[0]
    floor = _PAGE_HEADER + 2 * entries
    if floor > len(page):
        raise DatabaseError(f"Berkeley DB page {number}: {entries} items cannot fit")
    items: list[bytes] = []
    end = len(page)
    for index, start in enumerate(struct.unpack_from(f"{order}{entries}H", page, _PAGE_HEADER)):
        if not floor <= start < end:
            raise DatabaseError(f"Berkeley DB page {number}: item {index} at {start}..{end} outside the page")
        items.append(page[start:end])
        end = start
    return items


def read_bdb_blobs(data: bytes) -> list[tuple[int, bytes]]:
    """(header number, header blob) of every record of a Berkeley DB hash ``Packages`` file."""
    if len(data) < 512:
        raise DatabaseError(f"{len(data)} bytes: too short for a Berkeley DB database")
    for order in "<>":
        if struct.unpack_from(f"{order}I", data, 12)[0] == _BDB_MAGIC:
            break
    else:
        raise DatabaseError("not a Berkeley DB hash database (no 0x061561 magic at byte 12)")
    pagesize = struct.unpack_from(f"{order}I", data, 20)[0]
    if data[25] != _P_HASHMETA:
        raise DatabaseError(f"Berkeley DB metadata page of type {data[25]}, not a hash database")
    if data[24]:
        raise DatabaseError("encrypted Berkeley DB database")
    if data[26] & 0x01:  # DBMETA_CHKSUM: every page carries a checksum after its header (rpm never set it)
        raise DatabaseError("Berkeley DB database with page checksums: not read")
    if pagesize < 512 or pagesize > 65536 or pagesize & (pagesize - 1):
        raise DatabaseError(f"Berkeley DB page size {pagesize}: not a power of two in 512..65536")
    pages = len(data) // pagesize
    u16, u32 = f"{order}H", f"{order}I"

    def page(number: int) -> bytes:
        if not 0 < number < pages:
            raise DatabaseError(f"Berkeley DB page {number} outside the file's {pages} pages")
        return data[number * pagesize : (number + 1) * pagesize]

    def overflow(first: int, length: int) -> bytes:
        chunks: list[bytes] = []
        got, number, hops = 0, first, 0
        while got < length:
            current = page(number)
            hops += 1
            if current[25] != _P_OVERFLOW or hops > pages:
                raise DatabaseError(f"Berkeley DB overflow chain from page {first} broken at page {number}")
            used = struct.unpack_from(u16, current, 22)[0]  # hf_offset: the bytes this page holds
            chunks.append(current[_PAGE_HEADER : _PAGE_HEADER + min(used, pagesize - _PAGE_HEADER)])
            got += len(chunks[-1])
            number = struct.unpack_from(u32, current, 16)[0]
            if number == 0 and got < length:
                raise DatabaseError(f"Berkeley DB overflow chain from page {first}: {got} of {length} bytes")
        return b"".join(chunks)[:length]

    blobs: list[tuple[int, bytes]] = []
    for number in range(1, pages):
        current = page(number)
        if current[25] not in (_P_HASH, _P_HASH_UNSORTED):
            continue
        items = _hash_items(current, number, order)
        for index in range(0, len(items) - 1, 2):
            key, value = items[index], items[index + 1]
            if key[0] != _H_KEYDATA or len(key) != 5:
                raise DatabaseError(f"Berkeley DB page {number}: item {index} is not a 4-byte header number")
            hnum = struct.unpack_from(u32, key, 1)[0]
            if value[0] == _H_OFFPAGE and len(value) >= 12:
                first, length = struct.unpack_from(f"{order}II", value, 4)
                blob = overflow(first, length)
            elif value[0] == _H_KEYDATA:
                blob = value[1:]
            else:
                raise DatabaseError(f"Berkeley DB page {number}: item {index + 1} of type {value[0]} unexpected")
            if hnum != 0:  # key 0: rpm's next-header-number counter, not a package
                blobs.append((hnum, blob))
    return sorted(blobs)


def parse_rpmdb(data: bytes, wal: bytes = b"", *, berkeley: bool = False) -> list[RpmPackage]:
    """The packages an ``rpmdb.sqlite`` (and its ``-wal`` log) lists, or a Berkeley DB ``Packages``
    file with ``berkeley``, in install order. A bad header is a DatabaseError naming its row."""
    packages: list[RpmPackage] = []
    for hnum, blob in read_bdb_blobs(data) if berkeley else read_blobs(data, wal):
        try:
            found = package(blob)
        except DatabaseError as e:
            raise DatabaseError(f"Packages row {hnum}: {e}") from None
        if found is not None:
            packages.append(found)
    return packages
