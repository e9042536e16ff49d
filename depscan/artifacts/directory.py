"""A directory on disk: a checkout, an unpacked site-packages, a root filesystem.

Walked without following symlinks, so nothing outside the directory is ever read; symlinks are
recorded and resolved inside the directory when a cataloger reads through them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

from depscan.artifacts.kinds import ArtifactKind
from depscan.artifacts.limits import check_member_size, safe_member_path
from depscan.artifacts.view import ArtifactView, Entry, EntryType, OpenContext
from depscan.errors import ArtifactError, MemberError

# Not deployed content: version-control internals and caches.
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox"})


def open_directory(root: str, name: str, ctx: OpenContext) -> ArtifactView:
    """Index every file below ``root``."""
    if not os.path.isdir(root):
        raise ArtifactError(f"{name}: not a directory")
    view = ArtifactView(name, ArtifactKind.DIRECTORY)
    stack = [""]
    while stack:
        rel = stack.pop()
        full = os.path.join(root, rel) if rel else root
        try:
            with os.scandir(full) as it:
                children = sorted(it, key=lambda d: d.name)
        except OSError as e:
            view.unknown(rel or ".", f"cannot list directory ({e.strerror or e})")
            continue
        ctx.charge.charge_entries(len(children), name)
        for child in children:
            path = f"{rel}/{child.name}" if rel else child.name
            try:
                st = child.stat(follow_symlinks=False)
            except OSError as e:
                view.unknown(path, f"cannot stat ({e.strerror or e})")
                continue
            if stat.S_ISLNK(st.st_mode):
                view.add(Entry(path, EntryType.SYMLINK, 0, link=os.readlink(child.path)), None)
            elif stat.S_ISDIR(st.st_mode):
                if child.name in SKIP_DIRS:
                    continue
                view.add(Entry(path, EntryType.DIR, 0), None)
                stack.append(path)
            elif stat.S_ISREG(st.st_mode):
                view.add(Entry(path, EntryType.FILE, st.st_size), _File(child.path, path, ctx))
    return view


def open_listed(root: str, name: str, paths: Iterable[str], ctx: OpenContext) -> ArtifactView:
    """Index only the files ``paths`` names below ``root`` (relative POSIX paths: a repository's tracked
    files as ``git ls-files`` lists them), each as ``open_directory`` would index it, with an entry for
    every directory holding one. Never follows a symlink: a path whose directories are not all real
    directories (a symlink put in one's place) is left out with an unknown, so nothing outside ``root`` is
    read; a listed symlink is recorded as a symlink. Unsafe paths (absolute, ``..``), paths below
    ``SKIP_DIRS``, paths no longer in the directory and directories (a submodule) are left out."""
    if not os.path.isdir(root):
        raise ArtifactError(f"{name}: not a directory")
    view = ArtifactView(name, ArtifactKind.DIRECTORY)
    real_dirs: dict[str, bool] = {"": True}

    def real_dir(rel: str) -> bool:
        known = real_dirs.get(rel)
        if known is None:
            parent, _, base = rel.rpartition("/")
            known = base not in SKIP_DIRS and real_dir(parent)
            if known:
                try:
                    known = stat.S_ISDIR(os.lstat(os.path.join(root, rel)).st_mode)
                except OSError:
                    known = False
                if known:
                    view.add(Entry(rel, EntryType.DIR, 0), None)
                else:
                    view.unknown(rel, "not a directory in the checkout (a symlink or missing); not followed")
            real_dirs[rel] = known
        return known

    listed = [path for path in map(safe_member_path, paths) if path is not None]
    ctx.charge.charge_entries(len(listed), name)
    for path in listed:
        parent = path.rpartition("/")[0]
        if not real_dir(parent):
            continue
        full = os.path.join(root, path)
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            continue  # listed, but no longer in the directory
        except OSError as e:
            view.unknown(path, f"cannot stat ({e.strerror or e})")
            continue
        if stat.S_ISLNK(st.st_mode):
            try:
                view.add(Entry(path, EntryType.SYMLINK, 0, link=os.readlink(full)), None)
            except OSError as e:
                view.unknown(path, f"cannot read the symlink ({e.strerror or e})")
        elif stat.S_ISREG(st.st_mode):
            view.add(Entry(path, EntryType.FILE, st.st_size), _File(full, path, ctx))
    return view


class _File:
    """Reads one file of the directory (``MemberReader``)."""

    __slots__ = ("ctx", "full", "path")
    concurrent = True  # a file opened per read

    def __init__(self, full: str, path: str, ctx: OpenContext) -> None:
        self.full = full
        self.path = path
        self.ctx = ctx

    def _read(self, n: int) -> bytes:
        try:
            # O_NOFOLLOW: the entry was a regular file when indexed; never follow a link put there since.
            fd = os.open(self.full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as fh:
                data = fh.read(n)
        except OSError as e:
            raise MemberError(f"{self.path}: cannot read ({e.strerror or e})") from e
        return data

    def read(self, max_bytes: int) -> bytes:
        cap = min(max_bytes, self.ctx.limits.max_member_bytes)
        data = self._read(cap + 1)
        if len(data) > cap:  # the file's size on disk may have changed since it was indexed
            check_member_size(len(data), max_bytes, self.ctx.limits, self.path)
        self.ctx.charge.charge_bytes(len(data), self.path)
        return data

    def prefix(self, n: int) -> bytes:
        data = self._read(n)
        self.ctx.charge.charge_bytes(len(data), self.path)
        return data
