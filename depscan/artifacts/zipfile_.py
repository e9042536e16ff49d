"""Zip archives: wheels, Lambda function and layer zips, plain zips.

The central directory is read once to index every member; only the members a cataloger asks
for are decompressed. Sizes declared in the central directory are checked against the budget
before anything is read, and a read never returns more than the declared size. A prefix read
(an ELF header) inflates only up to the bytes asked for.
"""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from typing import BinaryIO

from depscan.artifacts.kinds import ArtifactKind
from depscan.artifacts.limits import NESTED_ENTRY_COST, check_member_size, irregular_path, safe_member_path
from depscan.artifacts.view import PIECE, ArtifactView, Entry, EntryType, OpenContext, gc_paused, read_in_pieces
from depscan.errors import CorruptArtifact, HostileArtifact, MemberError


def open_zip(
    source: str | BinaryIO, name: str, ctx: OpenContext, kind: ArtifactKind = ArtifactKind.ZIP
) -> ArtifactView:
    """Index a zip archive. ``source`` is a filesystem path or a seekable binary file."""
    try:
        _check_declared_entries(source, name, ctx)
        with gc_paused():
            zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        # NotImplementedError: a damaged "version needed to extract"; UnicodeDecodeError (a
        # ValueError): a damaged UTF-8 name.
        raise CorruptArtifact(f"{name}: not a readable zip archive ({e or type(e).__name__})") from e
    view = ArtifactView(name, kind)
    view.on_close(zf.close)
    try:
        with gc_paused():
            _index(zf, name, ctx, view)
    except BaseException:
        view.close()
        raise
    return view


# End of central directory record (EOCD), Zip64 EOCD locator and record: APPNOTE.TXT 4.3.14-4.3.16.
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_EOCD_SEARCH = 22 + 0xFFFF  # the record and the longest comment


def declared_entries(fh: BinaryIO) -> int | None:
    """The entry count a zip's end-of-central-directory record claims (Zip64's when it defers to it),
    read as ``zipfile`` finds it (the last EOCD signature; the Zip64 record just before its
    locator), or None when there is no such record."""
    size = fh.seek(0, io.SEEK_END)
    start = max(0, size - _EOCD_SEARCH - 20 - 56)
    fh.seek(start)
    tail = fh.read()
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return None
    count: int = struct.unpack_from("<H", tail, at + 10)[0]
    locator = at - 20
    if count == 0xFFFF and locator >= 56 and tail[locator : locator + 4] == _EOCD64_LOCATOR:
        record = locator - 56
        if tail[record : record + 4] == _EOCD64:
            count = struct.unpack_from("<Q", tail, record + 32)[0]
    return count


def _check_declared_entries(source: str | BinaryIO, name: str, ctx: OpenContext) -> None:
    """Refuse a zip whose central directory claims more entries than the budget has left, before
    ``zipfile`` builds an object for each (a nested zip of a few MB can hold millions)."""
    if isinstance(source, str):
        with open(source, "rb") as fh:
            count = declared_entries(fh)
    else:
        where = source.tell()
        count = declared_entries(source)
        source.seek(where)
    # A nested archive's entries cost NESTED_ENTRY_COST each (nested.py charges the rest once indexed).
    if count is not None and count * (NESTED_ENTRY_COST if ctx.depth else 1) > ctx.charge.entries_left():
        raise HostileArtifact(
            f"{name}: the central directory claims {count} entries: more than {ctx.limits.max_entries} entries "
            f"(max_entries) with the {ctx.charge.entries} already indexed; refusing to go on"
        )


def overlapping(infos: list[zipfile.ZipInfo], cd_start: int) -> set[int]:
    """The indexes of members whose data would run into the next member's local header (or the
    central directory): the "overlapping files" zip bomb, where one compressed kernel is read as
    the data of many members. Newer CPythons refuse these when a member is opened; 3.10 does not."""
    order = sorted(range(len(infos)), key=lambda i: infos[i].header_offset)
    bad: set[int] = set()
    for rank, i in enumerate(order):
        info = infos[i]
        end = infos[order[rank + 1]].header_offset if rank + 1 < len(order) else cd_start
        # The local header is 30 bytes plus the name (and an extra field, not counted: a lower bound).
        if info.header_offset + 30 + _name_length(info) + info.compress_size > end:
            bad.add(i)
    return bad


def _name_length(info: zipfile.ZipInfo) -> int:
    """The byte length of the name as stored (UTF-8 with flag bit 11, else cp437, as zipfile decoded it)."""
    try:
        return len(info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437"))
    except UnicodeEncodeError:
        return 0


def _index(zf: zipfile.ZipFile, name: str, ctx: OpenContext, view: ArtifactView) -> None:
    infos = zf.infolist()
    ctx.charge.charge_entries(len(infos), name)
    declared = sum(i.file_size for i in infos)
    if declared > ctx.limits.max_total_bytes:
        raise HostileArtifact(
            f"{name}: members declare {declared} bytes uncompressed, over the "
            f"{ctx.limits.max_total_bytes}-byte limit (max_total_bytes; zip bomb?)"
        )
    add = view.add
    file_type = EntryType.FILE
    overlaps = overlapping(infos, zf.start_dir)
    # Members are opened by their ZipInfo (kept by each reader), never by name: zipfile's own name
    # index and list are not needed and would hold every entry a second and third time.
    zf.NameToInfo = {}
    zf.filelist = []
    for number, info in enumerate(infos):
        filename = info.filename
        # safe_member_path, whose answer for a regular name is the name without a trailing "/".
        if filename and not irregular_path(filename):
            path: str | None = filename[:-1] if filename[-1] == "/" else filename
        else:
            path = safe_member_path(filename)
        if path is None:
            view.unknown(filename, "unsafe member path (absolute or '..'); skipped")
            continue
        if number in overlaps:
            view.unknown(path, "its data overlaps another member's (overlapping-entries zip bomb?); not read")
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            try:
                target = _read_member(zf, info, name, ctx, 4096).decode("utf-8", errors="replace")
            except MemberError as e:
                view.unknown(path, str(e))
                continue
            add(Entry(path, EntryType.SYMLINK, info.file_size, link=target), None)
        elif filename[-1] == "/":  # ZipInfo.is_dir()
            add(Entry(path, EntryType.DIR, 0), None)
        else:
            add(Entry(path, file_type, info.file_size), _Member(zf, info, name, ctx))


class _Member:
    """Reads one zip member (``MemberReader``). Concurrent: zipfile's shared file is locked around each
    seek and read, and members are inflated outside the lock (every zip is opened from a path or bytes)."""

    __slots__ = ("ctx", "info", "name", "zf")
    concurrent = True

    def __init__(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, ctx: OpenContext) -> None:
        self.zf = zf
        self.info = info
        self.name = name
        self.ctx = ctx

    def read(self, max_bytes: int) -> bytes:
        return _read_member(self.zf, self.info, self.name, self.ctx, max_bytes)

    def prefix(self, n: int) -> bytes:
        info = self.info
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # zipfile inflates a bzip2 / LZMA chunk whole (no max_length): keep the zip bomb guard.
            _check_ratio(info, f"{self.name}: {info.filename}", self.ctx)
        try:
            with self.zf.open(info) as fh:
                # ZipExtFile.read(n) inflates with max_length=n: the rest of the member is never
                # decompressed (nor CRC-checked: that needs every byte, and read() does it).
                data = fh.read(min(n, info.file_size))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError) as e:
            raise MemberError(f"{self.name}: {info.filename}: cannot decompress ({e})") from e
        self.ctx.charge.charge_bytes(len(data), self.name)
        return data


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, ctx: OpenContext, max_bytes: int) -> bytes:
    where = f"{name}: {info.filename}"
    check_member_size(info.file_size, max_bytes, ctx.limits, where)
    _check_ratio(info, where, ctx)
    try:
        with zf.open(info) as fh:
            # zipfile stops at the declared size and checks the CRC at the end.
            data = fh.read(info.file_size + 1) if info.file_size <= PIECE else read_in_pieces(fh, info.file_size + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError) as e:
        raise MemberError(f"{where}: cannot decompress ({e})") from e
    ctx.charge.charge_bytes(len(data), name)
    return data


def _check_ratio(info: zipfile.ZipInfo, where: str, ctx: OpenContext) -> None:
    limits = ctx.limits
    if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
        ratio = info.file_size // max(info.compress_size, 1)
        raise MemberError(
            f"{where}: compression ratio {ratio}:1 over the {limits.max_ratio}:1 limit (zip bomb?); not read"
        )
