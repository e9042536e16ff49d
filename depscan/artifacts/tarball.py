"""Tar archives: plain tars (random access), and gzip / bzip2 / xz / zstd tars (one streaming pass).

A plain tar on a seekable file is indexed by walking its headers, skipping the data, and a
member is read only when asked for (or only its first bytes, for a prefix read). A compressed tar
cannot be read at random, so it is read once from start to end and the members the catalogers
want (``OpenContext.wants``) are kept in memory, of the members they want only a prefix of
(``OpenContext.wants_prefix``: ELF headers) just that prefix; everything else is skipped as it
streams by.
"""

from __future__ import annotations

import _compression
import bz2
import contextlib
import gzip
import hashlib
import io
import lzma
import tarfile
import zlib
from collections.abc import Iterator
from typing import IO, BinaryIO

from depscan.artifacts.kinds import ArtifactKind, is_nested_candidate
from depscan.artifacts.limits import Budget, check_member_size, over_member_limit, resolve_link, safe_member_path
from depscan.artifacts.view import PIECE, ArtifactView, Entry, EntryType, OpenContext, read_in_pieces
from depscan.errors import ArtifactError, CorruptArtifact, HostileArtifact, MemberError

GZIP_MAGIC = b"\x1f\x8b"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

# Memory an xz stream's decoder may take (its dictionary size is chosen by the file): ``xz -9``
# needs 65 MiB to decompress, so no tar made by a real tool comes near this.
XZ_MEMLIMIT = 256 * 1024 * 1024
# zstd: the decoder's default window limit (128 MiB, ZSTD_WINDOWLOG_LIMIT_DEFAULT) applies.
# Largest GNU long-name / long-link or pax extended header read: tarfile reads one whole into
# memory before the member it describes (PATH_MAX is 4 KiB; xattrs and ACLs are small).
MAX_TAR_HEADER_BYTES = 1024 * 1024

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
        # lzma.LZMAFile has no memory limit: its reader, with one on the decompressor.
        reader = _compression.DecompressReader(
            raw, lzma.LZMADecompressor, trailing_error=lzma.LZMAError, memlimit=XZ_MEMLIMIT
        )
        return io.BufferedReader(reader)
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    raise ValueError(compression)


class CountingReader(io.RawIOBase):
    """Charges every decompressed byte to the budget, so a tar bomb stops at the limit.

    ``total`` counts what went through. While ``paused`` nothing is charged (an image's layer
    indexed from the outer stream charges its own bytes). ``error`` keeps the decoder's error even
    when a reader above swallows it (``tarfile`` takes a short stream for a clean end).
    """

    def __init__(self, inner: BinaryIO, budget: Budget, where: str) -> None:
        super().__init__()
        self._inner = inner
        self._budget = budget
        self._where = where
        self.total = 0
        self.paused = False
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        out = memoryview(buffer).cast("B")
        try:
            data = self._inner.read(len(out))
        except Exception as e:
            self.error = e
            raise
        n = len(data)
        out[:n] = data
        self.total += n
        if not self.paused:
            self._budget.charge_bytes(n, self._where)
        return n


class BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses a GNU long-name / long-link or pax header over ``MAX_TAR_HEADER_BYTES``
    before ``tarfile`` reads it whole into memory, and more than ``MAX_TAR_HEADER_CHAIN`` of them in
    a row (``tarfile`` reads each following header recursively: thousands would end in a
    RecursionError)."""

    def _proc_gnulong(self, tarfile: tarfile.TarFile) -> tarfile.TarInfo:
        with _header_chain(self, tarfile):
            return super()._proc_gnulong(tarfile)  # type: ignore[misc,no-any-return]

    def _proc_pax(self, tarfile: tarfile.TarFile) -> tarfile.TarInfo:
        with _header_chain(self, tarfile):
            return super()._proc_pax(tarfile)  # type: ignore[misc,no-any-return]


# Extended headers before one member: a long name, a long link name and a pax header are three.
MAX_TAR_HEADER_CHAIN = 16
_chains: dict[int, int] = {}  # id(TarFile) -> extended headers being read in a row


@contextlib.contextmanager
def _header_chain(info: tarfile.TarInfo, tf: tarfile.TarFile) -> Iterator[None]:
    _check_header_size(info)
    key = id(tf)
    depth = _chains.get(key, 0) + 1
    if depth > MAX_TAR_HEADER_CHAIN:
        raise HeaderTooLarge(f"more than {MAX_TAR_HEADER_CHAIN} long-name or pax headers in a row; refusing to go on")
    _chains[key] = depth
    try:
        yield
    finally:
        if depth == 1:
            del _chains[key]
        else:
            _chains[key] = depth - 1


class HeaderTooLarge(tarfile.ReadError):
    """A long-name or pax header over ``MAX_TAR_HEADER_BYTES``: openers make it a ``HostileArtifact``
    naming the archive (a ``ReadError``, so code that catches tarfile's errors never lets it through)."""


def _check_header_size(info: tarfile.TarInfo) -> None:
    if info.size > MAX_TAR_HEADER_BYTES:
        raise HeaderTooLarge(
            f"a {info.size}-byte long-name or pax header, over the {MAX_TAR_HEADER_BYTES}-byte limit; refusing to go on"
        )


def decoder_failure(name: str, error: BaseException) -> ArtifactError:
    """The error for a compressed tar whose decoder failed: a hostile one when an xz stream asks
    for more memory than ``XZ_MEMLIMIT``, else a corrupt one."""
    if isinstance(error, lzma.LZMAError) and "memory usage limit" in str(error).lower():
        return HostileArtifact(
            f"{name}: the xz stream needs more than {XZ_MEMLIMIT} bytes of memory to decompress; refusing to go on"
        )
    return CorruptArtifact(f"{name}: corrupt or truncated compressed tar ({error})")


def open_tar(
    source: str | BinaryIO, name: str, ctx: OpenContext, kind: ArtifactKind = ArtifactKind.TAR, layer: str | None = None
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
        tf = tarfile.open(fileobj=fh, mode="r:", tarinfo=BoundedTarInfo)  # noqa: SIM115 - closed with the view
    except HeaderTooLarge as e:
        raise HostileArtifact(f"{name}: {e}") from e
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
                view.add(entry, _Member(tf, member, name, ctx))
            else:
                view.add(entry, None)
    except HostileArtifact:
        raise
    except HeaderTooLarge as e:
        raise HostileArtifact(f"{name}: {e}") from e
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


class _Member:
    """Reads one member of a plain tar on a seekable file (``MemberReader``)."""

    __slots__ = ("ctx", "member", "name", "tf")

    def __init__(self, tf: tarfile.TarFile, member: tarfile.TarInfo, name: str, ctx: OpenContext) -> None:
        self.tf = tf
        self.member = member
        self.name = name
        self.ctx = ctx

    def _read(self, n: int) -> bytes:
        where = f"{self.name}: {self.member.name}"
        try:
            fh = self.tf.extractfile(self.member)  # follows hard links inside the same tar
            if fh is None:
                raise MemberError(f"{where}: not a regular file")
            # A window on the archive: reading n bytes reads n bytes, whatever the member's size.
            data = fh.read(n)
        except MemberError:
            raise
        except (KeyError, *_TAR_ERRORS) as e:  # type: ignore[misc]
            raise MemberError(f"{where}: cannot read ({e})") from e
        self.ctx.charge.charge_bytes(len(data), self.name)
        return data

    def read(self, max_bytes: int) -> bytes:
        where = f"{self.name}: {self.member.name}"
        check_member_size(self.member.size, max_bytes, self.ctx.limits, where)
        cap = min(max_bytes, self.ctx.limits.max_member_bytes)
        data = self._read(cap + 1)
        if len(data) > cap:  # a hard link's header says 0 bytes: its target's size shows only now
            check_member_size(len(data), max_bytes, self.ctx.limits, where)
        return data

    def prefix(self, n: int) -> bytes:
        return self._read(n)


class _Kept:
    """What a streaming pass kept of one member: all of it, or only its first bytes (``MemberReader``).
    With ``OpenContext.digests``, also the sha256 of all of it (``digest``)."""

    __slots__ = ("data", "sha256", "size", "where")
    concurrent = True  # bytes in memory

    def __init__(self, data: bytes, size: int, where: str, sha256: bytes | None = None) -> None:
        self.data = data
        self.size = size  # the member's size (len(data) when all of it was kept)
        self.where = where
        self.sha256 = sha256

    def digest(self) -> tuple[bytes, int] | None:
        return None if self.sha256 is None else (self.sha256, self.size)

    @property
    def complete(self) -> bool:
        return len(self.data) >= self.size

    def read(self, max_bytes: int) -> bytes:
        if not self.complete:
            raise MemberError(
                f"{self.where}: only the first {len(self.data)} bytes were kept during the streaming pass"
            )
        if len(self.data) > max_bytes:
            raise MemberError(f"{self.where}: {len(self.data)} bytes, over the {max_bytes}-byte read limit; not read")
        return self.data

    def prefix(self, n: int) -> bytes:
        if n > len(self.data) and not self.complete:
            raise MemberError(
                f"{self.where}: only the first {len(self.data)} bytes were kept during the streaming pass"
            )
        return self.data[:n]


class _Consumed(_Kept):
    """A member a streaming pass read whole and handed to ``OpenContext.consume_whole``: only its first
    bytes are kept, with what the consumer made of all of them (``consumed``)."""

    __slots__ = ("result",)

    def __init__(self, data: bytes, size: int, where: str, sha256: bytes | None, result: object) -> None:
        super().__init__(data, size, where, sha256)
        self.result = result

    def consumed(self) -> object:
        return self.result

    def read(self, max_bytes: int) -> bytes:
        if not self.complete:
            raise MemberError(
                f"{self.where}: consumed during the streaming pass; only its first {len(self.data)} bytes were kept"
            )
        return super().read(max_bytes)


class _OverLimit:
    """A member a streaming pass did not keep because it is over ``max_member_bytes`` (``MemberReader``).
    With ``OpenContext.digests``, its sha256 and size as it streamed by (``digest``)."""

    __slots__ = ("message", "streamed")
    concurrent = True

    def __init__(self, message: str, streamed: tuple[bytes, int] | None = None) -> None:
        self.message = message
        self.streamed = streamed

    def read(self, max_bytes: int) -> bytes:
        raise MemberError(self.message)

    def prefix(self, n: int) -> bytes:
        raise MemberError(self.message)

    def digest(self) -> tuple[bytes, int] | None:
        return self.streamed


class _Hashed:
    """A member a streaming pass did not keep, hashed as it streamed by (``OpenContext.digests``): reads
    fail as for a member without a reader, ``digest`` answers (``MemberReader``)."""

    __slots__ = ("sha256", "size", "where")
    concurrent = False  # as a member without a reader: nothing to read

    def __init__(self, where: str, sha256: bytes, size: int) -> None:
        self.where = where
        self.sha256 = sha256
        self.size = size

    def read(self, max_bytes: int) -> bytes:
        raise MemberError(f"{self.where}: contents were not kept during the streaming pass (only its sha256)")

    def prefix(self, n: int) -> bytes:
        return self.read(n)

    def digest(self) -> tuple[bytes, int]:
        return self.sha256, self.size


def _streamed_digest(fh: IO[bytes] | None, head: bytes = b"") -> tuple[bytes, int]:
    """The sha256 and size of ``head`` followed by the rest of the member ``fh`` streams (read in pieces
    and dropped: nothing is kept)."""
    sha = hashlib.sha256(head)
    size = len(head)
    while fh is not None:
        piece = fh.read(PIECE)
        if not piece:
            break
        sha.update(piece)
        size += len(piece)
    return sha.digest(), size


def _rest_of(
    fh: IO[bytes], head: bytes, member: tarfile.TarInfo, path: str, where: str, ctx: OpenContext
) -> bytes | None:
    """The whole member after its first bytes (``OpenContext.keep_whole``), within the same limits as a
    member wanted whole (``max_member_bytes``, the read limit, ``Budget.keep``); None when over one of
    them (the prefix stays kept, and a whole read says only a prefix was kept)."""
    cap = ctx.read_limit(path)
    if member.size > ctx.limits.max_member_bytes or (cap is not None and member.size > cap):
        return None
    if ctx.charge.keep(member.size - len(head), where) is not None:
        return None
    rest = member.size - len(head)
    return head + (fh.read(rest) if rest <= PIECE else read_in_pieces(fh, rest))


def index_tar_stream(stream: BinaryIO, name: str, ctx: OpenContext, view: ArtifactView, layer: str | None) -> None:
    """Index a tar read once from a non-seekable (decompressed) stream into ``view``.

    Members ``ctx.wants`` names (and nested archives) are kept in memory; the rest stream by.
    """
    raw = CountingReader(stream, ctx.charge, name)
    counting = io.BufferedReader(raw, buffer_size=1024 * 1024)
    # Readers by path, for hard links: the kept members, and with ``ctx.digests`` every regular member.
    kept: dict[str, _Kept | _OverLimit | _Hashed] = {}
    digests = ctx.digests
    try:
        tf = tarfile.open(fileobj=counting, mode="r|", tarinfo=BoundedTarInfo)  # noqa: SIM115 - read to the end here
        for member in tf:
            # tarfile keeps every header it has read (TarFile.members), which a single pass never
            # looks at again (hard links are resolved from ``kept``): a million entries took 300 MB.
            tf.members.clear()  # type: ignore[attr-defined]
            ctx.charge.charge_entries(1, name)
            entry = _entry_for(member, view, layer)
            if entry is None:
                continue
            if entry.type is not EntryType.FILE:
                view.add(entry, None)
                continue
            where = f"{name}: {member.name}"
            whole = ctx.wants(entry.path) or is_nested_candidate(entry.path)
            head = 0 if whole else ctx.wants_prefix(entry.path)
            if member.islnk():
                if not whole and head <= 0 and not digests:
                    view.add(entry, None)
                    continue
                target = resolve_link(entry.path, member.linkname, absolute_is_root=True, hard=True)
                linked = kept.get(target) if target else None
                if linked is not None and digests:
                    kept[entry.path] = linked
                view.add(entry, linked)
                continue
            if not whole and head <= 0:
                if digests:  # not kept, but its sha256 is: --verify-record judges it by that
                    kept[entry.path] = hashed = _Hashed(where, *_streamed_digest(tf.extractfile(member)))
                    view.add(entry, hashed)
                else:
                    view.add(entry, None)
                continue
            refused = None
            if whole and member.size > ctx.limits.max_member_bytes:
                # Not kept; a read says why, as a zip's or a plain tar's reader does (one Unknown, from the reader).
                refused = f"{where}: {over_member_limit(member.size, ctx.limits)}"
            cap = None if is_nested_candidate(entry.path) else ctx.read_limit(entry.path)
            if refused is None and whole and cap is not None and member.size > cap:
                refused = f"{where}: {member.size} bytes, over the {cap}-byte read limit; not read"
            if refused is None:
                refused = ctx.charge.keep(member.size if whole else min(head, member.size), where)
            if refused is not None:
                over = _OverLimit(refused, _streamed_digest(tf.extractfile(member)) if digests else None)
                if digests:
                    kept[entry.path] = over
                view.add(entry, over)
                continue
            fh = tf.extractfile(member)
            # A prefix-only member: keep its first bytes; tarfile skips the rest on the next header.
            read_whole = whole  # all of it read (and counted by Budget.keep) for a cataloger
            if fh is None:
                data = b""
            elif whole:
                data = fh.read() if member.size <= PIECE else read_in_pieces(fh, member.size)
            else:
                data = fh.read(head)
                if member.size > len(data) and ctx.keep_whole(entry.path, data):
                    whole_data = _rest_of(fh, data, member, entry.path, where, ctx)
                    if whole_data is not None:
                        data, read_whole = whole_data, True
            # The digest covers the whole member: a prefix-only member's rest is hashed as it streams by.
            sha256 = _streamed_digest(fh, data)[0] if digests else None
            result = None
            found: _Kept
            if read_whole and data and len(data) == member.size and not is_nested_candidate(entry.path):
                result = ctx.consume_whole(entry.path, data)  # an ELF file parsed now: its bytes released below
            if result is not None:
                data = data[: max(0, ctx.wants_prefix(entry.path))]
                ctx.charge.release(member.size - len(data))
                found = _Consumed(data, member.size, where, sha256, result)
            else:
                found = _Kept(data, member.size if fh is not None else 0, where, sha256)
            kept[entry.path] = found
            view.add(entry, found)
        # As for plain tars: a stream that ends where a header should be is a truncated archive.
        while counting.read(1024 * 1024):
            pass
        if raw.total < tf.offset + 512:
            raise CorruptArtifact(f"{name}: truncated tar archive (no end-of-archive marker after {len(view)} entries)")
    except HostileArtifact:
        raise
    except HeaderTooLarge as e:
        raise HostileArtifact(f"{name}: {e}") from e
    except lzma.LZMAError as e:
        raise decoder_failure(name, e) from e
    except _TAR_ERRORS as e:
        raise CorruptArtifact(f"{name}: corrupt or truncated compressed tar ({e})") from e
    except Exception as e:  # zstandard.ZstdError and friends from the decompressors
        if type(e).__module__.startswith("zstandard"):
            raise CorruptArtifact(f"{name}: corrupt or truncated compressed tar ({e})") from e
        raise
