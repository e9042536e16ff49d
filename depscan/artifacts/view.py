"""ArtifactView: a read-only index of the files in an artifact, with a reader for each.

Openers build a view; catalogers iterate its entries and read the few they need. Nothing is
extracted to disk: a reader pulls one member's bytes from the archive (or from a buffer kept
during a single streaming pass over a compressed tar).
"""

from __future__ import annotations

import gc
import io
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from types import TracebackType
from typing import IO, NamedTuple, Protocol

from depscan.artifacts.kinds import ArtifactKind
from depscan.artifacts.limits import MAX_LINK_HOPS, Budget, Limits, Link, follow_links, resolve_link
from depscan.artifacts.limits import NEST as NEST  # re-exported: nesting is part of the view's paths
from depscan.artifacts.limits import split_nested as split_nested
from depscan.errors import MemberError
from depscan.gc_pause import resume_gc
from depscan.models import Location, Unknown


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run a block without the cyclic garbage collector (restored after it, nested uses are no-ops).

    Indexing a large archive allocates tens of thousands of long-lived objects (zipfile's
    ``ZipInfo``, entries, readers) and no garbage cycles; every few hundred allocations the
    collector would walk all of them again, a fifth of the time an index takes.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        resume_gc()  # with depscan.gc_pause.freeze_after_pauses (the CLI), what the block built is frozen


# Members larger than this are read in pieces (``read_in_pieces``).
PIECE = 1024 * 1024


def read_in_pieces(fh: IO[bytes], limit: int) -> bytes:
    """Up to ``limit`` bytes of ``fh``, read in pieces into one growing buffer. One large ``read``
    of a zip or tar member holds the data twice at its peak (the pieces, then the result joined from
    them: a nested zip of 214 MiB took 456 MiB); ``BytesIO.getvalue`` hands its buffer over
    without a copy."""
    buffer = io.BytesIO()
    while buffer.tell() < limit:
        piece = fh.read(min(PIECE, limit - buffer.tell()))
        if not piece:
            break
        buffer.write(piece)
    return buffer.getvalue()


class MemberReader(Protocol):
    """Reads one member of an artifact. Openers make one per file entry.

    An object with two methods rather than two closures: a large zip has tens of thousands of
    members, and every closure (a function, its cells, their tuple) is more objects for the
    garbage collector to walk while the index is built; one slotted object per member is cheaper
    than the single closure per member this replaced. Optional methods, asked through the view:
    ``fingerprint()`` (a zip member's CRC-32 and size) and ``digest()`` (a streamed member's sha256 and
    size, ``OpenContext.digests``).
    """

    def read(self, max_bytes: int) -> bytes:
        """The member's bytes; MemberError for anything larger than ``max_bytes``."""
        ...

    def prefix(self, n: int) -> bytes:
        """The member's first ``n`` bytes (all of it when shorter), reading or decompressing
        only what it needs: ELF headers are 64 bytes at the start of files of megabytes."""
        ...


def concurrent_reader(reader: object) -> bool:
    """Whether a reader may run in another thread while other members are read (its class sets
    ``concurrent = True``): zip members (zipfile locks its shared file around each seek and read,
    and inflates outside the lock), directory files (a file opened per read), members a streaming
    pass kept in memory. A plain tar's members share one file position: read by one thread only."""
    return bool(getattr(reader, "concurrent", False))


class EntryType(str, Enum):
    """What kind of file an entry is."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"


class Entry(NamedTuple):
    """One file, directory or symlink of the view.

    A NamedTuple rather than a frozen dataclass: an image or a large zip makes hundreds of
    thousands of these, and tuple construction is several times cheaper.
    """

    path: str  # relative POSIX path, normalized, never absolute, never containing ".."
    type: EntryType
    size: int
    layer: str | None = None
    link: str | None = None  # raw symlink target

    @property
    def location(self) -> Location:
        return Location(self.path, self.layer)


Wants = Callable[[str], bool]
WantsPrefix = Callable[[str], int]
ReadLimit = Callable[[str], "int | None"]
KeepWhole = Callable[[str, bytes], bool]
ConsumeWhole = Callable[[str, bytes], "object | None"]


def _wants_nothing(path: str) -> bool:
    return False


def _no_prefix(path: str) -> int:
    return 0


def _no_read_limit(path: str) -> int | None:
    return None


def _keeps_nothing_more(path: str, head: bytes) -> bool:
    return False


def _consumes_nothing(path: str, data: bytes) -> object | None:
    return None


@dataclass
class OpenContext:
    """What every opener is given: the safety budget, nesting depth and what to keep.

    ``wants`` names the members catalogers will read whole; ``wants_prefix`` says how many
    leading bytes of a member catalogers will read with ``ArtifactView.read_prefix`` (0: none).
    Openers that can only stream (compressed tars) keep exactly that in memory during their
    single pass: the whole member, its first ``wants_prefix`` bytes, or nothing. ``read_limit``
    is the most bytes catalogers read of a member they want whole (None: ``max_member_bytes``):
    a streaming pass keeps no larger member, and ``Budget.keep`` bounds all it keeps together.
    ``keep_whole(path, head)`` is asked about a member kept for its prefix only, with those first
    bytes: True keeps the whole member after all (an ELF file found by its magic, whatever its name).
    ``digests`` (``--verify-record``): a streaming pass computes the sha256 and size of every regular
    member as it streams by, kept or not, so ``ArtifactView.digest`` can answer for files it cannot
    read again (nothing more is kept: 32 bytes and a size per member).
    ``consume_whole(path, data)`` is offered a member a streaming pass read whole for one cataloger only
    (an ELF file): a result (not None) means that cataloger took what it needs from the bytes now (the
    native cataloger parses and identifies the file) and the pass keeps only the result and the member's
    first ``wants_prefix`` bytes (``ArtifactView.consumed``), so the bytes are held (and charged to
    ``Budget.keep``) only while they are consumed and later members are never starved of the budget.
    """

    limits: Limits = field(default_factory=Limits)
    budget: Budget | None = None
    wants: Wants = _wants_nothing
    depth: int = 0
    wants_prefix: WantsPrefix = _no_prefix
    read_limit: ReadLimit = _no_read_limit
    keep_whole: KeepWhole = _keeps_nothing_more
    digests: bool = False
    consume_whole: ConsumeWhole = _consumes_nothing

    def __post_init__(self) -> None:
        if self.budget is None:
            self.budget = Budget(self.limits)

    @property
    def charge(self) -> Budget:
        assert self.budget is not None
        return self.budget

    def nested(self) -> OpenContext:
        """The context for an archive found inside this one."""
        return OpenContext(self.limits, self.budget, self.wants, self.depth + 1, self.wants_prefix, self.read_limit,
                           self.keep_whole, self.digests, self.consume_whole)


class ArtifactView:
    """An index of entries, each with a reader. Openers fill it; everything else reads it."""

    def __init__(self, name: str, kind: ArtifactKind, *, absolute_links_inside: bool = False) -> None:
        self.name = name
        self.kind = kind
        # In a container image "/x" means the image's own /x; in a zip or a directory it means
        # the host's /x, outside the artifact.
        self.absolute_links_inside = absolute_links_inside
        self.layers: list[str] = []
        # Position of a site root on the runtime's sys.path, where the artifact says (Lambda).
        self.import_rank: Callable[[str], int | None] | None = None
        self.unknowns: list[Unknown] = []
        self.warnings: list[str] = []
        self._entries: dict[str, tuple[Entry, MemberReader | None]] = {}
        self._closers: list[Callable[[], object]] = []

    # -- building -------------------------------------------------------------------------
    def add(self, entry: Entry, reader: MemberReader | None) -> None:
        """Add (or replace: a later layer overwrites a lower one) an entry; ``reader`` None when
        its contents cannot be read (directories, symlinks, members a streaming pass skipped)."""
        self._entries[entry.path] = (entry, reader)

    def discard_under(self, prefixes: Iterable[str], *, keep_self: bool = False) -> int:
        """Remove every entry at or below one of ``prefixes``; return how many were removed.

        Used for whiteouts (``keep_self=False``) and opaque directories (``keep_self=True``).
        """
        wanted = set(prefixes)
        if not wanted:
            return 0
        doomed = []
        for path in self._entries:
            if path in wanted:
                if not keep_self:
                    doomed.append(path)
                continue
            parent = path
            while "/" in parent:
                parent = parent.rsplit("/", 1)[0]
                if parent in wanted:
                    doomed.append(path)
                    break
        for path in doomed:
            del self._entries[path]
        return len(doomed)

    def on_close(self, closer: Callable[[], object]) -> None:
        """Register something to close with the view (an open ZipFile, a file handle)."""
        self._closers.append(closer)

    def overlay(self, sub: ArtifactView, prefix: str = "", layer: str | None = None) -> None:
        """Add every entry of ``sub`` under ``prefix`` (reads delegate to ``sub``).

        Entries already present at the same path are replaced, as an upper layer replaces a
        lower one. ``layer`` (when given) replaces the entries' own layer. ``sub`` is closed
        with this view.
        """
        for entry, reader in sub._entries.values():
            self.add(
                Entry(f"{prefix}{entry.path}", entry.type, entry.size, layer or entry.layer, entry.link),
                # A regular file's reader is what sub.read would use (no link to follow): shared.
                reader if reader is None or entry.type is EntryType.FILE else _Delegated(sub, entry.path),
            )
        for unknown in sub.unknowns:
            where = unknown.location
            self.unknowns.append(Unknown(Location(f"{prefix}{where.path}", layer or where.layer), unknown.reason))
        self.warnings.extend(sub.warnings)
        self._closers.append(sub.close)

    def graft(self, path: str, sub: ArtifactView, layer: str | None) -> None:
        """Put a nested archive's entries under ``path + NEST``. The nested index is dropped once
        grafted (its readers are shared, its links resolve in this view): not held twice."""
        self.overlay(sub, f"{path}{NEST}", layer)
        if not any(reader is not None and not isinstance(reader, _Delegated) and entry.type is not EntryType.FILE
                   for entry, reader in sub._entries.values()):
            sub._entries = {}

    # -- reading --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, path: object) -> bool:
        return path in self._entries

    def entries(self) -> Iterator[Entry]:
        """Every entry, in the order openers added them."""
        for entry, _reader in self._entries.values():
            yield entry

    def get(self, path: str) -> Entry | None:
        """The entry at ``path`` (not following symlinks), or None."""
        found = self._entries.get(path)
        return found[0] if found else None

    def resolve(self, path: str) -> Entry | None:
        """The entry at ``path`` with symlinks in its last component followed inside the view
        (``limits.follow_links``: at most ``MAX_LINK_HOPS``, never out of the artifact)."""
        found = self._entries.get(path)
        if found is None or found[0].type is not EntryType.SYMLINK:
            return None if found is None else found[0]
        target = follow_links(path, self._link_at, absolute_is_root=self.absolute_links_inside)
        return None if target is None else self.get(target)

    def _link_at(self, path: str) -> Link | None:
        found = self._entries.get(path)
        if found is None:
            return None
        entry = found[0]
        return Link(entry.link) if entry.type is EntryType.SYMLINK and entry.link is not None else None

    def escaping_links(self) -> Iterator[Entry]:
        """Symlinks whose target lies outside the artifact (recorded; never followed)."""
        for entry, _reader in self._entries.values():
            if entry.type is EntryType.SYMLINK and self.resolve(entry.path) is None and self._dangles_out(entry):
                yield entry

    def _dangles_out(self, entry: Entry) -> bool:
        """Whether the symlink itself points outside the (nested) archive holding it."""
        return resolve_link(entry.path, entry.link or "", absolute_is_root=self.absolute_links_inside) is None

    def _not_followed(self, link: Entry) -> str:
        """Why the symlink ``link`` leads to no entry, for a one-line message."""
        if self._dangles_out(link):
            return f"symlink to {link.link!r} points outside the artifact; not followed"
        target = follow_links(link.path, self._link_at, absolute_is_root=self.absolute_links_inside)
        if target is not None:
            return f"symlink to {link.link!r} leads to {target}, which is not in the artifact"
        return (
            f"symlink to {link.link!r} not followed: its chain of links leaves the artifact, loops, "
            f"or is longer than {MAX_LINK_HOPS} links"
        )

    def _reader(self, path: str) -> MemberReader:
        """The reader of the regular file at ``path`` (symlinks followed inside the artifact)."""
        entry = self.resolve(path)
        if entry is None:
            raw = self.get(path)
            if raw is not None and raw.type is EntryType.SYMLINK:
                raise MemberError(f"{path}: {self._not_followed(raw)}")
            raise MemberError(f"{path}: no such file in the artifact")
        if entry.type is not EntryType.FILE:
            raise MemberError(f"{path}: not a regular file")
        reader = self._entries[entry.path][1]
        if reader is None:
            raise MemberError(f"{path}: contents were not kept during the streaming pass")
        return reader

    def read(self, path: str, max_bytes: int | None = None) -> bytes:
        """Return the bytes of the file at ``path``, following symlinks inside the artifact.

        Raises MemberError (naming the path) when the file is missing, is a symlink pointing
        outside the artifact, is larger than ``max_bytes`` or than the scan's
        ``Limits.max_member_bytes`` (every reader applies that one), or cannot be decoded.
        """
        return self._reader(path).read(max_bytes if max_bytes is not None else sys.maxsize)

    def read_prefix(self, path: str, n: int) -> bytes:
        """The first ``n`` bytes of the file at ``path`` (fewer when it is shorter).

        Only what is needed is read or decompressed, whatever the member's size: a zip member is
        inflated up to ``n`` bytes, a tar or directory file is read for ``n`` bytes, and a
        compressed tar keeps the first ``OpenContext.wants_prefix`` bytes of a member during its
        streaming pass. Raises MemberError as ``read`` does, and when a streaming pass kept fewer
        than ``n`` bytes of a longer member.
        """
        return self._reader(path).prefix(n)

    def concurrent(self, path: str) -> bool:
        """Whether the file at ``path`` may be read from another thread while other files are read
        (``concurrent_reader``); False for anything that is not a readable regular file."""
        try:
            return concurrent_reader(self._reader(path))
        except MemberError:
            return False

    def fingerprint(self, path: str) -> str | None:
        """What the artifact's index says about the file's bytes without reading them (a zip member's
        CRC-32 and size from the central directory), or None when its reader knows nothing cheap: a hint
        for scheduling reads, never a content hash."""
        try:
            reader = self._reader(path)
        except MemberError:
            return None
        fingerprint = getattr(reader, "fingerprint", None)
        return fingerprint() if fingerprint is not None else None

    def digest(self, path: str) -> tuple[bytes, int] | None:
        """The sha256 digest and size of the whole file at ``path`` (symlinks followed) as a streaming pass
        computed them (``OpenContext.digests``), or None when its reader has none (random-access sources:
        ``read`` it). Unlike ``fingerprint`` it is a content hash: every byte of the member went through it,
        whether the pass kept the bytes or not."""
        try:
            reader = self._reader(path)
        except MemberError:
            return None
        digest = getattr(reader, "digest", None)
        return digest() if digest is not None else None

    def consumed(self, path: str) -> object | None:
        """What ``OpenContext.consume_whole`` returned for the file at ``path`` (symlinks followed) while a
        streaming pass held its bytes, or None (the file was kept, or never offered)."""
        try:
            reader = self._reader(path)
        except MemberError:
            return None
        consumed = getattr(reader, "consumed", None)
        return consumed() if consumed is not None else None

    def read_text(self, path: str, max_bytes: int | None = None) -> str:
        """``read`` decoded as UTF-8 (with replacement: metadata is not always clean)."""
        return self.read(path, max_bytes).decode("utf-8", errors="replace")

    def unknown(self, path: str, reason: str, layer: str | None = None) -> None:
        """Record something that could not be read."""
        self.unknowns.append(Unknown(Location(path, layer), reason))

    # -- lifetime -------------------------------------------------------------------------
    def close(self) -> None:
        closers, self._closers = self._closers, []
        for closer in reversed(closers):
            closer()

    def __enter__(self) -> ArtifactView:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _Delegated:
    """Reads an entry of a view overlaid onto another (layers, Lambda mounts, nested archives)."""

    __slots__ = ("path", "sub")

    @property
    def concurrent(self) -> bool:
        return self.sub.concurrent(self.path)

    def __init__(self, sub: ArtifactView, path: str) -> None:
        self.sub = sub
        self.path = path

    def fingerprint(self) -> str | None:
        return self.sub.fingerprint(self.path)

    def digest(self) -> tuple[bytes, int] | None:
        return self.sub.digest(self.path)

    def consumed(self) -> object | None:
        return self.sub.consumed(self.path)

    def read(self, max_bytes: int) -> bytes:
        return self.sub.read(self.path, max_bytes)

    def prefix(self, n: int) -> bytes:
        return self.sub.read_prefix(self.path, n)

