"""Zip archives: wheels, Lambda function and layer zips, plain zips.

The central directory is read once to index every member; only the members a cataloger asks
for are decompressed. Sizes declared in the central directory are checked against the budget
before anything is read, and a read never returns more than the declared size. A prefix read
(an ELF header) inflates only up to the bytes asked for.
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from typing import BinaryIO

from depscan.artifacts.kinds import ArtifactKind
from depscan.artifacts.limits import check_member_size, irregular_path, safe_member_path
from depscan.artifacts.view import ArtifactView, Entry, EntryType, OpenContext, gc_paused
from depscan.errors import CorruptArtifact, HostileArtifact, MemberError


def open_zip(
    source: str | BinaryIO, name: str, ctx: OpenContext, kind: ArtifactKind = ArtifactKind.ZIP
) -> ArtifactView:
    """Index a zip archive. ``source`` is a filesystem path or a seekable binary file."""
    try:
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
    for info in infos:
        filename = info.filename
        # safe_member_path, whose answer for a regular name is the name without a trailing "/".
        if filename and not irregular_path(filename):
            path: str | None = filename[:-1] if filename[-1] == "/" else filename
        else:
            path = safe_member_path(filename)
        if path is None:
            view.unknown(filename, "unsafe member path (absolute or '..'); skipped")
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
    """Reads one zip member (``MemberReader``)."""

    __slots__ = ("ctx", "info", "name", "zf")

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
            data = fh.read(info.file_size + 1)
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
