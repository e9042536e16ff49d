"""Tar archives: plain tars (random access), and gzip / bzip2 / xz / zstd tars (one streaming pass).

A plain tar on a seekable file is indexed by walking its headers, skipping the data, and a
member is read only when asked for. A compressed tar cannot be read at random, so it is read
once from start to end and the members the catalogers want (``OpenContext.wants``) are kept in
memory; everything else is skipped as it streams by.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zlib
from typing import BinaryIO

from depscan.artifacts.limits import Budget, safe_member_path
from depscan.artifacts.view import ArtifactView, Entry, EntryType, OpenContext, Reader
from depscan.errors import ArtifactError, CorruptArtifact, HostileArtifact, MemberError

GZIP_MAGIC = b"\x1f\x8b"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

_TAR_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    EOFError,
    zlib.error,
    OSError,
    lzma.LZMAError,
    ValueError,
    UnicodeDecodeError,
)


def compression_of(head: bytes) -> str | None:
    """The compression a file's first bytes announce, or None."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(XZ_MAGIC):
        return "xz"
    if head.startswith(BZIP2_MAGIC):
        return "bzip2"
    return None


def looks_like_tar(head: bytes) -> bool:
    """POSIX ustar and GNU tars carry "ustar" at offset 257."""
    return len(head) >= 262 and head[257:262] == b"ustar"


def decompressing_reader(raw: BinaryIO, compression: str) -> BinaryIO:
    """A streaming reader of ``raw`` decompressed."""
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if compression == "bzip2":
        return bz2.BZ2File(raw, mode="rb")  # type: ignore[return-value]
    if compression == "xz":
        return lzma.LZMAFile(raw, mode="rb")  # type: ignore[return-value]
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    raise ValueError(compression)


class _Counting(io.RawIOBase):
    """Charges every decompressed byte to the budget, so a tar bomb stops at the limit."""

    def __init__(self, inner: BinaryIO, budget: Budget, where: str) -> None:
        self._inner = inner
        self._budget = budget
        self._where = where
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.total += n
        self._budget.charge_bytes(n, self._where)
        return n


def open_tar(
    source: str | BinaryIO, name: str, ctx: OpenContext, kind: str = "tar", layer: str | None = None
) -> ArtifactView:
    """Index a tar archive, compressed or not. ``source`` is a path or a seekable binary file."""
    fh: BinaryIO
    owned = isinstance(source, str)
    try:
        fh = open(source, "rb") if isinstance(source, str) else source  # noqa: SIM115 - closed with the view
    except OSError as e:
        raise ArtifactError(f"{name}: cannot open ({e.strerror or e})") from e
    view = ArtifactView(name, kind, absolute_links_inside=True)
    if owned:
        view.on_close(fh.close)
    try:
        start = fh.tell()
        head = fh.read(512)
        fh.seek(start)
        compression = compression_of(head)
        if compression is None:
            _index_random(fh, name, ctx, view, layer)
        else:
            index_tar_stream(decompressing_reader(fh, compression), name, ctx, view, layer)
    except BaseException:
        view.close()
        raise
    return view


def _entry_for(member: tarfile.TarInfo, view: ArtifactView, layer: str | None) -> Entry | None:
    if member.name.strip("/") in (".", ""):
        return None  # the archive's own root ("./", as `tar -C dir .` writes it)
    path = safe_member_path(member.name)
    if path is None:
        view.unknown(member.name, "unsafe member path (absolute or '..'); skipped", layer)
        return None
    if member.isdir():
        return Entry(path, EntryType.DIR, 0, layer)
    if member.issym():
        return Entry(path, EntryType.SYMLINK, 0, layer, member.linkname)
    if member.isfile() or member.islnk():
        return Entry(path, EntryType.FILE, member.size, layer)
    return None  # devices, fifos: nothing to inventory


def _index_random(fh: BinaryIO, name: str, ctx: OpenContext, view: ArtifactView, layer: str | None) -> None:
    start = fh.tell()
    try:
        tf = tarfile.open(fileobj=fh, mode="r:")  # noqa: SIM115 - closed with the view
    except _TAR_ERRORS as e:
        raise CorruptArtifact(f"{name}: not a readable tar archive ({e})") from e
    view.on_close(tf.close)
    declared = 0
    try:
        while True:
            member = tf.next()
            if member is None:
                break
            ctx.charge.charge_entries(1, name)
            entry = _entry_for(member, view, layer)
            if entry is None:
                continue
            if entry.type is EntryType.FILE:
                declared += member.size
                view.add(entry, _random_reader(tf, member, name, ctx))
            else:
                view.add(entry, None)
    except HostileArtifact:
        raise
    except _TAR_ERRORS as e:
        raise CorruptArtifact(f"{name}: corrupt or truncated tar archive ({e})") from e
    if declared > ctx.limits.max_total_bytes:
        raise HostileArtifact(f"{name}: members declare {declared} bytes, over the max_total_bytes limit")
    # tarfile takes a short or missing header for the end of the archive, so a tar cut at a
    # header boundary would silently lose every member after the cut: require the end marker.
    fh.seek(start + tf.offset)
    marker = fh.read(512)
    if len(marker) < 512 or marker.count(0) != 512:
        raise CorruptArtifact(f"{name}: truncated tar archive (no end-of-archive marker after {len(view)} entries)")


def _random_reader(tf: tarfile.TarFile, member: tarfile.TarInfo, name: str, ctx: OpenContext) -> Reader:
    def read(max_bytes: int) -> bytes:
        where = f"{name}: {member.name}"
        if member.size > max_bytes:
            raise MemberError(f"{where}: {member.size} bytes, over the {max_bytes}-byte read limit; not read")
        try:
            fh = tf.extractfile(member)  # follows hard links inside the same tar
            if fh is None:
                raise MemberError(f"{where}: not a regular file")
            data = fh.read(max_bytes + 1)
        except MemberError:
            raise
        except (KeyError, *_TAR_ERRORS) as e:  # type: ignore[misc]
            raise MemberError(f"{where}: cannot read ({e})") from e
        ctx.charge.charge_bytes(len(data), name)
        return data

    return read


def _buffered(data: bytes, where: str) -> Reader:
    def read(max_bytes: int) -> bytes:
        if len(data) > max_bytes:
            raise MemberError(f"{where}: {len(data)} bytes, over the {max_bytes}-byte read limit; not read")
        return data

    return read


def index_tar_stream(stream: BinaryIO, name: str, ctx: OpenContext, view: ArtifactView, layer: str | None) -> None:
    """Index a tar read once from a non-seekable (decompressed) stream into ``view``.

    Members ``ctx.wants`` names (and nested archives) are kept in memory; the rest stream by.
    """
    from depscan.artifacts.nested import is_nested_candidate

    raw = _Counting(stream, ctx.charge, name)
    counting = io.BufferedReader(raw, buffer_size=1024 * 1024)
    kept: dict[str, bytes] = {}
    try:
        tf = tarfile.open(fileobj=counting, mode="r|")  # noqa: SIM115 - read to the end here
        for member in tf:
            ctx.charge.charge_entries(1, name)
            entry = _entry_for(member, view, layer)
            if entry is None:
                continue
            if entry.type is not EntryType.FILE:
                view.add(entry, None)
                continue
            where = f"{name}: {member.name}"
            if not (ctx.wants(entry.path) or is_nested_candidate(entry.path)):
                view.add(entry, None)
                continue
            if member.islnk():
                target = safe_member_path(member.linkname)
                data = kept.get(target) if target else None
                view.add(entry, _buffered(data, where) if data is not None else None)
                continue
            if member.size > ctx.limits.max_member_bytes:
                view.unknown(entry.path, f"{member.size} bytes, over the max_member_bytes limit; not read", layer)
                view.add(entry, None)
                continue
            fh = tf.extractfile(member)
            data = fh.read() if fh is not None else b""
            kept[entry.path] = data
            view.add(entry, _buffered(data, where))
        # As for plain tars: a stream that ends where a header should be is a truncated archive.
        while counting.read(1024 * 1024):
            pass
        if raw.total < tf.offset + 512:
            raise CorruptArtifact(f"{name}: truncated tar archive (no end-of-archive marker after {len(view)} entries)")
    except HostileArtifact:
        raise
    except _TAR_ERRORS as e:
        raise CorruptArtifact(f"{name}: corrupt or truncated compressed tar ({e})") from e
    except Exception as e:  # zstandard.ZstdError and friends from the decompressors
        if type(e).__module__.startswith("zstandard"):
            raise CorruptArtifact(f"{name}: corrupt or truncated compressed tar ({e})") from e
        raise
