"""Reading the files a user names: regular files only, each kind with a size cap.

A FIFO, a device (``/dev/zero``), a socket or a directory named where a file is expected is
refused with a one-line error before it is opened: opening a FIFO blocks until a writer comes,
reading ``/dev/zero`` never ends, and opening some devices has side effects. The file is then
opened without blocking and checked again on the open descriptor (it may have been replaced in
between), and at most ``limit`` bytes are read: a file that grows past its cap while it is read
is refused too.

Each kind of input has its cap beside the code that reads it (``sbom_reader.MAX_SBOM_BYTES``,
``baseline.MAX_BASELINE_BYTES``, ``config.MAX_IGNORE_FILE_BYTES``, ``osv_db.MAX_RECORD_BYTES``);
the README lists them under "Limits".
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from depscan.errors import DepscanError

_CHUNK = 1024 * 1024


def kind_of(mode: int) -> str:
    """What a file is, for messages: ``a FIFO (named pipe)``, ``a character device``, ..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def stat_input(path: str | Path, error: type[DepscanError], *, directory_ok: bool = False) -> os.stat_result:
    """``os.stat(path)`` (links followed), refusing anything but a regular file (or a directory).

    ``error`` is the exception class the caller's kind of input raises (its exit code).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError as e:
        raise error(f"{path}: no such file or directory") from e
    except OSError as e:
        raise error(f"{path}: cannot read ({e.strerror or e})") from e
    if stat.S_ISREG(st.st_mode) or (directory_ok and stat.S_ISDIR(st.st_mode)):
        return st
    wanted = "a regular file or a directory" if directory_ok else "a regular file"
    raise error(f"{path}: {kind_of(st.st_mode)}, not {wanted}; depscan reads only those")


def open_regular(path: str | Path, error: type[DepscanError]) -> int:
    """An open, read-only descriptor of the regular file ``path`` (never blocks on a FIFO)."""
    stat_input(path, error)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise error(f"{path}: cannot read ({e.strerror or e})") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # replaced between the stat and the open
            raise error(f"{path}: {kind_of(st.st_mode)}, not a regular file; depscan reads only those")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str | Path, limit: int, what: str, error: type[DepscanError]) -> bytes:
    """The bytes of the regular file ``path``, refused when over ``limit`` bytes.

    ``what`` names the kind of input in the message (``"an SBOM"``, ``"a baseline"``).
    """
    fd = open_regular(path, error)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise error(f"{path}: {size} bytes, over the {limit} byte limit for {what}")
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, _CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    except OSError as e:
        raise error(f"{path}: cannot read ({e.strerror or e})") from e
    finally:
        os.close(fd)
    if len(data) > limit:
        raise error(f"{path}: over the {limit} byte limit for {what} (it grew while read)")
    return data
