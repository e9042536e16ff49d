"""The safety budget every opener charges: bytes, entries, ratio, nesting depth, path rules.

depscan never extracts archives, so a hostile archive cannot write anywhere; these limits keep
it from exhausting memory or time, and the path rules keep every path inside the artifact.
"""

from __future__ import annotations

import posixpath
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from depscan.errors import HostileArtifact, MemberError

MiB = 1024 * 1024
GiB = 1024 * MiB


# What one entry of a nested archive is charged against max_entries, in top-level entries: it is indexed
# in the nested view and copied into the outer one (about 1.1 KB while both exist, against about 0.4 KB
# for a top-level entry), so that max_entries bounds the memory a small file full of nested entries can
# take (at the default 1,000,000: a nested zip of 330,000 entries peaks under 400 MB).
NESTED_ENTRY_COST = 3


@dataclass(frozen=True, slots=True)
class Limits:
    """Configurable safety limits. The defaults are documented in the README."""

    # Sum of declared uncompressed sizes of one archive, and of bytes actually decompressed
    # during a scan. A Lambda deployment is at most 250 MB unzipped; images can be many GB.
    max_total_bytes: int = 16 * GiB
    # Entries in one artifact (all layers and nested archives together).
    max_entries: int = 1_000_000
    # Largest single member depscan reads whole into memory (metadata files, RECORDs, nested
    # archives), from every kind of source: the one member-size limit (``check_member_size``).
    max_member_bytes: int = 256 * MiB
    # Uncompressed/compressed ratio above which a member is treated as a bomb when read.
    # Only applied to members larger than ``ratio_floor`` (tiny files compress extremely well).
    max_ratio: int = 200
    ratio_floor: int = 1 * MiB
    # Archives inside archives (a wheel in a zip counts as depth 1).
    max_depth: int = 3
    # Bytes a streaming pass over a compressed tar or image keeps in memory for the catalogers
    # (whole metadata files, nested archives, ELF headers), all members and layers together.
    max_kept_bytes: int = 128 * MiB


class Budget:
    """Mutable counters charged against ``Limits`` during one scan. Decompressed bytes are counted
    under a lock: the native cataloger reads members from several threads."""

    __slots__ = ("_lock", "bytes_read", "entries", "kept", "limits")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self.bytes_read = 0
        self.entries = 0
        self.kept = 0

    def keep(self, n: int, where: str) -> str | None:
        """Count ``n`` bytes a streaming pass keeps in memory; None when they fit in
        ``max_kept_bytes``, else why the member is not kept (nothing is charged then)."""
        if self.kept + n > self.limits.max_kept_bytes:
            return (
                f"{where}: {n} bytes, more than the max_kept_bytes={self.limits.max_kept_bytes} bytes a "
                f"streaming pass keeps in memory ({self.kept} already kept); not kept"
            )
        self.kept += n
        return None

    def release(self, n: int) -> None:
        """Give back ``n`` bytes ``keep`` counted: a streaming pass no longer holds them."""
        self.kept -= n

    def entries_left(self) -> int:
        """How many more entries the artifact may hold under ``max_entries``."""
        return self.limits.max_entries - self.entries

    def charge_bytes(self, n: int, where: str) -> None:
        """Count ``n`` decompressed bytes; raise once the scan has read more than allowed."""
        with self._lock:
            self.bytes_read += n
            total = self.bytes_read
        if total > self.limits.max_total_bytes:
            raise HostileArtifact(
                f"{where}: more than {self.limits.max_total_bytes} bytes decompressed "
                "(max_total_bytes); refusing to go on (zip bomb?)"
            )

    def charge_entries(self, n: int, where: str) -> None:
        """Count ``n`` archive entries; raise once the artifact holds more than allowed."""
        self.entries += n
        if self.entries > self.limits.max_entries:
            raise HostileArtifact(
                f"{where}: more than {self.limits.max_entries} entries (max_entries); refusing to go on"
            )


def over_member_limit(size: int, limits: Limits) -> str:
    """Why a member of ``size`` bytes is not read (an Unknown's reason)."""
    return f"{size} bytes, over the {limits.max_member_bytes}-byte max_member_bytes limit; not read"


def check_member_size(size: int, max_bytes: int, limits: Limits, where: str) -> None:
    """Refuse a whole read of a member of ``size`` bytes over ``max_member_bytes`` or the caller's
    own ``max_bytes``: every opener's reader calls this before reading a member whole."""
    if size > limits.max_member_bytes:
        raise MemberError(f"{where}: {over_member_limit(size, limits)}")
    if size > max_bytes:
        raise MemberError(f"{where}: {size} bytes, over the {max_bytes}-byte read limit; not read")


def irregular_path(name: str) -> bool:
    """Whether a (non-empty) name may need normalizing: a leading "/" or ".", "/.", "//", a backslash, NUL or
    a drive letter. Plain substring tests: almost no real member name has any of these."""
    return (
        name[0] in "/."
        or "/." in name
        or "//" in name
        or "\\" in name
        or "\x00" in name
        or name[1:2] == ":"
    )


def safe_member_path(name: str) -> str | None:
    """Normalize an archive member name to a relative POSIX path, or None if it is unsafe.

    Unsafe: absolute paths (``/etc/passwd``, ``C:\\x``), and any ``..`` component. Legitimate
    archives never need either, and a scanner that reports paths must never show one that points
    outside the artifact. ``./`` prefixes and duplicate slashes are folded.
    """
    if not name:
        return None
    if not irregular_path(name):
        return name[:-1] if name.endswith("/") else name
    if "\x00" in name:
        return None
    candidate = name.replace("\\", "/")
    if candidate.startswith("/") or (len(candidate) > 1 and candidate[1] == ":"):
        return None
    parts = [p for p in candidate.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def join_inside(base_dir: str, target: str, *, absolute_is_root: bool) -> str | None:
    """Join ``target`` onto ``base_dir`` inside the artifact; None when the result escapes it.

    An absolute ``target`` is taken from the artifact root when ``absolute_is_root`` (in a
    container image "/x" is the image's own /x) and refused otherwise (in a zip or a directory it
    names the host). ``..`` may climb within the artifact but never above its root.
    """
    if target and not irregular_path(target):
        base = base_dir.strip("/")
        return f"{base}/{target}" if base else target
    target = target.replace("\\", "/")
    if target.startswith("/"):
        if not absolute_is_root:
            return None
        joined = target
    else:
        joined = f"{base_dir}/{target}"
    parts: list[str] = []
    for part in joined.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


# Separates an archive's path from a path inside it: "bundle.zip!/pkg-1.0.whl!/pkg/__init__.py".
NEST = "!/"

# Symlinks followed in a row before a path is given up on as a loop: Linux's MAXSYMLINKS (40),
# for every source (zip, tar, image layers and the image archive's own members, directories'
# recorded links, nested archives).
MAX_LINK_HOPS = 40


def split_nested(path: str) -> tuple[str, str]:
    """Split ``"a.zip!/x/y"`` into the innermost nested-archive prefix ``"a.zip!/"`` and ``"x/y"``."""
    cut = path.rfind(NEST)
    if cut < 0:
        return "", path
    return path[: cut + len(NEST)], path[cut + len(NEST) :]


class Link(NamedTuple):
    """A link found at some path: its raw target, and whether it is a tar hard link.

    A symlink's target is relative to the link's directory (absolute: see ``absolute_is_root``);
    a tar hard link names another member of the same archive from the archive's root.
    """

    target: str
    hard: bool = False


def resolve_link(link_path: str, target: str, *, absolute_is_root: bool, hard: bool = False) -> str | None:
    """Where the link at ``link_path`` points, inside the artifact; None when that is outside it.

    The target is resolved inside the (innermost nested) archive holding the link: a link in
    ``a.whl!/pkg/x`` can reach ``a.whl!/...`` but never climb out of the wheel.
    """
    prefix, inner = split_nested(link_path)
    if hard:
        resolved = safe_member_path(target)
    else:
        resolved = join_inside(posixpath.dirname(inner), target, absolute_is_root=absolute_is_root)
    return None if resolved is None else prefix + resolved


def follow_links(path: str, link_at: Callable[[str], Link | None], *, absolute_is_root: bool) -> str | None:
    """Follow links from ``path`` to the path that is not a link, inside the artifact.

    ``link_at(p)`` is the link at ``p``, or None when ``p`` is not a link (a file, a directory, or
    nothing: the caller looks the result up). Returns None when a link points outside the
    artifact, or when more than ``MAX_LINK_HOPS`` links follow each other (a loop).
    """
    current = path
    for _ in range(MAX_LINK_HOPS):
        link = link_at(current)
        if link is None:
            return current
        found = resolve_link(current, link.target, absolute_is_root=absolute_is_root, hard=link.hard)
        if found is None:
            return None
        current = found
    return current if link_at(current) is None else None
