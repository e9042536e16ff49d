"""Where an image's files are read from: a plain outer tar, a compressed outer tar (streamed once),
or an OCI layout directory. Never extracted to disk.

An ``ImageSource`` answers ``has`` / ``read_bytes`` for metadata (manifests, configs, indexes) and
``open_layer`` for layer blobs:

* plain outer tar (``TarSource``), OCI directory (``DirSource``): random access. A layer member is
  a seekable window on the outer file (``TarFile.extractfile``) or the blob file, handed to
  ``tarball.open_tar``.
* compressed outer tar (``StreamedSource``): one streaming pass. ``manifest.json`` comes after the
  layers in real archives (docker writes members in name order), so every member that starts like
  a tar (uncompressed or compressed) is indexed as it streams by, keeping only the members the
  catalogers want (``ctx.wants``); small JSON members (manifests, configs, indexes: at most
  ``MAX_JSON_BYTES`` each, ``MAX_JSON_KEPT`` together) are kept to be parsed at the end. Layer
  views the manifest does not name are closed.

Links between outer members (legacy ``docker save`` stores a repeated layer once and links the
others to it) are followed with ``limits.follow_links``, as every other link in depscan.

Detecting an image cheaply (``open_plain_tar`` and ``stream_compressed_tar`` return None for other
tars): the FIRST member name decides. Every member of a docker save archive or an OCI layout tar is
image-like (``manifest.json``, ``index.json``, ``oci-layout``, ``repositories``, ``blobs/...``,
``<64 hex>/``, ``<64 hex>/{VERSION,json,layer.tar}``, ``<64 hex>.json``, ``<64 hex>.tar``), while
ordinary tars almost never start with one, so a non-image compressed tar costs one header's worth
of decompression.

Budget: layer entries and decompressed bytes are charged by ``open_tar`` as for any tar. Members
of the outer archive are not entries of the artifact (they are capped at ``max_entries`` all the
same); the outer stream's decompressed bytes are charged except while a layer member is being
indexed (its bytes are charged by the layer's own pass), so an image's bytes are counted once.
"""

from __future__ import annotations

import io
import lzma
import os
import re
import tarfile
import zlib
from abc import ABC, abstractmethod
from typing import IO, TYPE_CHECKING, BinaryIO, cast

from depscan.artifacts.kinds import ArtifactKind
from depscan.artifacts.limits import Link, MiB, follow_links, safe_member_path
from depscan.artifacts.tarball import (
    BoundedTarInfo,
    CountingReader,
    HeaderTooLarge,
    compression_of,
    decoder_failure,
    decompressing_reader,
    index_tar_stream,
    looks_like_tar,
    open_tar,
)
from depscan.artifacts.view import ArtifactView, OpenContext
from depscan.errors import ArtifactError, CorruptArtifact, HostileArtifact

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

# Manifests, configs and indexes are kilobytes; a config with a long history a few hundred.
MAX_JSON_BYTES = 16 * MiB
MAX_JSON_KEPT = 64 * MiB

_HEX64 = re.compile(r"[0-9a-f]{64}")
_TOP_LEVEL_FILES = frozenset({"manifest.json", "index.json", "oci-layout", "repositories"})
_LEGACY_LAYER_FILES = frozenset({"VERSION", "json", "layer.tar"})

_READ_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    EOFError,
    OSError,
    zlib.error,
    lzma.LZMAError,
    ValueError,
)


def show(text: str) -> str:
    """A path or value for a one-line message: quoted when it holds control characters."""
    return text if text.isprintable() else repr(text)


# -- sources: where metadata and layer blobs are read from --------------------------------


class ImageSource(ABC):
    """An image's files: ``has`` / ``read_bytes`` for metadata, ``open_layer`` for layer blobs."""

    container = "archive"

    def __init__(self, name: str, ctx: OpenContext) -> None:
        self.name = name
        self.ctx = ctx

    def where(self, path: str) -> str:
        """``path`` inside the source, for the start of a message."""
        return f"{self.name}: {show(path)}"

    @abstractmethod
    def has(self, path: str) -> bool:
        """Whether ``path`` is a regular file (after following links inside the source)."""

    @abstractmethod
    def read_bytes(self, path: str, limit: int) -> bytes:
        """The bytes of the file at ``path``, which ``has``; refuse more than ``limit`` bytes."""

    @abstractmethod
    def open_layer(self, path: str, digest: str) -> ArtifactView:
        """The layer tar at ``path`` indexed as a view labelled ``digest``."""

    @abstractmethod
    def close(self) -> None:
        """Release what the source holds open."""

    def _too_big(self, path: str, size: int, limit: int) -> CorruptArtifact:
        return CorruptArtifact(f"{self.where(path)}: {size} bytes, more than image metadata can be ({limit})")


class TarSource(ImageSource):
    """A plain (uncompressed) outer tar: members are read at random through seekable windows."""

    def __init__(
        self, name: str, ctx: OpenContext, fh: BinaryIO, tf: tarfile.TarFile, members: dict[str, tarfile.TarInfo]
    ) -> None:
        super().__init__(name, ctx)
        self._fh = fh
        self._tf = tf
        self._members = members

    def _file(self, path: str) -> tarfile.TarInfo | None:
        found = follow_links(path, self._link_at, absolute_is_root=True)
        info = None if found is None else self._members.get(found)
        return info if info is not None and info.isreg() else None

    def _link_at(self, path: str) -> Link | None:
        # Legacy docker save stores a repeated layer once, linked from the others.
        info = self._members.get(path)
        if info is None or not (info.issym() or info.islnk()):
            return None
        return Link(info.linkname, hard=info.islnk())

    def _open(self, path: str) -> tuple[tarfile.TarInfo, IO[bytes]]:
        info = self._file(path)
        if info is None:
            raise CorruptArtifact(f"{self.where(path)}: not in the archive")
        try:
            fh = self._tf.extractfile(info)
        except _READ_ERRORS as e:
            raise CorruptArtifact(f"{self.where(path)}: cannot read ({e})") from e
        if fh is None:
            raise CorruptArtifact(f"{self.where(path)}: not a regular file")
        return info, fh

    def has(self, path: str) -> bool:
        return self._file(path) is not None

    def read_bytes(self, path: str, limit: int) -> bytes:
        info, fh = self._open(path)
        if info.size > limit:
            raise self._too_big(path, info.size, limit)
        try:
            data = fh.read(limit + 1)
        except _READ_ERRORS as e:
            raise CorruptArtifact(f"{self.where(path)}: cannot read ({e})") from e
        self.ctx.charge.charge_bytes(len(data), self.name)
        return data

    def open_layer(self, path: str, digest: str) -> ArtifactView:
        _info, fh = self._open(path)
        return open_tar(cast(BinaryIO, fh), self.where(path), self.ctx, ArtifactKind.LAYER, digest)

    def close(self) -> None:
        self._tf.close()
        self._fh.close()


class DirSource(ImageSource):
    """An OCI layout directory. Blobs resolving outside the directory are treated as missing."""

    container = "layout"

    def __init__(self, root: str, name: str, ctx: OpenContext) -> None:
        super().__init__(name, ctx)
        self._root = os.path.realpath(root)

    def where(self, path: str) -> str:
        return f"{self.name.rstrip('/')}/{show(path)}"

    def _full(self, path: str) -> str | None:
        real = os.path.realpath(os.path.join(self._root, *path.split("/")))
        if not real.startswith(self._root + os.sep) or not os.path.isfile(real):
            return None
        return real

    def has(self, path: str) -> bool:
        return self._full(path) is not None

    def read_bytes(self, path: str, limit: int) -> bytes:
        full = self._full(path)
        if full is None:
            raise CorruptArtifact(f"{self.where(path)}: not in the layout")
        try:
            with open(full, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size > limit:
                    raise self._too_big(path, size, limit)
                data = fh.read(limit + 1)
        except OSError as e:
            raise CorruptArtifact(f"{self.where(path)}: cannot read ({e.strerror or e})") from e
        self.ctx.charge.charge_bytes(len(data), self.name)
        return data

    def open_layer(self, path: str, digest: str) -> ArtifactView:
        full = self._full(path)
        if full is None:
            raise CorruptArtifact(f"{self.where(path)}: not in the layout")
        return open_tar(full, self.where(path), self.ctx, ArtifactKind.LAYER, digest)

    def close(self) -> None:
        """Nothing to release: each layer view owns the blob file it opened."""
        return None


class StreamedSource(ImageSource):
    """What one streaming pass over a compressed outer tar kept: small JSON members and layer views."""

    def __init__(self, name: str, ctx: OpenContext) -> None:
        super().__init__(name, ctx)
        self.files: set[str] = set()
        self.links: dict[str, Link] = {}  # symlinks and hard links
        self.texts: dict[str, bytes] = {}
        self.not_kept: dict[str, str] = {}  # path -> why its bytes were not kept
        self.layers: dict[str, ArtifactView | CorruptArtifact] = {}
        self._kept_bytes = 0

    # -- during the pass
    def take(self, tf: tarfile.TarFile, member: tarfile.TarInfo, path: str, meter: CountingReader) -> None:
        """Record one outer member as it streams by, indexing it when it looks like a layer."""
        self.files.discard(path)
        self.links.pop(path, None)
        self.texts.pop(path, None)
        self.not_kept.pop(path, None)
        old = self.layers.pop(path, None)
        if isinstance(old, ArtifactView):
            old.close()
        if member.issym() or member.islnk():
            self.links[path] = Link(member.linkname, hard=member.islnk())
            return
        if not member.isreg():
            return
        self.files.add(path)
        fh = tf.extractfile(member)
        if fh is None:
            return
        head = fh.read(512)
        # Tar magic first: a layer whose first member is named "{..." must not pass for JSON.
        if looks_like_tar(head) or compression_of(head) is not None:
            meter.paused = True  # the layer's own pass charges these bytes
            try:
                self.layers[path] = _stream_layer(head, fh, self.where(path), self.ctx)
            except HostileArtifact:
                raise
            except CorruptArtifact as e:
                if meter.error is not None:  # the outer stream broke, not this layer
                    raise _outer_corrupt(self.name, meter.error) from e
                self.layers[path] = e  # only fatal if the manifest names this member
            finally:
                meter.paused = False
        elif head.lstrip()[:1] in (b"{", b"["):
            if member.size > MAX_JSON_BYTES or self._kept_bytes + member.size > MAX_JSON_KEPT:
                self.not_kept[path] = f"{member.size} bytes, more than image metadata can be ({MAX_JSON_BYTES})"
                return
            data = head + fh.read()
            self._kept_bytes += len(data)
            self.texts[path] = data
        else:
            self.not_kept[path] = "neither JSON nor a tar archive"

    # -- after the pass
    def _file(self, path: str) -> str | None:
        found = follow_links(path, self.links.get, absolute_is_root=True)
        return found if found is not None and found in self.files else None

    def has(self, path: str) -> bool:
        return self._file(path) is not None

    def read_bytes(self, path: str, limit: int) -> bytes:
        found = self._file(path)
        data = self.texts.get(found) if found is not None else None
        if found is None or data is None:
            why = self.not_kept.get(found or path, "not kept during the streaming pass")
            raise CorruptArtifact(f"{self.where(path)}: not readable as image metadata ({why})")
        if len(data) > limit:
            raise self._too_big(path, len(data), limit)
        return data

    def open_layer(self, path: str, digest: str) -> ArtifactView:
        found = self._file(path)
        layer = self.layers.get(found) if found is not None else None
        if isinstance(layer, CorruptArtifact):
            raise layer
        if layer is None:
            raise CorruptArtifact(f"{self.where(path)}: layer is not a tar archive")
        return layer

    def close(self) -> None:
        layers, self.layers = self.layers, {}
        for layer in layers.values():
            if isinstance(layer, ArtifactView):
                layer.close()


# -- opening outer tars -------------------------------------------------------------------


def _image_like(path: str) -> bool:
    """Whether a member name can belong to a docker save archive or an OCI layout tar."""
    if path in _TOP_LEVEL_FILES:
        return True
    parts = path.split("/")
    if parts[0] == "blobs":
        return len(parts) <= 3
    if len(parts) == 1:
        stem = parts[0].removesuffix(".json").removesuffix(".tar")
        return _HEX64.fullmatch(stem) is not None
    return len(parts) == 2 and _HEX64.fullmatch(parts[0]) is not None and parts[1] in _LEGACY_LAYER_FILES


def _decide(member: tarfile.TarInfo) -> bool | None:
    """From the first member: True (may be an image), False (is not), None (the root dir; look further)."""
    path = safe_member_path(member.name)
    if path is None:
        return None if member.isdir() else False
    return _image_like(path)


class _NotAnImage(Exception):
    """The first member says this tar is no image: the generic tar opener takes it."""


class _ImageGate:
    """The member walk both outer-tar readers share: the entry limit, the first-member verdict
    (``_decide``), and the safe path of every member after it (None: skip the member)."""

    def __init__(self, name: str, ctx: OpenContext) -> None:
        self.name = name
        self.limit = ctx.limits.max_entries
        self.count = 0
        self.decided = False

    def admit(self, member: tarfile.TarInfo) -> str | None:
        self.count += 1
        if self.count > self.limit:
            raise HostileArtifact(f"{self.name}: more than {self.limit} members (max_entries)")
        if not self.decided:
            verdict = _decide(member)
            if verdict is None:
                return None
            if not verdict:
                raise _NotAnImage
            self.decided = True
        return safe_member_path(member.name)


def open_plain_tar(path: str, name: str, ctx: OpenContext) -> TarSource | None:
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the source (with the view) or below
    except OSError as e:
        raise ArtifactError(f"{name}: cannot open ({e.strerror or e})") from e
    keep = False
    try:
        try:
            tf = tarfile.open(fileobj=fh, mode="r:", tarinfo=BoundedTarInfo)  # noqa: SIM115 - kept open by the source
        except _READ_ERRORS:
            return None  # not a readable tar: the generic tar opener reports it
        members: dict[str, tarfile.TarInfo] = {}
        gate = _ImageGate(name, ctx)
        try:
            while True:
                member = tf.next()
                if member is None:
                    break
                member_path = gate.admit(member)
                if member_path is not None:
                    members[member_path] = member
        except _NotAnImage:
            return None
        except HeaderTooLarge as e:
            raise HostileArtifact(f"{name}: {e}") from e
        except _READ_ERRORS as e:
            if not gate.decided:
                return None
            raise CorruptArtifact(f"{name}: corrupt or truncated tar archive ({e})") from e
        if not gate.decided:
            return None
        keep = True
        return TarSource(name, ctx, fh, tf, members)
    finally:
        if not keep:
            fh.close()


def _is_decoder_error(e: Exception) -> bool:
    return isinstance(e, _READ_ERRORS) or type(e).__module__.startswith("zstandard")


def stream_compressed_tar(path: str, name: str, ctx: OpenContext, compression: str) -> StreamedSource | None:
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below; nothing read later needs it
    except OSError as e:
        raise ArtifactError(f"{name}: cannot open ({e.strerror or e})") from e
    source = StreamedSource(name, ctx)
    done = False
    try:
        meter = CountingReader(decompressing_reader(raw, compression), ctx.charge, name)
        stream = io.BufferedReader(meter, buffer_size=64 * 1024)
        gate = _ImageGate(name, ctx)
        try:
            tf = tarfile.open(fileobj=stream, mode="r|", tarinfo=BoundedTarInfo)  # noqa: SIM115 - raw file closed below
            for member in tf:
                member_path = gate.admit(member)
                if member_path is not None:
                    source.take(tf, member, member_path, meter)
        except _NotAnImage:
            return None
        except HeaderTooLarge as e:
            raise HostileArtifact(f"{name}: {e}") from e
        except ArtifactError:
            raise
        except Exception as e:
            if not _is_decoder_error(e):
                raise
            if not gate.decided and meter.error is None:
                return None  # a compressed file that is not a tar: the generic tar opener reports it
            raise _outer_corrupt(name, meter.error or e) from e
        if meter.error is not None:  # a decoder error swallowed on the way (tarfile reads a short stream as its end)
            raise _outer_corrupt(name, meter.error) from meter.error
        if not gate.decided:
            return None
        done = True
        return source
    finally:
        raw.close()
        if not done:
            source.close()


def _outer_corrupt(name: str, error: BaseException) -> ArtifactError:
    return decoder_failure(name, error)


def _stream_layer(head: bytes, rest: IO[bytes], name: str, ctx: OpenContext) -> ArtifactView:
    """Index a layer member of a streamed outer tar in one pass, from its first bytes and the rest."""
    joined = io.BufferedReader(_Prefixed(head, rest), buffer_size=64 * 1024)
    compression = compression_of(head)
    stream: BinaryIO = joined if compression is None else decompressing_reader(joined, compression)
    view = ArtifactView(name, ArtifactKind.LAYER, absolute_links_inside=True)
    try:
        index_tar_stream(stream, name, ctx, view, None)
    except BaseException:
        view.close()
        raise
    return view


class _Prefixed(io.RawIOBase):
    """``head`` (already read from a stream) followed by the rest of that stream."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        super().__init__()
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        out = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(out), len(self._head))
            out[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(out))
        out[: len(data)] = data
        return len(data)
