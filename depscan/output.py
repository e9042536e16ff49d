"""Writing outputs: regular files atomically (temp file in the same directory, then rename); anything
else (stdout, a device, a FIFO, ``/dev/stdout``) is written through, never replaced by a file.

``write_output`` decides by what the path names:

* ``-``, ``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N``, ``/proc/self/fd/N`` (or a symlink chain
  through one of them): written to that descriptor of this process, as a shell redirection set it
  up (appending to a log stays appending);
* an existing device, FIFO or socket (``/dev/null``, a named pipe a consumer reads): opened for
  writing and written through (a FIFO waits for its reader, as ``cat > fifo`` does);
* a symlink to a regular file (or to a path not created yet): the link's target is written
  atomically, the link stays a link;
* a regular file or a new path: written atomically, keeping an existing file's permission bits.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterable
from typing import NamedTuple

from depscan.errors import OutputError

MAX_LINK_HOPS = 40  # as limits.MAX_LINK_HOPS and Linux's MAXSYMLINKS

_FD_PATH = re.compile(r"^/(?:dev/fd|proc/self/fd|proc/thread-self/fd)/(\d+)$")
_STD_PATHS = {"/dev/stdout": 1, "/dev/stderr": 2}


class RegularTarget(NamedTuple):
    """Where a report for a regular file (or a new path) is written atomically: the file itself (a
    symlink's final target), the mode to keep, and the name the user gave (for errors)."""

    path: str
    keep_mode: int | None
    name: str


def regular_target(path: str) -> RegularTarget | None:
    """The regular file (or new path) ``path`` names, following symlinks; None when the report must be
    written through instead (``/dev/stdout`` and other descriptors, devices, FIFOs, sockets)."""
    final, fd = _resolve(path)
    if fd is not None:
        return None
    try:
        st: os.stat_result | None = os.stat(final)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from e
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{path}: is a directory")
    if st is not None and not stat.S_ISREG(st.st_mode):
        return None
    return RegularTarget(os.path.realpath(final), st.st_mode if st is not None else None, path)


def write_output(path: str, data: bytes) -> None:
    """Write ``data`` to the report destination ``path`` (see the module docstring)."""
    if path == "-":
        write_stdout(data)
        return
    target = regular_target(path)
    if target is not None:
        write_atomic(target.path, data, keep_mode=target.keep_mode, name=path)
        return
    final, fd = _resolve(path)
    if fd is not None:
        _write_fd_alias(path, fd, data)
    else:
        _write_through(path, final, data)


def write_stdout(data: bytes) -> None:
    """Write to stdout; a reader that closed the pipe (``| head``) is an output error, not a crash."""
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except BrokenPipeError as e:
        _silence(1)
        raise OutputError("stdout: cannot write (the reader closed the pipe)") from e


def write_atomic(path: str, data: bytes, *, keep_mode: int | None = None, name: str | None = None) -> None:
    """Write ``data`` to the regular file ``path`` so that readers see the old file or the whole new one.

    ``keep_mode`` is the replaced file's ``st_mode`` (its permission bits are kept); ``name`` is
    what errors call the file (the path the user gave, when ``path`` is a link's target).
    """
    if path == "-":
        write_stdout(data)
        return
    shown = name or path
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise OutputError(f"{shown}: cannot write ({e.strerror or e})") from e
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, stat.S_IMODE(keep_mode) if keep_mode is not None else 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as e:
        _remove(tmp)
        raise OutputError(f"{shown}: cannot write ({e.strerror or e})") from e
    except BaseException:
        _remove(tmp)
        raise


class Staged:
    """A report written piece by piece to a temporary file beside ``path``: nothing is visible at
    ``path`` until ``commit`` renames it into place; ``discard`` removes it (a later report failed).
    For reports too large to hold in memory twice (text and bytes)."""

    def __init__(self, target: RegularTarget | str, pieces: Iterable[str]) -> None:
        if isinstance(target, str):  # a plain path: a new or regular file
            target = RegularTarget(target, None, target)
        self.path = path = target.path
        self.name = target.name
        directory = os.path.dirname(os.path.abspath(path))
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
        except OSError as e:
            raise OutputError(f"{self.name}: cannot write ({e.strerror or e})") from e
        try:
            with os.fdopen(fd, "wb") as fh:
                batch: list[str] = []
                size = 0
                for piece in pieces:
                    batch.append(piece)
                    size += len(piece)
                    if size >= 1 << 20:
                        fh.write("".join(batch).encode("utf-8"))
                        batch.clear()
                        size = 0
                fh.write("".join(batch).encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(self.tmp, stat.S_IMODE(target.keep_mode) if target.keep_mode is not None else 0o666 & ~_umask())
        except OSError as e:
            _remove(self.tmp)
            raise OutputError(f"{self.name}: cannot write ({e.strerror or e})") from e
        except BaseException:
            _remove(self.tmp)
            raise

    def commit(self) -> None:
        try:
            os.replace(self.tmp, self.path)
        except OSError as e:
            _remove(self.tmp)
            raise OutputError(f"{self.name}: cannot write ({e.strerror or e})") from e

    def discard(self) -> None:
        _remove(self.tmp)


def _resolve(path: str) -> tuple[str, int | None]:
    """Follow ``path``'s symlink chain: the last path, or the descriptor a ``/dev/fd``-like name means."""
    current = os.path.abspath(path)
    for _ in range(MAX_LINK_HOPS):
        fd = _fd_alias(current)
        if fd is not None:
            return current, fd
        try:
            target = os.readlink(current)
        except OSError:  # not a link (or not there yet)
            return current, None
        current = os.path.join(os.path.dirname(current), target)
    raise OutputError(f"{path}: too many levels of symbolic links")


def _fd_alias(path: str) -> int | None:
    normal = os.path.normpath(path)
    if normal in _STD_PATHS:
        return _STD_PATHS[normal]
    match = _FD_PATH.match(normal) or re.match(rf"^/proc/{os.getpid()}/fd/(\d+)$", normal)
    return int(match[1]) if match else None


def _write_fd_alias(path: str, fd: int, data: bytes) -> None:
    """Write to this process's descriptor ``fd`` (what ``/dev/stdout`` and friends name)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    try:
        _write_all(fd, data)
    except BrokenPipeError as e:
        _silence(fd)
        raise OutputError(f"{path}: cannot write (the reader closed the pipe)") from e
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from e


def _silence(fd: int) -> None:
    """Point ``fd`` at /dev/null, so that flushing it at exit does not fail a second time."""
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)


def _write_through(path: str, final: str, data: bytes) -> None:
    """Write to an existing device, FIFO or socket by opening it (never created, never replaced)."""
    try:
        fd = os.open(final, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from e
    try:
        _write_all(fd, data)
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from e
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
