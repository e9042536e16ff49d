"""Zip archives: wheels, Lambda function and layer zips, plain zips.

The central directory is read once and indexed in one pass over its bytes (``struct`` over the
records, no ``zipfile.ZipInfo`` per member: building those was most of the time a zip of 15,000
members took to open); the overlapping-members check is part of that pass. Only the members a
cataloger asks for are decompressed (each read of the archive is a seek and a read under a lock:
safe from several threads, which inflate outside it). Sizes declared in the central directory are
checked against the budget before anything is read, and a read never returns more than the
declared size. A prefix read (an ELF header) inflates only up to the bytes asked for.

Stored and deflated members (every wheel and Lambda zip) are inflated here, with the checks
``zipfile`` makes when it opens and reads a member (local header signature and name, the CRC-32 at
the end); any other method or an encrypted member goes through ``zipfile.ZipExtFile`` over the same
reads, so what ``zipfile`` refuses (Deflate64, encryption) is refused with its words.
The central directory is read as ``zipfile`` reads it (the same end-record search, Zip64 records,
prefixed archives, name encodings, extra-field checks): ``tests/test_perf_zip.py`` compares both.
"""

from __future__ import annotations

import io
import itertools
import os
import stat
import struct
import threading
import zipfile
import zlib
from typing import Any, BinaryIO, NamedTuple

from depscan.artifacts.kinds import ArtifactKind
from depscan.artifacts.limits import NESTED_ENTRY_COST, check_member_size, irregular_path, safe_member_path
from depscan.artifacts.view import PIECE, ArtifactView, Entry, EntryType, OpenContext, gc_paused
from depscan.errors import CorruptArtifact, HostileArtifact, MemberError

# End of central directory record (EOCD), Zip64 EOCD locator and record: APPNOTE.TXT 4.3.14-4.3.16.
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_EOCD_SIZE = 22
# The file's last bytes that hold the record (up to 64 KiB of comment after it) and the Zip64
# locator (20 bytes) and record (56 bytes) before it.
_TAIL = (1 << 16) + _EOCD_SIZE + 20 + 56
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
# A central directory record (APPNOTE 4.3.12), 46 bytes: the fields the index needs (signature,
# version needed, flags, compressed and uncompressed size, name/extra/comment lengths, external
# attributes, local header offset); the rest is skipped.
_CD_INDEX = struct.Struct("<4s2xBxH10xLLHHH4xLL")
# The same record with the fields a read needs (flags, method, CRC-32, sizes, lengths, offset).
_CD_READ = struct.Struct("<8xHH4xLLLHHH8xL")
_CD_SIZE = 46
_LOCAL_HEADER = struct.Struct("<4s2xHHH2xLLLHH")  # APPNOTE 4.3.7: 30 bytes
_LOCAL_SIZE = 30
_MAX_EXTRACT_VERSION = 63  # zipfile.MAX_EXTRACT_VERSION
_UTF8_NAME = 0x800
_ENCRYPTED, _PATCHED, _STRONG_ENCRYPTION = 0x1, 0x20, 0x40
_FAST_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_ZIP64 = 0xFFFF_FFFF

# Inflation and CRC-32 with ISA-L (python-isal, ``isal_zlib``: zlib's interface and results, the same raw
# deflate), else the standard library's zlib. Measured on the 454 MB of ELF files of the benchmark Lambda zip
# (bench/README.md): inflate 0.59 s of CPU instead of 1.2 s, CRC-32 five times faster, and a thread
# inflating while the main thread runs Python gets 3x the work done (it holds the GIL for less).
_zlib: Any
try:
    from isal import isal_zlib

    _zlib = isal_zlib
except ImportError:  # a platform without its wheels
    _zlib = zlib
_ZLIB_ERROR: type[Exception] = _zlib.error
WHOLE_READ_BYTES = 64 * 1024 * 1024  # compressed bytes of a member read whole in one read (``_inflate``)
DIRECT_READ_BYTES = 1024 * 1024  # reads this large go around the buffered file and its lock (``_Stream``)
PREFIX_SLACK = 4096  # compressed bytes read first beyond the n of a prefix read of n bytes (``_inflate``)


def open_zip(
    source: str | bytes | BinaryIO, name: str, ctx: OpenContext, kind: ArtifactKind = ArtifactKind.ZIP
) -> ArtifactView:
    """Index a zip archive. ``source`` is a filesystem path, the archive's bytes or a seekable binary file."""
    try:
        archive = _Source.of(source)
    except OSError as e:
        raise CorruptArtifact(f"{name}: not a readable zip archive ({e or type(e).__name__})") from e
    view = ArtifactView(name, kind)
    view.on_close(archive.close)
    try:
        try:
            directory = _read_directory(archive, name, ctx)
            with gc_paused():
                records = _records(directory)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, struct.error) as e:
            # NotImplementedError: a damaged "version needed to extract"; UnicodeDecodeError (a
            # ValueError): a damaged UTF-8 name.
            raise CorruptArtifact(f"{name}: not a readable zip archive ({e or type(e).__name__})") from e
        with gc_paused():
            _index(_Zip(archive, directory, name, ctx), records, view)
    except BaseException:
        view.close()
        raise
    return view


class _Source:
    """Positional reads of the archive: ``pread(offset, n)`` returns up to ``n`` bytes at ``offset``."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size

    @staticmethod
    def of(source: str | bytes | BinaryIO) -> _Source:
        if isinstance(source, bytes):
            return _Bytes(source)
        if isinstance(source, str):
            # Buffered: the members a scan reads sit side by side (METADATA, RECORD, WHEEL of one
            # distribution), so most reads come from the buffer (os.pread was five times slower).
            fh = open(source, "rb")  # noqa: SIM115 - closed with the view
            return _Stream(fh, owned=True, fd=fh.fileno())
        return _Stream(source, owned=False)

    def pread(self, offset: int, n: int) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file (nothing for bytes)."""


class _Bytes(_Source):
    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        super().__init__(len(data))
        self.data = data

    def pread(self, offset: int, n: int) -> bytes:
        if offset < 0:
            raise ValueError(f"negative offset {offset}")
        return self.data[offset : offset + n]


class _Stream(_Source):
    """A seekable file object, read under a lock (seek + read: one position, shared by threads). A large
    read of a file depscan opened itself (``fd``) is an ``os.pread``, outside the lock: a thread reading a
    member of megabytes whole does not hold up the small reads of the others."""

    __slots__ = ("fd", "fh", "lock", "owned")

    def __init__(self, fh: BinaryIO, *, owned: bool, fd: int | None = None) -> None:
        self.fh = fh
        self.owned = owned
        self.fd = fd
        self.lock = threading.Lock()
        super().__init__(fh.seek(0, io.SEEK_END))

    def pread(self, offset: int, n: int) -> bytes:
        if self.fd is not None and n >= DIRECT_READ_BYTES and 0 <= offset < self.size:
            return _pread(self.fd, offset, min(n, self.size - offset))
        with self.lock:
            self.fh.seek(offset)
            return self.fh.read(max(0, min(n, self.size - offset)))

    def close(self) -> None:
        if self.owned:
            self.fh.close()


def _pread(fd: int, offset: int, n: int) -> bytes:
    """``n`` bytes at ``offset`` (fewer only at the end of the file), however many reads that takes."""
    data = os.pread(fd, n, offset)
    if len(data) == n or not data:
        return data
    pieces = [data]
    got = len(data)
    while got < n:
        piece = os.pread(fd, n - got, offset + got)
        if not piece:
            break
        pieces.append(piece)
        got += len(piece)
    return b"".join(pieces)


class _Directory(NamedTuple):
    """Where the central directory is and what it holds."""

    data: bytes  # the central directory's bytes (fewer than ``size`` when the file is cut short)
    size: int  # its size as the end record declares it
    start: int  # its offset in the file (zipfile's ``start_dir``)
    concat: int  # bytes prepended to the archive (a .pex's shebang line): added to every offset


class _EndRecord(NamedTuple):
    entries: int
    size: int
    offset: int
    at: int  # where the EOCD record starts in the file
    zip64: bool


def _end_record(tail: bytes, tail_start: int) -> _EndRecord | None:
    """The end-of-central-directory record as ``zipfile._EndRecData`` finds it: the record at the very
    end when the archive has no comment, else the last signature in the last 64 KiB + 22 bytes; the
    Zip64 record when its locator sits just before. ``tail`` holds the file's last bytes from
    ``tail_start`` (at least the search window and the Zip64 records before it)."""
    size = tail_start + len(tail)
    if len(tail) >= _EOCD_SIZE and tail[-_EOCD_SIZE:-18] == _EOCD and tail[-2:] == b"\0\0":
        at = len(tail) - _EOCD_SIZE
    else:
        window = max(size - (1 << 16) - _EOCD_SIZE, 0) - tail_start
        at = tail.rfind(_EOCD, window)
        if at < 0 or len(tail) - at < _EOCD_SIZE:
            return None
    count, cd_size, cd_offset = struct.unpack_from("<10xH2L", tail, at)
    found = _EndRecord(count, cd_size, cd_offset, tail_start + at, False)
    locator = at - 20
    if tail_start + locator < 0 or locator < 0:
        return found
    signature, locator_disk, _offset, disks = struct.unpack_from("<4sLQL", tail, locator)
    if signature != _EOCD64_LOCATOR:
        return found
    if locator_disk != 0 or disks > 1:
        raise zipfile.BadZipFile("zipfiles that span multiple disks are not supported")
    record = locator - 56
    if record < 0:  # zipfile's seek before the start of the file fails
        raise zipfile.BadZipFile("File is not a zip file")
    signature, count64, cd_size64, cd_offset64 = struct.unpack_from("<4s28xQQQ", tail, record)
    if signature != _EOCD64:
        return found
    return _EndRecord(count64, cd_size64, cd_offset64, tail_start + at, True)


def _read_directory(archive: _Source, name: str, ctx: OpenContext) -> _Directory:
    """The central directory's bytes and place (``zipfile.ZipFile._RealGetContents``'s first half),
    once the entry count its end record claims has been checked against the budget."""
    start = max(0, archive.size - _TAIL)
    end = _end_record(archive.pread(start, archive.size - start), start)
    if end is None:
        raise zipfile.BadZipFile("File is not a zip file")
    _check_declared_entries(end.entries, name, ctx)
    # "concat" is zero unless the zip was appended to another file.
    concat = end.at - end.size - end.offset - (56 + 20 if end.zip64 else 0)
    cd_start = end.offset + concat
    if cd_start < 0:
        raise zipfile.BadZipFile("Bad offset for central directory")
    return _Directory(archive.pread(cd_start, end.size), end.size, cd_start, concat)


def declared_entries(fh: BinaryIO) -> int | None:
    """The entry count a zip's end-of-central-directory record claims (Zip64's when it defers to it),
    read as ``zipfile`` finds it, or None when there is no such record."""
    size = fh.seek(0, io.SEEK_END)
    start = max(0, size - _TAIL)
    fh.seek(start)
    try:
        end = _end_record(fh.read(), start)
    except zipfile.BadZipFile:
        return None
    return None if end is None else end.entries


def _check_declared_entries(count: int, name: str, ctx: OpenContext) -> None:
    """Refuse a zip whose central directory claims more entries than the budget has left, before
    anything is built for each (a nested zip of a few MB can hold millions)."""
    # A nested archive's entries cost NESTED_ENTRY_COST each (nested.py charges the rest once indexed).
    if count * (NESTED_ENTRY_COST if ctx.depth else 1) > ctx.charge.entries_left():
        raise HostileArtifact(
            f"{name}: the central directory claims {count} entries: more than {ctx.limits.max_entries} entries "
            f"(max_entries) with the {ctx.charge.entries} already indexed; refusing to go on"
        )


class _Record(NamedTuple):
    """One central directory record, as the index needs it."""

    filename: str  # decoded, cut at a NUL (zipfile's ``ZipInfo.filename``)
    at: int  # where the record starts in the central directory
    offset: int  # of the local header in the file (concat added)
    end: int  # offset + local header + name + compressed size: where the member's bytes end at least
    size: int  # uncompressed (declared)
    mode: int  # external attributes >> 16


def _decode_name(raw: bytes, flags: int) -> str:
    """A member name as zipfile decodes it: UTF-8 with flag bit 11, else CP437 (same as ASCII below 0x80)."""
    if raw.isascii():
        return raw.decode("ascii")
    return raw.decode("utf-8" if flags & _UTF8_NAME else "cp437")


def _zip64(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    """Check every extra field's length and apply the Zip64 one (``zipfile.ZipInfo._decodeExtra``)."""
    while len(extra) >= 4:
        kind, length = struct.unpack_from("<HH", extra)
        if length + 4 > len(extra):
            raise zipfile.BadZipFile(f"Corrupt extra field {kind:04x} (size={length})")
        if kind == 0x0001:
            data = extra[4 : length + 4]
            field = "File size"
            try:
                if usize in (0xFFFF_FFFF_FFFF_FFFF, _ZIP64):
                    (usize,) = struct.unpack_from("<Q", data)
                    data = data[8:]
                if csize == _ZIP64:
                    field = "Compress size"
                    (csize,) = struct.unpack_from("<Q", data)
                    data = data[8:]
                if offset == _ZIP64:
                    field = "Header offset"
                    (offset,) = struct.unpack_from("<Q", data)
            except struct.error:
                raise zipfile.BadZipFile(f"Corrupt zip64 extra field. {field} not found.") from None
        extra = extra[length + 4 :]
    return usize, csize, offset


def _records(directory: _Directory) -> list[_Record]:
    """Every central directory record, with zipfile's checks (``_RealGetContents``' loop)."""
    data, concat, total = directory.data, directory.concat, directory.size
    have = len(data)
    unpack = _CD_INDEX.unpack_from
    records: list[_Record] = []
    append = records.append
    new = tuple.__new__  # _Record(...) without its Python-level __new__: tens of thousands of records
    pos = 0
    while pos < total:
        if have - pos < _CD_SIZE:
            raise zipfile.BadZipFile("Truncated central directory")
        signature, version, flags, csize, usize, nlen, elen, clen, attributes, offset = unpack(data, pos)
        if signature != _CENTRAL:
            raise zipfile.BadZipFile("Bad magic number for central directory")
        name_at = pos + _CD_SIZE
        raw = data[name_at : name_at + nlen]
        filename = raw.decode("ascii") if raw.isascii() else _decode_name(raw, flags)
        if version > _MAX_EXTRACT_VERSION:
            raise NotImplementedError(f"zip file version {version / 10:.1f}")
        if elen:
            usize, csize, offset = _zip64(data[name_at + nlen : name_at + nlen + elen], usize, csize, offset)
        if "\x00" in filename:
            filename = filename[: filename.find("\x00")]
        offset += concat
        append(new(_Record, (filename, pos, offset, offset + _LOCAL_SIZE + nlen + csize, usize, attributes >> 16)))
        pos = name_at + nlen + elen + clen
    return records


def _overlapping(records: list[_Record], cd_start: int) -> set[int]:
    """The indexes of members whose data would run into the next member's local header (or the
    central directory): the "overlapping files" zip bomb, where one compressed kernel is read as
    the data of many members. Newer CPythons refuse these when a member is opened; 3.10 does not.
    (The local extra field is not counted: a lower bound.)"""
    offsets = [r.offset for r in records]
    if all(a < b for a, b in itertools.pairwise(offsets)):  # written in order: no sort needed
        order: list[int] | range = range(len(records))
    else:
        order = sorted(range(len(records)), key=offsets.__getitem__)
    bad: set[int] = set()
    last = len(order) - 1
    for rank, i in enumerate(order):
        end = offsets[order[rank + 1]] if rank < last else cd_start
        if records[i].end > end:
            bad.add(i)
    return bad


class _Zip:
    """What every member reader of one archive shares."""

    __slots__ = ("archive", "ctx", "directory", "name")

    def __init__(self, archive: _Source, directory: _Directory, name: str, ctx: OpenContext) -> None:
        self.archive = archive
        self.directory = directory
        self.name = name
        self.ctx = ctx


def _index(zip_: _Zip, records: list[_Record], view: ArtifactView) -> None:
    name, ctx = zip_.name, zip_.ctx
    ctx.charge.charge_entries(len(records), name)
    declared = sum(r.size for r in records)
    if declared > ctx.limits.max_total_bytes:
        raise HostileArtifact(
            f"{name}: members declare {declared} bytes uncompressed, over the "
            f"{ctx.limits.max_total_bytes}-byte limit (max_total_bytes; zip bomb?)"
        )
    add = view.add
    file_type, dir_type = EntryType.FILE, EntryType.DIR
    overlaps = _overlapping(records, zip_.directory.start)
    is_link = stat.S_ISLNK
    new = tuple.__new__  # Entry(...) without its Python-level __new__
    for number, record in enumerate(records):
        filename = record.filename
        # safe_member_path, whose answer for a regular name is the name without a trailing "/".
        if filename and not irregular_path(filename):
            path: str | None = filename[:-1] if filename[-1] == "/" else filename
        else:
            path = safe_member_path(filename)
        if path is None:
            view.unknown(filename, "unsafe member path (absolute or '..'); skipped")
            continue
        if overlaps and number in overlaps:
            view.unknown(path, "its data overlaps another member's (overlapping-entries zip bomb?); not read")
            continue
        if record.mode and is_link(record.mode):
            try:
                target = _Member(zip_, record.at).read(4096).decode("utf-8", errors="replace")
            except MemberError as e:
                view.unknown(path, str(e))
                continue
            add(Entry(path, EntryType.SYMLINK, record.size, link=target), None)
        elif filename[-1] == "/":  # ZipInfo.is_dir()
            add(new(Entry, (path, dir_type, 0, None, None)), None)
        else:
            add(new(Entry, (path, file_type, record.size, None, None)), _Member(zip_, record.at))


class _Member:
    """Reads one zip member (``MemberReader``): the archive and where its central directory record is.
    Concurrent: the archive is read with positional reads (``os.pread``, or seek + read under a lock),
    and each read inflates with its own decompressor."""

    __slots__ = ("at", "zip")
    concurrent = True

    def __init__(self, zip_: _Zip, at: int) -> None:
        self.zip = zip_
        self.at = at

    def read(self, max_bytes: int) -> bytes:
        zip_ = self.zip
        member = _Fields.of(zip_, self.at)
        ctx = zip_.ctx
        limits = ctx.limits
        usize = member.usize
        # The checks' messages name the member: built only when one refuses it.
        if usize > max_bytes or usize > limits.max_member_bytes:
            check_member_size(usize, max_bytes, limits, _where(zip_, member))
        if usize > limits.ratio_floor:
            _check_ratio(member, _where(zip_, member), ctx)
        data = _decompress(zip_, member, usize)
        ctx.charge.charge_bytes(len(data), zip_.name)
        return data

    def fingerprint(self) -> str:
        """CRC-32 and size from the central directory (``ArtifactView.fingerprint``): nothing is read."""
        member = _Fields.of(self.zip, self.at)
        return f"zip:{member.crc:08x}:{member.usize}"

    def prefix(self, n: int) -> bytes:
        zip_ = self.zip
        member = _Fields.of(zip_, self.at)
        if member.method not in _FAST_METHODS:
            # zipfile inflates a bzip2 / LZMA chunk whole (no max_length): keep the zip bomb guard.
            _check_ratio(member, _where(zip_, member), zip_.ctx)
        # Only up to n bytes are inflated; the CRC needs every byte, so it is checked when they are all read.
        data = _decompress(zip_, member, min(n, member.usize))
        zip_.ctx.charge.charge_bytes(len(data), zip_.name)
        return data


class _Fields(NamedTuple):
    """A member's central directory record, read again when the member is read."""

    filename: str
    raw_name: bytes
    flags: int
    method: int
    crc: int
    csize: int
    usize: int
    offset: int  # concat added

    @staticmethod
    def of(zip_: _Zip, at: int) -> _Fields:
        data = zip_.directory.data
        flags, method, crc, csize, usize, nlen, elen, _clen, offset = _CD_READ.unpack_from(data, at)
        name_at = at + _CD_SIZE
        raw = data[name_at : name_at + nlen]
        if elen:
            usize, csize, offset = _zip64(data[name_at + nlen : name_at + nlen + elen], usize, csize, offset)
        filename = _decode_name(raw, flags)
        if "\x00" in filename:
            filename = filename[: filename.find("\x00")]
        # tuple.__new__: _Fields(...) without its Python-level __new__ (one per member read)
        return _new_tuple(_Fields, (filename, raw, flags, method, crc, csize, usize, offset + zip_.directory.concat))


_new_tuple = tuple.__new__


def _where(zip_: _Zip, member: _Fields) -> str:
    """The member as messages name it."""
    return f"{zip_.name}: {member.filename}"


def _decompress(zip_: _Zip, member: _Fields, want: int) -> bytes:
    """The first ``want`` bytes of a member (all of it when ``want`` is its declared size); MemberError
    with the reason when it cannot be read. As ``zipfile`` does, the CRC-32 is checked once the data is
    read to its declared size or to its end, whichever comes first."""
    try:
        if member.method in _FAST_METHODS and not member.flags & (_ENCRYPTED | _PATCHED | _STRONG_ENCRYPTION):
            data, ended = _inflate(zip_.archive, member, want)
            if (ended or len(data) == member.usize) and _zlib.crc32(data) != member.crc:
                raise zipfile.BadZipFile(f"Bad CRC-32 for file {member.filename!r}")
        else:
            data = _read_with_zipfile(zip_.archive, member, want)  # zipfile checks the CRC
    except (zipfile.BadZipFile, zlib.error, _ZLIB_ERROR, EOFError, OSError, NotImplementedError, RuntimeError,
            ValueError) as e:
        raise MemberError(f"{_where(zip_, member)}: cannot decompress ({e})") from e
    return data


def _local_data(archive: _Source, member: _Fields, first: int) -> tuple[int, bytes]:
    """Check the member's local header as ``zipfile.ZipFile.open`` does; return where its data starts
    and up to ``first`` bytes of that data (read with the header, one read for a small member)."""
    nlen = len(member.raw_name)
    head = archive.pread(member.offset, _LOCAL_SIZE + nlen + first + 64)
    if len(head) < _LOCAL_SIZE:
        raise zipfile.BadZipFile("Truncated file header")
    signature, flags, _method, _time, _crc, _csize, _usize, local_nlen, local_elen = _LOCAL_HEADER.unpack_from(head)
    if signature != _LOCAL:
        raise zipfile.BadZipFile("Bad magic number for file header")
    if member.flags & _PATCHED:
        raise NotImplementedError("compressed patched data (flag bit 5)")
    if member.flags & _STRONG_ENCRYPTION:
        raise NotImplementedError("strong encryption (flag bit 6)")
    local_name = head[_LOCAL_SIZE : _LOCAL_SIZE + local_nlen]
    if local_name != member.raw_name:
        if len(local_name) < local_nlen:
            local_name += archive.pread(member.offset + _LOCAL_SIZE + len(local_name), local_nlen - len(local_name))
        original = _decode_name(member.raw_name, member.flags)
        if _decode_name(local_name, flags) != original:
            raise zipfile.BadZipFile(f"File name in directory {original!r} and header {local_name!r} differ.")
    start = member.offset + _LOCAL_SIZE + local_nlen + local_elen
    skip = _LOCAL_SIZE + local_nlen + local_elen
    return start, head[skip : skip + first]


def _inflate(archive: _Source, member: _Fields, want: int) -> tuple[bytes, bool]:
    """Up to ``want`` bytes of a stored or deflated member, reading and inflating no more than that
    needs (zipfile's ``ZipExtFile`` semantics: stop at the declared size, or where the data ends), and
    whether the data ended (the deflate stream's end, or the compressed size read) before ``want``."""
    csize = member.csize
    # A whole read takes the compressed data in one read and inflates it in one call (no pieces joined,
    # a few hand-overs of the GIL instead of several per piece): the threads inflating ELF files for the
    # native cataloger spend least that way. Prefix reads and huge members go piece by piece.
    # A prefix read (an ELF header: 64 bytes) starts with what that needs (the compressed bytes of n output
    # bytes are about n, after a block header of at most some hundred bytes) and reads more only if not.
    whole = want >= member.usize and csize <= WHOLE_READ_BYTES
    if whole and csize >= DIRECT_READ_BYTES:
        # the header alone, then the data in a read of its own: not sliced out of one larger read (a copy of
        # every compressed byte, and the page faults of a second fresh buffer of that size)
        start, _ = _local_data(archive, member, 0)
        chunk = archive.pread(start, csize)
    else:
        start, chunk = _local_data(archive, member, csize if whole else min(csize, PIECE, want + PREFIX_SLACK))
    if want <= 0:
        return b"", False
    position, end = start + len(chunk), start + csize
    inflater = _zlib.decompressobj(-15) if member.method == zipfile.ZIP_DEFLATED else None
    # One piece is returned as it is; more are gathered in a BytesIO, whose getvalue hands its buffer
    # over without a copy (joining a list of pieces would hold a large member twice at the peak).
    result = b""
    gathered: io.BytesIO | None = None
    got = 0
    while got < want:
        if not chunk:
            if position >= end:
                return (result if gathered is None else gathered.getvalue()), True
            chunk = archive.pread(position, min(PIECE, end - position))
            if not chunk:
                raise EOFError("the archive ends inside the member's data")
            position += len(chunk)
        if inflater is None:
            piece = chunk[: want - got]
            chunk = b""
        else:
            piece = inflater.decompress(chunk, want - got)
            chunk = inflater.unconsumed_tail
        if gathered is not None:
            gathered.write(piece)
        elif not result:
            result = piece
        elif piece:
            gathered = io.BytesIO()
            gathered.write(result)
            gathered.write(piece)
            result = b""
        got += len(piece)
        if inflater is not None and inflater.eof:
            return (result if gathered is None else gathered.getvalue()), got < want
    return (result if gathered is None else gathered.getvalue()), False


class _Window:
    """A file object over the archive from one offset on: what ``zipfile.ZipExtFile`` reads from."""

    __slots__ = ("archive", "position")

    def __init__(self, archive: _Source, position: int) -> None:
        self.archive = archive
        self.position = position

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = self.archive.size - self.position
        data = self.archive.pread(self.position, n)
        self.position += len(data)
        return data

    def close(self) -> None:
        """Nothing to release: the archive is closed with its view."""


def _read_with_zipfile(archive: _Source, member: _Fields, want: int) -> bytes:
    """Any other compression method, or an encrypted member: ``zipfile.ZipExtFile`` reads it, or says why not."""
    start, _ = _local_data(archive, member, 0)
    if member.flags & _ENCRYPTED:
        raise RuntimeError(f"File {member.filename!r} is encrypted, password required for extraction")
    info = zipfile.ZipInfo(member.filename)
    info.flag_bits, info.compress_type, info.CRC = member.flags, member.method, member.crc
    info.compress_size, info.file_size, info.header_offset = member.csize, member.usize, member.offset
    with zipfile.ZipExtFile(_Window(archive, start), "r", info, None, False) as fh:
        return fh.read(want)


def _check_ratio(member: _Fields, where: str, ctx: OpenContext) -> None:
    limits = ctx.limits
    if member.usize > limits.ratio_floor and member.usize > limits.max_ratio * max(member.csize, 1):
        ratio = member.usize // max(member.csize, 1)
        raise MemberError(
            f"{where}: compression ratio {ratio}:1 over the {limits.max_ratio}:1 limit (zip bomb?); not read"
        )
